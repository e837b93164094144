package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerd/brokerd/sioclient"
)

// Subscription patterns of the fanout scenario.
const (
	PatternAll    = "*"      // every subscriber subscribes "*"
	PatternPrefix = "prefix" // every subscriber subscribes "<prefix>.*"
	PatternExact  = "exact"  // subscriber i subscribes the ids of writer i%W, as a list
)

// FanoutConfig describes W writers setting states and S subscribers receiving
// the stateChange events.
type FanoutConfig struct {
	Duration time.Duration
	Writers  int
	Subs     int
	Rate     float64 // total setState/s over all writers; 0 = as fast as the window allows
	Window   int     // unacknowledged setState per writer
	Pattern  string  // PatternAll, PatternPrefix or PatternExact
	IDs      int     // ids per writer, written round-robin
	Ack      bool    // ack flag of the written states (adapters write ack=true)
	Prefix   string  // id prefix, default "brokerload.0.fanout"
	// WriterNodes puts the writers on the first WriterNodes nodes of the
	// target only (0 = all); subscribers always spread over every node.
	WriterNodes int
	// Admin, when > 0, runs one more connection doing getObjectView
	// ('system','state', AdminStart…AdminEnd) at this interval (vis scenario).
	Admin      time.Duration
	AdminStart string
	AdminEnd   string
}

func (c *FanoutConfig) defaults() error {
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Duration > MaxDuration {
		return fmt.Errorf("duration %v exceeds %v", c.Duration, MaxDuration)
	}
	if c.Writers < 1 || c.Subs < 1 || c.Writers+c.Subs > MaxConns {
		return fmt.Errorf("need 1..%d writers+subscribers, have %d+%d", MaxConns, c.Writers, c.Subs)
	}
	if c.Window < 1 {
		c.Window = 64
	}
	if c.IDs < 1 {
		c.IDs = 1
	}
	if c.Prefix == "" {
		c.Prefix = "brokerload.0.fanout"
	}
	switch c.Pattern {
	case "", "all":
		c.Pattern = PatternAll
	case PatternAll, PatternPrefix, PatternExact:
	default:
		return fmt.Errorf("pattern %q: want *, prefix or exact", c.Pattern)
	}
	if c.Rate < 0 {
		return errors.New("rate must be >= 0")
	}
	if c.WriterNodes < 0 {
		return errors.New("writer nodes must be >= 0")
	}
	return nil
}

func (c *FanoutConfig) params() map[string]any {
	p := map[string]any{
		"duration": c.Duration.String(), "writers": c.Writers, "subs": c.Subs, "rate": c.Rate,
		"window": c.Window, "pattern": c.Pattern, "ids": c.IDs, "ack": c.Ack, "prefix": c.Prefix,
	}
	if c.Admin > 0 {
		p["admin_interval"] = c.Admin.String()
	}
	if c.WriterNodes > 0 {
		p["writer_nodes"] = c.WriterNodes
	}
	return p
}

func (c *FanoutConfig) id(w, k int) string {
	return c.Prefix + ".w" + strconv.Itoa(w) + ".s" + strconv.Itoa(k)
}

// subscriber counts the stateChange events of one connection. Its handler
// runs on the connection's read goroutine.
type subscriber struct {
	syncID   []byte
	syncSeen atomic.Bool
	since    atomic.Int64 // unix ns: values written earlier are not counted

	mu        sync.Mutex
	hist      *Histogram
	received  uint64
	foreign   uint64
	reordered uint64
	lastSeq   []uint64 // per writer, 0 = none yet (seq starts at 1)
	lastRecv  int64
}

func (s *subscriber) onChange(m sioclient.Message) {
	now := time.Now().UnixNano()
	if len(m.Args) < 2 {
		return
	}
	id, val, ok := StateChangeValue(m.Args[0], m.Args[1])
	if ok && bytes.Equal(id, s.syncID) {
		s.syncSeen.Store(true)
		return
	}
	w, seq, ns, ok2 := DecodeValue(val)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok || !ok2 || ns < s.since.Load() || w >= len(s.lastSeq) || seq == 0 {
		s.foreign++
		return
	}
	s.received++
	s.hist.Record(now - ns)
	if seq <= s.lastSeq[w] {
		s.reordered++
	} else {
		s.lastSeq[w] = seq
	}
	s.lastRecv = now
}

