package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerd/brokerd/sioclient"
)

// An adapter on node 1 of two brokerd processes publishes `im` messages to a
// frontend on node 2 that clientSubscribed there: the broker's own wiring
// (broker/cluster.go) of the router that im_nodes_test.go builds by hand.
func TestIMBetweenBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two brokerd processes")
	}
	nodes, _, _ := startCluster(t, "brokerd-imtest-e2e-", 2)
	n1, n2 := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sids := make(chan string, 4)
	ad := n1.dial(ctx, sioclient.Options{EIO: 4, Auth: map[string]any{"instance": "haa.0"}, Setup: func(c *sioclient.Conn) {
		c.OnAck("message", func(m sioclient.Message, reply func(args ...any)) {
			var msg struct {
				Command string         `json:"command"`
				Message map[string]any `json:"message"`
			}
			if len(m.Args) > 0 && json.Unmarshal(m.Args[0], &msg) == nil && msg.Command == "clientSubscribe" {
				sid, _ := msg.Message["sid"].(string)
				sids <- sid
			}
			reply(map[string]any{"accepted": true})
		})
	}})
	var mu sync.Mutex
	var got []string
	fe := n2.dial(ctx, sioclient.Options{EIO: 4, Setup: func(c *sioclient.Conn) {
		c.On("im", func(m sioclient.Message) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s", m.Args))
			mu.Unlock()
		})
	}})
	// Node 2 routes to haa.0 once node 1 registered it (with its alive state).
	eventually(t, 5*time.Second, "node 2 sees haa.0 alive", func() bool {
		return strings.Contains(getState(ctx, t, fe, "system.adapter.haa.0.alive"), `"val":true`)
	})
	m, err := fe.EmitAck(ctx, "clientSubscribe", "haa.0", "status")
	if err != nil || len(m.Args) != 2 || string(m.Args[1]) != `{"accepted":true}` {
		t.Fatalf("clientSubscribe on node 2: %v %s", err, m.Args)
	}
	sid := <-sids
	const n = 20
	for i := range n {
		m, err := ad.EmitAck(ctx, "sendTo", "brokerd.0", "im", map[string]any{"m": "status", "s": sid, "d": i})
		if err != nil || len(m.Args) == 0 || string(m.Args[0]) != `{"delivered":true}` {
			t.Fatalf("im %d: %v %s", i, err, m.Args)
		}
	}
	m, err = ad.EmitAck(ctx, "sendTo", "brokerd.0", "im", map[string]any{"m": "other", "s": sid, "d": 0})
	if err != nil || len(m.Args) == 0 || !strings.Contains(string(m.Args[0]), "no one subscribed") {
		t.Fatalf("im of a type not subscribed: %v %s", err, m.Args)
	}
	eventually(t, 5*time.Second, "frontend receives every im", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= n
	})
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("frontend received %d messages, want %d: %v", len(got), n, got)
	}
	for i, g := range got {
		if want := fmt.Sprintf(`["status" "system.adapter.haa.0" %d]`, i); g != want {
			t.Fatalf("message %d is %s, want %s", i, g, want)
		}
	}
}
