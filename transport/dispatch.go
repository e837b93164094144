package transport

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
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
	Async bool
	// Inline, when it reports true, runs an Async command on the
	// connection's command goroutine instead (it must not block): an
	// adapter's pipelined `im` publications keep the order they were sent.
	Inline func(*Call) bool
	// Socket marks commands bound to a Socket.IO connection (subscriptions,
	// instance messages); Invoke refuses them.
	Socket  bool
	Handler func(*Call)
	Doc     string
}

// Call is one command invocation handed to a handler with validated args.
// It comes either from a socket (c set) or from Invoke (REST, plain
// WebSocket), where the reply is collected instead of sent.
type Call struct {
	Name string
	Args Args
	srv  *Server
	sess Session
	c    *conn // nil when invoked without a socket
	ack  *ackID
	ctx  context.Context
	// done receives the reply of an Invoke call (at most once).
	done func([]any)
	// err is the first error handed to Fail, kept for Invoke's caller.
	err error
	// start and recorded feed the command latency metric (once per call).
	start    time.Time
	recorded atomic.Bool
	known    bool // the command exists: unknown names are one metric label
}

// record reports the call's latency and outcome to the metrics once.
func (call *Call) record(outcome string) {
	if call.srv.opts.Metrics == nil || call.recorded.Swap(true) {
		return
	}
	name := call.Name
	if !call.known {
		name = "unknown"
	}
	call.srv.opts.Metrics.Command(name, outcome, time.Since(call.start))
}

// outcomeOf classifies an ack: a string in the error position is a failure.
func outcomeOf(args []any) string {
	if len(args) > 0 {
		if s, ok := args[0].(string); ok && s != "" {
			if s == errPermission {
				return "denied"
			}
			return "error"
		}
	}
	return "ok"
}

// Subject is the caller.
func (call *Call) Subject() *acl.Subject { return call.sess.Subject() }

// HasAck reports whether the client asked for an answer.
func (call *Call) HasAck() bool {
	if call.c == nil {
		return call.done != nil
	}
	return call.ack != nil
}

// Reply sends the acknowledgement with args (at most once per call).
func (call *Call) Reply(args ...any) {
	call.record(outcomeOf(args))
	if call.c == nil {
		if d := call.done; d != nil {
			call.done = nil
			d(args)
		}
		return
	}
	if call.ack == nil {
		return
	}
	id := uint64(*call.ack)
	call.ack = nil
	call.c.sendAck(id, args)
}

// Fail answers (err) with err as text; without ack it is only logged.
func (call *Call) Fail(err error) {
	if call.err == nil {
		call.err = err
	}
	if !call.HasAck() {
		call.srv.log.Debug("command failed", "conn", call.connID(), "cmd", call.Name, "err", err)
		return
	}
	call.Reply(errText(err))
}

// result answers (null) on success and (err) otherwise.
func (call *Call) result(err error) {
	if err != nil {
		call.Fail(err)
		return
	}
	call.Reply(nil)
}

// connID names the caller in logs: the socket id, or "api" for Invoke.
func (call *Call) connID() string {
	if call.c == nil {
		return "api"
	}
	return call.c.id
}

// context bounds routed messages: the socket's lifetime, or Invoke's ctx.
func (call *Call) context() (context.Context, context.CancelFunc) {
	if call.c != nil {
		return call.c.routeContext()
	}
	return context.WithTimeout(call.ctx, messageTimeout)
}

// from is who the caller's writes are from.
func (call *Call) from() string {
	if call.c != nil {
		return call.c.from()
	}
	return call.srv.from
}

// writeOptions are the object write options of the caller.
func (call *Call) writeOptions() objects.WriteOptions {
	o := call.srv.writeOptions(call.Subject())
	o.From = call.from()
	return o
}

