package states

import (
	"container/heap"
	"time"
)

// expiry is the one timer structure of a store: a min-heap of deadlines
// served by a single goroutine and time.Timer. Its heap is guarded by the
// store mutex; a write cancels or re-arms the item of its entry in O(log n).
type expiry struct {
	s    *BoltStore
	h    expHeap
	wake chan struct{} // the earliest deadline changed
	quit chan struct{}
	done chan struct{}
}

type expItem struct {
	at    int64 // deadline, ms
	id    string
	e     *entry
	index int
}

type expHeap []*expItem

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *expHeap) Push(x any) {
	it := x.(*expItem)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *expHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}

func (x *expiry) init(s *BoltStore) {
	x.s = s
	x.wake = make(chan struct{}, 1)
	x.quit = make(chan struct{})
	x.done = make(chan struct{})
}

// arm schedules the expiry of e.cur. Called with the store mutex held.
func (x *expiry) arm(id string, e *entry) {
	it := &expItem{at: e.cur.ExpireAt, id: id, e: e}
	heap.Push(&x.h, it)
	e.item = it
	if it.index == 0 {
		x.poke()
	}
}

// cancel removes the armed expiry of e. Called with the store mutex held.
func (x *expiry) cancel(e *entry) {
	if e.item.index >= 0 {
		heap.Remove(&x.h, e.item.index)
	}
	e.item = nil
}

func (x *expiry) poke() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

func (x *expiry) stop() {
	select {
	case <-x.quit:
	default:
		close(x.quit)
	}
	<-x.done
}

// run waits for the earliest deadline and deletes what is due. The deletion
// goes through the committer and publishes Change{State: nil} when durable.
func (x *expiry) run() {
	defer close(x.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		x.s.mu.Lock()
		now := x.s.now().UnixMilli()
		for len(x.h) > 0 && x.h[0].at <= now {
			it := x.h[0]
			x.s.deleteLocked(it.id, it.e, true) // cancels it via setCur
		}
		d := time.Hour
		if len(x.h) > 0 {
			d = time.Duration(x.h[0].at-now) * time.Millisecond
		}
		x.s.mu.Unlock()
		t.Reset(d)
		select {
		case <-t.C:
		case <-x.wake:
		case <-x.quit:
			return
		}
	}
}
