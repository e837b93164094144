package transport

// Limits protect the broker from misbehaving clients (issue #10). Every
// refusal goes through the dispatch gate, so Socket.IO acks, REST bodies
// and plain WebSocket handshakes carry the same text.
//
// Command rate (EventsPerSecond) policy:
//
//   - each connection has a token bucket of EventsPerSecond tokens per second
//     and a burst of one second's worth. A command without a token is not
//     dropped: the connection's command goroutine waits for one. Its inbound
//     queue then fills and the library stops handing it events, so a fast
//     client is slowed to the rate while other connections are unaffected;
//   - a connection whose inbound messages arrive at more than floodFactor ×
//     EventsPerSecond for floodWindows consecutive seconds, or which has more
//     than floodFactor seconds of commands waiting (the library queues
//     without bound behind our queue), is disconnected; the reason is logged
//     at warn level ("command flood").

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/pattern"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Defaults of Limits (the configuration's defaults).
const (
	DefaultMaxConnections       = 10000
	DefaultMaxSubscriptions     = 10000
	DefaultEventsPerSecond      = 20000
	DefaultMaxObjectSize        = 1 << 20
	DefaultMaxJSONDepth         = 64
	DefaultMaxIDLength          = 1024
	DefaultMaxFileSize          = 256 << 20
	DefaultMaxFilesPerNamespace = 100000
)

const (
	// floodFactor × EventsPerSecond is the arrival rate, and floodFactor
	// seconds the backlog, at which a connection counts as flooding.
	floodFactor = 10
	// floodWindows is how many consecutive one-second windows over the
	// flood rate disconnect.
	floodWindows = 3
)

// Limits are the per-server client limits; a zero field takes its default.
type Limits struct {
	// MaxConnections bounds live Engine.IO sessions; new handshakes beyond it
	// get HTTP 503, requests of existing sessions always pass.
	MaxConnections int
	// MaxSubscriptions bounds the patterns of one socket (states, objects
	// and files together).
	MaxSubscriptions int
	// EventsPerSecond is the command rate of one connection (see above).
	EventsPerSecond int
	// MaxObjectSize bounds the JSON of setObject/extendObject in bytes.
	MaxObjectSize int64
	// MaxJSONDepth bounds the nesting of every command argument.
	MaxJSONDepth int
	// MaxIDLength bounds ids (and file namespaces) in bytes.
	MaxIDLength int
	// MaxFileSize bounds writeFile/writeFile64 content in bytes.
	MaxFileSize int64
	// MaxFilesPerNamespace bounds the names of one file namespace; writes
	// that would create more are refused (a soft cap: concurrent writers
	// may overshoot it by their number).
	MaxFilesPerNamespace int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxConnections, DefaultMaxConnections)
	def(&l.MaxSubscriptions, DefaultMaxSubscriptions)
	def(&l.EventsPerSecond, DefaultEventsPerSecond)
	def(&l.MaxJSONDepth, DefaultMaxJSONDepth)
	def(&l.MaxIDLength, DefaultMaxIDLength)
	def(&l.MaxFilesPerNamespace, DefaultMaxFilesPerNamespace)
	if l.MaxObjectSize <= 0 {
		l.MaxObjectSize = DefaultMaxObjectSize
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	return l
}

// limitError is a refusal by a limit; status is its REST answer.
type limitError struct {
	msg    string
	status int
}

func (e *limitError) Error() string { return e.msg }

func errTooDeep(limit int) error {
	return &limitError{fmt.Sprintf("argument nested too deeply (limit %d)", limit), http.StatusBadRequest}
}

func errObjectTooLarge(n, limit int64) error {
	return &limitError{fmt.Sprintf("object too large: %d bytes (limit %d)", n, limit), http.StatusRequestEntityTooLarge}
}

func errIDTooLong(n, limit int) error {
	return &limitError{fmt.Sprintf("id too long: %d bytes (limit %d)", n, limit), http.StatusBadRequest}
}

func errTooManySubscriptions(limit int) error {
	return &limitError{fmt.Sprintf("too many subscriptions (limit %d)", limit), http.StatusBadRequest}
}

func errTooManyFiles(ns string, limit int) error {
	return &limitError{fmt.Sprintf("too many files in namespace %s (limit %d)", ns, limit), http.StatusInsufficientStorage}
}

// errFileTooLarge has the files store's wording and maps to 413.
func errFileTooLarge(n, limit int64) error {
	return fmt.Errorf("%w: %d bytes exceeds the limit of %d bytes", files.ErrTooLarge, n, limit)
}

// checkDepth refuses any argument nested deeper than MaxJSONDepth. It runs
// before anything else looks into the arguments and uses no recursion.
func (s *Server) checkDepth(raw []any) error {
	limit := s.opts.Limits.MaxJSONDepth
	for _, a := range raw {
		if depthExceeds(a, limit) {
			return errTooDeep(limit)
		}
	}
	return nil
}

