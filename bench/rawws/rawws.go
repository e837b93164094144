// Command rawws measures "the raw limit" of a fan-out over WebSocket on
// loopback: a plain Go broadcast server (github.com/coder/websocket) and, in
// the same process, one writer and S subscribers exchanging the same small
// stateChange JSON messages brokerload uses. Its delivered/s is the ceiling
// brokerd's fanout scenario is compared against.
//
//	go run ./bench/rawws -subs 50 -duration 10s
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/brokerd/brokerd/loadtest"
)

// Config of one raw fan-out run.
type Config struct {
	Subs     int
	Duration time.Duration
	Rate     float64 // messages/s of the writer; 0 = as fast as the server takes them
	Queue    int     // per-subscriber send queue of the server
	// Window bounds the messages written but not yet received by the slowest
	// subscriber (0 = unbounded: socket buffers then hold seconds of backlog).
	Window int
}

// hub is the broadcast server: every message the publisher sends goes to every
// subscriber through that subscriber's bounded queue and writer goroutine. A
// full queue blocks the broadcast (back-pressure, no loss), so delivered/s is
// the rate the slowest subscriber sustains.
type hub struct {
	mu    sync.Mutex
	subs  map[*rawSub]struct{}
	queue int
}

type rawSub struct {
	out chan []byte
}

func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	ctx := r.Context()
	if r.URL.Query().Get("role") == "pub" {
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			h.mu.Lock()
			for s := range h.subs {
				s.out <- msg
			}
			h.mu.Unlock()
		}
	}
	s := &rawSub{out: make(chan []byte, h.queue)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	defer func() {
		// A broadcast may be blocked on our full queue while holding h.mu:
		// keep draining until we are out of the set.
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-s.out:
				case <-stop:
					return
				}
			}
		}()
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
		close(stop)
	}()
	go func() { ws.Read(ctx); ws.CloseNow() }() // close frames
	for {
		select {
		case msg := <-s.out:
			if ws.Write(ctx, websocket.MessageText, msg) != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Run starts the server on a loopback port, runs the fan-out and reports.
func Run(ctx context.Context, cfg Config) (*loadtest.Result, error) {
	if cfg.Subs < 1 || cfg.Subs > 10000 {
		return nil, fmt.Errorf("subs %d: want 1..10000", cfg.Subs)
	}
	if cfg.Duration <= 0 || cfg.Duration > loadtest.MaxDuration {
		return nil, fmt.Errorf("duration %v: want (0, %v]", cfg.Duration, loadtest.MaxDuration)
	}
	if cfg.Queue < 1 {
		cfg.Queue = 1024
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hub{subs: map[*rawSub]struct{}{}, queue: cfg.Queue}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	url := "ws://" + ln.Addr().String()

	res := &loadtest.Result{Scenario: "rawws", URL: url, Started: time.Now(), Params: map[string]any{
		"subs": cfg.Subs, "duration": cfg.Duration.String(), "rate": cfg.Rate, "queue": cfg.Queue, "window": cfg.Window,
	}}
	type subStats struct {
		hist     *loadtest.Histogram
		received atomic.Uint64
		lastRecv atomic.Int64
	}
	stats := make([]*subStats, cfg.Subs)
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, cfg.Subs)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.CloseNow()
			}
		}
		wg.Wait()
	}()
	for i := range conns {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, _, err := websocket.Dial(dctx, url+"/?role=sub", nil)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("subscriber %d: %w", i, err)
		}
		conns[i] = c
		st := &subStats{hist: loadtest.NewHistogram()}
		stats[i] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, msg, err := c.Read(context.Background())
				if err != nil {
					return
				}
				now := time.Now().UnixNano()
				if _, ns, ok := decode(msg); ok {
					st.hist.Record(now - ns)
					st.received.Add(1)
					st.lastRecv.Store(now)
				}
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); h.count() < cfg.Subs; {
		if time.Now().After(deadline) {
			return nil, errors.New("subscribers did not register")
		}
		time.Sleep(5 * time.Millisecond)
	}

	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	pub, _, err := websocket.Dial(dctx, url+"/?role=pub", nil)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	defer pub.CloseNow()
	start := time.Now()
	end := start.Add(cfg.Duration)
	wctx, wcancel := context.WithDeadline(ctx, end)
	defer wcancel()
	pacer := loadtest.NewPacer(start, cfg.Rate)
	minReceived := func() uint64 {
		m := ^uint64(0)
		for _, st := range stats {
			m = min(m, st.received.Load())
		}
		return m
	}
	var sent uint64
	buf := make([]byte, 0, 256)
