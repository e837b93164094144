package files

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkWriteFile: one 4 KiB write per op, fsync'd, over 1,000 names.
func BenchmarkWriteFile(b *testing.B) {
	e := newEnvSync(b, "", true)
	data := make([]byte, 4<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := e.s.Write("vis.0", fmt.Sprintf("bench/f%d.bin", i%1000), data, false, WriteOptions{}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteFileParallel: the same from many goroutines; group commit
// shares each fsync among the writers that arrived during the previous one.
func BenchmarkWriteFileParallel(b *testing.B) {
	e := newEnvSync(b, "", true)
	data := make([]byte, 4<<10)
	b.SetBytes(int64(len(data)))
	b.SetParallelism(16)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if err := e.s.Write("vis.0", fmt.Sprintf("bench/f%d.bin", i%1000), data, false, WriteOptions{}, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReadDir lists a folder of 1,000 files in a namespace of 50,000.
func BenchmarkReadDir(b *testing.B) {
	e := newEnv(b, "")
	const folders, per = 50, 1000
	var wg sync.WaitGroup
	work := make(chan string, 256)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				if err := e.s.Write("vis.0", name, []byte("{}"), true, WriteOptions{}, nil); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for f := range folders {
		for i := range per {
			work <- fmt.Sprintf("project%02d/views/view%04d.json", f, i)
		}
	}
	close(work)
	wg.Wait()
	if got, _ := e.s.ReadDir("vis.0", "", nil); len(got) != folders {
		b.Fatalf("%d folders", len(got))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		es, err := e.s.ReadDir("vis.0", "project25/views", alice)
		if err != nil || len(es) != per {
			b.Fatalf("%d entries, %v", len(es), err)
		}
	}
}
