package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/redistest"
	"github.com/brokerd/brokerd/states"
	"github.com/redis/go-redis/v9"
)

func openStates(t *testing.T, o Options) *States {
	t.Helper()
	s, err := OpenStates(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type stateLog struct {
	mu sync.Mutex
	l  []string
}

func (l *stateLog) add(c states.Change) {
	l.mu.Lock()
	l.l = append(l.l, c.ID+"="+string(c.JSON))
	l.mu.Unlock()
}

func (l *stateLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.l...)
}

// waitLen waits until l holds n entries; the timeout only guards hangs.
func (l *stateLog) waitLen(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := l.get(); len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%d changes, want %d", len(l.get()), n)
	return nil
}

// TestTwoNodes: a write on one node reaches the other node's memory and
// watchers in the same order, and both see the same final state.
func TestTwoNodes(t *testing.T) {
	o := testOptions(t)
	a, b := openStates(t, o), openStates(t, o)
	var la, lb stateLog
	a.Watch(la.add)
	b.Watch(lb.add)
	var wg sync.WaitGroup
	for g, s := range []*States{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				w := states.Write{Val: float64(g*100 + i), HasVal: true}
				if i%3 == 2 {
					w = states.Write{Ack: ptr(true)}
				}
				if _, err := s.Set("n.0.shared", w); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ga, gb := la.waitLen(t, 200), lb.waitLen(t, 200)
	if strings.Join(ga, "\n") != strings.Join(gb, "\n") {
		t.Fatal("nodes saw different change sequences")
	}
	sa, _ := a.Get("n.0.shared")
	sb, _ := b.Get("n.0.shared")
	if string(states.AppendJSON(nil, sa)) != string(states.AppendJSON(nil, sb)) || ga[len(ga)-1] != "n.0.shared="+string(states.AppendJSON(nil, sa)) {
		t.Fatalf("final states differ: %+v / %+v", sa, sb)
	}
	// Inheriting writes never lost a value: each follows the previous change.
	for i := 1; i < len(ga); i++ {
		var cur, prev map[string]any
		_ = json.Unmarshal([]byte(strings.SplitN(ga[i], "=", 2)[1]), &cur)
		_ = json.Unmarshal([]byte(strings.SplitN(ga[i-1], "=", 2)[1]), &prev)
		if cur["ack"] == true && cur["val"] != prev["val"] {
			t.Fatalf("change %d inherits %v after %v", i, cur["val"], prev["val"])
		}
	}
	// A node opened later loads what is there.
	c := openStates(t, o)
	if st, ok := c.Get("n.0.shared"); !ok || st.Val != sa.Val {
		t.Fatalf("late node: %+v", st)
	}
}

// TestReconnectNoDuplicates kills the feed connections of one node while
// another writes: after reconnecting it has every change exactly once.
func TestReconnectNoDuplicates(t *testing.T) {
	o := testOptions(t)
	reader := redistest.Client(t, &redis.Options{DB: testDB, ClientName: "brokerd-test-reader", PoolSize: 4})
	ro := o
	ro.Client = reader
	a, b := openStates(t, o), openStates(t, ro)
	var lb stateLog
	b.Watch(lb.add)
	ctx := context.Background()
	for i := range 300 {
		if _, err := a.Set(fmt.Sprintf("r.0.s%d", i%7), states.Write{Val: float64(i), HasVal: true}); err != nil {
			t.Fatal(err)
		}
		if i%60 == 30 {
			if err := o.Client.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := lb.waitLen(t, 300)
	time.Sleep(300 * time.Millisecond)
	got = lb.get()
	if len(got) != 300 {
		t.Fatalf("%d changes after reconnects, want 300", len(got))
	}
	for i, g := range got {
		if want := fmt.Sprintf("r.0.s%d=", i%7); !strings.HasPrefix(g, want) || !strings.Contains(g, fmt.Sprintf(`"val":%d,`, i)) {
			t.Fatalf("change %d = %s", i, g)
		}
	}
}

// TestUnavailable: with Redis gone writes fail with "redis unavailable: …".
func TestUnavailable(t *testing.T) {
	o := testOptions(t)
	// The stores get their own client, closed below like a lost server.
	c := redis.NewClient(&redis.Options{Addr: redistest.Addr, DB: testDB, MaxRetries: -1})
	o.Client = c
	s := openStates(t, o)
	objs, err := OpenObjects(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(objs.Close)
	c.Close()
	_, err = s.Set("u.0.x", states.Write{Val: 1.0, HasVal: true})
	if !errors.Is(err, ErrUnavailable) || !strings.HasPrefix(err.Error(), "redis unavailable: ") {
		t.Fatalf("Set = %v", err)
	}
	if err := s.Delete("u.0.x"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := objs.Set("u.0.x", objects.Object{"type": "state"}, objects.WriteOptions{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("objects Set = %v", err)
	}
	if _, ok := s.Get("u.0.x"); ok || s.Len() != 0 {
		t.Fatal("failed write visible")
	}
}

// TestIoBrokerLayout: keys and channels as ioBroker names them, and a
// database written by ioBroker (no brokerd indexes) is read.
func TestIoBrokerLayout(t *testing.T) {
	o := testOptions(t)
	ctx := context.Background()
	r := o.Client
	p := o.Prefix
	// Written "by ioBroker" before brokerd ever ran.
	r.Set(ctx, p+"io.hm.0.temp", `{"val":21.5,"ack":true,"ts":1700000000000,"q":0,"from":"system.adapter.hm.0","lc":1700000000000}`, 0)
	r.Set(ctx, p+"cfg.o.hm.0.temp", `{"_id":"hm.0.temp","type":"state","common":{"name":"T","custom":{"h.0":{}}}}`, 0)
	r.Set(ctx, p+"cfg.o.vis.0", `{"_id":"vis.0","type":"meta","common":{}}`, 0)
	r.Set(ctx, p+"cfg.f.vis.0$%$main/a.txt$%$data", "hello", 0)
	r.Set(ctx, p+"cfg.f.vis.0$%$main/a.txt$%$meta", `{"mimeType":"text/plain","acl":{"owner":"system.user.admin","ownerGroup":"system.group.administrator","permissions":1604},"stats":{"size":5},"binary":false,"modifiedAt":1,"createdAt":1}`, 0)

	st := openStates(t, o)
	if got, ok := st.Get("hm.0.temp"); !ok || got.Val != 21.5 || got.From != "system.adapter.hm.0" {
		t.Fatalf("state %+v", got)
	}
	objs, err := OpenObjects(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(objs.Close)
	if objs.Len() != 2 {
		t.Fatalf("objects Len %d", objs.Len())
	}
	if err := objs.InitDefaults("h", "x"); err != nil {
		t.Fatal(err)
	}
	rows, err := objs.View("system", "custom", objects.ViewParams{}, nil)
	if err != nil || len(rows) != 1 || rows[0].ID != "hm.0.temp" {
		t.Fatalf("custom view %+v %v", rows, err)
	}
	fs, err := OpenFiles(o, files.NamespaceFunc(func(ns string) bool { return ns == "vis.0" }), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	if d, m, err := fs.Read("vis.0", "main/a.txt", nil); err != nil || string(d) != "hello" || m.Size != 5 || m.ACL.Permissions != 0x644 {
		t.Fatalf("file %q %+v %v", d, m, err)
	}

	// brokerd's writes land where ioBroker looks, and are published there.
	sub := r.Subscribe(ctx, p+"io.hm.0.temp", p+"cfg.o.hm.0.x", p+"cfg.f.vis.0$%$b.txt$%$data")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Set("hm.0.temp", states.Write{Val: 22.0, HasVal: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := objs.Set("hm.0.x", objects.Object{"type": "channel"}, objects.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := fs.Write("vis.0", "b.txt", []byte("abc"), true, files.WriteOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for range 3 {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, strings.TrimPrefix(m.Channel, p)+" "+m.Payload[:min(len(m.Payload), 12)])
	}
	want := []string{`io.hm.0.temp {"val":22,"a`, `cfg.o.hm.0.x {"_id":"hm.0`, `cfg.f.vis.0$%$b.txt$%$data 3`}
	if strings.Join(msgs, "|") != strings.Join(want, "|") {
		t.Fatalf("published %q, want %q", msgs, want)
	}
	if v := r.Get(ctx, p+"io.hm.0.temp").Val(); !strings.HasPrefix(v, `{"val":22,`) {
		t.Fatalf("io.hm.0.temp = %s", v)
	}
	if n := r.SIsMember(ctx, p+"cfg.s.object.type.channel", p+"cfg.o.hm.0.x").Val(); !n {
		t.Fatal("type set not maintained")
	}
	if v := r.Get(ctx, p+"cfg.f.vis.0$%$b.txt$%$meta").Val(); !strings.Contains(v, `"stats":{"size":3}`) {
		t.Fatalf("file meta %s", v)
	}
}

func ptr[T any](v T) *T { return &v }
