package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/brokerd/brokerd/pattern"
	"github.com/brokerd/brokerd/sioclient"
)

// ErrDisconnected is returned by a call whose connection ended before the
// server answered. The command may or may not have been executed.
var ErrDisconnected = errors.New("adapter: connection lost")

// Options configure New.
type Options struct {
	// URL of brokerd's Socket.IO endpoint: http(s)://host:port[/path].
	URL string
	// Instance is the namespace this process acts for, "<adapter>.<n>".
	Instance string
	// Token, or User and Pass, are the credentials; none when brokerd runs
	// with auth disabled.
	Token      string
	User, Pass string
	// EIO is the Engine.IO version, 3 or 4 (default 4).
	EIO int
	// Logger receives connection events (default slog.Default()).
	Logger *slog.Logger
	// ReconnectMin and ReconnectMax bound the delay between reconnect
	// attempts (defaults DefaultReconnectMin and DefaultReconnectMax).
	ReconnectMin, ReconnectMax time.Duration
	// DialTimeout bounds one connection attempt including re-subscription
	// (default 10 s).
	DialTimeout time.Duration
}

// stableAfter is how long a connection must last for the reconnect backoff
// to start again from ReconnectMin.
const stableAfter = 10 * time.Second

type lifecycle int

const (
	lcNew lifecycle = iota
	lcStarted
	lcClosed
)

// Adapter is one connected instance. Create it with New; it is safe for
// concurrent use.
type Adapter struct {
	opts Options
	ns   string
	log  *slog.Logger
	bo   backoff

	ctx    context.Context // handler context; cancelled by Close
	cancel context.CancelFunc
	events *eventQueue
	wg     sync.WaitGroup

	mu        sync.Mutex
	lc        lifecycle
	conn      *sioclient.Conn
	ready     chan struct{} // closed when conn is set, replaced when it drops
	userSubs  map[string]*pattern.Matcher
	autoSubs  map[string]bool
	onCommand func(ctx context.Context, id string, st *State)
	onState   func(ctx context.Context, id string, st *State)
	onMessage func(ctx context.Context, m Message) any
	onConnect func(ctx context.Context)
	onDisconn func(err error)
}

// New validates the options; it does not connect (see Start and Run).
func New(o Options) (*Adapter, error) {
	if _, _, ok := ParseInstance(o.Instance); !ok {
		return nil, fmt.Errorf("adapter: invalid instance %q, want <adapter>.<n> such as haa.0", o.Instance)
	}
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("adapter: invalid URL %q", o.URL)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return nil, fmt.Errorf("adapter: unsupported URL scheme %q", u.Scheme)
	}
	if o.EIO == 0 {
		o.EIO = 4
	}
	if o.EIO != 3 && o.EIO != 4 {
		return nil, fmt.Errorf("adapter: EIO must be 3 or 4, not %d", o.EIO)
	}
	if o.Token != "" && o.User != "" {
		return nil, errors.New("adapter: give either Token or User/Pass, not both")
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &Adapter{
		opts:     o,
		ns:       o.Instance,
		log:      log.With("instance", o.Instance),
		bo:       newBackoff(o.ReconnectMin, o.ReconnectMax),
		events:   newEventQueue(),
		ready:    make(chan struct{}),
		userSubs: map[string]*pattern.Matcher{},
		autoSubs: map[string]bool{},
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	return a, nil
}

// Namespace returns the instance namespace, e.g. "haa.0".
func (a *Adapter) Namespace() string { return a.ns }

// ID resolves id by the own-namespace rule (see the package documentation).
func (a *Adapter) ID(id string) string { return resolveID(a.ns, id) }

// RelID strips "<ns>." from an id of the own namespace; other ids are
// returned unchanged.
func (a *Adapter) RelID(id string) string {
	if rest, ok := strings.CutPrefix(id, a.ns+"."); ok {
		return rest
	}
	return id
}

// Connected reports whether a connection is up right now.
func (a *Adapter) Connected() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conn != nil
}

// OnCommand sets the handler of commands: state writes with ack=false to ids
// under "<ns>.". Setting it subscribes "<ns>.*". id is the full id; confirm
// with SetState(ctx, id, value, true).
func (a *Adapter) OnCommand(fn func(ctx context.Context, id string, st *State)) {
	p := a.ns + ".*"
	a.mu.Lock()
	a.onCommand = fn
	cmd := ""
	switch {
	case fn != nil && !a.autoSubs[p]:
		a.autoSubs[p] = true
		cmd = "subscribe"
	case fn == nil && a.autoSubs[p]:
		delete(a.autoSubs, p)
		cmd = "unsubscribe"
	}
	if a.userSubs[p] != nil {
		cmd = ""
	}
	c := a.conn
	a.mu.Unlock()
	if cmd != "" && c != nil {
		// Fire and forget: the server acks (un)subscribe with null only, and
		// the pattern set is renewed on every reconnect.
		_ = c.Emit(cmd, []string{p})
	}
}