// depthExceeds reports whether v has more than limit nested containers.
func depthExceeds(v any, limit int) bool {
	type item struct {
		v any
		d int
	}
	var stack []item
	push := func(e any, d int) {
		switch e.(type) {
		case map[string]any, []any, json.RawMessage:
			stack = append(stack, item{e, d})
		}
	}
	push(v, 0)
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch x := it.v.(type) {
		case map[string]any:
			if it.d+1 > limit {
				return true
			}
			for _, e := range x {
				push(e, it.d+1)
			}
		case []any:
			if it.d+1 > limit {
				return true
			}
			for _, e := range x {
				push(e, it.d+1)
			}
		case json.RawMessage:
			if rawDepthExceeds(x, limit-it.d) {
				return true
			}
		}
	}
	return false
}

// rawDepthExceeds scans JSON text for brackets outside strings.
func rawDepthExceeds(b []byte, limit int) bool {
	depth, inStr, esc := 0, false, false
	for _, c := range b {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > limit {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// checkLimits applies the per-command limits to validated arguments.
func (s *Server) checkLimits(name string, cmd *Command, a Args) error {
	l := &s.opts.Limits
	for i, p := range cmd.Params {
		switch p.Name {
		case "id", "adapter":
			if id, ok := a.Any(i).(string); ok && len(id) > l.MaxIDLength {
				return errIDTooLong(len(id), l.MaxIDLength)
			}
		case "list":
			for _, id := range a.Strings(i) {
				if len(id) > l.MaxIDLength {
					return errIDTooLong(len(id), l.MaxIDLength)
				}
			}
		}
	}
	switch name {
	case "setObject", "extendObject":
		if a.Has(1) {
			if n, over := jsonSizeOver(a.Any(1), l.MaxObjectSize); over {
				return errObjectTooLarge(n, l.MaxObjectSize)
			}
		}
	case "subscribe", "subscribeStates", "subscribeObjects":
		if len(a.Strings(0)) > l.MaxSubscriptions {
			return errTooManySubscriptions(l.MaxSubscriptions)
		}
	case "subscribeFiles":
		if len(a.Strings(1)) > l.MaxSubscriptions {
			return errTooManySubscriptions(l.MaxSubscriptions)
		}
	case "writeFile":
		if data, _ := a.Data(2); int64(len(data)) > l.MaxFileSize {
			return errFileTooLarge(int64(len(data)), l.MaxFileSize)
		}
		return s.checkFileCount(a.Str(0), a.Str(1))
	case "writeFile64":
		if n := base64Len(a.Str(2)); n > l.MaxFileSize {
			return errFileTooLarge(n, l.MaxFileSize)
		}
		return s.checkFileCount(a.Str(0), a.Str(1))
	case "mkdir":
		return s.checkFileCount(a.Str(0), a.Str(1)+"/_data.json")
	}
	return nil
}

// base64Len is the decoded length of standard base64 text.
func base64Len(b64 string) int64 {
	n := base64.StdEncoding.DecodedLen(len(b64))
	for i := len(b64) - 1; i >= 0 && i >= len(b64)-2 && b64[i] == '='; i-- {
		n--
	}
	return int64(n)
}

// fileCounter is implemented by stores that know their namespace sizes.
type fileCounter interface{ Count(ns string) int }

// checkFileCount refuses a write that would add a name to a namespace
// holding MaxFilesPerNamespace names; overwriting stays possible.
func (s *Server) checkFileCount(ns, name string) error {
	fc, ok := s.st.Files.(fileCounter)
	if !ok {
		return nil
	}
	nns, nname, err := files.Normalize(ns, fileName(name))
	if err != nil || nname == "" {
		return nil // the handler reports it
	}
	limit := s.opts.Limits.MaxFilesPerNamespace
	if fc.Count(nns) < limit {
		return nil
	}
	if exists, _ := s.st.Files.Exists(nns, nname, adminSubject()); exists {
		return nil
	}
	return errTooManyFiles(nns, limit)
}

// jsonSizeOver reports whether v's JSON encoding is longer than limit, and
// that length. A cheap upper bound avoids encoding ordinary objects.
func jsonSizeOver(v any, limit int64) (int64, bool) {
	if jsonSizeBound(v, limit) <= limit {
		return 0, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0, false // the store reports what cannot be encoded
	}
	return int64(len(b)), int64(len(b)) > limit
}

// jsonSizeBound is an upper bound of v's JSON length (every string byte
// escaped as \u00XX); it stops counting once past stop.
func jsonSizeBound(v any, stop int64) int64 {
	var n int64
	stack := []any{v}
	for len(stack) > 0 && n <= stop {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch x := e.(type) {
		case nil:
			n += 4
		case bool:
			n += 5
		case float64:
			n += 24
		case string:
			n += 6*int64(len(x)) + 2
		case json.RawMessage:
			n += int64(len(x))
		case map[string]any:
			n += 2
			for k, el := range x {
				n += 6*int64(len(k)) + 4 // quotes, colon, comma
				stack = append(stack, el)
			}
		case []any:
			n += 2
			for _, el := range x {
				n++
				stack = append(stack, el)
			}
		default:
			return stop + 1 // unknown: encode exactly
		}
	}
	return n
}

// subscriptionRoom refuses a subscribe that would take the socket past
// MaxSubscriptions patterns; nothing of such a call is subscribed.
func (c *conn) subscriptionRoom(ix *pattern.Index[subscriber], pats []string) error {
	s := c.srv
	limit := s.opts.Limits.MaxSubscriptions
	have := s.stateSubs.Count(c) + s.objectSubs.Count(c) + s.fileSubs.Count(c)
	if have+len(pats) <= limit {
		return nil
	}
	seen := make(map[string]bool, len(pats))
	for _, p := range pats {
		if p == "" || seen[p] || ix.Has(p, c) {
			continue
		}
		seen[p] = true
		if have+len(seen) > limit {
			return errTooManySubscriptions(limit)
		}
	}
	return nil
}

// sessionGate counts handshakes in progress for MaxConnections.
type sessionGate struct {
	mu      sync.Mutex
	pending int
}

// admitHandshakes wraps the Engine.IO handler: a handshake (a request
// without sid) is refused with 503 while live sessions plus handshakes in
// progress reach MaxConnections; requests of existing sessions always pass.
func (s *Server) admitHandshakes(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("sid") != "" {
			next(w, r)
			return
		}
		limit := s.opts.Limits.MaxConnections
		g := &s.sessions
		g.mu.Lock()
		// A session being set up may be counted twice (live and pending):
		// that errs on the side of refusing.
		full := int(s.io.Engine().ClientsCount())+g.pending >= limit
		if !full {
			g.pending++
		}
		g.mu.Unlock()
		if full {
			s.log.Warn("connection refused", "reason", "limits.max_connections reached", "limit", limit, "remote", r.RemoteAddr)
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "too many connections (limit " + strconv.Itoa(limit) + ")"})
			return
		}
		defer func() {
			g.mu.Lock()
			g.pending--
			g.mu.Unlock()
		}()
		next(w, r)
	}
}

