package transport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/pattern"
	"github.com/coder/websocket"
)

// Close codes of the plain WebSocket streams. Every server-side close sends
// one of these with its reason.
const (
	CloseShutdown     = websocket.StatusGoingAway       // 1001 "server shutting down"
	ClosePolicy       = websocket.StatusPolicyViolation // 1008 "session expired", "permission denied"
	CloseInternal     = websocket.StatusInternalError   // 1011
	CloseSlowConsumer = websocket.StatusCode(4000)      // event queue overflowed
	CloseWriteTimeout = websocket.StatusCode(4001)      // a message could not be written in time
	ClosePingTimeout  = websocket.StatusCode(4002)      // ping not answered
)

// Stream endpoints (keys of Stats.Streams).
const (
	StreamStates  = "states"
	StreamObjects = "objects"
	StreamStats   = "system/stats"
)

// wsWriteTimeout bounds writing one message to a stream.
const wsWriteTimeout = 10 * time.Second

// snapshotChunk is how many states or objects one snapshot message carries (a var for tests).
var snapshotChunk = 500

// wsRegistry tracks the plain WebSocket streams for limits, stats and shutdown.
type wsRegistry struct {
	mu      sync.Mutex
	streams map[*stream]struct{}
	perKind map[string]int
	closed  bool
	wg      sync.WaitGroup
}

// reserve takes a slot of kind; false when limit streams are open or the
// server is closing.
func (r *wsRegistry) reserve(kind string, limit int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.perKind[kind] >= limit {
		return false
	}
	if r.perKind == nil {
		r.perKind = map[string]int{}
	}
	r.perKind[kind]++
	r.wg.Add(1)
	return true
}

func (r *wsRegistry) release(kind string) {
	r.mu.Lock()
	r.perKind[kind]--
	r.mu.Unlock()
	r.wg.Done()
}

// add registers a running stream; false when the server closed meanwhile.
func (r *wsRegistry) add(st *stream) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.streams[st] = struct{}{}
	return true
}

func (r *wsRegistry) remove(st *stream) {
	r.mu.Lock()
	delete(r.streams, st)
	r.mu.Unlock()
}

func (r *wsRegistry) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{StreamStates: 0, StreamObjects: 0, StreamStats: 0}
	for k, n := range r.perKind {
		out[k] = n
	}
	return out
}

// closeAll ends every stream with 1001 and waits (bounded) for the close
// frames to go out.
func (r *wsRegistry) closeAll() {
	r.mu.Lock()
	r.closed = true
	all := make([]*stream, 0, len(r.streams))
	for st := range r.streams {
		all = append(all, st)
	}
	r.mu.Unlock()
	for _, st := range all {
		st.stop(CloseShutdown, "server shutting down")
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// stream is one plain WebSocket client: JSON text messages, no Socket.IO
// framing. It is a subscriber of the same pattern indexes as the sockets.
type stream struct {
	srv  *Server
	kind string
	ws   *websocket.Conn
	sess Session
	out  *outbox

	once sync.Once
	quit chan struct{}
	code websocket.StatusCode
	why  string
}

func (st *stream) subject() *acl.Subject { return st.sess.Subject() }

func (st *stream) deliver(ev *event) {
	b, err := ev.plain()
	if err != nil {
		return
	}
	if !st.out.pushEvent(ev.key, frame{text: b}) {
		st.srv.log.Warn("websocket stream too slow, closing", "conn", "ws", "stream", st.kind, "user", st.sess.Subject().User)
		st.stop(CloseSlowConsumer, "slow consumer")
	}
}

// stop asks the stream's goroutine to close with code and reason (first wins).
func (st *stream) stop(code websocket.StatusCode, why string) {
	st.once.Do(func() {
		st.code, st.why = code, why
		close(st.quit)
	})
}

// patternsOf reads ?pattern= (repeated and/or comma-separated; default *)
// and validates every pattern.
func patternsOf(r *http.Request) ([]string, error) {
	pats := splitList(r.URL.Query()["pattern"])
	if len(pats) == 0 {
		pats = []string{"*"}
	}
	for _, p := range pats {
		if _, err := pattern.Compile(p); err != nil {
			return nil, &argError{"invalid pattern " + p + ": " + err.Error()}
		}
	}
	return pats, nil
}

func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// openStream runs the checks that precede an upgrade — authentication, the
// dispatch gate of command with args, the per-endpoint limit — and upgrades.
// On failure it has answered with the HTTP error.
func (s *Server) openStream(w http.ResponseWriter, r *http.Request, kind, command string, args []any) *stream {
	sess, err := s.authenticateHTTP(r)
	if err != nil {
		s.writeError(w, r, err)
		return nil
	}
	if !sess.Alive() {
		s.writeError(w, r, ErrSessionExpired)
		return nil
	}
	if _, _, err := s.gate(command, args, sess.Subject()); err != nil {
		if errors.Is(err, ErrPermission) {
			s.log.Info("permission denied", "conn", "ws", "user", sess.Subject().User, "cmd", command)
		}
		s.writeError(w, r, err)
		return nil
	}
	if s.closed.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "server shutting down"})
		return nil
	}
	if !s.ws.reserve(kind, s.opts.WSMaxConnections) {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "too many connections"})
		return nil
	}
	// The Origin rule is the Authenticator's: cookie credentials need a
	// same-origin or allow-listed Origin, tokens may be used cross-origin.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.ws.release(kind)
		s.log.Debug("websocket upgrade failed", "stream", kind, "err", err)
		return nil
	}
	ws.SetReadLimit(4096) // clients send nothing but control frames
	return &stream{srv: s, kind: kind, ws: ws, sess: sess, out: newOutbox(s.opts.EventQueue), quit: make(chan struct{})}
}

