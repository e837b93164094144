package broker

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/brokerd/brokerd/config"
)

// newIdleBroker builds a broker on a fresh data directory without serving it.
func newIdleBroker(t *testing.T, mod func(*config.Config)) *Broker {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(cfg, Options{Version: "test", LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func hostAliveID(t *testing.T) string {
	t.Helper()
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "brokerd"
	}
	return "system.host." + host + ".alive"
}

// TestHostStatsIntervalFromConfig: host_stats.interval reaches the publisher
// (alive expires after two intervals, so the expiry shows the interval
// without waiting for a tick), and 0 turns the host states off.
func TestHostStatsIntervalFromConfig(t *testing.T) {
	b := newIdleBroker(t, func(c *config.Config) { c.HostStats.Interval = config.Duration(time.Hour) })
	s, ok := b.stores.States.Get(hostAliveID(t))
	if !ok || s.Val != true || s.ExpireAt-s.TS != (2*time.Hour).Milliseconds() {
		t.Fatalf("alive with host_stats.interval 1h: %+v (present %v), want an expiry of 2h", s, ok)
	}

	off := newIdleBroker(t, func(c *config.Config) { c.HostStats.Interval = 0 })
	if off.hosts != nil {
		t.Error("host_stats.interval 0 started a publisher")
	}
	if s, ok := off.stores.States.Get(hostAliveID(t)); ok {
		t.Errorf("host_stats.interval 0 published alive: %+v", s)
	}
}