// connLimits is a connection's token bucket and flood detector.
type connLimits struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time

	// arrived counts inbound text messages at the transport, handled the
	// commands and client acks taken from the queue; the difference is the
	// backlog.
	arrived atomic.Int64
	handled atomic.Int64

	wmu      sync.Mutex
	winStart time.Time
	winCount int
	strikes  int
	flooded  atomic.Bool
}

// reserve takes a token and returns how long to wait for it.
func (l *connLimits) reserve(now time.Time, rate float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		l.tokens = rate
	} else {
		l.tokens = min(rate, l.tokens+now.Sub(l.last).Seconds()*rate)
	}
	l.last = now
	l.tokens--
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / rate * float64(time.Second))
}

// throttle waits for the connection's next command token; false when the
// connection closed meanwhile.
func (c *conn) throttle() bool {
	c.lim.handled.Add(1)
	d := c.lim.reserve(time.Now(), float64(c.srv.opts.Limits.EventsPerSecond))
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	}
}

// watchInbound counts the connection's inbound messages where the
// transport reads them, before any queue, to detect floods.
func (c *conn) watchInbound(es engine.Socket) {
	_ = es.On("data", func(args ...any) {
		if len(args) > 0 {
			if _, bin := args[0].(*types.BytesBuffer); bin {
				return // attachments belong to their packet
			}
		}
		c.inboundMessage(time.Now())
	})
}

func (c *conn) inboundMessage(now time.Time) {
	rate := c.srv.opts.Limits.EventsPerSecond
	l := &c.lim
	backlog := l.arrived.Add(1) - l.handled.Load()
	if backlog > int64(floodFactor*rate) && backlog > 2*inboundQueue {
		c.flood(fmt.Sprintf("more than %d commands waiting (%ds at limits.events_per_second %d)", backlog, floodFactor, rate))
		return
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.winStart.IsZero() {
		l.winStart = now
	}
	l.winCount++
	el := now.Sub(l.winStart)
	if el < time.Second {
		return
	}
	switch {
	case el >= 2*time.Second:
		l.strikes = 0 // not consecutive
	case float64(l.winCount)/el.Seconds() > float64(floodFactor*rate):
		l.strikes++
	default:
		l.strikes = 0
	}
	l.winStart, l.winCount = now, 0
	if l.strikes >= floodWindows {
		go c.flood(fmt.Sprintf("over %dx limits.events_per_second (%d/s) for %ds", floodFactor, rate, floodWindows))
	}
}

// flood disconnects the connection once, logging why.
func (c *conn) flood(reason string) {
	if c.lim.flooded.Swap(true) {
		return
	}
	c.srv.log.Warn("disconnecting client: command flood", "conn", c.id, "user", c.sess.Subject().User, "reason", reason)
	c.srv.opts.Metrics.Dropped("flood", 1)
	go c.kill()
}

// errIsLimit reports a refusal by a limit (tests, logs).
func errIsLimit(err error) bool {
	var le *limitError
	return errors.As(err, &le)
}
