//go:build scale

package cluster_test

// Scale-out figures for docs/performance.md "Redis scale-out":
//
//	go test -tags scale -run TestScaleOut -v -timeout 10m ./cluster
//
// For 1, 2 and 3 brokerd nodes on the local Redis: fan-out (writers on node
// 1 pipelining setState, subscribers on "scale.*" spread round-robin over
// the nodes) and bulk reads (getStates of every preloaded id, clients spread
// over the nodes), with Redis's CPU time from /proc/<pid>/stat.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerd/brokerd/redistest"
	"github.com/brokerd/brokerd/sioclient"
	"github.com/redis/go-redis/v9"
)

const (
	scaleWriters  = 4
	scaleWindow   = 64
	scaleSubs     = 24
	scaleIDs      = 40
	scaleDuration = 8 * time.Second
	bulkPreload   = 10000
	bulkClients   = 6
)

// cpuTicks is utime+stime of a process in clock ticks (100/s on Linux).
func cpuTicks(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func TestScaleOut(t *testing.T) {
	rdb := redistest.Client(t, &redis.Options{DB: redisDB})
	info, err := rdb.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	var redisPID int
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "process_id:"); ok {
			redisPID, _ = strconv.Atoi(v)
		}
	}
	bin := buildBrokerd(t)
	for n := 1; n <= 3; n++ {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) { scaleRun(t, bin, rdb, redisPID, n) })
	}
}

func scaleRun(t *testing.T, bin string, rdb *redis.Client, redisPID, n int) {
	prefix := fmt.Sprintf("brokerd-scale-%d-%d:", n, time.Now().UnixNano())
	defer redistest.DeletePrefix(rdb, prefix)
	var nodes []*node
	for i := 1; i <= n; i++ {
		nodes = append(nodes, startNode(t, bin, prefix, i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Fan-out.
	var delivered atomic.Int64
	for i := 0; i < scaleSubs; i++ {
		nd := nodes[i%n]
		c := nd.dial(ctx, sioclient.Options{EIO: 4, Setup: func(c *sioclient.Conn) {
			c.On("stateChange", func(sioclient.Message) { delivered.Add(1) })
		}})
		if _, err := c.EmitAck(ctx, "subscribe", "scale.*"); err != nil {
			t.Fatal(err)
		}
	}
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < scaleWriters; w++ {
		c := nodes[0].dial(ctx, sioclient.Options{EIO: 4})
		wg.Add(1)
		go func() {
			defer wg.Done()
			window := make(chan struct{}, scaleWindow)
			for i := 0; ; i++ {
				select {
				case <-stop:
					for j := 0; j < scaleWindow; j++ {
						window <- struct{}{}
					}
					return
				case window <- struct{}{}:
				}
				ch, err := c.EmitAsync("setState", fmt.Sprintf("scale.w%d.s%d", w, i%scaleIDs), map[string]any{"val": i})
				if err != nil {
					return
				}
				go func() {
					if _, ok := <-ch; ok {
						acked.Add(1)
					}
					<-window
				}()
			}
		}()
	}
	time.Sleep(time.Second) // warm-up
	a0, d0, r0 := acked.Load(), delivered.Load(), cpuTicks(t, redisPID)
	start := time.Now()
	time.Sleep(scaleDuration)
	a1, d1, r1 := acked.Load(), delivered.Load(), cpuTicks(t, redisPID)
	el := time.Since(start).Seconds()
	close(stop)
	wg.Wait()
	time.Sleep(500 * time.Millisecond)
	writes := float64(a1-a0) / el
	events := float64(d1-d0) / el
	t.Logf("FANOUT nodes=%d writers=%d(node1) subs=%d(spread) setState/s=%.0f events/s=%.0f per-sub/s=%.0f redis-cpu=%.0f%%",
		n, scaleWriters, scaleSubs, writes, events, events/scaleSubs, float64(r1-r0)/el)
	totalWrites := a1
	time.Sleep(time.Second)
	if want, got := totalWrites*scaleSubs, delivered.Load(); got < want {
		t.Logf("FANOUT nodes=%d delivered %d of at least %d events after the run (%.2f%% short)", n, got, want, 100*float64(want-got)/float64(want))
	}

	// Bulk: preload states, then clients spread over the nodes read them all.
	w := nodes[0].dial(ctx, sioclient.Options{EIO: 4})
	ids := make([]string, bulkPreload)
	window := make(chan struct{}, 256)
	var pw sync.WaitGroup
	for i := range ids {
		ids[i] = fmt.Sprintf("bulk.s%05d", i)
		window <- struct{}{}
		ch, err := w.EmitAsync("setState", ids[i], map[string]any{"val": i, "ack": true})
		if err != nil {
			t.Fatal(err)
		}
		pw.Add(1)
		go func() { <-ch; <-window; pw.Done() }()
	}
	pw.Wait()
	time.Sleep(500 * time.Millisecond) // every node delivered the preload
	var reads atomic.Int64
	stop = make(chan struct{})
	for i := 0; i < bulkClients; i++ {
		c := nodes[i%n].dial(ctx, sioclient.Options{EIO: 4})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				m, err := c.EmitAck(ctx, "getStates", ids)
				if err != nil {
					return
				}
				var got map[string]json.RawMessage
				if json.Unmarshal(m.Args[1], &got) == nil && len(got) == bulkPreload {
					reads.Add(1)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	b0, r0 := reads.Load(), cpuTicks(t, redisPID)
	start = time.Now()
	time.Sleep(scaleDuration)
	b1, r1 := reads.Load(), cpuTicks(t, redisPID)
	el = time.Since(start).Seconds()
	close(stop)
	wg.Wait()
	t.Logf("BULK nodes=%d clients=%d getStates(%d ids)/s=%.1f states/s=%.0f redis-cpu=%.0f%%",
		n, bulkClients, bulkPreload, float64(b1-b0)/el, float64(b1-b0)*bulkPreload/el, float64(r1-r0)/el)
}
