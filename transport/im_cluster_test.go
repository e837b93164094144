package transport

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/sioclient"
)

// imRouter stands in for the cluster router: it records the instance
// messages handed to it and answers with res/err.
type imRouter struct {
	mu    sync.Mutex
	calls []string
	res   IMResult
	err   error
}

func (r *imRouter) SendTo(context.Context, string, string, string, any) (any, error) {
	return nil, ErrNotConnected
}
func (r *imRouter) SendToHost(context.Context, string, string, string, any) (any, error) {
	return nil, ErrNotConnected
}
func (r *imRouter) ClientSubscribe(context.Context, string, string, string, any) (any, error) {
	return nil, ErrNotConnected
}
func (r *imRouter) ClientUnsubscribe(string, string, []string, string) {}

func (r *imRouter) PublishIM(sid, source, msgType string, data any, done func(IMResult, error)) {
	b, _ := json.Marshal(data)
	r.mu.Lock()
	r.calls = append(r.calls, sid+" "+source+" "+msgType+" "+string(b))
	res, err := r.res, r.err
	r.mu.Unlock()
	go done(res, err) // answered later, as over Redis
}

func (r *imRouter) took() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func dialSIO(t *testing.T, url string, o sioclient.Options) *sioclient.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o.URL = url
	c, err := sioclient.Dial(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func emitAck(t *testing.T, c *sioclient.Conn, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.EmitAck(ctx, args[0].(string), args[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m.Args)
	return string(b)
}

// dialIMAdapter connects instance haa.0; it accepts every clientSubscribe
// and reports the subscribing socket's sid.
func dialIMAdapter(t *testing.T, url string) (*sioclient.Conn, <-chan string) {
	t.Helper()
	sids := make(chan string, 1)
	ad := dialSIO(t, url, sioclient.Options{EIO: 4, Auth: map[string]any{"instance": "haa.0"}, Setup: func(c *sioclient.Conn) {
		c.OnAck("message", func(m sioclient.Message, reply func(...any)) {
			var msg struct {
				Message map[string]any `json:"message"`
			}
			_ = json.Unmarshal(m.Args[0], &msg)
			if sid, ok := msg.Message["sid"].(string); ok {
				sids <- sid
			}
			reply(map[string]any{"accepted": true})
		})
	}})
	return ad, sids
}

// publishIM delivers to a socket of this server itself and hands only
// sockets it does not have to the router.
func TestIMLocalFirstThenRouter(t *testing.T) {
	router := &imRouter{res: IMDelivered}
	_, hs := testServer(t, Options{Router: router})
	ad, sids := dialIMAdapter(t, hs.URL)
	ims := make(chan string, 8)
	fe := dialSIO(t, hs.URL, sioclient.Options{EIO: 4, Setup: func(c *sioclient.Conn) {
		c.On("im", func(m sioclient.Message) {
			b, _ := json.Marshal(m.Args)
			ims <- string(b)
		})
	}})
	if got := emitAck(t, fe, "clientSubscribe", "haa.0", "status"); got != `[null,{"accepted":true}]` {
		t.Fatalf("clientSubscribe: %s", got)
	}
	local := <-sids
	im := func(typ, sid string) string {
		return emitAck(t, ad, "sendTo", "brokerd.0", "im", map[string]any{"m": typ, "s": sid, "d": 7})
	}

	if got := im("status", local); got != `[{"delivered":true}]` {
		t.Fatalf("local socket: %s", got)
	}
	if got := <-ims; got != `["status","system.adapter.haa.0",7]` {
		t.Fatalf("im event %s", got)
	}
	if got := im("alarm", local); got != `[{"error":"no one subscribed","sid":"`+local+`","type":"alarm"}]` {
		t.Fatalf("local socket, other type: %s", got)
	}
	if calls := router.took(); len(calls) != 0 {
		t.Fatalf("local sockets went to the router: %v", calls)
	}

	if got := im("status", "remote1"); got != `[{"delivered":true}]` {
		t.Fatalf("remote socket: %s", got)
	}
	if calls := router.took(); len(calls) != 1 || calls[0] != "remote1 system.adapter.haa.0 status 7" {
		t.Fatalf("router calls %v", calls)
	}
	router.mu.Lock()
	router.res = IMNotSubscribed
	router.mu.Unlock()
	if got := im("status", "remote1"); got != `[{"error":"no one subscribed","sid":"remote1","type":"status"}]` {
		t.Fatalf("remote socket not subscribed: %s", got)
	}
	router.mu.Lock()
	router.err = errors.New("redis unavailable: x")
	router.mu.Unlock()
	if got := im("status", "remote1"); got != `[{"error":"redis unavailable: x","sid":"remote1","type":"status"}]` {
		t.Fatalf("router error: %s", got)
	}

	// Only instance connections publish.
	if got := emitAck(t, fe, "sendTo", "brokerd.0", "im", map[string]any{"m": "status", "s": local, "d": 1}); got != `[{"error":"im needs an instance connection and {m, s, d}"}]` {
		t.Fatalf("im from a frontend: %s", got)
	}
	select {
	case got := <-ims:
		t.Fatalf("unexpected im %s", got)
	case <-time.After(50 * time.Millisecond):
	}
}

// Without a cluster router an unknown socket is "no one subscribed", as before.
func TestIMWithoutRouter(t *testing.T) {
	_, hs := testServer(t, Options{})
	ad := dialSIO(t, hs.URL, sioclient.Options{EIO: 4, Auth: map[string]any{"instance": "haa.0"}})
	got := emitAck(t, ad, "sendTo", "brokerd.0", "im", map[string]any{"m": "status", "s": "nobody", "d": 1})
	if got != `[{"error":"no one subscribed","sid":"nobody","type":"status"}]` {
		t.Fatalf("%s", got)
	}
}

// An adapter that publishes `im` without waiting for each answer still has
// its messages delivered in the order it sent them (sendTo is otherwise
// asynchronous, one goroutine per call).
func TestIMPipelinedKeepsOrder(t *testing.T) {
	_, hs := testServer(t, Options{})
	ad, sids := dialIMAdapter(t, hs.URL)
	const n = 500
	ims := make(chan float64, n)
	fe := dialSIO(t, hs.URL, sioclient.Options{EIO: 4, Setup: func(c *sioclient.Conn) {
		c.On("im", func(m sioclient.Message) {
			var d float64
			_ = json.Unmarshal(m.Args[2], &d)
			ims <- d
		})
	}})
	emitAck(t, fe, "clientSubscribe", "haa.0", "tick")
	sid := <-sids
	acks := make([]<-chan sioclient.Message, n)
	for i := range n {
		ch, err := ad.EmitAsync("sendTo", "brokerd.0", "im", map[string]any{"m": "tick", "s": sid, "d": i})
		if err != nil {
			t.Fatal(err)
		}
		acks[i] = ch
	}
	for i := range n {
		select {
		case d := <-ims:
			if int(d) != i {
				t.Fatalf("im %d arrived as number %d", int(d), i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("im %d not delivered", i)
		}
	}
	for i, ch := range acks {
		select {
		case m := <-ch:
			if b, _ := json.Marshal(m.Args); string(b) != `[{"delivered":true}]` {
				t.Fatalf("ack %d: %s", i, b)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ack %d missing", i)
		}
	}
}
