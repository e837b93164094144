package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/brokerd/brokerd/sioclient"
)

// BulkConfig describes the bulk-read scenario: getStates('*') and a
// getObjectView range over Preload states/objects.
type BulkConfig struct {
	Duration time.Duration // per operation
	Preload  int           // states/objects under Prefix
	Conns    int           // concurrent clients, one request outstanding each
	Prefix   string        // default "brokerload.0.bulk"
}

// Bulk runs the bulk scenario once against t.
func Bulk(ctx context.Context, t Target, cfg BulkConfig) (*Result, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Duration > MaxDuration {
		return nil, fmt.Errorf("duration %v exceeds %v", cfg.Duration, MaxDuration)
	}
	if cfg.Preload < 1 || cfg.Preload > 1_000_000 {
		return nil, fmt.Errorf("preload %d: want 1..1000000", cfg.Preload)
	}
	if cfg.Conns < 1 {
		cfg.Conns = 1
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "brokerload.0.bulk"
	}
	res := &Result{Scenario: "bulk", URL: t.Endpoint(), EIO: t.EIO, Label: t.Label, Started: time.Now(), Params: map[string]any{
		"duration_per_op": cfg.Duration.String(), "preload": cfg.Preload, "conns": cfg.Conns, "prefix": cfg.Prefix,
	}}
	place := t.RoundRobin(cfg.Conns, 0)
	conns, err := t.DialOn(ctx, place)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer CloseAll(conns)
	perConn := make([]int64, len(conns)) // answered requests of each connection

	written, secs, err := preload(ctx, conns, cfg)
	if err != nil {
		return nil, fmt.Errorf("preload: %w", err)
	}
	res.Params["preload_written"] = written
	res.Params["preload_seconds"] = secs

	start, end := cfg.Prefix+".", cfg.Prefix+".\u9999"
	ops := []struct {
		name  string
		event string
		args  []any
		count func([]json.RawMessage) int
	}{
		{"getStates(*)", "getStates", []any{"*"}, func(a []json.RawMessage) int { return countArg(a, nil) }},
		{"getObjectView", "getObjectView", []any{"system", "state", map[string]any{"startkey": start, "endkey": end}},
			func(a []json.RawMessage) int { return countArg(a, []byte(`"rows"`)) }},
	}
	for _, op := range ops {
		h := NewHistogram()
		n, items, bytesIn, errs, secs := closedLoop(ctx, conns, cfg.Duration, op.event, op.args, op.count, h, perConn)
		res.Seconds += secs
		res.Add(op.name+" ops/s", float64(n)/secs, "/s")
		res.Add(op.name+" items/op", safeDiv(float64(items), float64(n)), "")
		res.Add(op.name+" MB/s", float64(bytesIn)/secs/1e6, "MB/s")
		res.Add(op.name+" errors", float64(errs), "")
		res.AddLatency(op.name, h)
	}
	if t.multi() {
		res.Nodes = nodeStats(t)
		for i, n := range place {
			res.Nodes[n].Conns++
			res.Nodes[n].Ops += perConn[i]
		}
	}
	return res, nil
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// preload creates the objects and states unless getStates on the prefix shows
// they are all there already.
func preload(ctx context.Context, conns []*sioclient.Conn, cfg BulkConfig) (int, float64, error) {
	t0 := time.Now()
	args, err := call(ctx, conns[0], "getStates", cfg.Prefix+".*")
	if err != nil {
		return 0, 0, err
	}
	have := 0
	if len(args) > 1 {
		var m map[string]json.RawMessage
		if json.Unmarshal(args[1], &m) == nil {
			for id, v := range m {
				if string(v) != "null" && isBulkID(cfg.Prefix, id, cfg.Preload) {
					have++
				}
			}
		}
	}
	if have >= cfg.Preload {
		return 0, time.Since(t0).Seconds(), nil
	}
	id := func(i int) string { return fmt.Sprintf("%s.s%07d", cfg.Prefix, i) }
	pc := conns[:min(len(conns), 8)]
	if err := pipeline(ctx, pc, 32, cfg.Preload, func(i int) (string, []any) {
		return "setObject", []any{id(i), objectFor(id(i))}
	}); err != nil {
		return 0, 0, err
	}
	if err := pipeline(ctx, pc, 32, cfg.Preload, func(i int) (string, []any) {
		return "setState", []any{id(i), stateArg{Val: "v" + strconv.Itoa(i), Ack: true}}
	}); err != nil {
		return 0, 0, err
	}
	return cfg.Preload, time.Since(t0).Seconds(), nil
}

func isBulkID(prefix, id string, n int) bool {
	rest, ok := bytes.CutPrefix([]byte(id), []byte(prefix+".s"))
	if !ok || len(rest) != 7 {
		return false
	}
	i, err := strconv.Atoi(string(rest))
	return err == nil && i < n
}

// closedLoop keeps one request outstanding per connection for d; it adds
// each connection's answered requests to perConn.
func closedLoop(ctx context.Context, conns []*sioclient.Conn, d time.Duration, event string, args []any,
	count func([]json.RawMessage) int, h *Histogram, perConn []int64) (n, items, bytesIn, errs int64, secs float64) {
	start := time.Now()
	end := start.Add(d)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for ci, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lh := NewHistogram()
			var ln, litems, lbytes, lerrs int64
			for time.Now().Before(end) && ctx.Err() == nil {
				t0 := time.Now()
				a, err := call(ctx, c, event, args...)
				if err != nil {
					lerrs++
					if c.Err() != nil {
						break
					}
					continue
				}
				lh.RecordDuration(time.Since(t0))
				ln++
				litems += int64(count(a))
				for _, r := range a {
					lbytes += int64(len(r))
				}
			}
			mu.Lock()
			perConn[ci] += ln
			h.Merge(lh)
			n, items, bytesIn, errs = n+ln, items+litems, bytesIn+lbytes, errs+lerrs
			mu.Unlock()
		}()
	}
	wg.Wait()
	return n, items, bytesIn, errs, time.Since(start).Seconds()
}

// countArg counts the members of the ack's result (args[1]); with key set, of
// the array under that top-level key ({"rows":[…]}).
func countArg(args []json.RawMessage, key []byte) int {
	if len(args) < 2 {
		return 0
	}
	b := args[1]
	if key != nil {
		i := bytes.Index(b, key)
		if i < 0 {
			return 0
		}
		b = b[i+len(key):]
		j := bytes.IndexByte(b, '[')
		if j < 0 {
			return 0
		}
		b = b[j:]
	}
	return CountElements(b)
}

// CountElements counts the elements of the JSON array or the members of the
// JSON object b starts with, without decoding them.
func CountElements(b []byte) int {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || (b[0] != '[' && b[0] != '{') {
		return 0
	}
	depth, n := 0, 0
	inStr, esc, nonEmpty := false, false, false
	for _, c := range b {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '[', '{':
			depth++
			if depth == 1 {
				continue
			}
		case ']', '}':
			depth--
			if depth == 0 {
				if nonEmpty {
					n++
				}
				return n
			}
		case ',':
			if depth == 1 {
				n++
			}
			continue
		case ' ', '\t', '\r', '\n':
			continue
		}
		if depth >= 1 {
			nonEmpty = true
		}
	}
	return n
}
