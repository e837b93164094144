package cluster

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/redistest"
	"github.com/brokerd/brokerd/transport"
	"github.com/redis/go-redis/v9"
)

// redisDB is the Redis database of the cluster tests.
const redisDB = 2

// testRedis connects to the local Redis (DB 2, a fresh "brokerd-test-…"
// prefix) or skips.
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	return redistest.Open(t, redisDB, "brokerd-test-")
}

// fakeLocal answers like an adapter connected to its node.
type fakeLocal struct {
	mu    sync.Mutex
	have  map[string]bool
	block chan struct{}
	calls []string
}

func (f *fakeLocal) Deliver(ctx context.Context, target, from, command string, message any) (any, error) {
	f.mu.Lock()
	ok := f.have[target]
	f.calls = append(f.calls, target+" "+from+" "+command)
	f.mu.Unlock()
	if !ok {
		return nil, transport.ErrNotConnected
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, errors.New("timeout: instance did not answer")
		}
	}
	return map[string]any{"pong": message, "from": from, "command": command}, nil
}

func newRouter(t *testing.T, rdb *redis.Client, prefix, node string, l Local) *Router {
	t.Helper()
	r, err := New(Options{Client: rdb, Prefix: prefix, Node: node, Local: l, From: "system.adapter.brokerd.0", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRouteToOtherNode(t *testing.T) {
	rdb, prefix := testRedis(t)
	a := newRouter(t, rdb, prefix, "a", &fakeLocal{})
	defer a.Close()
	lb := &fakeLocal{have: map[string]bool{"system.adapter.haa.0": true, "system.host.h1": true}}
	b := newRouter(t, rdb, prefix, "b", lb)
	defer b.Close()
	b.Held("system.adapter.haa.0", true)
	b.Held("system.host.h1", true)
	ctx := context.Background()

	rep, err := a.SendTo(ctx, "system.adapter.x.0", "system.adapter.haa.0", "ping", map[string]any{"n": 1.0})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := rep.(map[string]any)
	if m["from"] != "system.adapter.x.0" || m["command"] != "ping" || m["pong"].(map[string]any)["n"] != 1.0 {
		t.Fatalf("reply %v", rep)
	}
	if _, err := a.SendToHost(ctx, "system.adapter.x.0", "system.host.h1", "getHostInfo", nil); err != nil {
		t.Fatal(err)
	}
	rep, err = a.ClientSubscribe(ctx, "system.adapter.haa.0", "sid1", "status", nil)
	if err != nil || rep.(map[string]any)["from"] != "system.adapter.brokerd.0" {
		t.Fatalf("clientSubscribe: %v %v", rep, err)
	}
	if node, err := a.HeldElsewhere(ctx, "system.adapter.haa.0"); err != nil || node != "b" {
		t.Fatalf("HeldElsewhere = %q, %v", node, err)
	}
	if node, _ := b.HeldElsewhere(ctx, "system.adapter.haa.0"); node != "" {
		t.Fatalf("the holder itself is not elsewhere: %q", node)
	}

	// Not registered anywhere, registered but gone from the holder, released.
	if _, err := a.SendTo(ctx, "", "system.adapter.nope.0", "x", nil); !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("unknown instance: %v", err)
	}
	b.Held("system.adapter.gone.0", true)
	if _, err := a.SendTo(ctx, "", "system.adapter.gone.0", "x", nil); !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("instance the holder does not have: %v", err)
	}
	b.Held("system.adapter.haa.0", false)
	if _, err := a.SendTo(ctx, "", "system.adapter.haa.0", "x", nil); !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("released instance: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	rdb, prefix := testRedis(t)
	a := newRouter(t, rdb, prefix, "a", &fakeLocal{})
	defer a.Close()
	lb := &fakeLocal{have: map[string]bool{"system.adapter.slow.0": true}, block: make(chan struct{})}
	defer close(lb.block)
	b := newRouter(t, rdb, prefix, "b", lb)
	defer b.Close()
	b.Held("system.adapter.slow.0", true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := a.SendTo(ctx, "", "system.adapter.slow.0", "x", nil)
	if err == nil || !strings.Contains(err.Error(), "timeout") && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a timeout, got %v", err)
	}
}

// A killed holder (no Close: its entry and node key stay until they expire)
// answers "not connected" at once and does not block a new claim.
func TestKilledHolder(t *testing.T) {
	rdb, prefix := testRedis(t)
	a := newRouter(t, rdb, prefix, "a", &fakeLocal{})
	defer a.Close()
	b := newRouter(t, rdb, prefix, "b", &fakeLocal{have: map[string]bool{"system.adapter.haa.0": true}})
	b.Held("system.adapter.haa.0", true)
	// Simulate SIGKILL: stop the goroutines and drop the subscription only.
	b.cancel()
	b.ps.Close()
	b.wg.Wait()
	ctx := context.Background()
	if n, _ := rdb.Exists(ctx, b.nodeKey("b")).Result(); n != 1 {
		t.Fatal("node key should outlive the kill until NodeTTL")
	}
	if node, err := a.HeldElsewhere(ctx, "system.adapter.haa.0"); err != nil || node != "" {
		t.Fatalf("a killed node still holds the instance: %q %v", node, err)
	}
	b2 := newRouter(t, rdb, prefix, "b2", &fakeLocal{have: map[string]bool{"system.adapter.haa.0": true}})
	defer b2.Close()
	b2.Held("system.adapter.haa.0", true)
	if _, err := a.SendTo(ctx, "", "system.adapter.haa.0", "x", nil); err != nil {
		t.Fatalf("after failover: %v", err)
	}
	b2.Held("system.adapter.haa.0", false)
	b.Held("system.adapter.haa.0", true) // stale registration by the dead node's leftovers
	start := time.Now()
	if _, err := a.SendTo(ctx, "", "system.adapter.haa.0", "x", nil); !errors.Is(err, transport.ErrNotConnected) {
		t.Fatalf("dead holder: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("dead holder took %s to answer", d)
	}
}

// An entry of a node without a heartbeat is stale and removed by the reader.
func TestEntryOfDeadNode(t *testing.T) {
	rdb, prefix := testRedis(t)
	a := newRouter(t, rdb, prefix, "a", &fakeLocal{})
	defer a.Close()
	ctx := context.Background()
	// An entry of a node whose key is gone is stale at once.
	if err := claimScript.Run(ctx, rdb, []string{a.instancesKey()}, "system.adapter.old.0", "ghost", EntryTTL.Milliseconds()).Err(); err != nil {
		t.Fatal(err)
	}
	if node, err := a.Holder(ctx, "system.adapter.old.0"); err != nil || node != "" {
		t.Fatalf("entry of a node without heartbeat: %q %v", node, err)
	}
	if n, _ := rdb.HLen(ctx, a.instancesKey()).Result(); n != 0 {
		t.Fatalf("stale entry not removed: %d", n)
	}
}

// A node whose pub/sub connection drops resubscribes by itself; a request
// is then served exactly once.
func TestResubscribeAfterConnectionLoss(t *testing.T) {
	rdb, prefix := testRedis(t)
	a := newRouter(t, rdb, prefix, "a", &fakeLocal{})
	defer a.Close()
	name := "bt-" + strings.TrimSuffix(prefix, ":")
	bc := redistest.Client(t, &redis.Options{DB: redisDB, ClientName: name})
	lb := &fakeLocal{have: map[string]bool{"system.adapter.haa.0": true}}
	b, err := New(Options{Client: bc, Prefix: prefix, Node: "b", Local: lb, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Held("system.adapter.haa.0", true)
	ctx := context.Background()
	redistest.KillPubSub(t, rdb, name)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _ := rdb.PubSubNumSub(ctx, b.reqChannel("b")).Result()
		if n[b.reqChannel("b")] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node b did not resubscribe")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 3; i++ {
		if _, err := a.SendTo(ctx, "", "system.adapter.haa.0", "x", nil); err != nil {
			t.Fatalf("after resubscribe: %v", err)
		}
	}
	lb.mu.Lock()
	calls := len(lb.calls)
	lb.mu.Unlock()
	if calls != 3 {
		t.Fatalf("3 requests delivered %d times", calls)
	}
}
