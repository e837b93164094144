package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/sioclient"
	"github.com/brokerd/brokerd/transport"
)

// Instance messages across three in-process transport servers sharing one
// Redis prefix, each with its own Router, as brokerd nodes with store: redis
// are wired (broker/cluster.go); only the stores are left out.

// guestAuth makes ?user=guest a user without other.sendto; everybody else
// is admin.
type guestAuth struct{}

func (guestAuth) Authenticate(h *transport.Handshake) (transport.Session, error) {
	if h.Query.Get("user") == "guest" {
		p := acl.Permissions{State: acl.Ops{Read: true, List: true}, Object: acl.Ops{Read: true, List: true}}
		return transport.StaticSession{Sub: &acl.Subject{User: "system.user.guest", Groups: []string{"system.group.user"}, Perms: p}}, nil
	}
	return transport.StaticSession{Sub: &acl.Subject{User: acl.Admin, Groups: []string{acl.AdminGroup}, Admin: true, Perms: acl.All()}}, nil
}

type imNode struct {
	router *Router
	url    string
}

func startIMNodes(t *testing.T, n int) []imNode {
	t.Helper()
	rdb, prefix := imRedis(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var nodes []imNode
	for i := 1; i <= n; i++ {
		r, err := New(Options{Client: rdb, Prefix: prefix, Node: fmt.Sprintf("n%d", i), From: "system.adapter.brokerd.0",
			Timeout: 5 * time.Second, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := transport.New(transport.Stores{}, transport.Options{Version: "test", Router: r,
			Authenticator: guestAuth{}, Authorizer: transport.SubjectAuthorizer{}, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		r.SetLocal(srv)
		mux := http.NewServeMux()
		srv.Register(mux)
		hs := httptest.NewServer(mux)
		t.Cleanup(func() {
			srv.Close()
			hs.Close()
			r.Close()
		})
		nodes = append(nodes, imNode{r, hs.URL})
	}
	return nodes
}

// imAdapter is haa.0: it records the sids of clientSubscribe by the data the
// frontend sent along, and the clientUnsubscribe messages.
type imAdapter struct {
	c     *sioclient.Conn
	mu    sync.Mutex
	sids  map[string]string // frontend name (subscribe data) → sid
	unsub []map[string]any
}

func (a *imAdapter) onMessage(m sioclient.Message, reply func(...any)) {
	var msg struct {
		Command string         `json:"command"`
		Message map[string]any `json:"message"`
	}
	if len(m.Args) == 0 || json.Unmarshal(m.Args[0], &msg) != nil {
		return
	}
	a.mu.Lock()
	switch msg.Command {
	case "clientSubscribe":
		name, _ := msg.Message["data"].(string)
		a.sids[name], _ = msg.Message["sid"].(string)
	case "clientUnsubscribe":
		a.unsub = append(a.unsub, msg.Message)
	}
	a.mu.Unlock()
	reply(map[string]any{"accepted": true})
}

func (a *imAdapter) sid(t *testing.T, name string) string {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sids[name] == "" {
		t.Fatalf("adapter got no clientSubscribe from %s", name)
	}
	return a.sids[name]
}

// im publishes one message and returns the ack's object.
func (a *imAdapter) im(t *testing.T, sid, typ string, d any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := a.c.EmitAck(ctx, "sendTo", "brokerd.0", "im", map[string]any{"m": typ, "s": sid, "d": d})
	if err != nil || len(m.Args) == 0 {
		t.Fatalf("sendTo im: %v %v", err, m.Args)
	}
	var r map[string]any
	_ = json.Unmarshal(m.Args[0], &r)
	return r
}

// imFrontend records the im events of one socket.
type imFrontend struct {
	c   *sioclient.Conn
	mu  sync.Mutex
	got []string // "type source data"
}

func dialFrontend(t *testing.T, url string, eio int, q map[string][]string) *imFrontend {
	t.Helper()
	f := &imFrontend{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sioclient.Dial(ctx, sioclient.Options{URL: url, EIO: eio, Query: q, Setup: func(c *sioclient.Conn) {
		c.On("im", func(m sioclient.Message) {
			f.mu.Lock()
			defer f.mu.Unlock()
			var typ, src string
			if len(m.Args) == 3 && json.Unmarshal(m.Args[0], &typ) == nil && json.Unmarshal(m.Args[1], &src) == nil {
				f.got = append(f.got, typ+" "+src+" "+string(m.Args[2]))
			} else {
				f.got = append(f.got, fmt.Sprintf("bad im %s", m.Args))
			}
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	f.c = c
	return f
}

func (f *imFrontend) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// subscribe sends clientSubscribe(haa.0, typ, name) and returns the ack.
func (f *imFrontend) subscribe(t *testing.T, typ, name string) []json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := f.c.EmitAck(ctx, "clientSubscribe", "haa.0", typ, name)
	if err != nil {
		t.Fatal(err)
	}
	return m.Args
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIMAcrossNodes(t *testing.T) {
	nodes := startIMNodes(t, 3)
	ad := &imAdapter{sids: map[string]string{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sioclient.Dial(ctx, sioclient.Options{URL: nodes[0].url, EIO: 4, Auth: map[string]any{"instance": "haa.0"},
		Setup: func(c *sioclient.Conn) { c.OnAck("message", ad.onMessage) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ad.c = c
	// broker/cluster.go registers the instance when its alive state is
	// written; these servers have no state store.
	nodes[0].router.Held(haa, true)

	// One subscriber of "status" per node (the first on the adapter's own
	// node), one of "alarm" only on node 2, and a guest on node 3.
	subs := []*imFrontend{
		dialFrontend(t, nodes[0].url, 4, nil),
		dialFrontend(t, nodes[1].url, 3, nil),
		dialFrontend(t, nodes[2].url, 4, nil),
	}
	for i, f := range subs {
		if a := f.subscribe(t, "status", fmt.Sprint("f", i)); len(a) != 2 || string(a[0]) != "null" || string(a[1]) != `{"accepted":true}` {
			t.Fatalf("clientSubscribe on node %d: %s", i+1, a)
		}
	}
	if sid := ad.sid(t, "f1"); sid != subs[1].c.SID {
		t.Fatalf("EIO3 socket id %q is not the engine sid %q", sid, subs[1].c.SID)
	}
	alarm := dialFrontend(t, nodes[1].url, 4, nil)
	alarm.subscribe(t, "alarm", "alarm")
	guest := dialFrontend(t, nodes[2].url, 3, map[string][]string{"user": {"guest"}})
	if a := guest.subscribe(t, "status", "guest"); len(a) == 0 || string(a[0]) != `"permissionError"` {
		t.Fatalf("guest clientSubscribe: %s", a)
	}

	// Sequential messages, interleaved over the three sockets.
	const n = 50
	for i := range n {
		for k := range subs {
			if r := ad.im(t, ad.sid(t, fmt.Sprint("f", k)), "status", i); r["delivered"] != true {
				t.Fatalf("im %d to f%d: %v", i, k, r)
			}
		}
	}
	// Pipelined: every one delivered once (dispatch runs sendTo
	// concurrently, so their order is not asserted here; see im_test.go).
	var pending []<-chan sioclient.Message
	for i := n; i < 2*n; i++ {
		for k := range subs {
			ch, err := c.EmitAsync("sendTo", "brokerd.0", "im", map[string]any{"m": "status", "s": ad.sid(t, fmt.Sprint("f", k)), "d": i})
			if err != nil {
				t.Fatal(err)
			}
			pending = append(pending, ch)
		}
	}
	for _, ch := range pending {
		select {
		case m := <-ch:
			if len(m.Args) == 0 || string(m.Args[0]) != `{"delivered":true}` {
				t.Fatalf("pipelined im: %s", m.Args)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("pipelined im not acknowledged")
		}
	}

	// Not subscribed to this type, and a guest that may not subscribe (its
	// EIO3 socket id is its engine sid, so an adapter could guess it).
	if r := ad.im(t, ad.sid(t, "alarm"), "status", "x"); r["error"] != "no one subscribed" {
		t.Fatalf("socket subscribed to another type: %v", r)
	}
	if r := ad.im(t, guest.c.SID, "status", "x"); r["error"] != "no one subscribed" {
		t.Fatalf("guest: %v", r)
	}

	for k, f := range subs {
		waitFor(t, fmt.Sprintf("f%d receives %d messages", k, 2*n), func() bool { return len(f.received()) >= 2*n })
	}
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up
	for k, f := range subs {
		got := f.received()
		if len(got) != 2*n {
			t.Fatalf("f%d (node %d) received %d messages, want %d", k, k+1, len(got), 2*n)
		}
		seen := map[string]bool{}
		for i, g := range got {
			if i < n && g != fmt.Sprintf("status system.adapter.haa.0 %d", i) {
				t.Fatalf("f%d message %d is %q: out of order or wrong", k, i, g)
			}
			if seen[g] {
				t.Fatalf("f%d received %q twice", k, g)
			}
			seen[g] = true
		}
	}
	if got := alarm.received(); len(got) != 0 {
		t.Fatalf("socket subscribed to alarm only received %v", got)
	}
	if got := guest.received(); len(got) != 0 {
		t.Fatalf("guest received %v", got)
	}

	// A frontend on node 3 disconnects: the adapter hears it and the sid
	// is no longer reachable.
	sid := ad.sid(t, "f2")
	subs[2].c.Close()
	waitFor(t, "clientUnsubscribe on disconnect", func() bool {
		ad.mu.Lock()
		defer ad.mu.Unlock()
		for _, u := range ad.unsub {
			if u["sid"] == sid && u["reason"] == "disconnect" {
				return true
			}
		}
		return false
	})
	if r := ad.im(t, sid, "status", "late"); r["error"] != "no one subscribed" {
		t.Fatalf("disconnected socket: %v", r)
	}
	nodes[0].router.mu.Lock()
	_, kept := nodes[0].router.imRoutes[sid]
	nodes[0].router.mu.Unlock()
	if kept {
		t.Fatal("route of the disconnected socket kept")
	}
}