func (s *Server) wsStates() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pats, err := patternsOf(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		st := s.openStream(w, r, StreamStates, "subscribe", []any{anyList(pats)})
		if st == nil {
			return
		}
		st.run(&s.stateSubs, pats, func(ctx context.Context) error { return st.snapshot(ctx, pats) }, nil)
	}
}

func (s *Server) wsObjects() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pats, err := patternsOf(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		st := s.openStream(w, r, StreamObjects, "subscribeObjects", []any{anyList(pats)})
		if st == nil {
			return
		}
		st.run(&s.objectSubs, pats, func(ctx context.Context) error { return st.objectSnapshot(ctx, pats) }, nil)
	}
}

func (s *Server) wsStats() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := s.openStream(w, r, StreamStats, "getBrokerStats", nil)
		if st == nil {
			return
		}
		tick := func(ctx context.Context) error {
			ack, err := s.Invoke(ctx, st.sess, "getBrokerStats", nil)
			if err == nil {
				err = AckError(ack)
			}
			if err != nil {
				return err
			}
			b, err := json.Marshal(ackArg(ack, 1))
			if err != nil {
				return err
			}
			return st.write(ctx, b)
		}
		st.run(nil, nil, tick, tick)
	}
}

// write sends one message with the write timeout.
func (st *stream) write(ctx context.Context, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	return st.ws.Write(ctx, websocket.MessageText, b)
}

// snapshot sends the current states matching pats, through getStates (so
// state.list and the per-state ACL apply), in chunks; the last one has
// "last": true. A refused getStates is reported in the message instead.
func (st *stream) snapshot(ctx context.Context, pats []string) error {
	all := map[string]json.RawMessage{}
	for _, p := range pats {
		ack, err := st.srv.Invoke(ctx, st.sess, "getStates", []any{p})
		if err == nil {
			err = AckError(ack)
		}
		if err != nil {
			return st.sendSnapshot(ctx, "states", nil, err)
		}
		m, ok := ackArg(ack, 1).(map[string]json.RawMessage)
		if raw, isRaw := ackArg(ack, 1).(json.RawMessage); isRaw {
			ok = json.Unmarshal(raw, &m) == nil // getStates answers pre-encoded JSON
		}
		if ok {
			for id, v := range m {
				all[id] = v
			}
		}
	}
	return st.sendSnapshot(ctx, "states", all, nil)
}

// objectVisible is the read rule of objectChange events and of the objects
// stream's snapshot, so a client never sees an object in one that the other
// hides: administrators see every object, others need object.read and the
// read bit of the object's acl (none = open).
func objectVisible(sub *acl.Subject, m *objects.Meta) bool {
	if sub.Admin {
		return true
	}
	if !sub.Perms.Object.Read {
		return false
	}
	return m == nil || acl.ObjectAllowed(sub, m.ACL, acl.Read)
}

// objectSnapshot sends the objects matching pats that the stream's user may
// read, in the states snapshot's shape under "objects". It filters like the
// changes that follow rather than going through getForeignObjects, which
// returns only one object type.
func (st *stream) objectSnapshot(ctx context.Context, pats []string) error {
	o := st.srv.st.Objects
	if o == nil {
		return st.sendSnapshot(ctx, "objects", nil, errors.New(errDBClosed))
	}
	sub := st.subject()
	all := map[string]json.RawMessage{}
	for _, p := range pats {
		m, err := pattern.Compile(p) // validated by patternsOf
		if err != nil {
			return err
		}
		start, end := pattern.Range(p)
		// Range holds the store's read lock: only collect here.
		o.Range(start, end, func(id string, meta *objects.Meta, raw json.RawMessage) bool {
			if m.Match(id) && objectVisible(sub, meta) {
				all[id] = raw
			}
			return true
		})
	}
	return st.sendSnapshot(ctx, "objects", all, nil)
}