// afterDurable runs fn (which waits for a commit, then replies) behind the
// socket's earlier pipelined writes; Invoke simply waits.
func (call *Call) afterDurable(fn func()) {
	if call.c != nil {
		call.c.afterDurable(fn)
		return
	}
	fn()
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

// DeniedError is a refusal by the command gate (datamodel.md 4.10): the
// caller lacks the user-level permission Perm. It reads "permissionError".
type DeniedError struct {
	Command string
	Perm    Perm
}

func (e *DeniedError) Error() string { return errPermission }

// Is makes errors.Is(err, ErrPermission) true.
func (e *DeniedError) Is(target error) bool { return target == ErrPermission }

// gate is the one check every entry point (socket, REST, plain WebSocket)
// goes through before a handler runs: lookup, nesting depth, argument
// validation, permission, limits (limits.go). The error is an *argError, a
// *DeniedError, a *limitError or files.ErrTooLarge.
func (s *Server) gate(name string, raw []any, sub *acl.Subject) (*Command, Args, error) {
	s.stats.commands.Add(1)
	cmd := commands[name]
	if cmd == nil {
		return nil, Args{}, errUnknownCommand(name)
	}
	if err := s.checkDepth(raw); err != nil {
		return cmd, Args{}, err
	}
	args, err := parseArgs(name, cmd.Params, raw)
	if err != nil {
		return cmd, Args{}, err
	}
	perm := cmd.Perm
	if cmd.PermFor != nil {
		perm = cmd.PermFor(args)
	}
	if !s.allowed(sub, perm) {
		return cmd, args, &DeniedError{Command: name, Perm: perm}
	}
	if err := s.checkLimits(name, cmd, args); err != nil {
		return cmd, args, err
	}
	return cmd, args, nil
}

// dispatch runs one inbound event on the connection's command goroutine.
func (c *conn) dispatch(name string, raw []any, ack *ackID) {
	if !c.throttle() {
		return
	}
	call := &Call{Name: name, srv: c.srv, sess: c.sess, c: c, ack: ack, start: time.Now()}
	sub := c.sess.Subject()
	cmd, args, err := c.srv.gate(name, raw, sub)
	call.known = cmd != nil
	var denied *DeniedError
	switch {
	case cmd == nil:
		c.srv.log.Debug("unknown command", "conn", c.id, "cmd", name)
		call.Fail(err)
		return
	case errors.As(err, &denied):
		c.srv.log.Info("permission denied", "conn", c.id, "user", sub.User, "cmd", name)
		call.record("denied")
		call.Args = args
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
			c.emit(evPermissionError, map[string]any{"command": name, "type": denied.Perm.Type, "operation": denied.Perm.Op, "args": first})
		}
		return
	case err != nil:
		c.srv.log.Debug("bad arguments", "conn", c.id, "cmd", name, "err", err)
		call.Fail(err)
		return
	}
	call.Args = args
	if cmd.Async && (cmd.Inline == nil || !cmd.Inline(call)) {
		go c.srv.safely(c.id, name, func() { cmd.Handler(call) })
		return
	}
	c.srv.safely(c.id, name, func() { cmd.Handler(call) })
	if ack == nil {
		// Calls with an ack are recorded when they answer (maybe later,
		// from another goroutine); without one the handler's return is the end.
		call.record("ok")
	}
}

// ErrSessionExpired is Invoke's answer once the caller's login ended.
var ErrSessionExpired = errors.New("session expired")

// errNeedsSocket refuses commands that only make sense on a socket
// (subscriptions, instance messages) when invoked without one.
func errNeedsSocket(name string) error {
	return &argError{fmt.Sprintf("command %q needs a Socket.IO connection", name)}
}

// Invoke runs command name for sess without a socket: the same argument
// validation, permission check and handler as a Socket.IO event. It returns
// the acknowledgement arguments the socket would have received, and an
// error when the gate refused the call (*argError, *DeniedError) or the
// handler failed (the error it failed with; store errors keep their type).
// Handlers that answer an error string without failing are reported in
// the ack only; see AckError for err-first commands.
func (s *Server) Invoke(ctx context.Context, sess Session, name string, args []any) ([]any, error) {
	cmd, a, err := s.admit(sess, name, args)
	if err != nil {
		return nil, err
	}
	var out []any
	call := &Call{Name: name, Args: a, srv: s, sess: sess, ctx: ctx, done: func(r []any) { out = r }, start: time.Now(), known: true}
	panicked := s.safely("api", name, func() { cmd.Handler(call) })
	if panicked {
		return nil, errors.New("internal error")
	}
	return out, call.err
}

// admit is what a command run without a socket passes first: a live
// session, then the gate (lookup, arguments, permission).
func (s *Server) admit(sess Session, name string, args []any) (*Command, Args, error) {
	if sess == nil || sess.Subject() == nil {
		return nil, Args{}, ErrInvalidLogin
	}
	if !sess.Alive() {
		return nil, Args{}, ErrSessionExpired
	}
	cmd, a, err := s.gate(name, args, sess.Subject())
	if err != nil {
		return nil, Args{}, err
	}
	if cmd.Socket {
		return nil, Args{}, errNeedsSocket(name)
	}
	return cmd, a, nil
}

// AckError is the error of an err-first acknowledgement: its first
// argument when that is not null.
func AckError(ack []any) error {
	if len(ack) == 0 || ack[0] == nil {
		return nil
	}
	switch e := ack[0].(type) {
	case string:
		if e == errPermission {
			return ErrPermission
		}
		return errors.New(e)
	case error:
		return e
	}
	return fmt.Errorf("%v", ack[0])
}

// safely runs a handler, turning a panic into a logged error so one bad
// command cannot take the process down.
func (s *Server) safely(connID, name string, fn func()) (panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("command panicked", "conn", connID, "cmd", name, "panic", r)
			panicked = true
		}
	}()
	fn()
	return false
}

func (s *Server) allowed(sub *acl.Subject, p Perm) bool {
	if p.Type == "" || s.opts.Authorizer == nil {
		return true
	}
	return s.opts.Authorizer.Allowed(sub, p.Type, p.Op)
}
