package feed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestCoalesceKeepsNewestAtFirstPosition(t *testing.T) {
	q := New[string](10)
	q.Push("s:a", "a1")
	q.Push("", "ack1")
	q.Push("s:b", "b1")
	q.Push("s:a", "a2")
	q.Push("", "ack2")
	q.Push("s:a", "a3")
	got := q.Drain(nil)
	if want := []string{"a3", "ack1", "b1", "ack2"}; !slices.Equal(got, want) {
		t.Errorf("Drain = %v, want %v", got, want)
	}
	if q.Coalesced() != 2 || q.Pushed() != 6 || q.Dropped() != 0 {
		t.Errorf("coalesced %d pushed %d dropped %d", q.Coalesced(), q.Pushed(), q.Dropped())
	}
	// After a drain the key is new again and goes to the end.
	q.Push("s:b", "b2")
	q.Push("s:a", "a4")
	if got := q.Drain(got[:0]); !slices.Equal(got, []string{"b2", "a4"}) {
		t.Errorf("second Drain = %v", got)
	}
	if q.Len() != 0 || q.Err() != nil {
		t.Errorf("Len %d Err %v after drain", q.Len(), q.Err())
	}
}

func TestUnkeyedNeverDropped(t *testing.T) {
	q := New[int](2)
	for i := range 10 {
		if !q.Push("", i) {
			t.Fatalf("unkeyed Push(%d) refused", i)
		}
	}
	if got := q.Drain(nil); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("Drain = %v", got)
	}
	// More than capacity replies waiting is still reported.
	if !errors.Is(q.Err(), ErrOverflow) {
		t.Errorf("Err = %v, want ErrOverflow", q.Err())
	}
}

func TestOverflowReported(t *testing.T) {
	q := New[int](2)
	if !q.Push("s:a", 1) || !q.Push("s:b", 1) {
		t.Fatal("push within capacity refused")
	}
	if q.Err() != nil {
		t.Fatalf("Err = %v before overflow", q.Err())
	}
	<-q.C() // drop the wake-up of the pushes
	if q.Push("s:c", 1) {
		t.Fatal("third key accepted at capacity 2")
	}
	select {
	case <-q.C():
	default:
		t.Error("overflow did not wake the consumer")
	}
	if !q.Push("s:a", 2) || !q.Push("", 3) {
		t.Error("coalescing or unkeyed push refused after overflow")
	}
	if q.Dropped() != 1 || !errors.Is(q.Err(), ErrOverflow) {
		t.Errorf("Dropped %d Err %v", q.Dropped(), q.Err())
	}
	if _, err := q.Wait(context.Background(), nil); !errors.Is(err, ErrOverflow) {
		t.Errorf("Wait error = %v, want ErrOverflow", err)
	}
}

func TestCloseDeliversRemaining(t *testing.T) {
	q := New[int](4)
	q.Push("s:a", 1)
	q.Push("", 2)
	q.Close()
	q.Close()
	if q.Push("", 3) || q.Dropped() != 1 {
		t.Error("Push after Close accepted")
	}
	got, err := q.Wait(context.Background(), nil)
	if err != nil || !slices.Equal(got, []int{1, 2}) {
		t.Errorf("Wait = %v, %v", got, err)
	}
	if _, err := q.Wait(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Wait on closed empty queue = %v", err)
	}
	for range q.C() { // ends only if Close closed C
	}
}

func TestWaitContext(t *testing.T) {
	q := New[int](4)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Wait(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v", err)
	}
}

func TestStalled(t *testing.T) {
	q := New[int](4)
	var clock time.Duration
	q.now = func() time.Duration { return clock }

	clock = time.Hour // idle for an hour: not stalled
	if q.Stalled() != 0 {
		t.Errorf("empty queue Stalled = %v", q.Stalled())
	}
	q.Push("s:a", 1)
	clock += 3 * time.Second
	q.Push("s:b", 1) // later pushes do not restart the clock
	clock += 2 * time.Second
	if got := q.Stalled(); got != 5*time.Second {
		t.Errorf("Stalled = %v, want 5s", got)
	}
	q.Drain(nil)
	if q.Stalled() != 0 {
		t.Errorf("Stalled after Drain = %v", q.Stalled())
	}
}

// TestConcurrentPushersOneDrainer checks under -race that with several
// pushers and one draining writer every unkeyed item arrives once and in
// order, and every key delivers increasing values ending with the last one.
func TestConcurrentPushersOneDrainer(t *testing.T) {
	const pushers, keys, rounds = 4, 16, 2000
	type item struct{ pusher, key, val int } // key -1: unkeyed
	// Room for every key and every reply: nothing may be refused here.
	q := New[item](pushers * rounds / 10)

	var wg sync.WaitGroup
	for p := range pushers {
		wg.Go(func() {
			for v := range rounds {
				k := v % keys
				if !q.Push(fmt.Sprintf("s:%d.%d", p, k), item{p, k, v}) {
					t.Errorf("keyed push refused")
				}
				if v%10 == 0 {
					q.Push("", item{p, -1, v})
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); q.Close(); close(done) }()

	last := map[[2]int]int{} // (pusher, key) → last value seen
	nextAck := make([]int, pushers)
	var batch []item
	for {
		var err error
		batch, err = q.Wait(context.Background(), batch[:0])
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range batch {
			if it.key < 0 {
				if it.val != nextAck[it.pusher] {
					t.Fatalf("pusher %d: ack %d, want %d", it.pusher, it.val, nextAck[it.pusher])
				}
				nextAck[it.pusher] += 10
				continue
			}
			k := [2]int{it.pusher, it.key}
			if prev, ok := last[k]; ok && it.val <= prev {
				t.Fatalf("key %v: value %d after %d", k, it.val, prev)
			}
			last[k] = it.val
		}
	}
	<-done
	for p := range pushers {
		if nextAck[p] != rounds {
			t.Errorf("pusher %d: acks up to %d, want %d", p, nextAck[p], rounds)
		}
		for k := range keys {
			if want := rounds - keys + k; last[[2]int{p, k}] != want {
				t.Errorf("key %d.%d: last %d, want %d", p, k, last[[2]int{p, k}], want)
			}
		}
	}
	if q.Dropped() != 0 {
		t.Errorf("Dropped = %d", q.Dropped())
	}
}