func (s *subscriber) count() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received
}

type writer struct {
	idx    int
	conn   *sioclient.Conn
	ids    []string
	ack    bool
	sent   uint64
	acked  uint64
	failed uint64     // error acks, ack timeouts and send errors
	hist   *Histogram // setState ack round trip
	errMu  sync.Mutex
	errMsg string
	skip   uint64 // pacer slots dropped because the window was full too long
}

type stateArg struct {
	Val string `json:"val"`
	Ack bool   `json:"ack"`
}

type pending struct {
	ch   <-chan sioclient.Message
	sent time.Time
}

// run writes from start until end at rate (per writer; 0 = unpaced), keeping
// at most window requests unacknowledged, then collects the outstanding acks.
func (w *writer) run(start, end time.Time, rate float64, window int) {
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	sem := make(chan struct{}, window)
	inflight := make(chan pending, window)
	collected := make(chan struct{})
	ackDeadline := end.Add(opTimeout)
	go func() {
		defer close(collected)
		for p := range inflight {
			t := time.NewTimer(time.Until(ackDeadline))
			select {
			case m, ok := <-p.ch:
				t.Stop()
				switch {
				case !ok:
					w.failed++
					w.setErr("connection closed")
				case ackError(m) != nil:
					w.failed++
					w.setErr(ackError(m).Error())
				default:
					w.acked++
					w.hist.RecordDuration(time.Since(p.sent))
				}
			case <-t.C:
				w.failed++
				w.setErr("ack timeout")
			}
			<-sem
		}
	}()
	if d := time.Until(start); d > 0 {
		time.Sleep(d)
	}
	pacer := NewPacer(start, rate)
	pacer.MaxBurst = window
	var seq uint64
	var sendErr error
loop:
	for {
		n := pacer.Wait(ctx)
		if n == 0 {
			break
		}
		for range n {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				break loop
			}
			seq++
			now := time.Now()
			val := EncodeValue(w.idx, seq, now.UnixNano())
			ch, err := w.conn.EmitAsync("setState", w.ids[int(seq)%len(w.ids)], stateArg{Val: val, Ack: w.ack})
			if err != nil {
				<-sem
				sendErr = err
				break loop
			}
			w.sent++
			inflight <- pending{ch: ch, sent: now}
		}
	}
	close(inflight)
	<-collected
	w.skip = pacer.Skipped
	if sendErr != nil {
		w.failed++
		w.setErr(sendErr.Error())
	}
}

func (w *writer) setErr(s string) {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if w.errMsg == "" {
		w.errMsg = s
	}
}