// OnStateChange sets the handler of state events matching a pattern given to
// Subscribe or SubscribeForeign, except those delivered to OnCommand. st is
// nil when the state was deleted or expired.
func (a *Adapter) OnStateChange(fn func(ctx context.Context, id string, st *State)) {
	a.mu.Lock()
	a.onState = fn
	a.mu.Unlock()
}

// OnMessage sets the handler of sendTo messages. Its return value is the
// reply the sender's callback receives; a returned error is sent as
// {"error": "<text>"}. Without a handler messages are answered with
// {"error": "<ns> does not handle messages"}.
func (a *Adapter) OnMessage(fn func(ctx context.Context, m Message) (reply any)) {
	a.mu.Lock()
	a.onMessage = fn
	a.mu.Unlock()
}

// OnConnect sets a handler run after every (re)connection, once the
// subscriptions have been renewed (so a value read there cannot miss a later
// change; events of the new connection may be handled just before it).
func (a *Adapter) OnConnect(fn func(ctx context.Context)) {
	a.mu.Lock()
	a.onConnect = fn
	a.mu.Unlock()
}

// OnDisconnect sets a handler run when a connection ends unexpectedly.
func (a *Adapter) OnDisconnect(fn func(err error)) {
	a.mu.Lock()
	a.onDisconn = fn
	a.mu.Unlock()
}

// Run connects, keeps the connection up until ctx ends or Close is called,
// then disconnects. It returns nil then, or the error of Start. The adapter
// is closed when Run returns.
func (a *Adapter) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		a.Close()
		if ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return nil
		}
		return err
	}
	select {
	case <-ctx.Done():
	case <-a.ctx.Done():
	}
	return a.Close()
}

// Start connects and returns once connected; the connection is then kept up
// in the background until Close. ctx bounds only this first connection:
// network errors and "already connected" refusals are retried with backoff
// until ctx ends, any other refusal by the server (bad credentials, missing
// rights) is returned at once. After a failed Start the adapter may be
// started again.
func (a *Adapter) Start(ctx context.Context) error {
	a.mu.Lock()
	switch a.lc {
	case lcStarted:
		a.mu.Unlock()
		return errors.New("adapter: already started")
	case lcClosed:
		a.mu.Unlock()
		return ErrClosed
	}
	a.lc = lcStarted
	a.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(a.ctx, cancel)
	defer stop()
	conn, err := a.connect(ctx, 0, true)
	if err != nil {
		a.mu.Lock()
		if a.lc == lcStarted {
			a.lc = lcNew
		}
		a.mu.Unlock()
		if a.ctx.Err() != nil {
			return ErrClosed
		}
		return err
	}
	// Add under mu: Close marks the adapter closed under mu before it waits.
	a.mu.Lock()
	if a.lc == lcClosed {
		a.mu.Unlock()
		conn.Close()
		return ErrClosed
	}
	a.wg.Add(2)
	a.mu.Unlock()
	go a.dispatch()
	go a.maintain(conn)
	return nil
}

// Close disconnects (brokerd then marks the instance not alive at once),
// stops reconnecting and waits for running handlers to return. It must not be
// called from a handler. Calling it again is a no-op.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.lc == lcClosed {
		a.mu.Unlock()
		return nil
	}
	a.lc = lcClosed
	c := a.conn
	a.conn = nil
	a.mu.Unlock()
	a.cancel()
	if c != nil {
		c.Close()
	}
	a.wg.Wait()
	a.log.Info("adapter closed")
	return nil
}

// permanent reports whether a first connection error is not worth retrying.
func permanent(err error) bool {
	var ce *sioclient.ConnectError
	return errors.As(err, &ce) && !strings.Contains(ce.Message, "already connected")
}

