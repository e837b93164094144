package loadtest

import (
	"context"
	"fmt"
	"time"
)

// IdleConfig describes the idle-connection scenario.
type IdleConfig struct {
	Duration  time.Duration // how long the connections are held
	Conns     int
	Subscribe string // optional pattern every connection subscribes
}

// Idle opens Conns connections, holds them for Duration and reports the RSS
// of the target's processes (t.PIDs) before and after.
func Idle(ctx context.Context, t Target, cfg IdleConfig) (*Result, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Duration > MaxDuration {
		return nil, fmt.Errorf("duration %v exceeds %v", cfg.Duration, MaxDuration)
	}
	if cfg.Conns < 1 || cfg.Conns > MaxConns {
		return nil, fmt.Errorf("conns %d: want 1..%d", cfg.Conns, MaxConns)
	}
	res := &Result{Scenario: "idle", URL: t.Endpoint(), EIO: t.EIO, Label: t.Label, Started: time.Now(), Params: map[string]any{
		"duration": cfg.Duration.String(), "conns": cfg.Conns, "subscribe": cfg.Subscribe, "pids": t.PIDs,
	}}
	rss := func() int64 {
		if len(t.PIDs) == 0 {
			return 0
		}
		v, err := ReadRSS(t.PIDs)
		if err != nil {
			res.Errorf("rss: %v", err)
		}
		return v
	}
	before := rss()
	t0 := time.Now()
	place := t.RoundRobin(cfg.Conns, 0)
	conns, err := t.DialOn(ctx, place)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer CloseAll(conns)
	connectSecs := time.Since(t0).Seconds()
	if cfg.Subscribe != "" {
		if err := pipeline(ctx, conns, 1, len(conns), func(int) (string, []any) {
			return "subscribe", []any{cfg.Subscribe}
		}); err != nil {
			return nil, fmt.Errorf("subscribe: %w", err)
		}
	}
	time.Sleep(time.Second) // let the server finish per-connection set-up
	connected := rss()
	hold := time.NewTimer(cfg.Duration)
	select {
	case <-ctx.Done():
		hold.Stop()
		return nil, ctx.Err()
	case <-hold.C:
	}
	after := rss()
	alive := 0
	if t.multi() {
		res.Nodes = nodeStats(t)
	}
	for i, c := range conns {
		if res.Nodes != nil {
			res.Nodes[place[i]].Conns++
		}
		select {
		case <-c.Done():
		default:
			alive++
			if res.Nodes != nil {
				res.Nodes[place[i]].Alive++
			}
		}
	}
	res.Seconds = cfg.Duration.Seconds()
	res.Add("connections", float64(cfg.Conns), "")
	res.Add("connect rate", float64(cfg.Conns)/connectSecs, "/s")
	res.Add("alive at end", float64(alive), "")
	res.Add("RSS before", float64(before)/(1<<20), "MiB")
	res.Add("RSS connected", float64(connected)/(1<<20), "MiB")
	res.Add("RSS at end", float64(after)/(1<<20), "MiB")
	res.Add("RSS per conn", float64(after-before)/float64(cfg.Conns)/1024, "KiB")
	if len(t.PIDs) == 0 {
		res.Errorf("no --pid given: RSS not measured")
	}
	if alive < cfg.Conns {
		res.Errorf("%d of %d connections dropped while idle", cfg.Conns-alive, cfg.Conns)
	}
	return res, nil
}
