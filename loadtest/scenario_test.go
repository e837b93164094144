package loadtest

import (
	"context"
	"os"
	"testing"
	"time"
)

func metric(t *testing.T, r *Result, name string) float64 {
	t.Helper()
	v, ok := r.Metric(name)
	if !ok {
		t.Fatalf("no metric %q in %+v", name, r.Metrics)
	}
	return v
}

func TestFanoutAccountsEveryDelivery(t *testing.T) {
	url := newFakeBroker(t)
	tests := []struct {
		name string
		cfg  FanoutConfig
	}{
		{"all-paced", FanoutConfig{Writers: 2, Subs: 3, Rate: 400, Pattern: PatternAll}},
		{"prefix-unpaced", FanoutConfig{Writers: 2, Subs: 2, Rate: 0, Window: 8, Pattern: PatternPrefix}},
		{"exact", FanoutConfig{Writers: 3, Subs: 4, Rate: 300, Pattern: PatternExact, IDs: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Duration = 300 * time.Millisecond
			res, err := Fanout(context.Background(), Target{URL: url, EIO: 3}, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			exp, got := metric(t, res, "expected deliveries"), metric(t, res, "received")
			if exp == 0 || got != exp || metric(t, res, "lost") != 0 || len(res.Errors) != 0 {
				t.Fatalf("expected %v received %v errors %v", exp, got, res.Errors)
			}
			if res.Latency["setState→stateChange"].Count != uint64(got) {
				t.Fatalf("latency samples %d, received %v", res.Latency["setState→stateChange"].Count, got)
			}
		})
	}
}

func TestFanoutRejectsBadConfig(t *testing.T) {
	for _, cfg := range []FanoutConfig{
		{Writers: 0, Subs: 1},
		{Writers: 1, Subs: 1, Pattern: "regex"},
		{Writers: 1, Subs: 1, Rate: -1},
		{Writers: 1, Subs: 1, Duration: time.Hour},
	} {
		if _, err := Fanout(context.Background(), Target{URL: "http://127.0.0.1:1", EIO: 3}, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestBulkReadsPreloadedRange(t *testing.T) {
	url := newFakeBroker(t)
	cfg := BulkConfig{Duration: 200 * time.Millisecond, Preload: 50, Conns: 2}
	res, err := Bulk(context.Background(), Target{URL: url, EIO: 3}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v := metric(t, res, "getObjectView items/op"); v != 50 {
		t.Fatalf("view rows/op %v", v)
	}
	if v := metric(t, res, "getStates(*) items/op"); v != 50 {
		t.Fatalf("getStates items/op %v", v)
	}
	if res.Params["preload_written"] != 50 {
		t.Fatalf("preload %v", res.Params)
	}
	// A second run finds the states and skips the preload.
	res, err = Bulk(context.Background(), Target{URL: url, EIO: 3}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Params["preload_written"] != 0 {
		t.Fatalf("preload repeated: %v", res.Params)
	}
}

func TestIdleHoldsConnections(t *testing.T) {
	url := newFakeBroker(t)
	res, err := Idle(context.Background(), Target{URL: url, EIO: 3, PIDs: []int{os.Getpid()}}, IdleConfig{Duration: 100 * time.Millisecond, Conns: 20, Subscribe: "*"})
	if err != nil {
		t.Fatal(err)
	}
	if metric(t, res, "alive at end") != 20 || metric(t, res, "RSS before") <= 0 || len(res.Errors) != 0 {
		t.Fatalf("%+v", res)
	}
}

func TestVisWithAdmin(t *testing.T) {
	url := newFakeBroker(t)
	res, err := Vis(context.Background(), Target{URL: url, EIO: 3}, VisConfig{
		Duration: 400 * time.Millisecond, Frontends: 3, Adapters: 2, Rate: 200, States: 5, Admin: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scenario != "vis" || metric(t, res, "lost") != 0 || metric(t, res, "admin views") < 2 || metric(t, res, "admin rows/view") < 10 {
		t.Fatalf("%+v", res.Metrics)
	}
}

func TestCountElements(t *testing.T) {
	tests := map[string]int{
		`[]`: 0, `{}`: 0, ` [1] `: 1, `[1,[2,3],{"a":[4,5]}]`: 3,
		`{"a,b":"c,]","d":{"e":1}}`: 2, `{"x":"\"],"}`: 1, `null`: 0, ``: 0,
	}
	for in, want := range tests {
		if got := CountElements([]byte(in)); got != want {
			t.Errorf("CountElements(%s) = %d, want %d", in, got, want)
		}
	}
}

func TestCheckLoopback(t *testing.T) {
	for url, ok := range map[string]bool{
		"http://127.0.0.1:8084": true, "http://localhost:8084": true, "ws://[::1]:1": true, "http://127.9.9.9": true,
		"http://10.1.2.3:8084": false, "http://example.com": false, "ftp://127.0.0.1": false, "http://0.0.0.0:8084": false,
	} {
		if err := CheckLoopback(url); (err == nil) != ok {
			t.Errorf("%s: %v", url, err)
		}
	}
}

func TestReadRSS(t *testing.T) {
	v, err := ReadRSS([]int{os.Getpid(), os.Getpid()})
	if err != nil || v <= 0 {
		t.Fatalf("rss %d %v", v, err)
	}
	if _, err := ReadRSS([]int{1 << 30}); err == nil {
		t.Fatal("missing pid accepted")
	}
}
