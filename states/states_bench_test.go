package states

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerd/brokerd/database"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkSetState measures durable setState throughput with 1, 8 and 64
// concurrent writers (each on its own ids), and how many writes share one
// commit (fsync).
func BenchmarkSetState(b *testing.B) {
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, db := openStore(b, b.TempDir())
			ids := make([]string, writers*16)
			for i := range ids {
				ids[i] = fmt.Sprintf("bench.0.device%d.state%d", i/16, i%16)
			}
			before := db.Committer.Stats()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for g := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						id := ids[g*16+int(i%16)]
						if _, err := s.Set(id, Write{Val: float64(i), HasVal: true, Ack: ptr(true), From: "system.adapter.bench.0"}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			after := db.Committer.Stats()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
			if n := after.Batches - before.Batches; n > 0 {
				b.ReportMetric(float64(after.Ops-before.Ops)/float64(n), "ops/commit")
			}
		})
	}
}

func benchState() *State {
	return &State{Val: 21.5, Ack: true, TS: 1700000000123, Q: 0, From: "system.adapter.hm-rpc.0",
		User: "system.user.admin", LC: 1700000000000}
}

// BenchmarkEncodeState compares the hand-written encoder with encoding/json.
func BenchmarkEncodeState(b *testing.B) {
	states := map[string]*State{
		"number": benchState(),
		"string": {Val: "Wohnzimmer <Licht> an", Ack: false, TS: 1700000000123, From: "system.adapter.socketio.0",
			User: "system.user.admin", LC: 1700000000000, C: "from vis"},
		"bool": {Val: true, TS: 1700000000123, LC: 1700000000000},
	}
	for name, st := range states {
		b.Run("hand/"+name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			for b.Loop() {
				buf = AppendJSON(buf[:0], st)
			}
		})
		b.Run("encoding_json/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(st); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen100k measures opening a database with 100,000 states: bbolt
// open plus loading every state into memory.
func BenchmarkOpen100k(b *testing.B) {
	dir := b.TempDir()
	db, err := database.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	if err := db.Bolt.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(Bucket)
		if err != nil {
			return err
		}
		for i := range n {
			st := benchState()
			st.Val = float64(i)
			if i%10 == 0 {
				st.Val = fmt.Sprintf("text value %d", i)
			}
			if i%100 == 0 {
				st.Expire, st.ExpireAt = true, time.Now().Add(time.Hour).UnixMilli()
			}
			id := fmt.Sprintf("hm-rpc.0.DEV%07d:1.STATE", i)
			if err := bk.Put([]byte(id), appendDisk(nil, st)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	db.Close()
	b.ResetTimer()
	for b.Loop() {
		db, err := database.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		s, err := Open(db)
		if err != nil {
			b.Fatal(err)
		}
		if s.Len() != n {
			b.Fatalf("Len = %d", s.Len())
		}
		s.Close()
		db.Close()
	}
}
