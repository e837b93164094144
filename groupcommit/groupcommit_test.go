package groupcommit

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func openDB(t testing.TB) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "t.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func put(key string) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("t"))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), []byte("v"))
	}
}

func TestDoneRunsInSubmissionOrderAfterCommit(t *testing.T) {
	db := openDB(t)
	c := New(db)
	defer c.Close()
	var mu sync.Mutex
	var order []int
	var waits []func() error
	mu.Lock()
	for i := 0; i < 500; i++ {
		i := i
		waits = append(waits, c.Enqueue(Op{Apply: put(fmt.Sprint(i)), Done: func(err error) {
			if err != nil {
				t.Error(err)
			}
			// The value must already be readable: Done runs after commit.
			db.View(func(tx *bolt.Tx) error {
				if tx.Bucket([]byte("t")).Get([]byte(fmt.Sprint(i))) == nil {
					t.Errorf("op %d published before commit", i)
				}
				return nil
			})
			order = append(order, i)
		}}))
	}
	mu.Unlock()
	for _, w := range waits {
		if err := w(); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range order {
		if v != i {
			t.Fatalf("done order broken at %d: %d", i, v)
		}
	}
	if s := c.Stats(); s.Ops != 500 || s.Batches == 0 || s.Batches > 500 {
		t.Fatalf("stats %+v", s)
	}
}

func TestConcurrentWritersShareCommits(t *testing.T) {
	db := openDB(t)
	c := New(db)
	defer c.Close()
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := c.Submit(Op{Apply: put(fmt.Sprint(w, "-", i))}); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	s := c.Stats()
	if s.Ops != 32*50 {
		t.Fatalf("ops %d", s.Ops)
	}
	if s.Batches >= s.Ops {
		t.Fatalf("no grouping: %d batches for %d ops", s.Batches, s.Ops)
	}
	n := 0
	db.View(func(tx *bolt.Tx) error { n = tx.Bucket([]byte("t")).Stats().KeyN; return nil })
	if n != 32*50 {
		t.Fatalf("stored %d keys", n)
	}
}

func TestFailingOpIsolated(t *testing.T) {
	db := openDB(t)
	c := New(db)
	defer c.Close()
	boom := errors.New("boom")
	// Hold the committer busy so the three ops land in one batch.
	block := make(chan struct{})
	first := c.Enqueue(Op{Apply: func(tx *bolt.Tx) error { <-block; return put("first")(tx) }})
	w1 := c.Enqueue(Op{Apply: put("a")})
	w2 := c.Enqueue(Op{Apply: func(*bolt.Tx) error { return boom }})
	w3 := c.Enqueue(Op{Apply: put("b")})
	close(block)
	if err := first(); err != nil {
		t.Fatal(err)
	}
	if err := w1(); err != nil {
		t.Fatalf("a: %v", err)
	}
	if err := w2(); !errors.Is(err, boom) {
		t.Fatalf("failing op got %v", err)
	}
	if err := w3(); err != nil {
		t.Fatalf("b: %v", err)
	}
	db.View(func(tx *bolt.Tx) error {
		for _, k := range []string{"a", "b", "first"} {
			if tx.Bucket([]byte("t")).Get([]byte(k)) == nil {
				t.Errorf("%s lost", k)
			}
		}
		return nil
	})
}

func TestClosedRefuses(t *testing.T) {
	db := openDB(t)
	c := New(db)
	if err := c.Submit(Op{Apply: put("x")}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	var doneErr error
	if err := c.Submit(Op{Apply: put("y"), Done: func(err error) { doneErr = err }}); !errors.Is(err, ErrClosed) || !errors.Is(doneErr, ErrClosed) {
		t.Fatalf("after close: %v / %v", err, doneErr)
	}
}

func TestReadOnlyDatabaseFailsEveryOp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	c := New(ro)
	defer c.Close()
	if err := c.Submit(Op{Apply: put("x")}); err == nil {
		t.Fatal("write to read-only database succeeded")
	}
}

func BenchmarkSubmitParallel(b *testing.B) {
	db := openDB(b)
	c := New(db)
	defer c.Close()
	b.SetParallelism(8)
	var n int64
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			k := fmt.Sprint(n)
			mu.Unlock()
			if err := c.Submit(Op{Apply: put(k)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	s := c.Stats()
	b.ReportMetric(float64(s.Ops)/float64(s.Batches), "ops/commit")
}

// TestCommitFailureAfterMetaWriteBreaks simulates bbolt writing the meta page
// of a commit and then failing to sync it: the transaction is visible but its
// writers were told it failed. Every later op must be refused until reopen.
func TestCommitFailureAfterMetaWriteBreaks(t *testing.T) {
	db := openDB(t)
	syncErr := errors.New("fdatasync: input/output error")
	var failNext sync.Mutex
	fail := false
	c := newCommitter(db, func(fn func(*bolt.Tx) error) error {
		err := db.Update(fn)
		failNext.Lock()
		defer failNext.Unlock()
		if fail && err == nil {
			return syncErr
		}
		return err
	})
	defer c.Close()
	if err := c.Submit(Op{Apply: put("ok")}); err != nil {
		t.Fatal(err)
	}
	failNext.Lock()
	fail = true
	failNext.Unlock()
	var doneErr error
	err := c.Submit(Op{Apply: put("lost"), Done: func(err error) { doneErr = err }})
	if !errors.Is(err, ErrBroken) || !errors.Is(doneErr, ErrBroken) || !strings.Contains(err.Error(), syncErr.Error()) {
		t.Fatalf("failed sync: Submit %v, Done %v; want ErrBroken naming the cause", err, doneErr)
	}
	failNext.Lock()
	fail = false
	failNext.Unlock()
	if err := c.Submit(Op{Apply: put("after")}); !errors.Is(err, ErrBroken) {
		t.Fatalf("write after a broken commit: %v, want ErrBroken", err)
	}
	if !errors.Is(c.Err(), ErrBroken) {
		t.Fatalf("Err() = %v", c.Err())
	}
	db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("t")).Get([]byte("after")) != nil {
			t.Error("a write after the broken commit reached the file")
		}
		return nil
	})
}

// TestCommitFailureBeforeMetaWriteRecovers: bbolt rolled back (disk full),
// nothing became visible, so the next write goes through.
func TestCommitFailureBeforeMetaWriteRecovers(t *testing.T) {
	db := openDB(t)
	full := errors.New("write t.db: no space left on device")
	var mu sync.Mutex
	fail := true
	c := newCommitter(db, func(fn func(*bolt.Tx) error) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			fail = false
			return db.Update(func(tx *bolt.Tx) error {
				if err := fn(tx); err != nil {
					return err
				}
				return full // rolls back like a failed page write
			})
		}
		return db.Update(fn)
	})
	defer c.Close()
	if err := c.Submit(Op{Apply: put("x")}); !errors.Is(err, full) {
		t.Fatalf("got %v, want the disk error", err)
	}
	if err := c.Submit(Op{Apply: put("y")}); err != nil {
		t.Fatalf("write after space returned: %v", err)
	}
	if c.Err() != nil {
		t.Fatalf("committer broken after a clean rollback: %v", c.Err())
	}
}