// connect dials until it succeeds, ctx ends or (first only) the server
// refuses permanently. attempt is the backoff position to start from.
func (a *Adapter) connect(ctx context.Context, attempt int, first bool) (*sioclient.Conn, error) {
	for {
		if !first || attempt > 0 {
			d := a.bo.delay(attempt)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
		c, err := a.dial(ctx)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if first && permanent(err) {
			return nil, err
		}
		a.log.Warn("connect failed", "url", a.opts.URL, "attempt", attempt+1, "err", err)
		attempt++
	}
}

func (a *Adapter) dial(ctx context.Context) (*sioclient.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, a.opts.DialTimeout)
	defer cancel()
	so := sioclient.Options{URL: a.opts.URL, EIO: a.opts.EIO, Setup: func(c *sioclient.Conn) {
		c.On("stateChange", a.onStateEvent)
		c.OnAck("message", a.onMessageEvent)
	}}
	if a.opts.EIO == 3 {
		q := url.Values{"instance": {a.ns}}
		if a.opts.Token != "" {
			q.Set("token", a.opts.Token)
		}
		if a.opts.User != "" {
			q.Set("user", a.opts.User)
			q.Set("pass", a.opts.Pass)
		}
		so.Query = q
	} else {
		auth := map[string]any{"instance": a.ns}
		if a.opts.Token != "" {
			auth["token"] = a.opts.Token
		}
		if a.opts.User != "" {
			auth["user"] = a.opts.User
			auth["pass"] = a.opts.Pass
		}
		so.Auth = auth
	}
	c, err := sioclient.Dial(dctx, so)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.lc == lcClosed {
		a.mu.Unlock()
		c.Close()
		return nil, ErrClosed
	}
	// Publish the connection and snapshot the patterns together: a Subscribe
	// after this point sends its pattern itself.
	a.conn = c
	close(a.ready)
	patterns := a.patternsLocked()
	a.mu.Unlock()
	if len(patterns) > 0 {
		m, err := c.EmitAck(dctx, "subscribe", patterns)
		if err == nil && len(m.Args) > 0 {
			err = ackError("subscribe", m.Args[0])
		}
		if err != nil {
			// Not fatal: the connection is up; a lost one is noticed by maintain.
			a.log.Error("re-subscribe failed", "patterns", len(patterns), "err", err)
		}
	}
	a.events.push(func() { a.runConnect() })
	a.log.Info("connected", "url", a.opts.URL, "eio", a.opts.EIO, "subscriptions", len(patterns))
	return c, nil
}

// maintain waits for the connection to end and reconnects, until Close.
func (a *Adapter) maintain(c *sioclient.Conn) {
	defer a.wg.Done()
	attempt := 0
	for {
		since := time.Now()
		select {
		case <-c.Done():
		case <-a.ctx.Done():
			return
		}
		err := c.Err()
		a.mu.Lock()
		if a.conn == c {
			a.conn = nil
			a.ready = make(chan struct{})
		}
		a.mu.Unlock()
		if a.ctx.Err() != nil {
			return
		}
		a.log.Warn("disconnected", "err", err)
		a.events.push(func() { a.runDisconnect(err) })
		if time.Since(since) >= stableAfter {
			attempt = 0
		}
		next, cerr := a.connect(a.ctx, attempt, false)
		if cerr != nil {
			return // closed
		}
		attempt++
		c = next
	}
}

// patternsLocked lists every pattern to subscribe on a connection.
func (a *Adapter) patternsLocked() []string {
	ps := make([]string, 0, len(a.userSubs)+len(a.autoSubs))
	for p := range a.autoSubs {
		ps = append(ps, p)
	}
	for p := range a.userSubs {
		if !a.autoSubs[p] {
			ps = append(ps, p)
		}
	}
	return ps
}

// waitConn returns the live connection, waiting for one while disconnected.
func (a *Adapter) waitConn(ctx context.Context) (*sioclient.Conn, error) {
	for {
		a.mu.Lock()
		lc, c, ready := a.lc, a.conn, a.ready
		a.mu.Unlock()
		if lc == lcClosed {
			return nil, ErrClosed
		}
		if c != nil {
			return c, nil
		}
		if lc == lcNew {
			return nil, errors.New("adapter: not started")
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-a.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// dispatch runs queued events until Close.
func (a *Adapter) dispatch() {
	defer a.wg.Done()
	for {
		fn, ok := a.events.pop(a.ctx)
		if !ok {
			return
		}
		a.safely("event", fn)
	}
}

// safely runs a handler, turning a panic into a log line.
func (a *Adapter) safely(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("handler panicked", "handler", what, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	fn()
}

func (a *Adapter) runConnect() {
	a.mu.Lock()
	fn := a.onConnect
	a.mu.Unlock()
	if fn != nil {
		fn(a.ctx)
	}
}

func (a *Adapter) runDisconnect(err error) {
	a.mu.Lock()
	fn := a.onDisconn
	a.mu.Unlock()
	if fn != nil {
		fn(err)
	}
}

// eventQueue is an unbounded FIFO: the read goroutine must never block on
// it, or a handler waiting for an ack would deadlock the connection.
type eventQueue struct {
	mu     sync.Mutex
	items  []func()
	signal chan struct{}
}

func newEventQueue() *eventQueue { return &eventQueue{signal: make(chan struct{}, 1)} }

func (q *eventQueue) push(fn func()) {
	q.mu.Lock()
	q.items = append(q.items, fn)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *eventQueue) pop(ctx context.Context) (func(), bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			fn := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.mu.Unlock()
			return fn, true
		}
		q.mu.Unlock()
		select {
		case <-q.signal:
		case <-ctx.Done():
			return nil, false
		}
	}
}
