package transport

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestConnectionLimit(t *testing.T) {
	srv, hs := testServer(t, Options{Limits: Limits{MaxConnections: 2}})
	a := dialWS(t, hs, 4)
	sid, _ := pollEIO3(t, hs) // the second session, over polling
	for _, u := range []string{"/socket.io/?EIO=4&transport=polling", "/socket.io/?EIO=3&transport=polling"} {
		resp, err := testHTTP.Get(hs.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(string(b)) != `{"error":"too many connections (limit 2)"}` {
			t.Errorf("handshake beyond the limit: %d %s", resp.StatusCode, b)
		}
	}
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	if _, resp, err := testDialer.Dial(u, nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("websocket handshake beyond the limit: %v %v", resp, err)
	}
	// existing sessions keep working, polling included
	if got := mustJSON(t, a.call(nil, "getVersion")); got != `[null,"1.2.3","brokerd"]` {
		t.Errorf("existing websocket: %s", got)
	}
	if code, err := postPoll(hs, 3, sid, encodeEIO3(`421["getVersion"]`)); err != nil || code != 200 {
		t.Fatalf("existing polling session refused: %d %v", code, err)
	}
	if got := getPoll(t, hs, 3, sid); !contains(got, `431[null,"1.2.3","brokerd"]`) {
		t.Errorf("existing polling session: %q", got)
	}
	// a slot frees up when a session ends
	_ = a.ws.Close()
	deadline := time.Now().Add(5 * time.Second)
	for srv.io.Engine().ClientsCount() >= 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	dialWS(t, hs, 3)
}

func TestSubscriptionLimitAcrossCalls(t *testing.T) {
	_, hs := testServer(t, Options{Limits: Limits{MaxSubscriptions: 3}})
	c := dialWS(t, hs, 4)
	if got := mustJSON(t, c.call(nil, "subscribe", []string{"a.*", "b.*"})); got != `[null]` {
		t.Fatalf("subscribe: %s", got)
	}
	// re-subscribing held patterns costs nothing
	if got := mustJSON(t, c.call(nil, "subscribe", []string{"a.*", "b.*"})); got != `[null]` {
		t.Fatalf("subscribe again: %s", got)
	}
	if got := mustJSON(t, c.call(nil, "subscribeObjects", []string{"c.*", "d.*"})); got != `["too many subscriptions (limit 3)"]` {
		t.Fatalf("over the limit: %s", got)
	}
	// nothing of the refused call was subscribed
	var events []string
	c.call(func(e string) { events = append(events, e) }, "setObject", "c.0", map[string]any{"type": "device", "common": map[string]any{"name": "c"}, "native": map[string]any{}})
	c.call(func(e string) { events = append(events, e) }, "getVersion")
	if len(events) != 0 {
		t.Fatalf("refused subscription delivered %q", events)
	}
	if got := mustJSON(t, c.call(nil, "subscribeFiles", "vis.0", "x/*")); got != `[null]` {
		t.Fatalf("third pattern: %s", got)
	}
	if got := mustJSON(t, c.call(nil, "subscribe", "e.*")); got != `["too many subscriptions (limit 3)"]` {
		t.Fatalf("fourth: %s", got)
	}
	c.call(nil, "unsubscribe", "a.*")
	if got := mustJSON(t, c.call(nil, "subscribe", "e.*")); got != `[null]` {
		t.Fatalf("after unsubscribe: %s", got)
	}
	// plain WebSocket streams pass the same gate
	resp, err := testHTTP.Get(hs.URL + "/api/v1/ws/states?pattern=a,b,c,d")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "too many subscriptions (limit 3)") {
		t.Errorf("stream: %d %s", resp.StatusCode, b)
	}
}

// TestRateLimitDelaysCommands: over the rate commands are answered later,
// in order, none dropped.
func TestRateLimitDelaysCommands(t *testing.T) {
	_, hs := testServer(t, Options{Limits: Limits{EventsPerSecond: 50}})
	c := dialWS(t, hs, 4)
	const n = 100 // 50 burst + 50 at 50/s: about one second
	start := time.Now()
	for i := 1; i <= n; i++ {
		c.send("42" + strconv.Itoa(i) + `["getVersion"]`)
	}
	for i := 1; i <= n; i++ {
		if p := c.read(); p != "43"+strconv.Itoa(i)+`[null,"1.2.3","brokerd"]` {
			t.Fatalf("ack %d: %q", i, p)
		}
	}
	if d := time.Since(start); d < 700*time.Millisecond {
		t.Errorf("%d commands at 50/s took only %v", n, d)
	}
}

