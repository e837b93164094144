package transport

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/pattern"
	"github.com/brokerd/brokerd/states"
)

func init() {
	idParam := []Param{{"id", KAny, false}}
	getStates := &Command{Perm: Perm{"state", "list"}, Params: []Param{{"pattern", KAny, true}}, Ack: "(err, {id: state|null})",
		Doc: "pattern: ids of state objects (object-driven); array: every id, null when missing", Handler: cmdGetStates}
	register("getStates", getStates)
	alias := *getStates
	alias.Via = "getStates"
	alias.Doc = "alias of getStates"
	register("getForeignStates", &alias)
	register("getState", &Command{Perm: Perm{"state", "read"}, Params: idParam, Ack: "(err, state|null)",
		Doc: "one state value", Handler: cmdGetState})
	register("setState", &Command{Perm: Perm{"state", "write"}, Params: []Param{{"id", KAny, false}, {"state", KAny, false}}, Ack: "(err, id)",
		Doc: "write a state; a plain value becomes {val}, ack defaults to false", Handler: cmdSetState})
	register("delState", &Command{Perm: Perm{"state", "delete"}, Params: idParam, Ack: "(err, id)",
		Doc: "delete the value (the object is kept); subscribers get stateChange(id, null)", Handler: cmdDelState})
	deprecated := func(call *Call) { call.Reply(errDeprecated) }
	register("getBinaryState", &Command{Perm: Perm{}, Params: []Param{{"id", KAny, true}}, Ack: "(err)",
		Doc: "always fails: " + errDeprecated, Handler: deprecated})
	register("setBinaryState", &Command{Perm: Perm{}, Params: []Param{{"id", KAny, true}, {"data", KAny, true}}, Ack: "(err)",
		Doc: "always fails: " + errDeprecated, Handler: deprecated})
}

// stateAllowed applies the state nibble of the object acl (datamodel.md 4.9);
// an id without object is open to everyone who passed the command check.
func (s *Server) stateAllowed(sub *acl.Subject, id string, op int) bool {
	if sub.IsSuperUser() || s.st.Objects == nil {
		return true
	}
	_, m, ok := s.st.Objects.GetRaw(id)
	if !ok || m == nil {
		return true
	}
	return acl.StateAllowed(sub, m.ACL, op)
}

func stateJSON(st *states.State) json.RawMessage {
	if st == nil {
		return json.RawMessage("null")
	}
	b, err := json.Marshal(st)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

func cmdGetStates(call *Call) {
	s := call.srv
	if s.st.States == nil {
		call.Fail(errors.New(errDBClosed))
		return
	}
	sub := call.Subject()
	switch p := call.Args.Any(0).(type) {
	case []any:
		ids := make([]string, len(p))
		for i, e := range p {
			id, ok := e.(string)
			if !ok {
				call.Fail(errArgType(Param{Name: "pattern", Kind: KPatterns}, e))
				return
			}
			if !s.stateAllowed(sub, id, acl.Read) {
				call.Fail(ErrPermission)
				return
			}
			ids[i] = id
		}
		call.Reply(nil, appendStates(nil, ids, s.st.States.GetMany(ids)))
	case nil, string:
		pat, _ := p.(string)
		if pat == "" {
			pat = "*"
		}
		if s.st.Objects == nil {
			call.Fail(errors.New(errDBClosed))
			return
		}
		m, err := pattern.Compile(pat)
		if err != nil {
			call.Fail(err)
			return
		}
		start, end := pattern.Range(pat)
		var ids []string
		super := sub.IsSuperUser()
		rangeStates(s.st.Objects, start, end, func(id string, meta *objectsMeta, _ json.RawMessage) bool {
			if meta != nil && meta.Type == "state" && m.Match(id) && (super || acl.StateAllowed(sub, meta.ACL, acl.Read)) {
				ids = append(ids, id)
			}
			return true
		})
		call.Reply(nil, appendStates(nil, ids, s.st.States.GetMany(ids)))
	default:
		call.Fail(errArgType(Param{Name: "pattern", Kind: KPatterns}, p))
	}
}

// rangeStates visits the state objects in [start, end], through the type
// index when the store has one.
func rangeStates(o objects.Store, start, end string, fn func(id string, m *objectsMeta, raw json.RawMessage) bool) {
	if tr, ok := o.(interface {
		RangeType(typ, start, end string, fn func(string, *objectsMeta, json.RawMessage) bool)
	}); ok {
		tr.RangeType("state", start, end, fn)
		return
	}
	o.Range(start, end, fn)
}

// appendStates appends the getStates answer {id: state|null, …} to b: the
// states are written by states.AppendJSON straight into one buffer, and the
// result goes out as it is (see preEncoded).
func appendStates(b []byte, ids []string, sts []*states.State) json.RawMessage {
	n := 2
	for i, st := range sts {
		n += len(ids[i]) + 8
		if st != nil {
			n += 120 + len(st.From) + len(st.User) + len(st.C)
		}
	}
	b = slices.Grow(b, n)
	b = append(b, '{')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, id)
		b = append(b, ':')
		if st := sts[i]; st != nil {
			b = states.AppendJSON(b, st)
		} else {
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s) // rare: escapes or non-ASCII
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// stateUsable checks that the state store is open and the caller may use
// the state for op; otherwise it fails the call with the protocol's error.
func (s *Server) stateUsable(call *Call, id string, op int) bool {
	if s.st.States == nil {
		call.Fail(errors.New(errDBClosed))
		return false
	}
	if !s.stateAllowed(call.Subject(), id, op) {
		call.Fail(ErrPermission)
		return false
	}
	return true
}

func cmdGetState(call *Call) {
	s := call.srv
	id, err := states.ParseID(call.Args.Any(0))
	if err != nil {
		call.Fail(err)
		return
	}
	if !s.stateUsable(call, id, acl.Read) {
		return
	}
	st, ok := s.st.States.Get(id)
	if !ok {
		st = nil
	}
	call.Reply(nil, stateJSON(st))
}

func cmdSetState(call *Call) {
	s := call.srv
	id, err := states.ParseID(call.Args.Any(0))
	if err != nil {
		call.Fail(err)
		return
	}
	w, err := states.ParseWrite(call.Args.Any(1))
	if err != nil {
		call.Fail(err)
		return
	}
	if !s.stateUsable(call, id, acl.Write) {
		return
	}
	if (call.c != nil && call.c.instance != "") || strings.TrimSpace(w.From) == "" {
		w.From = call.from() // an adapter's writes are always from its instance
	}
	w.User = call.Subject().User
	_, wait, err := s.st.States.SetAsync(id, w)
	if err != nil {
		call.Fail(err)
		return
	}
	// The write is applied in the order sent; the ack waits for the disk
	// on another goroutine so one client can pipeline many writes into a
	// single group commit.
	call.afterDurable(func() {
		if err := wait(); err != nil {
			call.Fail(err)
			return
		}
		call.Reply(nil, id)
	})
}

func cmdDelState(call *Call) {
	s := call.srv
	id, err := states.ParseID(call.Args.Any(0))
	if err != nil {
		call.Fail(err)
		return
	}
	if !s.stateUsable(call, id, acl.Write) {
		return
	}
	if err := s.st.States.Delete(id); err != nil {
		call.Fail(err)
		return
	}
	call.Reply(nil, id)
}