write:
	for {
		n := pacer.Wait(wctx)
		if n == 0 {
			break
		}
		for range n {
			for cfg.Window > 0 && sent-minReceived() >= uint64(cfg.Window) {
				if wctx.Err() != nil {
					break write
				}
				time.Sleep(20 * time.Microsecond)
			}
			sent++
			buf = appendMessage(buf[:0], sent, time.Now().UnixNano())
			if err := pub.Write(wctx, websocket.MessageText, buf); err != nil {
				sent--
				break write
			}
		}
	}
	writeSecs := time.Since(start).Seconds()

	// Drain: until everything arrived or nothing did for 2 s.
	want := sent * uint64(cfg.Subs)
	var got uint64
	last, lastChange := uint64(0), time.Now()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		got = 0
		for _, st := range stats {
			got += st.received.Load()
		}
		if got >= want {
			break
		}
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > 2*time.Second {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var lastRecv int64
	lat := loadtest.NewHistogram()
	for _, c := range conns {
		c.CloseNow()
	}
	wg.Wait() // readers done: their histograms are ours now
	got = 0
	for _, st := range stats {
		got += st.received.Load()
		lastRecv = max(lastRecv, st.lastRecv.Load())
		lat.Merge(st.hist)
	}
	deliverSecs := time.Duration(lastRecv - start.UnixNano()).Seconds()
	if deliverSecs <= 0 {
		deliverSecs = writeSecs
	}
	res.Seconds = writeSecs
	res.Add("written/s", float64(sent)/writeSecs, "/s")
	res.Add("expected deliveries", float64(want), "")
	res.Add("received", float64(got), "")
	res.Add("delivered/s", float64(got)/deliverSecs, "/s")
	res.Add("lost", float64(want-min(got, want)), "")
	res.AddLatency("write→receive", lat)
	return res, nil
}

// appendMessage builds the stateChange frame brokerd would send.
func appendMessage(b []byte, seq uint64, ns int64) []byte {
	b = append(b, `["stateChange","raw.0.w0.s`...)
	b = strconv.AppendUint(b, seq%10, 10)
	b = append(b, `",{"val":"`...)
	b = append(b, loadtest.EncodeValue(0, seq, ns)...)
	b = append(b, `","ack":false,"ts":`...)
	b = strconv.AppendInt(b, ns/1e6, 10)
	b = append(b, `,"q":0,"from":"system.adapter.rawws.0","user":"system.user.admin","lc":`...)
	b = strconv.AppendInt(b, ns/1e6, 10)
	b = append(b, "}]"...)
	return b
}

// decode returns the sequence number and send time carried by a message.
func decode(msg []byte) (uint64, int64, bool) {
	// ["stateChange","<id>",{…}]: the id starts at byte 15.
	const head = `["stateChange",`
	if len(msg) < len(head) || string(msg[:len(head)]) != head {
		return 0, 0, false
	}
	rest := msg[len(head):]
	end := 0
	for end = 1; end < len(rest) && rest[end] != '"'; end++ {
	}
	if end+2 > len(rest) {
		return 0, 0, false
	}
	_, val, ok := loadtest.StateChangeValue(rest[:end+1], rest[end+2:])
	if !ok {
		return 0, 0, false
	}
	_, seq, ns, ok := loadtest.DecodeValue(val)
	return seq, ns, ok
}
