package transport

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dialInstance connects over EIO4 claiming instance in the CONNECT payload
// and returns the client and the CONNECT answer.
func dialInstance(t *testing.T, srvURL, instance string) (*wsClient, string) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srvURL, "http") + "/socket.io/?EIO=4&transport=websocket"
	ws, _, err := testDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	c := &wsClient{t: t, eio: 4, ws: ws}
	if open := c.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open: %q", open)
	}
	c.send(`40{"instance":"` + instance + `"}`)
	for {
		p := c.read()
		if strings.HasPrefix(p, "40") || strings.HasPrefix(p, "44") {
			return c, p
		}
	}
}

// answerMessage waits for the server's `message` request and acks it.
func (c *wsClient) answerMessage(reply string) map[string]any {
	c.t.Helper()
	for {
		p := c.read()
		if !strings.HasPrefix(p, "42") {
			continue
		}
		i := strings.IndexByte(p, '[')
		id, err := strconv.Atoi(p[2:i])
		if err != nil {
			continue // an event without ack
		}
		var args []any
		if err := json.Unmarshal([]byte(p[i:]), &args); err != nil || len(args) < 2 || args[0] != "message" {
			c.t.Fatalf("unexpected request %q", p)
		}
		if reply != "" {
			c.send("43" + strconv.Itoa(id) + "[" + reply + "]")
		}
		m, _ := args[1].(map[string]any)
		return m
	}
}

func TestInstanceSendToRoundTrip(t *testing.T) {
	srv, hs := testServer(t, Options{SendToTimeout: 500 * time.Millisecond})
	adapter, connect := dialInstance(t, hs.URL, "haa.0")
	if !strings.HasPrefix(connect, `40{"sid":`) {
		t.Fatalf("instance refused: %q", connect)
	}
	caller := dialWS(t, hs, 3)

	// The adapter's alive/connected states become true (written asynchronously).
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, ok := srv.st.States.Get("system.adapter.haa.0.alive")
		if ok && st.Val == true && st.Ack && st.Expire {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alive not written: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}

	done := make(chan []any, 1)
	go func() { done <- caller.call(nil, "sendTo", "haa.0", "status", map[string]any{"x": 1}) }()
	msg := adapter.answerMessage(`{"on":true}`)
	if msg["command"] != "status" || msg["from"] != "system.adapter.test.0" && !strings.HasPrefix(msg["from"].(string), "system.adapter.") {
		t.Fatalf("message = %v", msg)
	}
	if m, _ := msg["message"].(map[string]any); m["x"] != float64(1) {
		t.Fatalf("payload = %v", msg["message"])
	}
	select {
	case got := <-done:
		if mustJSON(t, got) != `[{"on":true}]` {
			t.Fatalf("reply = %s", mustJSON(t, got))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply")
	}

	// An instance that never answers: the caller gets a timeout error.
	go func() { done <- caller.call(nil, "sendTo", "system.adapter.haa.0", "slow", nil) }()
	adapter.answerMessage("")
	select {
	case got := <-done:
		if s := mustJSON(t, got); !strings.Contains(s, "timeout: instance haa.0 did not answer within 500ms") {
			t.Fatalf("timeout reply = %s", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("caller hung")
	}

	// Writes of the adapter are from its instance, whatever it claims.
	if got := mustJSON(t, adapter.call(nil, "setState", "haa.0.lamp", map[string]any{"val": true, "ack": true, "from": "system.adapter.other.0"})); got != `[null,"haa.0.lamp"]` {
		t.Fatalf("setState = %s", got)
	}
	if st, _ := srv.st.States.Get("haa.0.lamp"); st.From != "system.adapter.haa.0" {
		t.Fatalf("from = %q", st.From)
	}
}

func TestDuplicateInstanceRefused(t *testing.T) {
	srv, hs := testServer(t, Options{})
	first, connect := dialInstance(t, hs.URL, "haa.0")
	if !strings.HasPrefix(connect, `40{"sid":`) {
		t.Fatalf("first refused: %q", connect)
	}
	_, second := dialInstance(t, hs.URL, "haa.0")
	if !strings.HasPrefix(second, "44") || !strings.Contains(second, `"message":"instance haa.0 is already connected"`) {
		t.Fatalf("second = %q", second)
	}
	_, bad := dialInstance(t, hs.URL, "no instance")
	if !strings.Contains(bad, "invalid instance name") {
		t.Fatalf("bad name = %q", bad)
	}
	// After the first goes away, the instance is free again and alive turns false.
	_ = first.ws.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := srv.st.States.Get("system.adapter.haa.0.alive")
		if st != nil && st.Val == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alive not false after disconnect: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, again := dialInstance(t, hs.URL, "haa.0"); !strings.HasPrefix(again, `40{"sid":`) {
		t.Fatalf("reconnect refused: %q", again)
	}
}

func TestSendToMissingInstance(t *testing.T) {
	_, hs := testServer(t, Options{})
	c := dialWS(t, hs, 4)
	if got := mustJSON(t, c.call(nil, "sendTo", "nothere.0", "x", 1)); got != `[{"error":"instance nothere.0 is not connected"}]` {
		t.Fatalf("sendTo = %s", got)
	}
}
