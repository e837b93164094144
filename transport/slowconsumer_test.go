package transport

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSlowConsumerDoesNotHoldUpOthers: one subscriber stops reading while a
// writer streams large changes. The healthy subscriber still receives every
// change; the stalled one is cut off (queue overflow or slow-consumer
// timeout) instead of growing memory. The healthy subscriber's latency with
// and without the staller is logged as a ratio (figures, not assertions).
func TestSlowConsumerDoesNotHoldUpOthers(t *testing.T) {
	srv, hs := testServer(t, Options{EventQueue: 2000, SlowConsumerTimeout: 2 * time.Second})
	writer := dialWS(t, hs, 4)
	healthy := dialWS(t, hs, 4)
	healthy.call(nil, "subscribe", "slow.*")

	value := strings.Repeat("x", 4096)
	run := func(n int) (p50, p99 time.Duration) {
		var mu sync.Mutex
		sent := map[string]time.Time{}
		var lat []time.Duration
		done := make(chan struct{})
		go func() {
			defer close(done)
			for got := 0; got < n; {
				p := healthy.read()
				if !strings.HasPrefix(p, `42["stateChange","slow.0.s`) {
					continue
				}
				var ev []json.RawMessage
				if json.Unmarshal([]byte(p[2:]), &ev) != nil {
					continue
				}
				var id string
				json.Unmarshal(ev[1], &id)
				mu.Lock()
				if at, ok := sent[id]; ok {
					lat = append(lat, time.Since(at))
					delete(sent, id)
				}
				mu.Unlock()
				got++
			}
		}()
		for i := 0; i < n; i++ {
			id := "slow.0.s" + strconv.Itoa(i)
			mu.Lock()
			sent[id] = time.Now()
			mu.Unlock()
			writer.send("42" + mustJSON(t, []any{"setState", id, map[string]any{"val": value, "ack": true}}))
		}
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("healthy subscriber did not receive every change")
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat[len(lat)/2], lat[len(lat)*99/100]
	}

	base50, base99 := run(3000)

	// The staller subscribes and never reads again.
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	stalled, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.ReadMessage() // open
	stalled.WriteMessage(websocket.TextMessage, []byte("40"))
	stalled.ReadMessage() // connect
	stalled.WriteMessage(websocket.TextMessage, []byte(`421["subscribe","slow.*"]`))
	before := srv.Connections()

	stall50, stall99 := run(3000)

	// The staller is cut off rather than buffered without bound.
	deadline := time.Now().Add(15 * time.Second)
	for srv.Connections() >= before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if srv.Connections() >= before {
		t.Fatalf("stalled subscriber still connected (%d connections)", srv.Connections())
	}
	t.Logf("healthy subscriber latency p50/p99: alone %s/%s, next to a stalled one %s/%s (ratio p50 %.2f, p99 %.2f)",
		base50, base99, stall50, stall99, float64(stall50)/float64(base50), float64(stall99)/float64(base99))
}
