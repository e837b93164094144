package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/redistest"
	"github.com/brokerd/brokerd/transport"
	"github.com/redis/go-redis/v9"
)

// imRedis connects to the local Redis (DB 2) with a prefix of its own
// ("brokerd-imtest-…", apart from the other cluster tests) or skips.
func imRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	return redistest.Open(t, redisDB, "brokerd-imtest-")
}

// imLocal is a node's sockets: sid → subscribed "source type" pairs, and
// the data each socket received, in order.
type imLocal struct {
	fakeLocal
	mu   sync.Mutex
	subs map[string]map[string]bool
	got  map[string][]any
}

func (l *imLocal) DeliverIM(sid, source, msgType string, data any) transport.IMResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.subs[sid]
	switch {
	case !ok:
		return transport.IMNoSocket
	case !s[source+" "+msgType]:
		return transport.IMNotSubscribed
	}
	l.got[sid] = append(l.got[sid], data)
	return transport.IMDelivered
}

func (l *imLocal) received(sid string) []any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]any(nil), l.got[sid]...)
}

type imOutcome struct {
	res transport.IMResult
	err error
}

// publish calls PublishIM and returns a channel with its one outcome.
func publish(r *Router, sid, source, typ string, data any) <-chan imOutcome {
	ch := make(chan imOutcome, 2) // room for a wrong second call
	r.PublishIM(sid, source, typ, data, func(res transport.IMResult, err error) { ch <- imOutcome{res, err} })
	return ch
}

func outcome(t *testing.T, ch <-chan imOutcome) imOutcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(IMTimeout + 2*time.Second):
		t.Fatal("PublishIM never called done")
	}
	return imOutcome{}
}

const haa = "system.adapter.haa.0"

// imPair is node a with the frontends' sockets and node b holding haa.0,
// with socket s1 of a subscribed to haa.0 "status" through the router.
func imPair(t *testing.T) (a, b *Router, la *imLocal) {
	t.Helper()
	rdb, prefix := imRedis(t)
	la = &imLocal{subs: map[string]map[string]bool{"s1": {haa + " status": true}}, got: map[string][]any{}}
	a = newRouter(t, rdb, prefix, "a", la)
	t.Cleanup(a.Close)
	b = newRouter(t, rdb, prefix, "b", &fakeLocal{have: map[string]bool{haa: true}})
	t.Cleanup(b.Close)
	b.Held(haa, true)
	if _, err := a.ClientSubscribe(context.Background(), haa, "s1", "status", nil); err != nil {
		t.Fatal(err)
	}
	return a, b, la
}

// Messages published one after another without waiting arrive once each,
// in call order, and every call is answered once.
func TestIMOrderedOnce(t *testing.T) {
	_, b, la := imPair(t)
	const n = 2000
	chs := make([]<-chan imOutcome, n)
	for i := range n {
		chs[i] = publish(b, "s1", haa, "status", float64(i))
	}
	for i, ch := range chs {
		if o := outcome(t, ch); o.err != nil || o.res != transport.IMDelivered {
			t.Fatalf("message %d: %v %v", i, o.res, o.err)
		}
		select {
		case o := <-ch:
			t.Fatalf("message %d answered twice: %v", i, o)
		default:
		}
	}
	got := la.received("s1")
	if len(got) != n {
		t.Fatalf("socket received %d of %d messages", len(got), n)
	}
	for i, v := range got {
		if v != float64(i) {
			t.Fatalf("message %d is %v: out of order", i, v)
		}
	}
}

// A socket gets only the types it subscribed to; unknown sockets and
// sockets that left their node are answered "no socket".
func TestIMOnlySubscribed(t *testing.T) {
	_, b, la := imPair(t)
	if o := outcome(t, publish(b, "s1", haa, "alarm", 1.0)); o.err != nil || o.res != transport.IMNotSubscribed {
		t.Fatalf("other type: %v %v", o.res, o.err)
	}
	if o := outcome(t, publish(b, "s1", "system.adapter.other.0", "status", 1.0)); o.res != transport.IMNotSubscribed {
		t.Fatalf("other source: %v %v", o.res, o.err)
	}
	if o := outcome(t, publish(b, "nobody", haa, "status", 1.0)); o.err != nil || o.res != transport.IMNoSocket {
		t.Fatalf("unknown sid: %v %v", o.res, o.err)
	}
	if got := la.received("s1"); len(got) != 0 {
		t.Fatalf("socket received %v", got)
	}

	// The socket left without its disconnect reaching b: a answers no
	// socket and b forgets the route.
	la.mu.Lock()
	delete(la.subs, "s1")
	la.mu.Unlock()
	if o := outcome(t, publish(b, "s1", haa, "status", 1.0)); o.err != nil || o.res != transport.IMNoSocket {
		t.Fatalf("socket gone: %v %v", o.res, o.err)
	}
	b.mu.Lock()
	_, kept := b.imRoutes["s1"]
	b.mu.Unlock()
	if kept {
		t.Fatal("route of a vanished socket kept")
	}
}

// The disconnect of a subscribed socket, forwarded as clientUnsubscribe,
// removes its route; a killed node's sockets are answered at once.
func TestIMRouteLifetime(t *testing.T) {
	a, b, _ := imPair(t)
	a.ClientUnsubscribe(haa, "s1", []string{"status"}, "client")
	time.Sleep(100 * time.Millisecond)
	b.mu.Lock()
	_, kept := b.imRoutes["s1"]
	b.mu.Unlock()
	if !kept {
		t.Fatal("an unsubscribe of one type must keep the socket's route")
	}
	a.ClientUnsubscribe(haa, "s1", []string{"status"}, "disconnect")
	deadline := time.Now().Add(3 * time.Second)
	for {
		b.mu.Lock()
		_, kept = b.imRoutes["s1"]
		b.mu.Unlock()
		if !kept {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("disconnect did not remove the route")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Subscribe again, then kill a (no Close): PUBLISH reaches no one.
	if _, err := a.ClientSubscribe(context.Background(), haa, "s1", "status", nil); err != nil {
		t.Fatal(err)
	}
	a.cancel()
	a.ps.Close()
	a.wg.Wait()
	start := time.Now()
	if o := outcome(t, publish(b, "s1", haa, "status", 1.0)); o.err != nil || o.res != transport.IMNoSocket {
		t.Fatalf("killed node: %v %v", o.res, o.err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("killed node took %s to answer", d)
	}
}

// Close answers every message still waiting.
func TestIMClose(t *testing.T) {
	rdb, prefix := imRedis(t)
	b := newRouter(t, rdb, prefix, "b", &fakeLocal{have: map[string]bool{haa: true}})
	// A route to a node that receives but never answers.
	ps := rdb.Subscribe(context.Background(), b.reqChannel("mute"))
	defer ps.Close()
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.noteRoute(request{Node: "mute", Command: "clientSubscribe", Message: map[string]any{"sid": "s9"}})
	ch := publish(b, "s9", haa, "status", 1.0)
	time.Sleep(100 * time.Millisecond)
	b.Close()
	if o := outcome(t, ch); o.err == nil {
		t.Fatalf("closed router: %v", o.res)
	}
	if o := outcome(t, publish(b, "s9", haa, "status", 1.0)); o.err == nil {
		t.Fatalf("after close: %v", o.res)
	}
}
