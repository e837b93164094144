package feed

import (
	"fmt"
	"testing"
)

// BenchmarkQueuePushDrain pushes bursts of 64 items (state changes over 1,000
// ids plus one reply in eight) and drains each burst; ns/op is per push.
func BenchmarkQueuePushDrain(b *testing.B) {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("s:hm-rpc.0.dev%d.STATE", i)
	}
	b.Run("single", func(b *testing.B) {
		q := New[int](len(keys))
		var buf []int
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			key := keys[i%len(keys)]
			if i%8 == 7 {
				key = ""
			}
			q.Push(key, i)
			i++
			if i%64 == 0 {
				buf = q.Drain(buf[:0])
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		q := New[int](len(keys))
		stop := make(chan struct{})
		drained := make(chan struct{})
		go func() { // the connection's writer
			defer close(drained)
			var buf []int
			for {
				select {
				case <-q.C():
					buf = q.Drain(buf[:0])
				case <-stop:
					return
				}
			}
		}()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				q.Push(keys[i%len(keys)], i)
				i++
			}
		})
		close(stop)
		<-drained
	})
}
