// Package broker assembles brokerd: the database and its three stores, auth
// and the HTTP/Socket.IO endpoints, with start-up and graceful shutdown.
package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerd/brokerd/auth"
	"github.com/brokerd/brokerd/config"
	"github.com/brokerd/brokerd/hoststats"
	"github.com/brokerd/brokerd/metrics"
	"github.com/brokerd/brokerd/transport"
	"github.com/brokerd/brokerd/web"
)

// ShutdownTimeout bounds graceful shutdown.
const ShutdownTimeout = 10 * time.Second

// Options are start-up parameters that are not configuration.
type Options struct {
	Version   string
	LogOutput io.Writer
}

// Broker is one running brokerd.
type Broker struct {
	cfg     config.Config
	opts    Options
	log     *slog.Logger
	stores  *Stores
	auth    *auth.Service
	sio     *transport.Server
	mux     *http.ServeMux
	ready   atomic.Bool
	started time.Time
	cert    atomic.Pointer[tls.Certificate]
	hosts   *hoststats.Publisher // nil when host statistics failed to start
	metrics *metrics.Metrics
	handler http.Handler // mux plus the socket.io.js paths
}

// New opens the data directory and builds every component; it does not listen yet.
func New(cfg config.Config, opts Options) (*Broker, error) {
	if opts.LogOutput == nil {
		opts.LogOutput = os.Stderr
	}
	b := &Broker{cfg: cfg, opts: opts, log: newLogger(cfg.Log, opts.LogOutput), mux: http.NewServeMux(), started: time.Now()}
	if cfg.TLSEnabled() {
		if err := b.loadCert(); err != nil {
			return nil, err
		}
	}
	b.metrics = metrics.New()
	start := time.Now()
	stores, err := openStores(cfg, b.log)
	if err != nil {
		return nil, err
	}
	if stores.DB != nil {
		stores.DB.Committer.SetObserver(b.metrics.Commit)
	}
	b.stores = stores
	b.log.Info("stores loaded", "objects", stores.Objects.Len(), "states", stores.States.Len(), "took", time.Since(start).Round(time.Millisecond))
	// Sessions is nil with bbolt (auth keeps them in DB) and the shared
	// Redis store with store: redis, so a login is valid on every node.
	b.auth, err = auth.New(auth.Options{DB: stores.DB, Sessions: stores.Sessions, Objects: stores.Objects, Config: cfg.Auth, Logger: b.log, From: "system.adapter." + cfg.Namespace})
	if err != nil {
		stores.Close()
		return nil, err
	}
	if cfg.Auth.Enabled {
		if ok, _ := b.auth.Login("admin", DefaultAdminPassword); ok != "" {
			b.log.Warn("user admin still has the default password; change it with `brokerd user passwd admin`")
		}
	}
	b.sio, err = transport.New(transport.Stores{Objects: stores.Objects, States: stores.States, Files: stores.Files}, transport.Options{
		Namespace:           cfg.Namespace,
		Version:             opts.Version,
		PingInterval:        cfg.SocketIO.PingInterval.Std(),
		PingTimeout:         cfg.SocketIO.PingTimeout.Std(),
		MaxMessageSize:      int64(cfg.SocketIO.MaxMessageSize),
		WebSocketOnly:       cfg.SocketIO.ForceWebSockets,
		AuthEnabled:         cfg.Auth.Enabled,
		Authenticator:       stores.authenticator(socketAuth{b.auth}),
		Router:              stores.Router(), // nil with bbolt; other nodes with store: redis
		Authorizer:          transport.SubjectAuthorizer{},
		EventQueue:          cfg.Limits.OutboundQueue,
		Metrics:             b.metrics,
		SendToTimeout:       cfg.Adapters.SendToTimeout.Std(),
		SlowConsumerTimeout: cfg.Limits.SlowConsumerTimeout.Std(),
		Logger:              b.log,
		// REST / plain WebSocket / file hosting (issue #8)
		WSMaxConnections: cfg.Web.MaxStreams,
		StatsInterval:    cfg.Web.StatsInterval.Std(),
		WebMounts:        cfg.Web.MountMap(),
		// client limits (issue #10)
		Limits: transport.Limits{
			MaxConnections:       cfg.Limits.MaxConnections,
			MaxSubscriptions:     cfg.Limits.MaxSubscriptions,
			EventsPerSecond:      cfg.Limits.EventsPerSecond,
			MaxObjectSize:        int64(cfg.Limits.MaxObjectSize),
			MaxJSONDepth:         cfg.Limits.MaxJSONDepth,
			MaxIDLength:          cfg.Limits.MaxIDLength,
			MaxFileSize:          int64(cfg.Limits.MaxFileSize),
			MaxFilesPerNamespace: cfg.Limits.MaxFilesPerNamespace,
		},
	})
	if err != nil {
		b.auth.Close()
		stores.Close()
		return nil, err
	}
	stores.attach(b.sio)
	// Host statistics as system.host.<hostname>.* states (issue #8);
	// host_stats.interval 0 turns them off.
	if iv := cfg.HostStats.Interval.Std(); iv > 0 {
		if b.hosts, err = startHostStats(stores, iv, b.log); err != nil {
			b.log.Warn("host statistics disabled", "err", err)
		}
	}
	b.routes()
	return b, nil
}

