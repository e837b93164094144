package sioclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeServer accepts one EIO4 WebSocket, completes the namespace connect and
// hands the socket to script, which talks raw Engine.IO frames.
func fakeServer(t *testing.T, script func(ctx context.Context, ws *websocket.Conn, auth string)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if ws.Write(ctx, websocket.MessageText, []byte(`0{"sid":"s1","pingInterval":25000,"pingTimeout":20000,"upgrades":[]}`)) != nil {
			return
		}
		_, data, err := ws.Read(ctx)
		if err != nil || !strings.HasPrefix(string(data), "40") {
			return
		}
		if ws.Write(ctx, websocket.MessageText, []byte(`40{"sid":"n1"}`)) != nil {
			return
		}
		script(ctx, ws, strings.TrimPrefix(string(data), "40"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func readText(ctx context.Context, t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Errorf("server read: %v", err)
			return ""
		}
		if s := string(data); s != "3" { // skip pongs
			return s
		}
	}
}

func TestOnAckRepliesWithAckID(t *testing.T) {
	got := make(chan []string, 1)
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn, auth string) {
		var frames []string
		frames = append(frames, auth)
		// Event with ack id 7, then one without ack, then one for an event with a plain handler.
		ws.Write(ctx, websocket.MessageText, []byte(`427["message",{"command":"status"}]`))
		frames = append(frames, readText(ctx, t, ws))
		ws.Write(ctx, websocket.MessageText, []byte(`42["message",{"command":"noack"}]`))
		ws.Write(ctx, websocket.MessageText, []byte(`428["message",{"command":"twice"}]`))
		frames = append(frames, readText(ctx, t, ws))
		ws.Write(ctx, websocket.MessageText, []byte(`429["message",{"command":"bytes"}]`))
		frames = append(frames, readText(ctx, t, ws))
		_, bin, _ := ws.Read(ctx)
		frames = append(frames, string(bin))
		got <- frames
		ws.Read(ctx) // until the client closes
	})
	setupRan := false
	c, err := Dial(context.Background(), Options{URL: url, Auth: map[string]any{"instance": "haa.0"},
		Setup: func(c *Conn) {
			setupRan = true
			c.OnAck("message", func(m Message, reply func(args ...any)) {
				var body struct{ Command string }
				json.Unmarshal(m.Args[0], &body)
				switch body.Command {
				case "status":
					go reply(nil, map[string]any{"on": true})
				case "noack":
					reply("ignored") // no ack id: must not write anything
				case "twice":
					reply("first")
					reply("second")
				case "bytes":
					reply([]byte("xy"))
				}
			})
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !setupRan {
		t.Fatal("Setup did not run")
	}
	var frames []string
	select {
	case frames = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("server got no replies")
	}
	want := []string{`{"instance":"haa.0"}`, `437[null,{"on":true}]`, `438["first"]`, `461-9[{"_placeholder":true,"num":0}]`, "xy"}
	if strings.Join(frames, "\n") != strings.Join(want, "\n") {
		t.Fatalf("frames\n got %q\nwant %q", frames, want)
	}
}

func TestOnAckTakesPrecedenceAndOnStillWorks(t *testing.T) {
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn, _ string) {
		ws.Write(ctx, websocket.MessageText, []byte(`42["stateChange","a.0.x",{"val":1}]`))
		ws.Write(ctx, websocket.MessageText, []byte(`423["both",1]`))
		if s := readText(ctx, t, ws); s != `433[]` {
			t.Errorf("ack frame %q", s)
		}
		ws.Read(ctx)
	})
	events := make(chan string, 4)
	c, err := Dial(context.Background(), Options{URL: url, Setup: func(c *Conn) {
		c.On("stateChange", func(m Message) { events <- "stateChange " + string(m.Args[0]) })
		c.On("both", func(Message) { events <- "plain" })
		c.OnAck("both", func(_ Message, reply func(...any)) { reply(); events <- "ack" })
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, want := range []string{`stateChange "a.0.x"`, "ack"} {
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("event %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q", want)
		}
	}
}
