package sioclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// eio3Server accepts one EIO3 websocket, sends open+CONNECT, then calls fn.
func eio3Server(t testing.TB, fn func(ctx context.Context, ws *websocket.Conn)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		ws.Write(ctx, websocket.MessageText, []byte(`0{"sid":"s1","upgrades":[],"pingInterval":120000,"pingTimeout":30000}`))
		ws.Write(ctx, websocket.MessageText, []byte("40"))
		fn(ctx, ws)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestParsePacketSplitsArgs(t *testing.T) {
	tests := []struct {
		in    string
		typ   byte
		id    int
		event string
		args  []string
	}{
		{`2["stateChange","a.0.x",{"val":"1:2:3","ack":false}]`, '2', -1, "stateChange", []string{`"a.0.x"`, `{"val":"1:2:3","ack":false}`}},
		{`317[null,{"a":[1,2,{"b":"]"}]}]`, '3', 17, "", []string{`null`, `{"a":[1,2,{"b":"]"}]}`}},
		{`3 5[ "x\"," , 1 ]`, '3', -1, "", nil}, // not a valid packet: space before id
		{`30[]`, '3', 0, "", []string{}},
		{`2["e"]`, '2', -1, "e", []string{}},
		{`61-3[null,{"_placeholder":true,"num":0},"image/png"]`, '6', 3, "", []string{`null`, `{"_placeholder":true,"num":0}`, `"image/png"`}},
		{`2/admin,["e",1]`, '2', -1, "e", []string{`1`}},
	}
	for _, tc := range tests {
		p, err := parsePacket(tc.in)
		if tc.args == nil {
			if err == nil {
				t.Errorf("%q: expected an error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if p.typ != tc.typ || p.id != tc.id || p.event != tc.event || len(p.args) != len(tc.args) {
			t.Errorf("%q: got typ %c id %d event %q args %q", tc.in, p.typ, p.id, p.event, p.args)
			continue
		}
		for i := range tc.args {
			if string(p.args[i]) != tc.args[i] {
				t.Errorf("%q arg %d: got %s want %s", tc.in, i, p.args[i], tc.args[i])
			}
		}
	}
	for _, bad := range []string{`2[`, `2["a",]`, `2[1]`, `2{"a":1}`, `3[1,,2]`, `2["a" "b"]`, `2["a"]x`} {
		if _, err := parsePacket(bad); err == nil {
			t.Errorf("%q: expected an error", bad)
		}
	}
}

// TestEventArgsStayValid checks that arguments handed to a handler are not
// overwritten by later frames (the read buffer is reused).
func TestEventArgsStayValid(t *testing.T) {
	const n = 200
	url := eio3Server(t, func(ctx context.Context, ws *websocket.Conn) {
		for i := range n {
			ws.Write(ctx, websocket.MessageText, []byte(`42["ev","id`+strings.Repeat("x", i%7)+`",{"val":`+itoa(i)+`}]`))
		}
		ws.Read(ctx) // wait for the client to close
	})
	c, err := Dial(context.Background(), Options{URL: url, EIO: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan Message, n)
	c.On("ev", func(m Message) { got <- m })
	var kept []Message
	for range n {
		select {
		case m := <-got:
			kept = append(kept, m)
		case <-time.After(5 * time.Second):
			t.Fatal("timeout")
		}
	}
	for i, m := range kept {
		var st struct{ Val int }
		if err := json.Unmarshal(m.Args[1], &st); err != nil || st.Val != i || string(m.Args[0]) != `"id`+strings.Repeat("x", i%7)+`"` {
			t.Fatalf("message %d corrupted: %s %s", i, m.Args[0], m.Args[1])
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// BenchmarkReadEvents measures how fast one connection consumes stateChange
// events (the subscriber side of brokerload).
func BenchmarkReadEvents(b *testing.B) {
	frame := []byte(`42["stateChange","brokerload.0.fanout.w0.s1",{"val":"0:5:1763771234123456789","ack":false,"ts":1763771234123,"q":0,"from":"system.adapter.socketio.0","user":"system.user.admin","lc":1763771234123}]`)
	var total atomic.Int64
	start := make(chan int, 1)
	url := eio3Server(b, func(ctx context.Context, ws *websocket.Conn) {
		n := <-start
		for range n {
			if ws.Write(ctx, websocket.MessageText, frame) != nil {
				return
			}
		}
		ws.Read(ctx)
	})
	c, err := Dial(context.Background(), Options{URL: url, EIO: 3})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	done := make(chan struct{})
	c.On("stateChange", func(m Message) {
		if total.Add(1) == int64(b.N) {
			close(done)
		}
	})
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	start <- b.N
	<-done
}
