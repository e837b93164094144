package transport

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/brokerd/brokerd/sioclient"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/queue"
)

func heapAfterGC() uint64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// The library's queues leak unless their finalizer is cleared
// (queueleak.go): this shows the leak exists in the library version we use
// and that releaseQueue frees it. When it fails on a library update, check
// whether the workaround is still needed.
func TestLibraryQueueLeakAndRelease(t *testing.T) {
	const n = 2000
	h0 := heapAfterGC()
	for range n {
		q := queue.New()
		q.Close()
	}
	h1 := heapAfterGC()
	for range n {
		q := queue.New()
		q.Close()
		holder := struct{ q *queue.Queue }{q}
		if releaseQueue(&holder, "q") == nil {
			t.Fatal("releaseQueue did not find the queue")
		}
	}
	h2 := heapAfterGC()
	leaked, released := float64(h1-h0)/n, float64(int64(h2)-int64(h1))/n
	t.Logf("per closed queue: %.0f B kept by the library, %.0f B with releaseQueue", leaked, released)
	if leaked < 4096 {
		t.Errorf("closed queues no longer leak (%.0f B each): the library was fixed, queueleak.go can go", leaked)
	}
	if released > 2048 {
		t.Errorf("released queues still kept: %.0f B each", released)
	}
}

// releaseQueue finds the queues where the library keeps them.
func TestReleaseQueueFindsLibraryFields(t *testing.T) {
	srv, hs := testServer(t, Options{})
	dialWS(t, hs, 4).call(nil, "getVersion")
	srv.mu.Lock()
	var c *conn
	for k := range srv.conns {
		c = k
	}
	srv.mu.Unlock()
	var sock *socket.Socket = c.sock
	if releaseQueue(sock, "taskQueue") == nil {
		t.Fatal("socket.io Socket has no taskQueue field any more")
	}
	var tr transports.Transport = c.sock.Conn().Transport()
	if g, ok := tr.(*gatedTransport); ok {
		tr = g.Transport
	}
	if ct, ok := tr.(*corkedTransport); ok {
		tr = ct.Transport
	}
	if releaseQueue(tr, "writeQueue") == nil {
		t.Fatalf("transport %T has no writeQueue field any more", tr)
	}
}

// Sessions that connect and close leave nothing behind (before the
// workaround: ≈ 19 KiB per WebSocket session, for good).
func TestClosedSessionsAreFreed(t *testing.T) {
	srv, hs := testServer(t, Options{})
	// sioclient, not dialWS: test clients must not be kept until the end.
	cycle := func(eio int) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := sioclient.Dial(ctx, sioclient.Options{URL: hs.URL, EIO: eio})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.EmitAck(ctx, "getVersion"); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	for _, eio := range []int{3, 4} { // warm up
		cycle(eio)
	}
	waitConns := func() {
		deadline := time.Now().Add(10 * time.Second)
		for srv.Connections() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitConns()
	const n = 400
	h0 := heapAfterGC()
	for i := range n {
		cycle(3 + i%2)
	}
	waitConns()
	time.Sleep(200 * time.Millisecond)
	per := (float64(heapAfterGC()) - float64(h0)) / n
	t.Logf("heap per closed session: %.0f B", per)
	if per > 6<<10 {
		t.Fatalf("closed sessions keep %.0f B each", per)
	}
}

// goroutinesIn counts the goroutines whose stack contains frame.
func goroutinesIn(frame string) int {
	buf := make([]byte, 8<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), frame)
}

// Long-polling sessions the client ends with a close packet right after the
// handshake leave nothing running or held: the transport's queue goroutine
// stops (the library left one per session) and no timer goroutine stays
// stranded (the socket.io connect timeout, stopped within microseconds,
// stranded ~90 % of them, each holding ≈ 29 KiB).
func TestClosedPollingSessionsEndTheirQueues(t *testing.T) {
	srv, hs := testServer(t, Options{})
	const loop, timer = "queue.(*Queue).loop(", "utils.SetTimeout.func1("
	baseLoops, baseTimers := goroutinesIn(loop), goroutinesIn(timer)
	h0 := heapAfterGC()
	const n = 100
	for range n {
		sid, _ := pollEIO3(t, hs)
		if code, err := postPoll(hs, 3, sid, encodeEIO3("1")); err != nil || code != 200 {
			t.Fatalf("close poll session: %d %v", code, err)
		}
	}
	deadline := time.Now().Add(timerStopWait + 3*time.Second)
	loops, timers := goroutinesIn(loop)-baseLoops, goroutinesIn(timer)-baseTimers
	// A little slack for goroutines of earlier tests' servers that end meanwhile or late.
	const slack = 5
	for (loops > slack || timers > slack) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		loops, timers = goroutinesIn(loop)-baseLoops, goroutinesIn(timer)-baseTimers
	}
	time.Sleep(pollGrace + 500*time.Millisecond) // an ended polling session is kept pollGrace for its last GET
	per := (float64(heapAfterGC()) - float64(h0)) / n
	t.Logf("%d closed polling sessions: %d queue goroutines, %d timer goroutines left, heap %.0f B per session", n, loops, timers, per)
	if loops > slack || timers > slack || srv.Connections() != 0 {
		t.Fatalf("%d queue and %d timer goroutines of %d closed polling sessions still run (%d connections)", loops, timers, n, srv.Connections())
	}
	if per > 6<<10 {
		t.Fatalf("closed polling sessions keep %.0f B each", per)
	}
}
