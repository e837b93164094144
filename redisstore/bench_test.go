package redisstore

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/states"
)

// Redis against bbolt in one run: go test -run X -bench . ./redisstore

type benchBackend struct {
	name string
	open func(b *testing.B) states.Store
}

func benchBackends() []benchBackend {
	return []benchBackend{
		{"bbolt", func(b *testing.B) states.Store {
			db, err := database.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			s, err := states.Open(db)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close(); db.Close() })
			return s
		}},
		{"redis", func(b *testing.B) states.Store {
			s, err := OpenStates(testOptions(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.Close)
			return s
		}},
	}
}

// setParallel writes n states with the given writer count, ids from id(i).
func setParallel(b *testing.B, s states.Store, writers, n int, id func(g, i int) string) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if _, err := s.Set(id(g, int(i)), states.Write{Val: float64(i), HasVal: true, Ack: ptr(true), From: "system.adapter.bench.0"}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkSetState: durable setState throughput with 1 and 64 writers.
func BenchmarkSetState(b *testing.B) {
	for _, be := range benchBackends() {
		for _, writers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", be.name, writers), func(b *testing.B) {
				s := be.open(b)
				b.ResetTimer()
				d := setParallel(b, s, writers, b.N, func(g, i int) string {
					return fmt.Sprintf("bench.0.device%d.state%d", g, i%16)
				})
				b.ReportMetric(float64(b.N)/d.Seconds(), "ops/s")
			})
		}
	}
}

// BenchmarkGetStates100k: one getStates of all 100,000 ids (GetMany), the
// read path of getStates(pattern) after the object view.
func BenchmarkGetStates100k(b *testing.B) {
	const n = 100_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("hm-rpc.0.dev%d.ch%d.STATE", i/100, i%100)
	}
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			d := setParallel(b, s, 64, n, func(_, i int) string { return ids[i-1] })
			b.Logf("%s: loaded %d states in %v (%.0f sets/s)", be.name, n, d, n/d.Seconds())
			b.ResetTimer()
			for range b.N {
				got := s.GetMany(ids)
				if got[n-1] == nil {
					b.Fatal("missing state")
				}
			}
		})
	}
}
