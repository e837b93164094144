// Package transport serves the ioBroker web protocol (protocol.md) over
// Socket.IO: Engine.IO 3 (socket.io-client 2.x, conn.js) and Engine.IO 4
// (socket.io-client ≥ 3), polling and websocket. One dispatch table maps
// command names to permission, argument schema and handler; each connection
// runs its commands in order on one goroutine and writes every outbound frame
// through one writer with a bounded, coalescing event queue.
package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/metrics"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/pattern"
	"github.com/brokerd/brokerd/states"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Defaults of Options.
const (
	DefaultPingInterval   = 25 * time.Second
	DefaultPingTimeout    = 20 * time.Second
	DefaultMaxMessageSize = 100 << 20 // vis projects are written in one message
	DefaultEventQueue     = 10000
	DefaultHTTPGetTimeout = 15 * time.Second
	// DefaultWSMaxConnections bounds the streams of one plain WebSocket endpoint.
	DefaultWSMaxConnections = 100
	DefaultWSPingInterval   = 30 * time.Second
	DefaultStatsInterval    = 5 * time.Second
)

// Options configure a Server. The zero value of every field has a usable default.
type Options struct {
	// Namespace is the instance name ("brokerd.0"): the /name route, `from`
	// of writes (system.adapter.<Namespace>) and, up to the last dot, the
	// adapter name of getVersion/getAdapterName.
	Namespace string
	// Version is answered by getVersion. It must not be empty: conn.js
	// blocks forever on an empty version (protocol.md B.14).
	Version string
	// PingInterval and PingTimeout go into the open packet. EIO4: the server
	// pings; EIO3: the client pings every PingInterval and the server closes
	// after PingInterval+PingTimeout of silence.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// MaxMessageSize bounds one Engine.IO message (websocket frame or
	// polling body); larger ones close that connection.
	MaxMessageSize int64
	// WebSocketOnly refuses polling (forceWebSockets).
	WebSocketOnly bool
	// AuthEnabled is what /auth, authenticate and authEnabled report.
	AuthEnabled bool
	// Authenticator identifies the user of a new socket; nil = everybody is admin.
	Authenticator Authenticator
	// Authorizer checks command permissions; nil = everything allowed.
	Authorizer Authorizer
	// Router delivers sendTo/sendToHost/clientSubscribe/getHistory to
	// instances and hosts; nil answers those commands with an error.
	Router MessageRouter
	// SlowConsumerTimeout disconnects a socket whose queued frames have not
	// been taken by its writer for this long (0 = never).
	SlowConsumerTimeout time.Duration
	// Metrics receives command, connection and fan-out figures (nil = none).
	Metrics *metrics.Metrics
	// SendToTimeout bounds how long sendTo waits for a connected instance
	// to answer before the caller gets a timeout error.
	SendToTimeout time.Duration
	// EventQueue is how many distinct undelivered events a connection may
	// have before it is closed as too slow.
	EventQueue int
	// HTTPGetTimeout bounds httpGet.
	HTTPGetTimeout time.Duration
	// HTTPClient is used by httpGet (nil = a client with HTTPGetTimeout).
	HTTPClient *http.Client
	// WSMaxConnections bounds the plain WebSocket streams per endpoint
	// (0 = DefaultWSMaxConnections); more are refused with HTTP 503.
	WSMaxConnections int
	// WSPingInterval is how often plain WebSocket streams are pinged; a
	// stream whose ping is not answered within it is closed (0 = 30 s).
	WSPingInterval time.Duration
	// StatsInterval is the period of /api/v1/ws/system/stats (0 = 5 s).
	StatsInterval time.Duration
	// WebMounts serve file namespaces under extra URL prefixes besides
	// /files/<namespace>/, e.g. {"/vis/": "vis.0"}.
	WebMounts map[string]string
	// Limits bound what one client may do (limits.go); zero fields take defaults.
	Limits Limits
	Logger *slog.Logger
}

// Stores are the data the commands work on; a nil store answers "DB closed".
type Stores struct {
	Objects objects.Store
	States  states.Store
	Files   files.Store
}