// Fanout runs the fanout scenario once against t.
func Fanout(ctx context.Context, t Target, cfg FanoutConfig) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	res := &Result{Scenario: "fanout", URL: t.Endpoint(), EIO: t.EIO, Label: t.Label, Started: time.Now(), Params: cfg.params()}

	// Writers round-robin over the first WriterNodes nodes, subscribers
	// over all; the admin connection goes to the first node.
	place := append(t.RoundRobin(cfg.Writers, cfg.WriterNodes), t.RoundRobin(cfg.Subs, 0)...)
	conns, err := t.DialOn(ctx, place)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer CloseAll(conns)
	var admin *sioclient.Conn
	if cfg.Admin > 0 {
		if admin, err = t.Dial(ctx); err != nil {
			return nil, fmt.Errorf("connect admin: %w", err)
		}
		defer admin.Close()
	}
	wconns, sconns := conns[:cfg.Writers], conns[cfg.Writers:]
	wplace, splace := place[:cfg.Writers], place[cfg.Writers:]
	syncID := cfg.Prefix + ".sync"

	// Objects first, so neither server warns per write about missing objects.
	writers := make([]*writer, cfg.Writers)
	var allIDs []string
	for i := range writers {
		w := &writer{idx: i, conn: wconns[i], ack: cfg.Ack, hist: NewHistogram()}
		for k := range cfg.IDs {
			w.ids = append(w.ids, cfg.id(i, k))
		}
		allIDs = append(allIDs, w.ids...)
		writers[i] = w
	}
	allIDs = append(allIDs, syncID)
	if err := pipeline(ctx, wconns, 32, len(allIDs), func(i int) (string, []any) {
		return "setObject", []any{allIDs[i], objectFor(allIDs[i])}
	}); err != nil {
		return nil, fmt.Errorf("create objects: %w", err)
	}

	subs := make([]*subscriber, cfg.Subs)
	for i, c := range sconns {
		s := &subscriber{syncID: []byte(syncID), hist: NewHistogram(), lastSeq: make([]uint64, cfg.Writers)}
		s.since.Store(1<<63 - 1) // count nothing before the measurement starts
		subs[i] = s
		c.On("stateChange", s.onChange)
	}
	if err := pipeline(ctx, sconns, 1, len(sconns), func(i int) (string, []any) {
		switch cfg.Pattern {
		case PatternPrefix:
			return "subscribe", []any{cfg.Prefix + ".*"}
		case PatternExact:
			return "subscribe", []any{append(append([]string{}, writers[i%cfg.Writers].ids...), syncID)}
		}
		return "subscribe", []any{"*"}
	}); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	// ioBroker acks subscribe before the subscription is active: write a
	// marker until every subscriber has seen it.
	if err := barrier(ctx, wconns[0], syncID, subs); err != nil {
		return nil, err
	}

	start := time.Now().Add(50 * time.Millisecond)
	end := start.Add(cfg.Duration)
	for _, s := range subs {
		s.since.Store(start.UnixNano())
	}
	var adminHist *Histogram
	var adminRows, adminErrs atomic.Int64
	var adminErr atomic.Value
	var adminWG sync.WaitGroup
	if admin != nil {
		adminHist = NewHistogram()
		adminWG.Add(1)
		go func() {
			defer adminWG.Done()
			runAdmin(admin, start, end, cfg, adminHist, &adminRows, &adminErrs, &adminErr)
		}()
	}
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(start, end, cfg.Rate/float64(cfg.Writers), cfg.Window)
		}()
	}
	wg.Wait()
	writeEnd := time.Now()
	adminWG.Wait()

	expected := make([]uint64, len(subs))
	var ackedTotal uint64
	for _, w := range writers {
		ackedTotal += w.acked
	}
	for i := range subs {
		if cfg.Pattern == PatternExact {
			expected[i] = writers[i%cfg.Writers].acked
		} else {
			expected[i] = ackedTotal
		}
	}
	drain(ctx, subs, expected)

	// Aggregate.
	var sent, acked, failed, skipped, received, foreign, reordered, exp uint64
	var lastRecv int64
	lat, ackLat := NewHistogram(), NewHistogram()
	for _, w := range writers {
		sent += w.sent
		acked += w.acked
		failed += w.failed
		skipped += w.skip
		ackLat.Merge(w.hist)
		if w.errMsg != "" {
			res.Errorf("writer %d: %s", w.idx, w.errMsg)
		}
	}
	recv := make([]uint64, len(subs)) // per subscriber, so the per-node sums add up
	for i, s := range subs {
		s.mu.Lock()
		recv[i] = s.received
		received += s.received
		foreign += s.foreign
		reordered += s.reordered
		lastRecv = max(lastRecv, s.lastRecv)
		lat.Merge(s.hist)
		s.mu.Unlock()
		exp += expected[i]
	}
	writeSecs := writeEnd.Sub(start).Seconds()
	deliverSecs := time.Duration(lastRecv - start.UnixNano()).Seconds()
	if deliverSecs <= 0 {
		deliverSecs = writeSecs
	}
	res.Seconds = writeSecs
	lost := int64(exp) - int64(received)
	res.Add("setState acked/s", float64(acked)/writeSecs, "/s")
	res.Add("setState errors", float64(failed), "")
	res.Add("window-full skips", float64(skipped), "")
	res.Add("expected deliveries", float64(exp), "")
	res.Add("received", float64(received), "")
	res.Add("delivered/s", float64(received)/deliverSecs, "/s")
	res.Add("lost", float64(max(lost, 0)), "")
	res.Add("loss", pct(max(lost, 0), exp), "%")
	res.Add("reordered/dup", float64(reordered), "")
	res.Add("delivery tail", max(deliverSecs-writeSecs, 0), "s")
	res.AddLatency("setState→stateChange", lat)
	res.AddLatency("setState ack", ackLat)
	if adminHist != nil {
		res.Add("admin views", float64(adminHist.Count()), "")
		res.Add("admin view errors", float64(adminErrs.Load()), "")
		if n := adminHist.Count(); n > 0 {
			res.Add("admin rows/view", float64(adminRows.Load())/float64(n), "")
		}
		res.AddLatency("getObjectView", adminHist)
		if e, ok := adminErr.Load().(string); ok {
			res.Errorf("admin: %s", e)
		}
	}
	if t.multi() {
		res.Nodes = nodeStats(t)
		for _, n := range wplace {
			res.Nodes[n].Conns++
			res.Nodes[n].Writers++
		}
		for i := range subs {
			ns := &res.Nodes[splace[i]]
			ns.Conns++
			ns.Subscribers++
			ns.Expected += expected[i]
			ns.Received += recv[i]
		}
		if admin != nil {
			res.Nodes[0].Conns++
		}
		for i := range res.Nodes {
			res.Nodes[i].DeliveredPS = float64(res.Nodes[i].Received) / deliverSecs
		}
	}
	res.Params["foreign_events"] = foreign
	if lost > 0 {
		res.Errorf("%d of %d expected stateChange events not received", lost, exp)
	}
	return res, nil
}

