package transport

import (
	"encoding/json"
	"errors"
	"time"

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
	sub := func(ix func(*Server) *pattern.Index[subscriber]) func(*Call) {
		return func(call *Call) { subscribe(call, ix(call.srv), call.Args.Strings(0)) }
	}
	unsub := func(ix func(*Server) *pattern.Index[subscriber]) func(*Call) {
		return func(call *Call) { unsubscribe(call, ix(call.srv), call.Args.Strings(0)) }
	}
	st := func(s *Server) *pattern.Index[subscriber] { return &s.stateSubs }
	ob := func(s *Server) *pattern.Index[subscriber] { return &s.objectSubs }
	register("subscribe", &Command{Perm: Perm{"state", "read"}, Params: pats, Ack: "(null)", Socket: true,
		Doc: "stateChange for ids matching the pattern(s)", Handler: sub(st)})
	register("subscribeStates", &Command{Perm: Perm{"state", "read"}, Via: "subscribe", Params: pats, Ack: "(null)", Socket: true,
		Doc: "alias of subscribe", Handler: sub(st)})
	register("unsubscribe", &Command{Perm: Perm{"state", "read"}, Params: pats, Ack: "(null)", Socket: true,
		Doc: "remove identical pattern(s)", Handler: unsub(st)})
	register("unsubscribeStates", &Command{Perm: Perm{"state", "read"}, Via: "unsubscribe", Params: pats, Ack: "(null)", Socket: true,
		Doc: "alias of unsubscribe", Handler: unsub(st)})
	register("subscribeObjects", &Command{Perm: Perm{"object", "read"}, Params: pats, Ack: "(null)", Socket: true,
		Doc: "objectChange for ids matching the pattern(s)", Handler: sub(ob)})
	register("unsubscribeObjects", &Command{Perm: Perm{"object", "read"}, Params: pats, Ack: "(null)", Socket: true,
		Doc: "remove identical pattern(s)", Handler: unsub(ob)})
	fp := []Param{{"id", KString, false}, {"pattern", KPatterns, true}}
	register("subscribeFiles", &Command{Perm: Perm{"file", "read"}, Params: fp, Ack: "(null)", Socket: true,
		Doc: "fileChange for files of meta id (may contain *) matching the pattern(s), default *", Handler: func(call *Call) {
			subscribe(call, &call.srv.fileSubs, fileKeys(call))
		}})
	register("unsubscribeFiles", &Command{Perm: Perm{"file", "read"}, Params: fp, Ack: "(null)", Socket: true,
		Doc: "remove identical (id, pattern) pairs", Handler: func(call *Call) {
			unsubscribe(call, &call.srv.fileSubs, fileKeys(call))
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
func subscribe(call *Call, ix *pattern.Index[subscriber], pats []string) {
	c := call.c
	if err := c.subscriptionRoom(ix, pats); err != nil {
		c.srv.log.Info("subscription refused", "conn", c.id, "cmd", call.Name, "err", err)
		call.Fail(err)
		return
	}
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

func unsubscribe(call *Call, ix *pattern.Index[subscriber], pats []string) {
	for _, p := range pats {
		ix.Remove(p, call.c)
	}
	call.Reply(nil)
}

// subscriber is one receiver of change events: a Socket.IO connection or a
// plain WebSocket stream. Both sit in the same pattern indexes and get the
// same ACL filtering; each encodes the event in its own framing.
type subscriber interface {
	// subject is the receiver's current permission set.
	subject() *acl.Subject
	// deliver queues ev without blocking.
	deliver(ev *event)
}

// event is one change being fanned out. Its encodings are built lazily,
// at most once each, by the first subscriber that needs them; fanout runs
// on one store goroutine, so no locking is needed.
type event struct {
	key string // coalescing key: "s<id>", "o<id>", "f<ns>####<path>"

	sioEnc   func() (frame, error)
	sio      frame
	sioErr   error
	sioDone  bool
	jsonEnc  func() ([]byte, error)
	json     []byte
	jsonErr  error
	jsonDone bool
}

// frame returns the Socket.IO encoding.
func (e *event) frame() (frame, error) {
	if !e.sioDone {
		e.sio, e.sioErr = e.sioEnc()
		e.sioDone = true
	}
	return e.sio, e.sioErr
}

// plain returns the JSON message of the plain WebSocket streams.
func (e *event) plain() ([]byte, error) {
	if !e.jsonDone {
		if e.jsonEnc == nil {
			e.jsonErr = errors.New("no plain encoding")
		} else {
			e.json, e.jsonErr = e.jsonEnc()
		}
		e.jsonDone = true
	}
	return e.json, e.jsonErr
}

func (c *conn) subject() *acl.Subject { return c.sess.Subject() }

func (c *conn) deliver(ev *event) {
	if f, err := ev.frame(); err == nil {
		c.push(ev.key, f)
	}
}

// watchStores registers one listener per store. Each change is matched
// against the index once, encoded once per framing, and the same bytes are
// queued to every matching subscriber; nothing here blocks.
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

// fanout queues ev to every matching subscriber whose user may read the
// change ([GO] rule of datamodel.md 4.7: events are filtered like reads;
// visible nil = everyone).
func (s *Server) fanout(ix *pattern.Index[subscriber], matchKey string, visible func(*acl.Subject) bool, ev *event) {
	if s.closed.Load() {
		return
	}
	ix.Match(matchKey, func(sub subscriber) {
		if visible != nil && !visible(sub.subject()) {
			return
		}
		sub.deliver(ev)
	})
	if ev.sioErr != nil || ev.jsonErr != nil {
		s.log.Error("cannot encode change", "id", matchKey, "err", errors.Join(ev.sioErr, ev.jsonErr))
	}
}

// nowMS is the ts of plain stream messages.
func nowMS() int64 { return time.Now().UnixMilli() }

func (s *Server) onStateChange(ch states.Change) {
	if ch.State != nil {
		s.stats.stateWrites.Add(1)
		s.opts.Metrics.StateWrite()
	}
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
	val := func() json.RawMessage {
		v := ch.JSON
		if len(v) == 0 && ch.State != nil {
			v = stateJSON(ch.State)
		}
		return rawOrNull(v)
	}
	s.fanout(&s.stateSubs, ch.ID, visible, &event{
		key:    "s" + ch.ID,
		sioEnc: func() (frame, error) { return encodeEvent(evStateChange, ch.ID, val()) },
		jsonEnc: func() ([]byte, error) {
			return json.Marshal(plainStateChange{Type: evStateChange, ID: ch.ID, State: val(), TS: nowMS()})
		},
	})
}

func (s *Server) onObjectChange(ch objects.Change) {
	visible := func(sub *acl.Subject) bool { return objectVisible(sub, ch.Meta) }
	s.fanout(&s.objectSubs, ch.ID, visible, &event{
		key:    "o" + ch.ID,
		sioEnc: func() (frame, error) { return encodeEvent(evObjectChange, ch.ID, rawOrNull(ch.Object)) },
		jsonEnc: func() ([]byte, error) {
			return json.Marshal(plainObjectChange{Type: evObjectChange, ID: ch.ID, Object: rawOrNull(ch.Object), TS: nowMS()})
		},
	})
}

func (s *Server) onFileChange(ch files.Change) {
	key := ch.Namespace + fileKeySep + ch.Path
	visible := func(sub *acl.Subject) bool { return sub.Admin || sub.Perms.File.Read }
	s.fanout(&s.fileSubs, key, visible, &event{
		key: "f" + key,
		sioEnc: func() (frame, error) {
			var size any = ch.Size
			if ch.Deleted {
				size = nil
			}
			return encodeEvent(evFileChange, ch.Namespace, ch.Path, size)
		},
	})
}

// plainStateChange is a stateChange message of /api/v1/ws/states.
type plainStateChange struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	State json.RawMessage `json:"state"`
	TS    int64           `json:"ts"`
}

// plainObjectChange is an objectChange message of /api/v1/ws/objects.
type plainObjectChange struct {
	Type   string          `json:"type"`
	ID     string          `json:"id"`
	Object json.RawMessage `json:"object"`
	TS     int64           `json:"ts"`
}