// Handshake is what an Authenticator sees of a new socket.
type Handshake struct {
	Query      url.Values
	Header     http.Header
	Auth       map[string]any // EIO4 CONNECT payload (40{…}); nil for EIO3
	RemoteAddr string
	// Request is the first HTTP request of the session (origin checks, TLS).
	Request *http.Request
}

// Session is the authenticated identity behind one socket.
type Session interface {
	// Subject returns the caller's current permissions; they follow group
	// changes without a reconnect.
	Subject() *acl.Subject
	// Alive reports whether the login is still valid; once it is not, the
	// socket gets "reauthenticate" and is closed.
	Alive() bool
}

// StaticSession is a Session that never expires and never changes.
type StaticSession struct{ Sub *acl.Subject }

// Subject implements Session.
func (s StaticSession) Subject() *acl.Subject { return s.Sub }

// Alive implements Session.
func (StaticSession) Alive() bool { return true }

// Authenticator identifies the user of a connecting socket. An error refuses
// the socket: the client gets "reauthenticate" and then the error text as
// Socket.IO ERROR packet (protocol.md 1.8 path B).
type Authenticator interface {
	Authenticate(h *Handshake) (Session, error)
}

// ErrInvalidLogin is the refusal conn.js recognises.
var ErrInvalidLogin = errors.New(errInvalidLogin)

// Server is the Socket.IO endpoint plus the /auth and /name helper routes.
type Server struct {
	opts    Options
	st      Stores
	log     *slog.Logger
	adapter string // Namespace without instance number
	from    string // system.adapter.<Namespace>

	io     *socket.Server
	engine http.Handler
	http   *http.Client

	mu    sync.Mutex
	conns map[*conn]struct{}

	instances instanceRegistry
	aliveQ    chan aliveWrite

	stateSubs  pattern.Index[subscriber]
	objectSubs pattern.Index[subscriber]
	fileSubs   pattern.Index[subscriber]

	stats   counters
	rates   rates
	host    hostFigures
	started time.Time
	ws      wsRegistry

	sessions  sessionGate  // handshakes in progress (Limits.MaxConnections)
	restLimit *addrLimiter // REST and file-hosting requests per client address

	closed atomic.Bool
}