func pct(part int64, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// barrier writes the marker state every 200 ms until every subscriber saw it.
func barrier(ctx context.Context, c *sioclient.Conn, syncID string, subs []*subscriber) error {
	deadline := time.Now().Add(20 * time.Second)
	for n := 0; ; n++ {
		if _, err := call(ctx, c, "setState", syncID, stateArg{Val: "sync:" + strconv.Itoa(n)}); err != nil {
			return fmt.Errorf("sync write: %w", err)
		}
		wait := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(wait) {
			missing := 0
			for _, s := range subs {
				if !s.syncSeen.Load() {
					missing++
				}
			}
			if missing == 0 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%d of %d subscriptions not active after 20s", missing, len(subs))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// drain waits until the subscribers received what was written, or nothing
// arrived for 2 s, or 15 s passed.
func drain(ctx context.Context, subs []*subscriber, expected []uint64) {
	var want uint64
	for _, e := range expected {
		want += e
	}
	deadline := time.Now().Add(15 * time.Second)
	var last uint64
	lastChange := time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var got uint64
		for _, s := range subs {
			got += s.count()
		}
		if got >= want {
			return
		}
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > 2*time.Second {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runAdmin does one getObjectView per interval, as admin's object browser.
func runAdmin(c *sioclient.Conn, start, end time.Time, cfg FanoutConfig, h *Histogram, rows, errs *atomic.Int64, first *atomic.Value) {
	time.Sleep(time.Until(start))
	params := map[string]any{"startkey": cfg.AdminStart, "endkey": cfg.AdminEnd}
	for next := start; next.Before(end); next = next.Add(cfg.Admin) {
		time.Sleep(time.Until(next))
		ctx, cancel := context.WithDeadline(context.Background(), end.Add(opTimeout))
		t0 := time.Now()
		args, err := call(ctx, c, "getObjectView", "system", "state", params)
		cancel()
		if err != nil {
			errs.Add(1)
			first.CompareAndSwap(nil, err.Error())
			continue
		}
		h.RecordDuration(time.Since(t0))
		rows.Add(int64(countRows(args)))
	}
}

// countRows returns the number of rows of a getObjectView answer.
func countRows(args []json.RawMessage) int {
	if len(args) < 2 {
		return 0
	}
	var v struct {
		Rows []struct{} `json:"rows"`
	}
	if json.Unmarshal(args[1], &v) != nil {
		return 0
	}
	return len(v.Rows)
}
