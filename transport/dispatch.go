package transport

import (
	"sort"

	"github.com/brokerd/brokerd/acl"
)

// Perm is a COMMANDS_PERMISSIONS entry (protocol.md 2.3): the user-level
// permission category and operation a command needs. An empty Type is
// allowed for everybody.
type Perm struct {
	Type string `json:"type"`
	Op   string `json:"operation"`
}

// Authorizer decides command-level permissions. Without one every socket
// acts as admin (authentication off, protocol.md 1.6).
type Authorizer interface {
	Allowed(sub *acl.Subject, typ, op string) bool
}

// SubjectAuthorizer applies the subject's merged group permissions; the
// admin user passes every check (protocol.md 2.2).
type SubjectAuthorizer struct{}

// Allowed implements Authorizer.
func (SubjectAuthorizer) Allowed(sub *acl.Subject, typ, op string) bool {
	if sub == nil || sub.User == acl.Admin {
		return true
	}
	return sub.Perms.Has(typ, op)
}

// Command is one entry of the dispatch table.
type Command struct {
	// Perm is checked before the handler runs; Via names the command whose
	// entry is used when it is not the command's own (documentation only).
	Perm Perm
	Via  string
	// PermFor, when set, picks the permission from the arguments
	// (getObjects with a list, protected sendToHost commands).
	PermFor func(Args) Perm
	// Denied, when set, is the ack sent instead of ("permissionError").
	Denied []any
	Params []Param
	// Ack is the documented callback shape, e.g. "(err, state)".
	Ack string
	// Async handlers may answer later (network, other instances); they run
	// on their own goroutine so that later commands are not held up.
	Async   bool
	Handler func(*Call)
	Doc     string
}

// Call is one command invocation handed to a handler with validated args.
type Call struct {
	Name string
	Args Args
	c    *conn
	ack  *ackID
}

// Subject is the caller.
func (call *Call) Subject() *acl.Subject { return call.c.sess.Subject() }

// HasAck reports whether the client asked for an answer.
func (call *Call) HasAck() bool { return call.ack != nil }

// Reply sends the acknowledgement with args (at most once per call).
func (call *Call) Reply(args ...any) {
	if call.ack == nil {
		return
	}
	id := uint64(*call.ack)
	call.ack = nil
	call.c.sendAck(id, args)
}

// Fail answers (err) with err as text; without ack it is only logged.
func (call *Call) Fail(err error) {
	if call.ack == nil {
		call.c.srv.log.Debug("command failed", "conn", call.c.id, "cmd", call.Name, "err", err)
		return
	}
	call.Reply(errText(err))
}

// commands is the dispatch table, filled in init() by the commands_*.go files.
var commands = map[string]*Command{}

func register(name string, cmd *Command) {
	if _, dup := commands[name]; dup {
		panic("transport: command registered twice: " + name)
	}
	commands[name] = cmd
}

// Commands returns the names of all commands, sorted.
func Commands() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the table entry of a command.
func Lookup(name string) (Command, bool) {
	c, ok := commands[name]
	if !ok {
		return Command{}, false
	}
	return *c, true
}

// dispatch runs one inbound event on the connection's command goroutine:
// lookup, argument validation, permission check, handler.
func (c *conn) dispatch(name string, raw []any, ack *ackID) {
	call := &Call{Name: name, c: c, ack: ack}
	cmd := commands[name]
	if cmd == nil {
		c.srv.log.Debug("unknown command", "conn", c.id, "cmd", name)
		call.Fail(errUnknownCommand(name))
		return
	}
	args, err := parseArgs(name, cmd.Params, raw)
	if err != nil {
		c.srv.log.Debug("bad arguments", "conn", c.id, "cmd", name, "err", err)
		call.Fail(err)
		return
	}
	call.Args = args
	perm := cmd.Perm
	if cmd.PermFor != nil {
		perm = cmd.PermFor(args)
	}
	if sub := c.sess.Subject(); !c.srv.allowed(sub, perm) {
		c.srv.log.Info("permission denied", "conn", c.id, "user", sub.User, "cmd", name)
		switch {
		case ack != nil && cmd.Denied != nil:
			call.Reply(cmd.Denied...)
		case ack != nil:
			call.Reply(errPermission)
		default:
			var first []any
			if len(raw) > 0 && !hasBinary(raw[0]) {
				first = raw[:1]
			} else {
				first = []any{}
			}
			c.emit(evPermissionError, map[string]any{"command": name, "type": perm.Type, "operation": perm.Op, "args": first})
		}
		return
	}
	if cmd.Async {
		go c.safely(name, func() { cmd.Handler(call) })
		return
	}
	c.safely(name, func() { cmd.Handler(call) })
}

// safely runs a handler, turning a panic into a logged error so one bad
// command cannot take the process down.
func (c *conn) safely(name string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.log.Error("command panicked", "conn", c.id, "cmd", name, "panic", r)
		}
	}()
	fn()
}

func (s *Server) allowed(sub *acl.Subject, p Perm) bool {
	if p.Type == "" || s.opts.Authorizer == nil {
		return true
	}
	return s.opts.Authorizer.Allowed(sub, p.Type, p.Op)
}