// New creates a server over st and registers one change listener per store.
func New(st Stores, o Options) (*Server, error) {
	if o.Namespace == "" {
		o.Namespace = "brokerd.0"
	}
	if o.Version == "" {
		return nil, errors.New("transport: Options.Version must not be empty")
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.EventQueue <= 0 {
		o.EventQueue = DefaultEventQueue
	}
	if o.SendToTimeout <= 0 {
		o.SendToTimeout = DefaultSendToTimeout
	}
	if o.HTTPGetTimeout <= 0 {
		o.HTTPGetTimeout = DefaultHTTPGetTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WSMaxConnections <= 0 {
		o.WSMaxConnections = DefaultWSMaxConnections
	}
	if o.WSPingInterval <= 0 {
		o.WSPingInterval = DefaultWSPingInterval
	}
	if o.StatsInterval <= 0 {
		o.StatsInterval = DefaultStatsInterval
	}
	o.Limits = o.Limits.withDefaults()
	s := &Server{
		started: time.Now(),
		opts:    o,
		st:      st,
		log:     o.Logger.With("component", "transport"),
		adapter: o.Namespace,
		from:    "system.adapter." + o.Namespace,
		conns:   map[*conn]struct{}{},
		aliveQ:  make(chan aliveWrite, 4096),
		http:    o.HTTPClient,

		restLimit: newAddrLimiter(o.Limits.EventsPerSecond),
	}
	if i := strings.LastIndexByte(o.Namespace, '.'); i > 0 {
		s.adapter = o.Namespace[:i]
	}
	if s.http == nil {
		s.http = &http.Client{Timeout: o.HTTPGetTimeout}
	}
	s.host.cpu = s.host.proc.ProcessCPUMeter()
	s.ws.streams = map[*stream]struct{}{}

	so := socket.DefaultServerOptions()
	so.SetAllowEIO3(true)
	so.SetServeClient(false)
	so.SetPath("/socket.io")
	so.SetPingInterval(o.PingInterval)
	so.SetPingTimeout(o.PingTimeout)
	so.SetMaxHttpBufferSize(o.MaxMessageSize)
	so.SetParser(ackParser{})
	// Engine.IO 3 with origins "*:*" reflects the Origin and allows
	// credentials; conn.js polls cross-origin with credentials.
	so.SetCors(&types.Cors{Origin: true, Credentials: true})
	ts := types.NewSet[transports.TransportCtor](gatedCtor{engine.WebSocket})
	if !o.WebSocketOnly {
		ts.Add(gatedCtor{engine.Polling})
	}
	so.SetTransports(ts)
	s.io = socket.NewServer(nil, so)
	s.engine = s.io.ServeHandler(nil)
	_ = s.io.Engine().On("connection", releaseOpen)
	s.io.Use(s.authenticate)
	_ = s.io.On("connection", func(args ...any) {
		if sock, ok := args[0].(*socket.Socket); ok {
			s.attach(sock)
		}
	})
	s.watchStores()
	go s.sweepSessions()
	go s.runAlive()
	return s, nil
}

// SessionCheckInterval is how often idle sockets' logins are re-validated;
// busy sockets are checked before every command.
const SessionCheckInterval = time.Second

// sweepSessions ends sockets whose login expired or was revoked even when
// they send nothing, so they stop receiving events.
func (s *Server) sweepSessions() {
	t := time.NewTicker(SessionCheckInterval)
	defer t.Stop()
	for range t.C {
		if s.closed.Load() {
			return
		}
		s.mu.Lock()
		var dead, stuck []*conn
		for c := range s.conns {
			switch {
			case !c.sess.Alive():
				dead = append(dead, c)
			case s.opts.SlowConsumerTimeout > 0 && c.out.stalled() > s.opts.SlowConsumerTimeout:
				stuck = append(stuck, c)
			}
		}
		s.mu.Unlock()
		for _, c := range dead {
			c.reauthenticate()
		}
		for _, c := range stuck {
			s.log.Warn("disconnecting slow consumer", "conn", c.id, "stalled", c.out.stalled().Round(time.Millisecond), "reason", "outbound queue not drained within slow_consumer_timeout")
			s.opts.Metrics.Dropped("slow_consumer", c.out.pending())
			go c.kill()
		}
	}
}

// Register mounts /socket.io/, /auth and /name on mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("/socket.io/", s.admitHandshakes(s.serveEngine))
	mux.HandleFunc("/auth", s.serveAuth)
	mux.HandleFunc("/name", s.serveName)
}

// Close disconnects every client. Store listeners stay registered but idle.
func (s *Server) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.mu.Lock()
	all := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.drop()
	}
	s.ws.closeAll()
	s.io.Close(nil)
}

// drop closes the connection's transport without a namespace DISCONNECT
// ("41"): on shutdown clients must see a lost connection and reconnect,
// while "41" tells socket.io clients the server does not want them back.
func (c *conn) drop() {
	if es := c.sock.Conn(); es != nil {
		es.Close(true)
	}
	c.close()
}

// Connections returns the number of connected sockets.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) serveAuth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]bool{"auth": s.opts.AuthEnabled})
}

func (s *Server) serveName(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, s.opts.Namespace)
}

// serveEngine hands a request to Engine.IO after enforcing MaxMessageSize on
// polling bodies: the library cuts a chunked body at the limit and decodes the
// truncated rest, so an oversized body is refused here and its session closed.
func (s *Server) serveEngine(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxMessageSize+1))
		_ = r.Body.Close()
		if err != nil || int64(len(body)) > s.opts.MaxMessageSize {
			s.closeSession(r.URL.Query().Get("sid"))
			status := http.StatusRequestEntityTooLarge
			if err != nil {
				status = http.StatusBadRequest
			}
			msg := fmt.Sprintf("message too large (limit %d bytes)", s.opts.MaxMessageSize)
			if err != nil {
				msg = "Bad request"
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `{"code":3,"message":%q}`, msg)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	if isWebSocketUpgrade(r) {
		w = &corkHijacker{w}
	}
	s.engine.ServeHTTP(w, r)
}