// startHostStats publishes cpu, mem, freemem, load, uptime and alive of this
// host every interval.
func startHostStats(st *Stores, interval time.Duration, log *slog.Logger) (*hoststats.Publisher, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "brokerd"
	}
	p, err := hoststats.New(hoststats.Options{Objects: st.Objects, States: st.States, Hostname: host, Interval: interval, Logger: log})
	if err != nil {
		return nil, err
	}
	// A publisher whose Start failed has no loop: Close on it would wait forever.
	if err := p.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	o := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// Handler is the HTTP handler serving every route (for tests).
func (b *Broker) Handler() http.Handler { return b.handler }

func (b *Broker) routes() {
	b.sio.Register(b.mux)
	b.sio.RegisterAPI(b.mux) // /api/v1/, /files/, web.mounts
	b.auth.RegisterRoutes(b.mux)
	b.opsRoutes()
	b.handler = withSocketIOClient(b.mux, b.started)
	b.mux.HandleFunc("GET /{$}", b.serveWeb("index.html"))
	for _, f := range []string{"conn.js", "app.js", "style.css", "index.html"} {
		b.mux.HandleFunc("GET /"+f, b.serveWeb(f))
	}
	b.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	b.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !b.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "starting\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
}

// serveWeb serves one embedded file of the dashboard.
func (b *Broker) serveWeb(name string) http.HandlerFunc {
	data, err := web.FS.ReadFile(name)
	ctype := mime.TypeByExtension(path.Ext(name))
	return func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if name == "index.html" {
			w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'")
			w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		}
		http.ServeContent(w, r, name, b.started, bytes.NewReader(data))
	}
}

func (b *Broker) loadCert() error {
	c, err := tls.LoadX509KeyPair(b.cfg.TLS.Cert, b.cfg.TLS.Key)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	b.cert.Store(&c)
	return nil
}

// Run listens on every configured address until ctx ends, then shuts down
// gracefully: stop accepting, close client connections, flush the last
// commit. A value on hup reloads the TLS certificate.
func (b *Broker) Run(ctx context.Context, hup <-chan os.Signal) error {
	var lns []net.Listener
	for _, a := range b.cfg.Listen {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			b.Close()
			return fmt.Errorf("listen %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	return b.Serve(ctx, lns, hup)
}

// Serve runs on already-open listeners (tests pass their own).
func (b *Broker) Serve(ctx context.Context, lns []net.Listener, hup <-chan os.Signal) error {
	srv := &http.Server{
		Handler:           b.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
	}
	if b.cfg.TLSEnabled() {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return b.cert.Load(), nil
		}}
	}
	errc := make(chan error, len(lns))
	var wg sync.WaitGroup
	useTLS := srv.TLSConfig != nil // read once: srv.Serve writes TLSConfig (http2 set-up)
	for _, ln := range lns {
		wg.Add(1)
		go func(ln net.Listener) {
			defer wg.Done()
			var err error
			if useTLS {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}(ln)
		b.log.Info("listening", "addr", ln.Addr().String(), "tls", useTLS)
	}
	b.ready.Store(true)
	b.log.Info("brokerd ready", "version", b.opts.Version, "data_dir", b.cfg.DataDir)
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			runErr = err
			break loop
		case <-hup:
			if b.cfg.TLSEnabled() {
				if err := b.loadCert(); err != nil {
					b.log.Error("tls reload failed, keeping the old certificate", "err", err)
				} else {
					b.log.Info("tls certificate reloaded")
				}
			}
		}
	}
	b.ready.Store(false)
	b.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	b.closeClients(sctx)
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	wg.Wait()
	b.auth.Close()
	if err := b.stores.Close(); err != nil && runErr == nil {
		runErr = err
	}
	b.log.Info("stopped")
	return runErr
}

// closeClients disconnects Socket.IO clients before the HTTP server stops
// (hijacked websocket connections are not closed by Shutdown).
func (b *Broker) closeClients(ctx context.Context) {
	// Half the budget for draining clients, the rest for HTTP and the last commit.
	dctx, cancel := context.WithTimeout(ctx, ShutdownTimeout/2)
	defer cancel()
	b.sio.Shutdown(dctx)
	b.stopHostStats()
}

// stopHostStats ends the host statistics (alive turns false) before the stores close.
func (b *Broker) stopHostStats() {
	if b.hosts != nil {
		b.hosts.Close()
	}
}

// Close releases a broker that never ran.
func (b *Broker) Close() error {
	b.sio.Close()
	b.stopHostStats()
	b.auth.Close()
	return b.stores.Close()
}