// TestFloodDisconnects: a client far over the rate is disconnected while
// another keeps being served.
func TestFloodDisconnects(t *testing.T) {
	_, hs := testServer(t, Options{Limits: Limits{EventsPerSecond: 10}})
	healthy := dialWS(t, hs, 4)
	c := dialWS(t, hs, 4)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if c.ws.WriteMessage(websocket.TextMessage, []byte(`42["getVersion"]`)) != nil {
				return
			}
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	if !c.closed(15 * time.Second) {
		t.Fatal("flooding client not disconnected")
	}
	if got := mustJSON(t, healthy.call(nil, "getVersion")); got != `[null,"1.2.3","brokerd"]` {
		t.Fatalf("healthy: %s", got)
	}
}

func TestFilesPerNamespace(t *testing.T) {
	_, hs := testServer(t, Options{Limits: Limits{MaxFilesPerNamespace: 2}})
	c := dialWS(t, hs, 4)
	c.call(nil, "setObject", "vis.0", map[string]any{"type": "meta", "common": map[string]any{"name": "vis", "type": "meta.user"}, "native": map[string]any{}})
	for _, f := range []string{"a.txt", "b.txt"} {
		if got := mustJSON(t, c.call(nil, "writeFile", "vis.0", f, "x")); got != `[null]` {
			t.Fatalf("%s: %s", f, got)
		}
	}
	if got := mustJSON(t, c.call(nil, "writeFile", "vis.0", "c.txt", "x")); got != `["too many files in namespace vis.0 (limit 2)"]` {
		t.Fatalf("third file: %s", got)
	}
	if got := mustJSON(t, c.call(nil, "writeFile64", "vis.0", "/a.txt", "eHg=")); got != `[null]` {
		t.Fatalf("overwrite at the cap: %s", got)
	}
	req, _ := http.NewRequest(http.MethodPut, hs.URL+"/api/v1/files/vis.0/d.txt", strings.NewReader("x"))
	resp, err := testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInsufficientStorage || strings.TrimSpace(string(b)) != `{"error":"too many files in namespace vis.0 (limit 2)"}` {
		t.Errorf("REST: %d %s", resp.StatusCode, b)
	}
}

// TestMessageSizeLimit: an oversized websocket frame closes with 1009, an
// oversized polling body gets 413 with the limit, REST bodies 413.
func TestMessageSizeLimit(t *testing.T) {
	_, hs := testServer(t, Options{MaxMessageSize: 4096})
	c := dialWS(t, hs, 4)
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`42["log","`+strings.Repeat("y", 8192)+`"]`))
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var err error
	for err == nil {
		_, _, err = c.ws.ReadMessage()
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("oversized frame: %v, want close 1009", err)
	}
	sid, _ := pollEIO3(t, hs)
	resp, err := testHTTP.Post(hs.URL+"/socket.io/?EIO=3&transport=polling&sid="+sid, "text/plain", strings.NewReader(encodeEIO3(`42["log","`+strings.Repeat("x", 8192)+`"]`)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || string(b) != `{"code":3,"message":"message too large (limit 4096 bytes)"}` {
		t.Errorf("polling: %d %s", resp.StatusCode, b)
	}
	req, _ := http.NewRequest(http.MethodPut, hs.URL+"/api/v1/states/a.0.x", strings.NewReader(strings.Repeat("1", 5000)))
	resp, err = testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if resp.StatusCode != 413 || m["error"] != "request body too large: 5000 bytes (limit 4096)" {
		t.Errorf("REST: %d %v", resp.StatusCode, m)
	}
}

func TestDepthScanners(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		over bool
	}{
		{`[[1]]`, false}, {`[[[1]]]`, true}, {`"[[[[["`, false}, {`{"a":"\"[[[["}`, false}, {`{"a":{"b":[1]}}`, true},
	} {
		if got := rawDepthExceeds([]byte(tc.raw), 2); got != tc.over {
			t.Errorf("%s: %v", tc.raw, got)
		}
		var v any
		_ = json.Unmarshal([]byte(tc.raw), &v)
		if got := depthExceeds(v, 2); got != tc.over {
			t.Errorf("decoded %s: %v", tc.raw, got)
		}
	}
	if !errIsLimit(errTooDeep(1)) {
		t.Error("errIsLimit")
	}
}
