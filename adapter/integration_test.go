package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/brokerd/brokerd/sioclient"
)

// Integration tests against the real server: `$BROKERD_BIN serve` when the
// variable is set, otherwise a binary built from ./cmd/brokerd. They skip
// under -short and when the server has no adapter support yet.

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

func brokerdBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("BROKERD_BIN"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "adapter-itest-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "brokerd")
		out, err := exec.Command("go", "build", "-o", buildBin, "github.com/brokerd/brokerd/cmd/brokerd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/brokerd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

type brokerdProc struct {
	t       *testing.T
	bin     string
	cfg     string
	url     string
	cmd     *exec.Cmd
	logPath string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startBrokerd runs a fresh brokerd (auth off) on a free loopback port.
func startBrokerd(t *testing.T) *brokerdProc {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf("listen: %q\ndata_dir: %q\nauth:\n  enabled: false\n", addr, filepath.Join(dir, "data"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &brokerdProc{t: t, bin: brokerdBinary(t), cfg: cfg, url: "http://" + addr, logPath: filepath.Join(dir, "brokerd.log")}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *brokerdProc) start() {
	p.t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	defer logf.Close()
	p.cmd = exec.Command(p.bin, "serve", "--config", p.cfg)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.url + "/name")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			log, _ := os.ReadFile(p.logPath)
			p.t.Fatalf("brokerd did not answer GET /name: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *brokerdProc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

// webClient is a plain (non-adapter) client, like a visualisation.
func webClient(t *testing.T, ctx context.Context, url string) *sioclient.Conn {
	t.Helper()
	c, err := sioclient.Dial(ctx, sioclient.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func emit(t *testing.T, ctx context.Context, c *sioclient.Conn, cmd string, args ...any) []json.RawMessage {
	t.Helper()
	m, err := c.EmitAck(ctx, cmd, args...)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return m.Args
}

// requireAdapterSupport skips unless brokerd routes sendTo to the connected
// instance ns (whose adapter must answer "ping").
func requireAdapterSupport(t *testing.T, ctx context.Context, web *sioclient.Conn, ns string) {
	t.Helper()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := web.EmitAck(pctx, "sendTo", ns, "ping", map[string]any{})
	if err != nil {
		t.Skipf("server lacks adapter support: sendTo to connected %s got no answer (%v)", ns, err)
	}
	if len(m.Args) > 0 && strings.Contains(string(m.Args[0]), "not connected") {
		t.Skipf("server lacks adapter support: sendTo to connected %s answered %s", ns, m.Args[0])
	}
	if len(m.Args) == 0 || string(m.Args[0]) != `"pong"` {
		t.Fatalf("sendTo ping: reply %s, want \"pong\"", m.Args)
	}
}

func TestIntegrationAdapterAgainstBrokerd(t *testing.T) {
	srv := startBrokerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const ns = "itest.0"
	a, err := New(Options{URL: srv.url, Instance: ns, Logger: quietLogger(), ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cmds := make(chan stateEvent, 16)
	a.OnCommand(func(ctx context.Context, id string, st *State) {
		if err := a.SetState(ctx, id, st.Val, true); err != nil {
			t.Errorf("confirm %s: %v", id, err)
		}
		cmds <- stateEvent{"cmd", id, st}
	})
	a.OnMessage(func(ctx context.Context, m Message) any {
		switch m.Command {
		case "ping":
			return "pong"
		case "echo":
			return map[string]any{"got": m.Message, "from": m.From}
		}
		return errors.New("unknown command " + m.Command)
	})
	connects := make(chan struct{}, 4)
	a.OnConnect(func(context.Context) { connects <- struct{}{} })
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	recv(t, connects, "OnConnect")
	web := webClient(t, ctx, srv.url)
	requireAdapterSupport(t, ctx, web, ns)

	// alive/connected maintained by brokerd (written just after the connect).
	for _, id := range []string{"system.adapter.itest.0.alive", "system.adapter.itest.0.connected"} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, err := a.GetForeignState(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if st != nil && st.Val == true && st.Ack {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %+v", id, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Objects through the SDK.
	if err := a.SetObject(ctx, "lamp1.on", Object{Type: "state", Common: map[string]any{"type": "boolean", "role": "switch", "read": true, "write": true}}); err != nil {
		t.Fatal(err)
	}
	o, err := a.GetObject(ctx, "lamp1.on")
	if err != nil || o == nil || o.Common["name"] != "itest.0.lamp1.on" || o.From != "system.adapter.itest.0" {
		t.Fatalf("object %+v %v", o, err)
	}

	// A command from a web client reaches OnCommand; the confirmation is
	// seen by the web client with ack=true and from=the instance.
	changes := make(chan []json.RawMessage, 16)
	web.On("stateChange", func(m sioclient.Message) { changes <- m.Args })
	emit(t, ctx, web, "subscribe", "itest.0.lamp1.on")
	if r := emit(t, ctx, web, "setState", "itest.0.lamp1.on", map[string]any{"val": true, "ack": false}); string(r[0]) != "null" {
		t.Fatalf("setState: %s", r)
	}
	ev := recv(t, cmds, "command")
	if ev.id != "itest.0.lamp1.on" || ev.st.Ack || ev.st.Val != true {
		t.Fatalf("command %+v %+v", ev, ev.st)
	}
	waitAck := func() State {
		for {
			args := recv(t, changes, "confirmation event")
			var st State
			json.Unmarshal(args[1], &st)
			if st.Ack {
				return st
			}
		}
	}
	if st := waitAck(); st.Val != true || st.From != "system.adapter.itest.0" {
		t.Fatalf("confirmation %+v", st)
	}

	// sendTo with a reply, and an error reply.
	r := emit(t, ctx, web, "sendTo", ns, "echo", map[string]any{"x": 1})
	var echo struct {
		Got  map[string]any `json:"got"`
		From string         `json:"from"`
	}
	if json.Unmarshal(r[0], &echo); echo.Got["x"] != float64(1) || !strings.HasPrefix(echo.From, "system.adapter.") {
		t.Fatalf("echo reply %s", r[0])
	}
	if r := emit(t, ctx, web, "sendTo", ns, "nope", nil); string(r[0]) != `{"error":"unknown command nope"}` {
		t.Fatalf("error reply %s", r[0])
	}

	// A second connection for the same instance is refused.
	_, err = sioclient.Dial(ctx, sioclient.Options{URL: srv.url, Auth: map[string]any{"instance": ns}})
	var ce *sioclient.ConnectError
	if !errors.As(err, &ce) || ce.Message != "instance itest.0 is already connected" {
		t.Fatalf("second connection: %v", err)
	}

	// Server restart: the SDK reconnects and re-subscribes.
	srv.stop()
	srv.start()
	recv(t, connects, "OnConnect after the server restart (subscriptions renewed)")
	web2 := webClient(t, ctx, srv.url)
	emit(t, ctx, web2, "setState", "itest.0.lamp1.on", map[string]any{"val": false, "ack": false})
	if ev := recv(t, cmds, "command after restart"); ev.st.Val != false {
		t.Fatalf("command after restart %+v", ev.st)
	}

	// Clean shutdown marks the instance not alive at once.
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := emit(t, ctx, web2, "getState", "system.adapter.itest.0.alive")
		var st State
		json.Unmarshal(r[1], &st)
		if st.Val == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alive after Close: %s", r[1])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIntegrationEIO3Adapter(t *testing.T) {
	srv := startBrokerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := New(Options{URL: srv.url, Instance: "itest.3", EIO: 3, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.OnMessage(func(context.Context, Message) any { return "pong" })
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	requireAdapterSupport(t, ctx, webClient(t, ctx, srv.url), "itest.3")
	if err := a.SetState(ctx, "x", 1.5, true); err != nil {
		t.Fatal(err)
	}
	st, err := a.GetState(ctx, "itest.3.x")
	if err != nil || st == nil || st.From != "system.adapter.itest.3" {
		t.Fatalf("state %+v %v", st, err)
	}
}
