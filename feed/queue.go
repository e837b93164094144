// Package feed holds the outbound queue of one connection: producers (the
// state and object change feeds, command handlers) push without blocking, and
// the connection's single writer goroutine takes everything queued at once so
// it can batch frames.
//
// Two lanes share one FIFO order:
//
//   - Keyed items (events; key "s:"+id for a state change) coalesce: a newer
//     item with a key still queued replaces the queued one in place, so a
//     slow client gets the newest value per id at the position of the first.
//     At most capacity distinct keys are queued; one more is refused and the
//     queue reports ErrOverflow, because a client that missed a change has a
//     stale view and must be disconnected to resynchronise (it re-fetches
//     states after reconnecting).
//   - Unkeyed items (acks and replies) are never dropped or coalesced. They
//     are not bounded either, but once more than capacity of them wait the
//     queue also reports ErrOverflow: the client is not reading its replies.
//
// The owner watches Err (or the error of Wait) and Stalled, and closes the
// connection with a reason; the queue itself never disconnects anybody.
package feed

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Errors reported by Err and Wait.
var (
	// ErrOverflow means the queue refused an event or holds more than
	// capacity replies: the consumer is too slow and should be disconnected.
	ErrOverflow = errors.New("feed: queue overflow")
	// ErrClosed means Close was called and everything queued was taken.
	ErrClosed = errors.New("feed: queue closed")
)

// Queue is a bounded, coalescing FIFO for one consumer. Push, the counters and
// Stalled are safe for any number of goroutines; Drain and Wait are meant for
// one consumer goroutine. The zero value is not usable; call New.
type Queue[T any] struct {
	capacity int
	start    time.Time            // base of the monotonic clock below
	now      func() time.Duration // since start; replaced in tests

	mu       sync.Mutex
	items    []entry[T]
	keys     map[string]int // key → index in items
	unkeyed  int            // unkeyed entries in items
	overflow bool
	closed   bool
	signal   chan struct{} // one pending wake-up; closed by Close

	// Read without the lock by monitoring code.
	length       atomic.Int64
	pushed       atomic.Uint64
	coalesced    atomic.Uint64
	dropped      atomic.Uint64
	pendingSince atomic.Int64 // clock value +1 when the queue became non-empty; 0 while empty
}

type entry[T any] struct {
	key  string
	item T
}

// New returns a queue holding at most capacity distinct keys (minimum 1).
func New[T any](capacity int) *Queue[T] {
	q := &Queue[T]{
		capacity: max(capacity, 1),
		start:    time.Now(),
		keys:     make(map[string]int),
		signal:   make(chan struct{}, 1),
	}
	q.now = func() time.Duration { return time.Since(q.start) }
	return q
}

// Push queues item without blocking. With a non-empty key it replaces a queued
// item with the same key, keeping that item's position. It returns false if
// the item was dropped: the queue is closed, or it is a new key and capacity
// keys are already queued (which also sets ErrOverflow). Unkeyed items are
// accepted until Close.
func (q *Queue[T]) Push(key string, item T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.dropped.Add(1)
		return false
	}
	if key != "" {
		if i, ok := q.keys[key]; ok {
			q.items[i].item = item
			q.coalesced.Add(1)
			q.pushed.Add(1)
			return true
		}
		if len(q.keys) >= q.capacity {
			q.dropped.Add(1)
			q.setOverflow()
			return false
		}
		q.keys[key] = len(q.items)
	} else {
		q.unkeyed++
		if q.unkeyed > q.capacity {
			q.setOverflow()
		}
	}
	if len(q.items) == 0 {
		q.pendingSince.Store(int64(q.now()) + 1)
	}
	q.items = append(q.items, entry[T]{key: key, item: item})
	q.length.Store(int64(len(q.items)))
	q.pushed.Add(1)
	q.wake()
	return true
}

// setOverflow records the overflow and wakes the consumer so it notices.
// Called with q.mu held.
func (q *Queue[T]) setOverflow() {
	if !q.overflow {
		q.overflow = true
		q.wake()
	}
}

// wake leaves one pending signal; called with q.mu held and q not closed.
func (q *Queue[T]) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// C returns a channel that receives after items were pushed or an overflow
// happened, and is closed by Close. A receive is a hint: call Drain and Err.
func (q *Queue[T]) C() <-chan struct{} { return q.signal }

// Drain appends every queued item to buf in queue order, empties the queue
// and returns buf. Passing the previous batch as buf[:0] avoids allocation.
func (q *Queue[T]) Drain(buf []T) []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.items {
		buf = append(buf, q.items[i].item)
	}
	clear(q.items) // release items for the garbage collector
	q.items = q.items[:0]
	clear(q.keys)
	q.unkeyed = 0
	q.length.Store(0)
	q.pendingSince.Store(0)
	return buf
}

// Wait blocks until items are queued, then drains them into buf. It returns
// ErrOverflow as soon as the queue overflowed (the connection is to be dropped,
// so what is queued no longer matters), the remaining items and then ErrClosed
// after Close, or ctx.Err().
func (q *Queue[T]) Wait(ctx context.Context, buf []T) ([]T, error) {
	for {
		if err := q.Err(); errors.Is(err, ErrOverflow) {
			return buf, err
		}
		if q.Len() > 0 {
			return q.Drain(buf), nil
		}
		if err := q.Err(); err != nil {
			return buf, err
		}
		select {
		case <-q.signal:
		case <-ctx.Done():
			return buf, ctx.Err()
		}
	}
}

// Close stops accepting items and wakes the consumer; items already queued can
// still be drained. Close is idempotent.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.signal)
	}
}

// Err returns ErrOverflow once the queue overflowed, ErrClosed once it is
// closed and empty, and nil otherwise.
func (q *Queue[T]) Err() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.overflow:
		return ErrOverflow
	case q.closed && len(q.items) == 0:
		return ErrClosed
	}
	return nil
}

// Len returns the number of queued items.
func (q *Queue[T]) Len() int { return int(q.length.Load()) }

// Cap returns the maximum number of distinct queued keys.
func (q *Queue[T]) Cap() int { return q.capacity }

// Pushed returns the number of items accepted by Push, coalesced ones included.
func (q *Queue[T]) Pushed() uint64 { return q.pushed.Load() }

// Coalesced returns the number of items that replaced a queued item.
func (q *Queue[T]) Coalesced() uint64 { return q.coalesced.Load() }

// Dropped returns the number of items Push refused.
func (q *Queue[T]) Dropped() uint64 { return q.dropped.Load() }

// Stalled returns how long the queue has been non-empty without being fully
// drained; 0 while it is empty. This is "time since last fully drained"
// without the false alarm for an idle connection: the clock starts when the
// first item arrives after a drain, so a writer blocked on a slow socket shows
// up here while a quiet connection does not.
func (q *Queue[T]) Stalled() time.Duration {
	since := q.pendingSince.Load()
	if since == 0 {
		return 0
	}
	return max(q.now()-time.Duration(since-1), 0)
}
