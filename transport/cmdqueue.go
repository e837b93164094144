package transport

import "sync"

// cmdQueue is a connection's FIFO of received commands, bounded by
// inboundQueue. It holds no buffer while empty and no goroutine while idle:
// the first command of a burst starts the runner (start), which exits once
// the queue is empty again. A buffered channel would cost its full capacity
// (≈48 KB) and a parked goroutine on every idle connection.
type cmdQueue struct {
	mu      sync.Mutex
	items   []inbound
	head    int
	running bool
	start   func()        // runs the commands; set once before the first push
	room    chan struct{} // cap 1: signalled when a full queue was drained
}

// push appends ev, waiting while the queue is full; false once done closes.
func (q *cmdQueue) push(ev inbound, done <-chan struct{}) bool {
	for {
		q.mu.Lock()
		if len(q.items)-q.head < inboundQueue {
			if len(q.items) == cap(q.items) && q.head > 0 {
				n := copy(q.items, q.items[q.head:])
				clear(q.items[n:])
				q.items, q.head = q.items[:n], 0
			}
			q.items = append(q.items, ev)
			startRunner := !q.running
			q.running = true
			q.mu.Unlock()
			if startRunner {
				go q.start()
			}
			return true
		}
		if q.room == nil {
			q.room = make(chan struct{}, 1)
		}
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-done:
			return false
		}
	}
}

// next returns the oldest command, or false when the queue is empty; the
// caller (the runner) must then exit, the next push starts a new one.
func (q *cmdQueue) next() (inbound, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		q.running = false
		if cap(q.items) > 64 {
			q.items = nil // give a burst's buffer back
		} else {
			q.items = q.items[:0]
		}
		q.head = 0
		return inbound{}, false
	}
	ev := q.items[q.head]
	q.items[q.head] = inbound{}
	q.head++
	if q.room != nil && len(q.items)-q.head == inboundQueue-1 {
		select {
		case q.room <- struct{}{}:
		default:
		}
	}
	return ev, true
}

// stop ends the runner without taking more commands (the connection closed).
func (q *cmdQueue) stop() {
	q.mu.Lock()
	q.running = false
	q.mu.Unlock()
}

// len is the number of commands waiting.
func (q *cmdQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}
