package faulttest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Leak bounds after the clients are gone and the server settled.
const (
	goroutineSlack = 10
	heapSlack      = 24 << 20 // -race and a loaded CI machine inflate the heap
)

// baseline is what the process holds with no client connected.
type baseline struct {
	goroutines int
	heap       uint64
	rss        int64 // kB, VmRSS of /proc/self/status
	fds        int   // open file descriptors
	queueLoops int   // goroutines parked in the socket.io library's queue loop
	lostTimers int   // socket.io library timer goroutines whose stop was lost
}

func measure() baseline {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fds := -1
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = len(ents)
	}
	buf := make([]byte, 64<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	return baseline{goroutines: runtime.NumGoroutine(), heap: m.HeapAlloc, rss: procStatus("VmRSS"), fds: fds,
		queueLoops: strings.Count(stacks, "pkg/queue.(*Queue).loop("),
		lostTimers: strings.Count(stacks, "pkg/utils.SetTimeout.func1(")}
}

// procStatus reads a kB field of /proc/self/status (-1 when unavailable).
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// settle waits up to d for the goroutine count to come back within slack of
// base and returns the last measurement.
func settle(base baseline, d time.Duration) baseline {
	deadline := time.Now().Add(d)
	for {
		m := measure()
		known := m.queueLoops - base.queueLoops + m.lostTimers - base.lostTimers
		if m.goroutines-known <= base.goroutines+goroutineSlack || time.Now().After(deadline) {
			return m
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// queueLeakBytes is what one leaked socket.io write queue holds (its
// goroutine and its 1024-slot task slice), measured at ~19 KB.
const queueLeakBytes = 32 << 10

// checkBaseline fails when goroutines, descriptors or heap stayed above the
// baseline.
//
// Two leaks of the socket.io library (zishang520/socket.io v3.0.2) are
// counted apart and tolerated unless BROKERD_STRICT_LEAKS=1, until
// transport/ works around them:
//   - servers/engine transports/websocket.go: a websocket the client closed
//     is marked "closed" by OnClose, so the later Close skips DoClose, the
//     only caller of writeQueue.TryClose: one goroutine and ~19 KB per
//     closed connection, every time.
//   - pkg/utils/timer.go: Timer.Stop stops the time.Timer and then sends on
//     an unbuffered stopCh without blocking; when the timer goroutine has not
//     reached its select yet the stop is lost and it waits forever, keeping
//     its closure (and the connection's socket, one fd) alive. Seen for ~18%
//     of closed connections under -race, rarely without.
func checkBaseline(t *testing.T, base, after baseline) {
	t.Helper()
	t.Logf("baseline: %d goroutines (%d queue loops, %d timers), heap %.1f MB, RSS %.1f MB, %d fds; after: %d goroutines (%d queue loops, %d timers), heap %.1f MB, RSS %.1f MB, %d fds",
		base.goroutines, base.queueLoops, base.lostTimers, mb(base.heap), float64(base.rss)/1024, base.fds,
		after.goroutines, after.queueLoops, after.lostTimers, mb(after.heap), float64(after.rss)/1024, after.fds)
	queues := max(after.queueLoops-base.queueLoops, 0)
	timers := max(after.lostTimers-base.lostTimers, 0)
	var allowance uint64
	fdAllowance := 0
	if queues+timers > 0 {
		if os.Getenv("BROKERD_STRICT_LEAKS") == "1" {
			t.Errorf("known socket.io leaks: %d write-queue goroutines, %d lost timers", queues, timers)
		} else {
			allowance = uint64(queues+timers) * queueLeakBytes
			fdAllowance = timers
			t.Logf("KNOWN LEAKS (tolerated; BROKERD_STRICT_LEAKS=1 fails): %d socket.io write-queue goroutines, %d lost timer goroutines holding a socket; heap allowance %.1f MB",
				queues, timers, mb(allowance))
		}
	}
	if other := after.goroutines - queues - timers; other > base.goroutines+goroutineSlack {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines leaked: %d (besides the known ones), baseline %d\n%s", other, base.goroutines, buf[:runtime.Stack(buf, true)])
	}
	if after.fds > base.fds+goroutineSlack+fdAllowance {
		t.Errorf("file descriptors leaked: %d, baseline %d (+%d known)", after.fds, base.fds, fdAllowance)
	}
	if after.heap > base.heap+heapSlack+allowance {
		t.Errorf("heap grew by %.1f MB (bound %.0f MB + %.1f MB known leaks)", mb(after.heap-base.heap), mb(heapSlack), mb(allowance))
	}
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// TestConnectChurn connects and disconnects Socket.IO clients (EIO3 and
// EIO4 alternating, 8 at a time) against the real server; afterwards the
// goroutines and the heap must be back at the baseline. 500 cycles
// normally, 100 with -short, 10,000 with -tags stress.
func TestConnectChurn(t *testing.T) {
	cycles, budget := 500, 2*time.Minute
	switch {
	case stress:
		cycles, budget = 10000, 10*time.Minute
	case testing.Short():
		cycles = 100
	}
	srv := startServer(t)
	// Warm up both protocols so lazily started server parts are in the baseline.
	for _, eio := range []int{3, 4} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := srv.dial(ctx, eio)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if err := getVersion(c, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	base := settle(measure(), 5*time.Second)
	base = measure()

	start := time.Now()
	deadline := start.Add(budget)
	var next, done, failed atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(cycles) || time.Now().After(deadline) {
					return
				}
				if err := churnOnce(srv, 3+int(i%2), i%10 == 0); err != nil {
					failed.Add(1)
					firstErr.Do(func() { t.Errorf("cycle %d: %v", i, err) })
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if n := done.Load(); n < int64(cycles) {
		t.Fatalf("time budget %v used up after %d of %d cycles", budget, n, cycles)
	}
	t.Logf("%d connect/disconnect cycles in %v (%.0f/s), %d failed", cycles, took.Round(time.Millisecond),
		float64(cycles)/took.Seconds(), failed.Load())
	checkBaseline(t, base, settle(base, 15*time.Second))
}

// churnOnce dials, optionally asks getVersion, and closes.
func churnOnce(srv *server, eio int, ask bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := srv.dial(ctx, eio)
	if err != nil {
		return fmt.Errorf("dial EIO%d: %w", eio, err)
	}
	defer c.Close()
	if ask {
		return getVersion(c, 5*time.Second)
	}
	return nil
}