func (s *Server) closeSession(sid string) {
	if sid == "" {
		return
	}
	if es, ok := s.io.Engine().Clients().Load(sid); ok {
		s.log.Info("closing session: message too large", "conn", sid)
		es.Close(true)
	}
}

// authenticate is the namespace middleware: it runs before the CONNECT
// packet and stores the subject on the socket.
func (s *Server) authenticate(sock *socket.Socket, next func(*socket.ExtendedError)) {
	releaseQueue(sock, "taskQueue") // every socket passes here, refused ones too (queueleak.go)
	connectTimeout := connectTimer(sock)
	h := handshakeOf(sock)
	var sess Session = StaticSession{adminSubject()}
	var err error
	if s.opts.Authenticator != nil {
		sess, err = s.opts.Authenticator.Authenticate(h)
	}
	if err == nil && (sess == nil || sess.Subject() == nil) {
		err = ErrInvalidLogin
	}
	var instance string
	if err == nil {
		instance, err = claimedInstance(h)
	}
	if err == nil && instance != "" {
		if !mayActAs(sess.Subject()) {
			err = fmt.Errorf("user %s may not act for instance %s", strings.TrimPrefix(sess.Subject().User, acl.UserPrefix), shortName(instance))
		} else {
			err = s.instances.claim(instance)
		}
	}
	if err != nil {
		if err == nil {
			err = ErrInvalidLogin
		}
		s.log.Info("socket refused", "conn", sock.Id(), "err", err)
		_ = sock.Emit(evReauthenticate)
		next(socket.NewExtendedError(err.Error(), nil))
		releaseConnected(sock.Conn())
		return
	}
	sock.SetData(sockData{sess: sess, instance: instance})
	if connectTimeout != nil {
		stopTimer(connectTimeout) // accepted: nothing left for it to do (queueleak.go)
	}
	next(nil)
}

// sockData is what the handshake middleware leaves for attach.
type sockData struct {
	sess     Session
	instance string
}

// handshakeOf collects what the first request of the socket carried.
func handshakeOf(sock *socket.Socket) *Handshake {
	h := &Handshake{Header: http.Header{}, Query: url.Values{}}
	if hs := sock.Handshake(); hs != nil {
		h.Auth = hs.Auth
		h.RemoteAddr = hs.Address
	}
	if req := sock.Request(); req != nil && req.Request() != nil {
		h.Request = req.Request()
		h.Query = req.Request().URL.Query()
		h.Header = req.Request().Header.Clone()
	}
	return h
}

func adminSubject() *acl.Subject {
	return &acl.Subject{User: acl.Admin, Groups: []string{acl.AdminGroup}, Admin: true, Perms: acl.All()}
}

// attach runs synchronously in the library's connection event, before any
// event of the socket is processed, so early commands are never dropped.
func (s *Server) attach(sock *socket.Socket) {
	d, _ := sock.Data().(sockData)
	sess := d.sess
	if sess == nil {
		sess = StaticSession{adminSubject()}
	}
	c := newConn(s, sock, sess)
	c.instance = d.instance
	sock.OnAny(c.onEvent)
	c.watchInbound(sock.Conn())
	_ = sock.On("disconnect", func(...any) { c.close() })
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if c.instance != "" {
		s.instanceAttached(c)
	}
	releaseConnected(sock.Conn())
	if !sock.Connected() || s.closed.Load() {
		c.kill()
	}
	c.trackTransport(sock)
	s.log.Debug("connected", "conn", c.id, "user", sess.Subject().User, "eio", sock.Conn().Protocol())
}

func (s *Server) detach(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.stateSubs.RemoveAll(c)
	s.objectSubs.RemoveAll(c)
	s.fileSubs.RemoveAll(c)
	s.instanceDetached(c)
	c.untrackTransport()
}

// from is who a connection's writes are from: the adapter instance it acts
// for, else this broker's own instance.
func (c *conn) from() string {
	if c.instance != "" {
		return c.instance
	}
	return c.srv.from
}
