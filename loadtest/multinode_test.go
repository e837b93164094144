package loadtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newFakeCluster serves one fakeBroker on n listeners, like the nodes of a
// cluster sharing their data: a write on one node reaches subscribers on
// every node. opened counts the connections each node accepted.
func newFakeCluster(t *testing.T, n int) (tg Target, opened []*atomic.Int64) {
	t.Helper()
	b := &fakeBroker{objects: map[string]json.RawMessage{}, states: map[string]json.RawMessage{}, conns: map[*fakeConn]struct{}{}}
	for range n {
		cnt := &atomic.Int64{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cnt.Add(1)
			b.serve(w, r)
		}))
		t.Cleanup(srv.Close)
		tg.Nodes = append(tg.Nodes, srv.URL)
		opened = append(opened, cnt)
	}
	tg.URL, tg.EIO = tg.Nodes[0], 3
	return tg, opened
}

func TestFanoutOverNodes(t *testing.T) {
	tests := []struct {
		name        string
		cfg         FanoutConfig
		writers     []int // per node
		subscribers []int
	}{
		{"writers on node 1", FanoutConfig{Writers: 2, Subs: 3, Rate: 300, WriterNodes: 1}, []int{2, 0}, []int{2, 1}},
		{"writers spread", FanoutConfig{Writers: 3, Subs: 4, Rate: 300, Pattern: PatternExact, IDs: 2}, []int{2, 1}, []int{2, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg, opened := newFakeCluster(t, 2)
			tc.cfg.Duration = 300 * time.Millisecond
			res, err := Fanout(context.Background(), tg, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			exp, got := metric(t, res, "expected deliveries"), metric(t, res, "received")
			if exp == 0 || got != exp || len(res.Errors) != 0 {
				t.Fatalf("expected %v received %v errors %v", exp, got, res.Errors)
			}
			if len(res.Nodes) != 2 || res.URL != tg.Nodes[0]+","+tg.Nodes[1] {
				t.Fatalf("nodes %+v url %s", res.Nodes, res.URL)
			}
			var sumExp, sumGot uint64
			for i, n := range res.Nodes {
				if n.Node != i+1 || n.URL != tg.Nodes[i] || n.Writers != tc.writers[i] || n.Subscribers != tc.subscribers[i] {
					t.Errorf("node %d: %+v, want %d writers %d subscribers", i+1, n, tc.writers[i], tc.subscribers[i])
				}
				if n.Conns != n.Writers+n.Subscribers || int64(n.Conns) != opened[i].Load() {
					t.Errorf("node %d: %d conns reported, %d writers+subscribers, %d opened", i+1, n.Conns, n.Writers+n.Subscribers, opened[i].Load())
				}
				if n.Received == 0 || n.Received != n.Expected {
					t.Errorf("node %d received %d of %d", i+1, n.Received, n.Expected)
				}
				sumExp += n.Expected
				sumGot += n.Received
			}
			if float64(sumExp) != exp || float64(sumGot) != got {
				t.Fatalf("per-node sums %d/%d, totals %v/%v", sumGot, sumExp, got, exp)
			}
			res.Label, res.Round = "A", 1
			var out strings.Builder
			PrintRuns(&out, []*Result{res})
			if !strings.Contains(out.String(), "A#1 per node") || !strings.Contains(out.String(), tg.Nodes[1]) {
				t.Fatalf("no per-node table:\n%s", out.String())
			}
		})
	}
}

func TestBulkAndIdleOverNodes(t *testing.T) {
	tg, opened := newFakeCluster(t, 2)
	res, err := Bulk(context.Background(), tg, BulkConfig{Duration: 100 * time.Millisecond, Preload: 20, Conns: 3})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for i, n := range res.Nodes {
		if n.Ops == 0 || int64(n.Conns) != opened[i].Load() {
			t.Errorf("bulk node %d: %+v, %d opened", i+1, n, opened[i].Load())
		}
		total += n.Ops
	}
	if len(res.Nodes) != 2 || res.Nodes[0].Conns != 2 || res.Nodes[1].Conns != 1 || total == 0 {
		t.Fatalf("bulk nodes %+v", res.Nodes)
	}

	res, err = Idle(context.Background(), tg, IdleConfig{Duration: 50 * time.Millisecond, Conns: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Nodes) != 2 || res.Nodes[0].Alive != 3 || res.Nodes[1].Alive != 2 || res.Nodes[0].Conns != 3 {
		t.Fatalf("idle nodes %+v", res.Nodes)
	}
}

// One URL keeps the report as it was: no per-node table.
func TestSingleNodeHasNoNodeTable(t *testing.T) {
	res, err := Fanout(context.Background(), Target{URL: newFakeBroker(t), EIO: 3}, FanoutConfig{Writers: 1, Subs: 1, Rate: 100, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Nodes != nil {
		t.Fatalf("nodes %+v", res.Nodes)
	}
}
