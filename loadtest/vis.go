package loadtest

import (
	"context"
	"time"
)

// VisConfig is a realistic home: frontends subscribed to "*" as vis 1.x does,
// adapters writing ack=true values, and an admin polling getObjectView.
type VisConfig struct {
	Duration  time.Duration
	Frontends int     // default 100
	Adapters  int     // default 2
	Rate      float64 // total setState/s, default 2000
	States    int     // states per adapter, default 500
	Admin     time.Duration
	// AdapterNodes puts the adapters on the first AdapterNodes nodes of
	// the target only (0 = all); frontends spread over every node.
	AdapterNodes int
}

// Vis runs the vis scenario once against t.
func Vis(ctx context.Context, t Target, cfg VisConfig) (*Result, error) {
	if cfg.Frontends == 0 {
		cfg.Frontends = 100
	}
	if cfg.Adapters == 0 {
		cfg.Adapters = 2
	}
	if cfg.Rate == 0 {
		cfg.Rate = 2000
	}
	if cfg.States == 0 {
		cfg.States = 500
	}
	if cfg.Admin == 0 {
		cfg.Admin = time.Second
	}
	res, err := Fanout(ctx, t, FanoutConfig{
		Duration: cfg.Duration, Writers: cfg.Adapters, Subs: cfg.Frontends, Rate: cfg.Rate,
		Window: 256, Pattern: PatternAll, IDs: cfg.States, Ack: true, Prefix: "brokerload.0.vis",
		Admin: cfg.Admin, AdminStart: "", AdminEnd: "\u9999", WriterNodes: cfg.AdapterNodes,
	})
	if res != nil {
		res.Scenario = "vis"
	}
	return res, err
}
