package transport

import (
	"sync"
	"time"
)

// outbox is a connection's outbound queue, drained by its writer goroutine.
//
// Acks are kept in order and never dropped; their number is bounded by the
// command runner, which waits (waitAckRoom) while too many are pending.
// Events carry a key ("s<id>", "o<id>", "f<ns>\x00<file>"). A client that
// keeps up gets every event in order. Once more than coalesceAt events are
// pending (the client fell behind), an event whose key is still queued
// replaces that queued frame in place, so a slow client gets the latest value
// per id instead of every intermediate one. More than maxEvents pending
// events mark the client as too slow (push returns false and the connection
// is closed) — the stores never wait.
//
// Unlike feed.Queue (always coalescing, generic), this box also carries acks
// with the ack backpressure of the command runner, so the transport keeps it.
type outbox struct {
	mu         sync.Mutex
	cond       *sync.Cond // signalled when items are taken or the box closes
	items      []*outItem
	keyed      map[string]*outItem
	acks       int
	maxEvents  int
	coalesceAt int
	coalesced  int // events merged into a newer one since the last take
	// onCoalesced reports merged events (metrics); called under mu.
	onCoalesced func(n int)
	// stalledSince is when the box last became non-empty without being
	// fully taken since (zero when empty).
	stalledSince time.Time
	wake         chan struct{}
	closed       bool
	// start, when set, replaces wake: the writer runs only while frames are
	// queued (takeOrIdle ends it), so an idle connection parks no goroutine.
	start   func()
	running bool
}

type outItem struct {
	key string // "" for acks and unkeyed events
	f   frame
}

func newOutbox(maxEvents int) *outbox {
	b := &outbox{keyed: map[string]*outItem{}, maxEvents: maxEvents, coalesceAt: maxEvents / 2, wake: make(chan struct{}, 1)}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// wantWriter reports, under mu, whether a writer must be started.
func (b *outbox) wantWriter() bool {
	if b.start == nil || b.running || b.closed {
		return false
	}
	b.running = true
	return true
}

// wakeWriter hands new frames to the writer; run is wantWriter's answer.
func (b *outbox) wakeWriter(run bool) {
	if b.start != nil {
		if run {
			go b.start()
		}
		return
	}
	b.signal()
}

func (b *outbox) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// pushAck queues an acknowledgement (or any frame that must not be merged).
func (b *outbox) pushAck(f frame) {
	b.mu.Lock()
	run := false
	if !b.closed {
		b.items = append(b.items, &outItem{f: f})
		b.acks++
		run = b.wantWriter()
	}
	b.mu.Unlock()
	b.wakeWriter(run)
}

// pushEvent queues an event frame, merging it into a pending one with the
// same key. It reports false when the client is too far behind.
func (b *outbox) pushEvent(key string, f frame) bool {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return true
	}
	events := len(b.items) - b.acks
	if key != "" && events >= b.coalesceAt {
		if it := b.keyed[key]; it != nil {
			it.f = f
			b.coalesced++
			b.mu.Unlock()
			return true
		}
	}
	if events >= b.maxEvents {
		b.mu.Unlock()
		return false
	}
	it := &outItem{key: key, f: f}
	if len(b.items) == 0 {
		b.stalledSince = time.Now()
	}
	b.items = append(b.items, it)
	if key != "" {
		b.keyed[key] = it
	}
	run := b.wantWriter()
	b.mu.Unlock()
	b.wakeWriter(run)
	return true
}

// take removes and returns everything queued (nil when empty).
func (b *outbox) take() []*outItem {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.takeLocked()
}

// takeOrIdle is take for an on-demand writer: nil means the box is empty
// and the writer must end (the next push starts a new one).
func (b *outbox) takeOrIdle() []*outItem {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.items) == 0 {
		b.running = false
		return nil
	}
	return b.takeLocked()
}

func (b *outbox) takeLocked() []*outItem {
	items := b.items
	if len(items) == 0 {
		return nil
	}
	b.items = nil
	b.acks = 0
	b.stalledSince = time.Time{}
	if b.onCoalesced != nil && b.coalesced > 0 {
		b.onCoalesced(b.coalesced)
	}
	b.coalesced = 0
	clear(b.keyed)
	b.cond.Broadcast()
	return items
}

// setOnCoalesced installs the metrics callback for merged events.
func (b *outbox) setOnCoalesced(fn func(n int)) {
	b.mu.Lock()
	b.onCoalesced = fn
	b.mu.Unlock()
}

// pending is the number of frames not yet taken by the writer.
func (b *outbox) pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items)
}

// stalled is how long queued frames have been waiting to be taken.
func (b *outbox) stalled() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stalledSince.IsZero() {
		return 0
	}
	return time.Since(b.stalledSince)
}

// waitAckRoom blocks while more than limit acks are pending; false once closed.
func (b *outbox) waitAckRoom(limit int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.acks > limit && !b.closed {
		b.cond.Wait()
	}
	return !b.closed
}

func (b *outbox) close() {
	b.mu.Lock()
	b.closed = true
	b.items = nil
	clear(b.keyed)
	b.cond.Broadcast()
	b.mu.Unlock()
	b.signal()
}