// snapshotMsg is one snapshot message; exactly one of States and Objects is set.
type snapshotMsg struct {
	Type    string                      `json:"type"`
	States  *map[string]json.RawMessage `json:"states,omitempty"`
	Objects *map[string]json.RawMessage `json:"objects,omitempty"`
	Last    bool                        `json:"last"`
	Error   string                      `json:"error,omitempty"`
}

// sendSnapshot writes all under field ("states" or "objects") in messages of
// at most snapshotChunk entries, the last with "last": true. With failed it
// sends one empty last message carrying the error instead.
func (st *stream) sendSnapshot(ctx context.Context, field string, all map[string]json.RawMessage, failed error) error {
	chunk := map[string]json.RawMessage{}
	flush := func(last bool, errMsg string) error {
		msg := snapshotMsg{Type: "snapshot", Last: last, Error: errMsg}
		if field == "objects" {
			msg.Objects = &chunk
		} else {
			msg.States = &chunk
		}
		b, err := json.Marshal(msg)
		if err != nil {
			return err
		}
		chunk = map[string]json.RawMessage{}
		return st.write(ctx, b)
	}
	if failed != nil {
		return flush(true, failed.Error())
	}
	n := 0
	for id, v := range all {
		chunk[id] = v
		n++
		if len(chunk) == snapshotChunk && n < len(all) {
			if err := flush(false, ""); err != nil {
				return err
			}
		}
	}
	return flush(true, "")
}

// run serves the stream until it ends: subscribe to ix (events queue up
// while first runs, so none is lost between snapshot and feed), then write
// queued events, ping, re-check the session and call every on each
// StatsInterval.
func (st *stream) run(ix *pattern.Index[subscriber], pats []string, first, every func(context.Context) error) {
	s := st.srv
	defer s.ws.release(st.kind)
	if !s.ws.add(st) {
		_ = st.ws.Close(CloseShutdown, "server shutting down")
		return
	}
	defer s.ws.remove(st)
	user := st.sess.Subject().User
	s.log.Debug("websocket stream opened", "conn", "ws", "stream", st.kind, "user", user)
	// CloseRead answers pings and close frames; ctx ends when the peer goes.
	ctx := st.ws.CloseRead(context.Background())
	if ix != nil {
		for _, p := range pats {
			_ = ix.Add(p, subscriber(st))
		}
		defer ix.RemoveAll(st)
	}
	defer st.out.close()
	closeWith := func(code websocket.StatusCode, why string) {
		s.log.Debug("websocket stream closed", "conn", "ws", "stream", st.kind, "user", user, "code", int(code), "reason", why)
		_ = st.ws.Close(code, why)
	}
	if first != nil {
		if err := first(ctx); err != nil {
			st.fail(closeWith, err)
			return
		}
	}
	ping := time.NewTicker(s.opts.WSPingInterval)
	defer ping.Stop()
	alive := time.NewTicker(SessionCheckInterval)
	defer alive.Stop()
	var periodic <-chan time.Time
	if every != nil {
		t := time.NewTicker(s.opts.StatsInterval)
		defer t.Stop()
		periodic = t.C
	}
	for {
		select {
		case <-ctx.Done():
			_ = st.ws.CloseNow()
			s.log.Debug("websocket stream ended by client", "conn", "ws", "stream", st.kind, "user", user)
			return
		case <-st.quit:
			closeWith(st.code, st.why)
			return
		case <-st.out.wake:
			for _, it := range st.out.take() {
				if err := st.write(ctx, it.f.text); err != nil {
					st.fail(closeWith, err)
					return
				}
			}
		case <-ping.C:
			go func() {
				pctx, cancel := context.WithTimeout(ctx, s.opts.WSPingInterval)
				defer cancel()
				if err := st.ws.Ping(pctx); err != nil && ctx.Err() == nil {
					st.stop(ClosePingTimeout, "ping timeout")
				}
			}()
		case <-alive.C:
			if !st.sess.Alive() {
				st.stop(ClosePolicy, "session expired")
			}
		case <-periodic:
			if err := every(ctx); err != nil {
				st.fail(closeWith, err)
				return
			}
		}
	}
}

// fail closes the stream after an error of a write or command.
func (st *stream) fail(closeWith func(websocket.StatusCode, string), err error) {
	switch {
	case errors.Is(err, ErrPermission):
		closeWith(ClosePolicy, "permission denied")
	case errors.Is(err, ErrSessionExpired):
		closeWith(ClosePolicy, "session expired")
	case errors.Is(err, context.DeadlineExceeded):
		closeWith(CloseWriteTimeout, "write timeout")
	case errors.Is(err, context.Canceled):
		_ = st.ws.CloseNow()
	default:
		closeWith(CloseInternal, "internal error")
	}
}
