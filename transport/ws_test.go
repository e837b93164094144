package transport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
	"github.com/coder/websocket"
)

// wsConn is a plain WebSocket test client.
type wsConn struct {
	t *testing.T
	c *websocket.Conn
}

func (e *apiEnv) dial(user, path string) *wsConn {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if user != "" {
		h.Set("Authorization", "Bearer "+e.tokens[user])
	}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.hs.URL, "http")+path, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		e.t.Fatalf("dial %s: %v", path, err)
	}
	c.SetReadLimit(1 << 24)
	e.t.Cleanup(func() { c.CloseNow() })
	return &wsConn{t: e.t, c: c}
}

// next reads one JSON message.
func (w *wsConn) next() map[string]any {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := w.c.Read(ctx)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		w.t.Fatalf("message %q: %v", b, err)
	}
	return m
}

// closeCode reads until the server closes and returns the close status.
func (w *wsConn) closeCode() (websocket.StatusCode, string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		_, _, err := w.c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		w.t.Fatalf("no close frame: %v", err)
	}
}

func TestWSStatesStream(t *testing.T) {
	e := newAPIEnv(t)
	r := e.dial("reader", "/api/v1/ws/states?pattern=test.0.*")
	snap := r.next()
	states, _ := snap["states"].(map[string]any)
	if snap["type"] != "snapshot" || snap["last"] != true || states["test.0.open"] == nil || states["test.0.secret"] != nil {
		t.Fatalf("snapshot: %v", snap)
	}
	// Another client writes over REST; the protected state's change is not delivered.
	if code, b, _ := e.do("admin", "PUT", "/api/v1/states/test.0.secret", []byte(`"still hidden"`)); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	if code, b, _ := e.do("writer", "PUT", "/api/v1/states/test.0.open", []byte(`{"val": 5, "ack": true}`)); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	m := r.next()
	st, _ := m["state"].(map[string]any)
	if m["type"] != "stateChange" || m["id"] != "test.0.open" || st["val"] != 5.0 || st["ack"] != true || m["ts"] == nil {
		t.Fatalf("change: %v", m)
	}
	// Not matching the pattern: not delivered either.
	e.setState("other.0.x", 1)
	if code, _, _ := e.do("writer", "DELETE", "/api/v1/states/test.0.open", nil); code != 204 {
		t.Fatal(code)
	}
	m = r.next()
	if m["type"] != "stateChange" || m["id"] != "test.0.open" || m["state"] != nil {
		t.Fatalf("delete: %v", m)
	}
	// Admin sees the protected one.
	a := e.dial("admin", "/api/v1/ws/states?pattern=test.0.secret")
	if s := a.next(); s["type"] != "snapshot" {
		t.Fatal(s)
	}
	e.setState("test.0.secret", "x")
	if m := a.next(); m["id"] != "test.0.secret" {
		t.Fatalf("admin: %v", m)
	}
}

