package faulttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/broker"
	"github.com/brokerd/brokerd/config"
	"github.com/brokerd/brokerd/sioclient"
)

// server is a brokerd running in this process on a loopback port.
type server struct {
	URL  string // http://127.0.0.1:port
	Addr string
	dir  string
	stop context.CancelFunc
	done chan error
}

// startServer starts the real broker (broker.New + Serve) on a fresh data
// directory, on tmpfs when there is one.
func startServer(tb testing.TB) *server {
	tb.Helper()
	loopbackOnlyHTTP()
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "brokerd-faulttest-")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = config.Addresses{"127.0.0.1:0"}
	cfg.Log.Level = "error"
	// The idle stress test (-tags stress) holds 10,000 sessions, the default
	// limit, and then dials more; the limit itself is tested in transport.
	cfg.Limits.MaxConnections = 20000
	b, err := broker.New(cfg, broker.Options{Version: "faulttest", LogOutput: io.Discard})
	if err != nil {
		os.RemoveAll(dir)
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Close()
		os.RemoveAll(dir)
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), dir: dir, stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- b.Serve(ctx, []net.Listener{ln}, nil) }()
	tb.Cleanup(s.close)
	return s
}

func (s *server) close() {
	s.stop()
	select {
	case <-s.done:
	case <-time.After(broker.ShutdownTimeout + 5*time.Second):
	}
	os.RemoveAll(s.dir)
}

// dial connects a Socket.IO client.
func (s *server) dial(ctx context.Context, eio int) (*sioclient.Conn, error) {
	return sioclient.Dial(ctx, sioclient.Options{URL: s.URL, EIO: eio})
}

// getVersion asks c for the version with a timeout.
func getVersion(c *sioclient.Conn, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := c.EmitAck(ctx, "getVersion")
	if err != nil {
		return err
	}
	if len(m.Args) < 2 || !strings.Contains(string(m.Args[1]), "faulttest") {
		return fmt.Errorf("getVersion answered %q", m.Args)
	}
	return nil
}

// loopbackOnlyHTTP makes outbound HTTP of this process (the broker's
// httpGet command, which fuzzed frames can reach) refuse every host but
// loopback, before any name lookup.
func loopbackOnlyHTTP() {
	d := &net.Dialer{Timeout: 2 * time.Second}
	http.DefaultTransport = &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, errors.New("faulttest: outbound connections are limited to loopback")
			}
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConns:    4,
		IdleConnTimeout: time.Second,
	}
}
