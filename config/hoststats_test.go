package config

import (
	"strings"
	"testing"
	"time"
)

func TestHostStatsInterval(t *testing.T) {
	if got := Default().HostStats.Interval.Std(); got != 15*time.Second {
		t.Fatalf("default host_stats.interval %v, want 15s", got)
	}
	for _, c := range []struct {
		name, body string
		env        []string
		want       time.Duration
	}{
		{"yaml", "host_stats:\n  interval: 1m\n", nil, time.Minute},
		{"yaml minimum", "host_stats:\n  interval: 1s\n", nil, time.Second},
		{"yaml disabled", "host_stats:\n  interval: 0s\n", nil, 0},
		{"env", "", []string{"BROKERD_HOST_STATS_INTERVAL=30s"}, 30 * time.Second},
		{"env wins over yaml", "host_stats:\n  interval: 1m\n", []string{"BROKERD_HOST_STATS_INTERVAL=0"}, 0},
	} {
		path := ""
		if c.body != "" {
			path = write(t, c.body)
		}
		cfg, err := Load(path, c.env)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := cfg.HostStats.Interval.Std(); got != c.want {
			t.Errorf("%s: interval %v, want %v", c.name, got, c.want)
		}
	}
}

func TestHostStatsIntervalRefused(t *testing.T) {
	for _, c := range []struct {
		name, body string
		env        []string
		want       string
	}{
		{"too short", "log: {level: info}\nhost_stats:\n  interval: 500ms\n", nil,
			`line 3: host_stats.interval: must be 0 (disabled) or at least 1s`},
		{"negative", "host_stats:\n  interval: -15s\n", nil, `line 2: host_stats.interval: must be 0 (disabled) or at least 1s`},
		{"not a duration", "host_stats:\n  interval: often\n", nil, `"often" is not a duration`},
		{"unknown key", "host_stats:\n  period: 15s\n", nil, `key period is not a known key`},
		{"env too short", "", []string{"BROKERD_HOST_STATS_INTERVAL=10ms"}, `config: host_stats.interval: must be 0 (disabled) or at least 1s`},
		{"env not a duration", "", []string{"BROKERD_HOST_STATS_INTERVAL=15"}, `environment BROKERD_HOST_STATS_INTERVAL: "15" is not a duration`},
	} {
		path := ""
		if c.body != "" {
			path = write(t, c.body)
		}
		_, err := Load(path, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// TestHostStatsIntervalDocumented: the key and its variable are in the reference.
func TestHostStatsIntervalDocumented(t *testing.T) {
	if !strings.Contains(Reference(), "| `host_stats.interval` | `BROKERD_HOST_STATS_INTERVAL` | `15s` |") {
		t.Error("host_stats.interval missing from the reference")
	}
}
