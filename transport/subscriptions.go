package transport

import (
	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/pattern"
	"github.com/brokerd/brokerd/states"
)

// fileKeySep joins meta id and file pattern into one subscription key (protocol.md 5.4).
const fileKeySep = "####"

func init() {
	pats := []Param{{"pattern", KPatterns, true}}
	sub := func(ix func(*Server) *pattern.Index[*conn]) func(*Call) {
		return func(call *Call) { subscribe(call, ix(call.c.srv), call.Args.Strings(0)) }
	}
	unsub := func(ix func(*Server) *pattern.Index[*conn]) func(*Call) {
		return func(call *Call) { unsubscribe(call, ix(call.c.srv), call.Args.Strings(0)) }
	}
	st := func(s *Server) *pattern.Index[*conn] { return &s.stateSubs }
	ob := func(s *Server) *pattern.Index[*conn] { return &s.objectSubs }
	register("subscribe", &Command{Perm: Perm{"state", "read"}, Params: pats, Ack: "(null)",
		Doc: "stateChange for ids matching the pattern(s)", Handler: sub(st)})
	register("subscribeStates", &Command{Perm: Perm{"state", "read"}, Via: "subscribe", Params: pats, Ack: "(null)",
		Doc: "alias of subscribe", Handler: sub(st)})
	register("unsubscribe", &Command{Perm: Perm{"state", "read"}, Params: pats, Ack: "(null)",
		Doc: "remove identical pattern(s)", Handler: unsub(st)})
	register("unsubscribeStates", &Command{Perm: Perm{"state", "read"}, Via: "unsubscribe", Params: pats, Ack: "(null)",
		Doc: "alias of unsubscribe", Handler: unsub(st)})
	register("subscribeObjects", &Command{Perm: Perm{"object", "read"}, Params: pats, Ack: "(null)",
		Doc: "objectChange for ids matching the pattern(s)", Handler: sub(ob)})
	register("unsubscribeObjects", &Command{Perm: Perm{"object", "read"}, Params: pats, Ack: "(null)",
		Doc: "remove identical pattern(s)", Handler: unsub(ob)})
	fp := []Param{{"id", KString, false}, {"pattern", KPatterns, true}}
	register("subscribeFiles", &Command{Perm: Perm{"file", "read"}, Params: fp, Ack: "(null)",
		Doc: "fileChange for files of meta id (may contain *) matching the pattern(s), default *", Handler: func(call *Call) {
			subscribe(call, &call.c.srv.fileSubs, fileKeys(call))
		}})
	register("unsubscribeFiles", &Command{Perm: Perm{"file", "read"}, Params: fp, Ack: "(null)",
		Doc: "remove identical (id, pattern) pairs", Handler: func(call *Call) {
			unsubscribe(call, &call.c.srv.fileSubs, fileKeys(call))
		}})
}

func fileKeys(call *Call) []string {
	id, pats := call.Args.Str(0), call.Args.Strings(1)
	if len(pats) == 0 {
		pats = []string{"*"}
	}
	keys := make([]string, len(pats))
	for i, p := range pats {
		if p == "" {
			p = "*"
		}
		keys[i] = id + fileKeySep + p
	}
	return keys
}

// subscribe adds patterns; invalid or empty ones are logged and ignored but
// the call is still acked with null (protocol.md 5.1).
func subscribe(call *Call, ix *pattern.Index[*conn], pats []string) {
	c := call.c
	for _, p := range pats {
		if err := ix.Add(p, c); err != nil {
			c.srv.log.Debug("invalid pattern on subscribe", "conn", c.id, "cmd", call.Name, "pattern", p, "err", err)
		}
	}
	if c.closed() { // raced with disconnect: do not leave patterns behind
		ix.RemoveAll(c)
	}
	call.Reply(nil)
}

func unsubscribe(call *Call, ix *pattern.Index[*conn], pats []string) {
	for _, p := range pats {
		ix.Remove(p, call.c)
	}
	call.Reply(nil)
}

// watchStores registers one listener per store. Each change is matched
// against the index once, encoded once, and the same frame is queued to
// every matching connection; nothing here blocks.
func (s *Server) watchStores() {
	if s.st.States != nil {
		s.st.States.Watch(s.onStateChange)
	}
	if s.st.Objects != nil {
		s.st.Objects.Watch(s.onObjectChange)
	}
	if s.st.Files != nil {
		s.st.Files.Watch(s.onFileChange)
	}
}

// fanout encodes lazily (only when someone listens) and queues the frame to
// every matching connection whose user may read the change ([GO] rule of
// datamodel.md 4.7: events are filtered like reads; visible nil = everyone).
func (s *Server) fanout(ix *pattern.Index[*conn], matchKey, queueKey string, visible func(*acl.Subject) bool, encode func() (frame, error)) {
	if s.closed.Load() {
		return
	}
	var f frame
	var err error
	encoded := false
	ix.Match(matchKey, func(c *conn) {
		if visible != nil && !visible(c.sess.Subject()) {
			return
		}
		if !encoded {
			f, err = encode()
			encoded = true
		}
		if err == nil {
			c.push(queueKey, f)
		}
	})
	if err != nil {
		s.log.Error("cannot encode change", "id", matchKey, "err", err)
	}
}

func (s *Server) onStateChange(ch states.Change) {
	var meta *objects.Meta
	if s.st.Objects != nil {
		_, meta, _ = s.st.Objects.GetRaw(ch.ID)
	}
	visible := func(sub *acl.Subject) bool {
		if sub.IsSuperUser() {
			return true
		}
		if !sub.Perms.State.Read {
			return false
		}
		return meta == nil || acl.StateAllowed(sub, meta.ACL, acl.Read)
	}
	s.fanout(&s.stateSubs, ch.ID, "s"+ch.ID, visible, func() (frame, error) {
		val := ch.JSON
		if len(val) == 0 && ch.State != nil {
			val = stateJSON(ch.State)
		}
		return encodeEvent(evStateChange, ch.ID, rawOrNull(val))
	})
}

func (s *Server) onObjectChange(ch objects.Change) {
	visible := func(sub *acl.Subject) bool {
		if sub.Admin {
			return true
		}
		if !sub.Perms.Object.Read {
			return false
		}
		return ch.Meta == nil || acl.ObjectAllowed(sub, ch.Meta.ACL, acl.Read)
	}
	s.fanout(&s.objectSubs, ch.ID, "o"+ch.ID, visible, func() (frame, error) {
		return encodeEvent(evObjectChange, ch.ID, rawOrNull(ch.Object))
	})
}

func (s *Server) onFileChange(ch files.Change) {
	key := ch.Namespace + fileKeySep + ch.Path
	visible := func(sub *acl.Subject) bool { return sub.Admin || sub.Perms.File.Read }
	s.fanout(&s.fileSubs, key, "f"+key, visible, func() (frame, error) {
		var size any = ch.Size
		if ch.Deleted {
			size = nil
		}
		return encodeEvent(evFileChange, ch.Namespace, ch.Path, size)
	})
}
