package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/sioclient"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testAdapter(t *testing.T, b *fakeBroker, o Options) *Adapter {
	t.Helper()
	o.URL = b.URL()
	if o.Instance == "" {
		o.Instance = "haa.0"
	}
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	if o.ReconnectMin == 0 {
		o.ReconnectMin, o.ReconnectMax = 10*time.Millisecond, 50*time.Millisecond
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type stateEvent struct {
	kind, id string
	st       *State
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func none[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %+v", what, v)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestHandshakeCommandAndConfirm(t *testing.T) {
	ctx := testCtx(t)
	b := newFakeBroker(t)
	a := testAdapter(t, b, Options{Token: "tok"})
	events := make(chan stateEvent, 10)
	a.OnCommand(func(ctx context.Context, id string, st *State) {
		events <- stateEvent{"cmd", id, st}
		if err := a.SetState(ctx, id, st.Val, true); err != nil {
			t.Errorf("confirm: %v", err)
		}
	})
	a.OnStateChange(func(ctx context.Context, id string, st *State) { events <- stateEvent{"change", id, st} })
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := b.waitConn(t)
	b.mu.Lock()
	auth := b.auths[0]
	b.mu.Unlock()
	if !reflect.DeepEqual(auth, map[string]any{"instance": "haa.0", "token": "tok"}) {
		t.Fatalf("auth payload %v", auth)
	}
	c.waitSubs(t, "haa.0.*")
	if !a.Connected() {
		t.Fatal("not connected")
	}

	b.write("haa.0.lamp1.on", true, false)
	ev := recv(t, events, "command")
	if ev.kind != "cmd" || ev.id != "haa.0.lamp1.on" || ev.st.Ack || !ev.st.Bool() || ev.st.From != "system.adapter.web.0" {
		t.Fatalf("command event %+v %+v", ev, ev.st)
	}
	// The confirmation comes back as an event with ack=true: not a command,
	// and no OnStateChange either, since nothing was subscribed explicitly.
	none(t, events, "event for the confirmation")
	st := b.state("haa.0.lamp1.on")
	if st["ack"] != true || st["val"] != true || st["from"] != "system.adapter.haa.0" {
		t.Fatalf("stored %v", st)
	}
}

func TestStateChangeRouting(t *testing.T) {
	ctx := testCtx(t)
	b := newFakeBroker(t)
	a := testAdapter(t, b, Options{User: "u", Pass: "p"})
	events := make(chan stateEvent, 10)
	a.OnCommand(func(ctx context.Context, id string, st *State) { events <- stateEvent{"cmd", id, st} })
	a.OnStateChange(func(ctx context.Context, id string, st *State) { events <- stateEvent{"change", id, st} })
	// Before Start: only recorded, sent with the connection.
	if err := a.SubscribeForeign(ctx, "hue.0.*"); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := b.waitConn(t)
	b.mu.Lock()
	auth := b.auths[0]
	b.mu.Unlock()
	if !reflect.DeepEqual(auth, map[string]any{"instance": "haa.0", "user": "u", "pass": "p"}) {
		t.Fatalf("auth payload %v", auth)
	}
	c.waitSubs(t, "hue.0.*", "haa.0.*")
	if err := a.Subscribe(ctx, "sensors.*"); err != nil { // relative
		t.Fatal(err)
	}
	c.waitSubs(t, "haa.0.sensors.*")

	b.write("hue.0.light.on", false, true)
	if ev := recv(t, events, "foreign change"); ev.kind != "change" || ev.id != "hue.0.light.on" || !ev.st.Ack {
		t.Fatalf("got %+v", ev)
	}
	b.write("haa.0.sensors.t", 21.5, true)
	if ev := recv(t, events, "own ack change"); ev.kind != "change" || ev.id != "haa.0.sensors.t" {
		t.Fatalf("got %+v", ev)
	}
	// ack=false in the own namespace is a command even when also subscribed.
	b.write("haa.0.sensors.t", 20, false)
	if ev := recv(t, events, "command"); ev.kind != "cmd" {
		t.Fatalf("got %+v", ev)
	}
	none(t, events, "second delivery of the command")
	// Deletion/expiry: nil state to OnStateChange, never a command.
	c.emit("stateChange", "haa.0.sensors.t", nil)
	if ev := recv(t, events, "deletion"); ev.kind != "change" || ev.st != nil {
		t.Fatalf("got %+v", ev)
	}
	// An own-namespace ack event outside the explicit patterns goes nowhere.
	b.write("haa.0.other", 1, true)
	none(t, events, "unsubscribed event")

	if err := a.Unsubscribe(ctx, "sensors.*"); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	_, still := c.subs["haa.0.sensors.*"]
	c.mu.Unlock()
	if still {
		t.Fatal("unsubscribe not sent")
	}
	// Unsubscribing the auto pattern keeps it while OnCommand is set.
	a.Subscribe(ctx, "*")
	a.Unsubscribe(ctx, "*")
	c.waitSubs(t, "haa.0.*")
}

func TestStatesAndObjects(t *testing.T) {
	ctx := testCtx(t)
	b := newFakeBroker(t)
	a := testAdapter(t, b, Options{Instance: "lamp.0"})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.SetState(ctx, "lamp1.brightness", 42, true); err != nil {
		t.Fatal(err)
	}
	st, err := a.GetState(ctx, "lamp.0.lamp1.brightness")
	if err != nil || st == nil {
		t.Fatalf("GetState: %v %v", st, err)
	}
	if f, ok := st.Float(); !ok || f != 42 || !st.Ack || st.TS == 0 {
		t.Fatalf("state %+v", st)
	}
	if st, err := a.GetState(ctx, "missing"); st != nil || err != nil {
		t.Fatalf("missing state: %v %v", st, err)
	}
	if err := a.SetStateFull(ctx, "lamp1.on", State{Val: false, Ack: true, Q: QualityDeviceNotConnected, C: "offline"}); err != nil {
		t.Fatal(err)
	}
	if s := b.state("lamp.0.lamp1.on"); s["q"] != float64(0x42) || s["c"] != "offline" {
		t.Fatalf("full state stored %v", s)
	}
	if err := a.SetForeignState(ctx, "0_userdata.0.x", "v", false); err != nil {
		t.Fatal(err)
	}
	if st, _ := a.GetForeignState(ctx, "0_userdata.0.x"); st.String() != "v" {
		t.Fatalf("foreign %+v", st)
	}

	if err := a.SetObject(ctx, "lamp1", Object{Type: "device"}); err != nil {
		t.Fatal(err)
	}
	o, err := a.GetObject(ctx, "lamp1")
	if err != nil || o == nil {
		t.Fatal(o, err)
	}
	if o.ID != "lamp.0.lamp1" || o.Type != "device" || o.Common["name"] != "lamp.0.lamp1" || o.Native == nil {
		t.Fatalf("object %+v", o)
	}
	if err := a.SetObject(ctx, "x", Object{}); err == nil {
		t.Fatal("object without type accepted")
	}
	merged, err := a.ExtendObject(ctx, "lamp1", Object{Common: map[string]any{"name": "Lamp 1"}})
	if err != nil || merged == nil || merged.Common["name"] != "Lamp 1" || merged.Type != "device" {
		t.Fatalf("extend: %+v %v", merged, err)
	}
	if o, err := a.GetForeignObject(ctx, "nope.0.x"); o != nil || err != nil {
		t.Fatalf("missing object: %v %v", o, err)
	}
	if err := a.SetForeignObject(ctx, "0_userdata.0.y", Object{Type: "state"}); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	raw := b.objects["0_userdata.0.y"]
	b.mu.Unlock()
	if _, ok := raw["native"]; ok {
		t.Fatalf("foreign object normalized: %v", raw)
	}
	if err := a.SetState(ctx, "bad.", 1, true); err == nil {
		t.Fatal("id ending in . accepted")
	}
}

func TestServerErrorsKeepText(t *testing.T) {
	ctx := testCtx(t)
	b := newFakeBroker(t)
	b.fail["haa.0.locked"] = "permissionError"
	b.fail["haa.0.odd"] = "The state contains the forbidden properties foo!"
	a := testAdapter(t, b, Options{})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	err := a.SetState(ctx, "locked", 1, true)
	if err == nil || err.Error() != "permissionError" || !errors.Is(err, ErrPermission) {
		t.Fatalf("got %v", err)
	}
	err = a.SetState(ctx, "odd", 1, true)
	var se *ServerError
	if !errors.As(err, &se) || se.Text != "The state contains the forbidden properties foo!" || se.Command != "setState" {
		t.Fatalf("got %#v", err)
	}
	reply, err := a.SendTo(ctx, "hue.0", "ping", nil)
	if err == nil || err.Error() != "instance hue.0 is not connected" || !strings.Contains(string(reply), "not connected") {
		t.Fatalf("sendTo: %s %v", reply, err)
	}
}

func TestOnMessage(t *testing.T) {
	ctx := testCtx(t)
	b := newFakeBroker(t)
	a := testAdapter(t, b, Options{})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := b.waitConn(t)
	if r := c.sendMessage(t, "status", nil); string(r) != `{"error":"haa.0 does not handle messages"}` {
		t.Fatalf("no handler: %s", r)
	}
	var mu sync.Mutex
	var got []Message
	a.OnMessage(func(ctx context.Context, m Message) any {
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		switch m.Command {
		case "echo":
			var v map[string]any
			if err := m.Decode(&v); err != nil {
				return err
			}
			return v
		case "fail":
			return errors.New("lamp unreachable")
		case "panic":
			panic("boom")
		}
		return nil
	})
	if r := c.sendMessage(t, "echo", map[string]any{"a": 1}); string(r) != `{"a":1}` {
		t.Fatalf("echo: %s", r)
	}
	if r := c.sendMessage(t, "fail", nil); string(r) != `{"error":"lamp unreachable"}` {
		t.Fatalf("fail: %s", r)
	}
	if r := c.sendMessage(t, "echo", nil); !strings.Contains(string(r), "no payload") {
		t.Fatalf("echo without payload: %s", r)
	}
	if r := c.sendMessage(t, "panic", nil); string(r) != `{"error":"internal error"}` {
		t.Fatalf("panic: %s", r)
	}
	if r := c.sendMessage(t, "nothing", nil); string(r) != `null` {
		t.Fatalf("nil reply: %s", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if got[0].From != "system.adapter.test.0" || got[0].Command != "echo" || string(got[0].Message) != `{"a":1}` {
		t.Fatalf("message %+v", got[0])
	}
}

func TestReconnectResubscribes(t *testing.T) {
	ctx := testCtx(t)
	b := newFakeBroker(t)
	a := testAdapter(t, b, Options{})
	connects := make(chan struct{}, 10)
	disconnects := make(chan error, 10)
	a.OnConnect(func(context.Context) { connects <- struct{}{} })
	a.OnDisconnect(func(err error) { disconnects <- err })
	cmds := make(chan string, 10)
	a.OnCommand(func(ctx context.Context, id string, st *State) { cmds <- id })
	a.OnStateChange(func(context.Context, string, *State) {})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := b.waitConn(t)
	recv(t, connects, "first OnConnect")
	if err := a.Subscribe(ctx, "x.*"); err != nil {
		t.Fatal(err)
	}
	a.SubscribeForeign(ctx, "system.adapter.*")
	c.waitSubs(t, "haa.0.*", "haa.0.x.*", "system.adapter.*")

	for round := 0; round < 3; round++ {
		b.kick()
		recv(t, disconnects, "OnDisconnect")
		// A call while disconnected waits for the next connection.
		done := make(chan error, 1)
		go func() { done <- a.SetState(ctx, "during", round, true) }()
		c = b.waitConn(t)
		c.waitSubs(t, "haa.0.*", "haa.0.x.*", "system.adapter.*")
		recv(t, connects, "OnConnect after reconnect")
		if err := recv(t, done, "call made while disconnected"); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		b.write("haa.0.lamp", 1, false)
		if id := recv(t, cmds, "command after reconnect"); id != "haa.0.lamp" {
			t.Fatal(id)
		}
	}
	// Subscribe while disconnected is only recorded, and sent on reconnect.
	b.mu.Lock()
	b.refuse = "instance haa.0 is already connected"
	b.mu.Unlock()
	b.kick()
	recv(t, disconnects, "OnDisconnect")
	if err := a.Subscribe(ctx, "late.*"); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.refuse = ""
	b.mu.Unlock()
	c = b.waitConn(t)
	c.waitSubs(t, "haa.0.late.*", "haa.0.x.*")
}

func TestStartFailsFastOnRefusal(t *testing.T) {
	ctx := testCtx(t)
	b := newFakeBroker(t)
	b.refuse = "Invalid password or user name"
	a := testAdapter(t, b, Options{User: "u", Pass: "wrong"})
	err := a.Start(ctx)
	var ce *sioclient.ConnectError
	if !errors.As(err, &ce) || ce.Message != "Invalid password or user name" {
		t.Fatalf("got %v", err)
	}
	// The adapter can be started again once the cause is fixed.
	b.mu.Lock()
	b.refuse = ""
	b.mu.Unlock()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStartRetriesAlreadyConnected(t *testing.T) {
	ctx := testCtx(t)
	b := newFakeBroker(t)
	b.refuse = "instance haa.0 is already connected"
	a := testAdapter(t, b, Options{})
	go func() {
		for {
			b.mu.Lock()
			n := len(b.auths)
			if n >= 3 {
				b.refuse = ""
			}
			b.mu.Unlock()
			if n >= 3 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	b2 := newFakeBroker(t)
	b2.refuse = "instance haa.0 is already connected"
	a2 := testAdapter(t, b2, Options{})
	if err := a2.Start(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start with a refusing broker: %v", err)
	}
}

func TestRunAndClose(t *testing.T) {
	b := newFakeBroker(t)
	a := testAdapter(t, b, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	c := b.waitConn(t)
	cancel()
	if err := recv(t, done, "Run to return"); err != nil {
		t.Fatal(err)
	}
	recv(t, c.done, "server side to see the disconnect")
	if err := a.SetState(context.Background(), "x", 1, true); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
	if err := a.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// Close from another goroutine ends Run; calls before Start fail.
	a2 := testAdapter(t, b, Options{Instance: "haa.1"})
	if err := a2.SetState(context.Background(), "x", 1, true); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Fatalf("call before Start: %v", err)
	}
	done2 := make(chan error, 1)
	go func() { done2 <- a2.Run(context.Background()) }()
	b.waitConn(t)
	a2.Close()
	if err := recv(t, done2, "Run to return after Close"); err != nil {
		t.Fatal(err)
	}
}

func TestHandlersMayCallDuringFlood(t *testing.T) {
	// Many events while the handler makes a round trip per event: the read
	// goroutine must never block on the event queue.
	ctx := testCtx(t)
	b := newFakeBroker(t)
	a := testAdapter(t, b, Options{})
	const n = 200
	got := make(chan struct{}, n)
	a.OnCommand(func(ctx context.Context, id string, st *State) {
		if err := a.SetState(ctx, id, st.Val, true); err != nil {
			t.Errorf("confirm: %v", err)
		}
		got <- struct{}{}
	})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := b.waitConn(t)
	c.waitSubs(t, "haa.0.*")
	for i := 0; i < n; i++ {
		c.emit("stateChange", "haa.0.v", map[string]any{"val": i, "ack": false})
	}
	for i := 0; i < n; i++ {
		recv(t, got, "confirmed command")
	}
	var st map[string]any
	raw, _ := json.Marshal(b.state("haa.0.v"))
	json.Unmarshal(raw, &st)
	if st["val"] != float64(n-1) || st["ack"] != true {
		t.Fatalf("last confirmation %v (commands must run in order)", st)
	}
}

func TestEIO3HandshakeQuery(t *testing.T) {
	queries := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries <- r.URL.RawQuery
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	a, err := New(Options{URL: srv.URL, Instance: "haa.0", EIO: 3, User: "u", Pass: "p w", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := a.Start(ctx); err == nil {
		t.Fatal("Start succeeded against a failing server")
	}
	q, err := url.ParseQuery(recv(t, queries, "handshake"))
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("EIO") != "3" || q.Get("instance") != "haa.0" || q.Get("user") != "u" || q.Get("pass") != "p w" || q.Has("token") {
		t.Fatalf("query %v", q)
	}
}