func TestWSStatesSnapshotChunks(t *testing.T) {
	defer func(n int) { snapshotChunk = n }(snapshotChunk)
	snapshotChunk = 7
	e := newAPIEnv(t)
	n := 3*snapshotChunk + 2
	for i := 0; i < n; i++ {
		id := "bulk.0.s" + strings.Repeat("0", 4-len(itoa(i))) + itoa(i)
		e.setObject(id, stateObj(nil))
		if _, wait, err := e.st.SetAsync(id, states.Write{Val: float64(i), HasVal: true}); err != nil {
			t.Fatal(err)
		} else if i == n-1 {
			_ = wait()
		}
	}
	r := e.dial("reader", "/api/v1/ws/states?pattern=bulk.*")
	total, msgs := 0, 0
	for {
		msgs++
		m := r.next()
		total += len(m["states"].(map[string]any))
		if m["last"] == true {
			break
		}
	}
	if total != n || msgs != 4 {
		t.Fatalf("snapshot had %d states in %d messages", total, msgs)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestWSObjectsStream(t *testing.T) {
	e := newAPIEnv(t)
	r := e.dial("reader", "/api/v1/ws/objects?pattern=test.0.*,flot.*")
	if snap := r.next(); snap["type"] != "snapshot" || snap["last"] != true {
		t.Fatalf("snapshot: %v", snap)
	}
	e.setObject("test.0.secret", stateObj(map[string]any{"owner": "system.user.admin", "ownerGroup": "system.group.administrator", "object": 0x600}))
	if code, b, _ := e.do("writer", "PUT", "/api/v1/objects/test.0.ch", []byte(`{"type":"channel","common":{"name":"c"},"native":{}}`)); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	m := r.next()
	obj, _ := m["object"].(map[string]any)
	if m["type"] != "objectChange" || m["id"] != "test.0.ch" || obj["type"] != "channel" {
		t.Fatalf("objectChange: %v", m)
	}
	e.setObject("flot.0.x", objects.Object{"type": "chart", "common": map[string]any{"name": "x"}, "native": map[string]any{}})
	if m := r.next(); m["id"] != "flot.0.x" {
		t.Fatalf("second pattern: %v", m)
	}
}

func TestWSStatsStream(t *testing.T) {
	e := newAPIEnv(t, func(o *Options) { o.StatsInterval = 50 * time.Millisecond })
	r := e.dial("reader", "/api/v1/ws/system/stats")
	first := r.next()
	for i := 0; i < 3; i++ {
		e.setState("test.0.open", float64(i))
	}
	var m map[string]any
	for i := 0; i < 2; i++ {
		m = r.next()
	}
	if m["type"] != "stats" || m["ts"].(float64) <= first["ts"].(float64) {
		t.Fatalf("stats: %v", m)
	}
	mem, _ := m["memory"].(map[string]any)
	conns, _ := m["connections"].(map[string]any)
	streams, _ := conns["streams"].(map[string]any)
	totals, _ := m["totals"].(map[string]any)
	rates, _ := m["rates"].(map[string]any)
	if mem["heapAlloc"].(float64) <= 0 || streams["system/stats"] != 1.0 || totals["stateWrites"].(float64) < 3 || rates == nil {
		t.Fatalf("stats content: %v", m)
	}
	if _, err := readFileOK("/proc/self/status"); err == nil && mem["rss"].(float64) <= 0 {
		t.Errorf("rss missing on Linux: %v", mem)
	}
	st := e.srv.Stats()
	if st.Commands == 0 || st.StateWrites < 3 || st.Streams[StreamStats] != 1 {
		t.Fatalf("Stats(): %+v", st)
	}
}

func TestWSConnectionLimit(t *testing.T) {
	e := newAPIEnv(t, func(o *Options) { o.WSMaxConnections = 1 })
	first := e.dial("reader", "/api/v1/ws/objects")
	if code := e.dialStatus("reader", "/api/v1/ws/objects"); code != http.StatusServiceUnavailable {
		t.Fatalf("over the limit: %d", code)
	}
	// Other endpoints have their own limit.
	e.dial("reader", "/api/v1/ws/states?pattern=nothing.*")
	first.c.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for e.dialStatus("reader", "/api/v1/ws/objects") != http.StatusSwitchingProtocols {
		if time.Now().After(deadline) {
			t.Fatal("slot not released")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWSBadRequests(t *testing.T) {
	e := newAPIEnv(t)
	for path, want := range map[string]int{
		"/api/v1/ws/states?pattern=a[b": 400,
		"/api/v1/ws/states":             101,
	} {
		if got := e.dialStatus("reader", path); got != want {
			t.Errorf("%s: %d, want %d", path, got, want)
		}
	}
	if got := e.dialStatus("", "/api/v1/ws/states"); got != 401 {
		t.Errorf("no credentials: %d", got)
	}
}

func TestWSCloseOnShutdown(t *testing.T) {
	e := newAPIEnv(t)
	r := e.dial("reader", "/api/v1/ws/objects")
	time.Sleep(50 * time.Millisecond) // let the stream register
	go e.srv.Close()
	if code, why := r.closeCode(); code != CloseShutdown || why != "server shutting down" {
		t.Fatalf("close: %d %q", code, why)
	}
}

func TestWSCloseOnSessionEnd(t *testing.T) {
	e := newAPIEnv(t)
	r := e.dial("reader", "/api/v1/ws/states?pattern=test.*")
	r.next() // snapshot
	if err := e.svc.Sessions().Revoke(e.tokens["reader"]); err != nil {
		t.Fatal(err)
	}
	if code, why := r.closeCode(); code != ClosePolicy || why != "session expired" {
		t.Fatalf("close: %d %q", code, why)
	}
}

func TestWSCloseSlowConsumer(t *testing.T) {
	e := newAPIEnv(t, func(o *Options) { o.EventQueue = 4 })
	r := e.dial("admin", "/api/v1/ws/states?pattern=flood.*")
	r.next() // snapshot
	var wait func() error
	for i := 0; i < 5000; i++ {
		var err error
		if _, wait, err = e.st.SetAsync("flood.0.s"+itoa(i), states.Write{Val: float64(i), HasVal: true}); err != nil {
			t.Fatal(err)
		}
	}
	_ = wait()
	if code, why := r.closeCode(); code != CloseSlowConsumer || why != "slow consumer" {
		t.Fatalf("close: %d %q", code, why)
	}
}

func TestWSPingTimeout(t *testing.T) {
	e := newAPIEnv(t, func(o *Options) { o.WSPingInterval = 50 * time.Millisecond })
	r := e.dial("reader", "/api/v1/ws/objects")
	// Not reading: pongs are not sent, the server gives up.
	time.Sleep(500 * time.Millisecond)
	if code, why := r.closeCode(); code != ClosePingTimeout || why != "ping timeout" {
		t.Fatalf("close: %d %q", code, why)
	}
}

func TestWSPingAnswered(t *testing.T) {
	e := newAPIEnv(t, func(o *Options) { o.WSPingInterval = 20 * time.Millisecond })
	r := e.dial("reader", "/api/v1/ws/objects?pattern=test.*")
	r.next()                                   // snapshot: CloseRead would close on a data message
	ctx := r.c.CloseRead(context.Background()) // reads, so pongs go out
	time.Sleep(300 * time.Millisecond)
	if ctx.Err() != nil {
		t.Fatal("a client answering pings was closed")
	}
}
