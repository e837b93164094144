package transport

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

const (
	// inboundQueue bounds commands waiting for the command goroutine; when
	// full, the library's per-socket task goroutine waits.
	inboundQueue = 1024
	// pendingAcks bounds unsent acks: the command goroutine waits for the
	// writer before running more commands.
	pendingAcks = 256
	// inflightFrames bounds frames handed to Engine.IO but not yet written
	// to the wire (the library buffers without limit).
	inflightFrames = 256
)

// conn is one connected socket.
type conn struct {
	srv  *Server
	sock *socket.Socket
	id   string // socket id (the Engine.IO sid for EIO3)
	sess Session
	// ended is set once the session expired: nothing but the final
	// reauthenticate frame is sent after it.
	ended atomic.Bool

	in cmdQueue
	// durable runs the acks of pipelined writes in order once they are on disk.
	durable     chan func()
	durableOnce sync.Once
	out         *outbox
	done        chan struct{}
	once        sync.Once

	// flow control of the writer: frames written vs confirmed by Engine.IO.
	fmu       sync.Mutex
	written   uint64
	confirmed uint64
	flow      chan struct{}

	// lim is the command rate limit and flood detector (limits.go).
	lim connLimits

	// instance is the adapter instance this socket acts for ("" = none).
	instance string

	// transport and eio label the connection in the metrics.
	transport string
	eio       int

	mu         sync.Mutex
	requests   map[uint64]chan []any // server→client requests awaiting their ack
	nextReq    uint64
	name       string
	clientSubs map[[2]string]bool // clientSubscribe (target, type)
}

type inbound struct {
	name string
	args []any
	ack  *ackID
}

func newConn(s *Server, sock *socket.Socket, sess Session) *conn {
	c := &conn{
		srv:        s,
		sock:       sock,
		id:         string(sock.Id()),
		sess:       sess,
		out:        newOutbox(s.opts.EventQueue),
		done:       make(chan struct{}),
		flow:       make(chan struct{}, 1),
		clientSubs: map[[2]string]bool{},
	}
	c.in.start = c.runCommands
	c.out.start = c.runWriter
	return c
}

// onEvent is the library's any-listener: it runs on the socket's task
// goroutine in arrival order and only queues the event.
func (c *conn) onEvent(args ...any) {
	if len(args) == 0 {
		return
	}
	ev := inbound{}
	switch n := args[0].(type) {
	case clientAck:
		c.resolve(n)
		return
	case string:
		ev.name = n
	default:
		ev.name = jsString(n) // numeric event names are legal in Socket.IO
	}
	rest := args[1:]
	if len(rest) > 0 {
		if id, ok := rest[len(rest)-1].(ackID); ok {
			ev.ack = &id
			rest = rest[:len(rest)-1]
		}
	}
	ev.args = make([]any, len(rest))
	for i, a := range rest {
		ev.args[i] = fromWire(a)
	}
	c.in.push(ev, c.done)
}

// fromWire turns the library's binary attachment buffers into []byte.
func fromWire(v any) any {
	switch x := v.(type) {
	case types.BufferInterface:
		if _, text := x.(*types.StringBuffer); text {
			return x.String()
		}
		return append([]byte(nil), x.Bytes()...)
	case []any:
		for i, e := range x {
			x[i] = fromWire(e)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = fromWire(e)
		}
		return x
	}
	return v
}

// runCommands executes the connection's queued commands one after another;
// c.in starts it for the first command and it ends when none is left.
func (c *conn) runCommands() {
	for {
		if c.closed() {
			c.in.stop()
			return
		}
		ev, ok := c.in.next()
		if !ok {
			return
		}
		if !c.out.waitAckRoom(pendingAcks) {
			return
		}
		if ev.name != "updateTokenExpiration" && !c.sess.Alive() {
			c.reauthenticate()
			return
		}
		c.dispatch(ev.name, ev.args, ev.ack)
	}
}

// afterDurable queues fn (which waits for a commit and then acks) behind the
// connection's earlier pipelined writes. A full queue makes the command
// goroutine wait: that is the backpressure on a client writing faster than
// the disk commits.
func (c *conn) afterDurable(fn func()) {
	c.durableOnce.Do(func() {
		c.durable = make(chan func(), pendingAcks)
		go func() {
			for {
				select {
				case f := <-c.durable:
					f()
				case <-c.done:
					// Drain: the writes are applied; their waits must still end.
					for {
						select {
						case f := <-c.durable:
							f()
						default:
							return
						}
					}
				}
			}
		}()
	})
	select {
	case c.durable <- fn:
	case <-c.done:
		fn()
	}
}

// runWriter is the only path to the wire for this connection. c.out starts
// it when frames are queued; it ends when the box is empty.
func (c *conn) runWriter() {
	for {
		if c.closed() {
			return
		}
		items := c.out.takeOrIdle()
		if items == nil {
			return
		}
		c.srv.opts.Metrics.QueueBatch(len(items))
		ct := corkedOf(c.sock.Conn())
		for len(items) > 0 {
			if !c.waitFlow() {
				return
			}
			// Hand at most what the flow window takes as one Engine.IO
			// batch; nothing is held while waitFlow waits for the wire.
			n := min(len(items), c.flowRoom())
			if ct != nil && n > 1 {
				ct.hold.Store(true)
			}
			for i, it := range items[:n] {
				if ct != nil && i == n-1 {
					ct.hold.Store(false) // this last write flushes the batch
				}
				c.writeFrame(it.f)
			}
			items = items[n:]
		}
	}
}

// flowRoom is how many more frames the flow window takes (at least 1 after
// waitFlow).
func (c *conn) flowRoom() int {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	return max(1, inflightFrames-int(c.written-c.confirmed))
}

func (c *conn) writeFrame(f frame) {
	c.fmu.Lock()
	c.written++
	seq := c.written
	c.fmu.Unlock()
	done := func(transports.Transport) { c.confirm(seq) }
	es := c.sock.Conn()
	// Full slice expressions: the library only reads the buffers, but the
	// bytes are shared between connections, so no append may reach them.
	if len(f.bins) == 0 {
		es.Write(types.NewStringBuffer(f.text[:len(f.text):len(f.text)]), nil, done)
		return
	}
	es.Write(types.NewStringBuffer(f.text[:len(f.text):len(f.text)]), nil, nil)
	for i, b := range f.bins {
		var cb func(transports.Transport)
		if i == len(f.bins)-1 {
			cb = done
		}
		es.Write(types.NewBytesBuffer(b[:len(b):len(b)]), nil, cb)
	}
}

func (c *conn) confirm(seq uint64) {
	c.fmu.Lock()
	if seq > c.confirmed {
		c.confirmed = seq
	}
	c.fmu.Unlock()
	select {
	case c.flow <- struct{}{}:
	default:
	}
}

// waitFlow waits until fewer than inflightFrames frames are unconfirmed. A
// client that reads nothing for long is closed instead of buffering forever.
func (c *conn) waitFlow() bool {
	c.fmu.Lock()
	ok := c.written-c.confirmed < inflightFrames
	c.fmu.Unlock()
	if ok {
		return true // the usual case: no timer (one per frame cost 7% CPU in fan-out)
	}
	stall := time.NewTimer(2 * (c.srv.opts.PingInterval + c.srv.opts.PingTimeout))
	defer stall.Stop()
	for {
		c.fmu.Lock()
		ok := c.written-c.confirmed < inflightFrames
		c.fmu.Unlock()
		if ok {
			return true
		}
		select {
		case <-c.flow:
		case <-c.done:
			return false
		case <-stall.C:
			c.srv.log.Warn("client stopped reading, closing", "conn", c.id)
			go c.kill()
			return false
		}
	}
}

func (c *conn) sendAck(id uint64, args []any) {
	f, err := encodeAck(id, args)
	if err != nil {
		c.srv.log.Error("cannot encode ack", "conn", c.id, "err", err)
		f, _ = encodeAck(id, []any{"cannot encode answer: " + err.Error()})
	}
	c.out.pushAck(f)
}

// emit sends a server event that must not be merged with others.
func (c *conn) emit(name string, args ...any) {
	f, err := encodeEvent(name, args...)
	if err != nil {
		c.srv.log.Error("cannot encode event", "conn", c.id, "event", name, "err", err)
		return
	}
	c.push("", f)
}

// push queues a (shared) change frame; key merges it with a queued one.
func (c *conn) push(key string, f frame) {
	if c.ended.Load() {
		return
	}
	if !c.out.pushEvent(key, f) {
		c.srv.log.Warn("client too slow, closing", "conn", c.id, "queued", c.srv.opts.EventQueue)
		c.srv.opts.Metrics.Dropped("slow_consumer", 1)
		go c.kill()
	}
}

func (c *conn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// reauthenticate tells the client its login expired or was revoked and
// closes the socket, so it receives no further data (protocol.md 1.8 C).
func (c *conn) reauthenticate() {
	c.srv.log.Info("session ended, asking client to reauthenticate", "conn", c.id, "user", c.sess.Subject().User)
	if !c.ended.CompareAndSwap(false, true) {
		return
	}
	if f, err := encodeEvent(evReauthenticate); err == nil {
		c.out.pushAck(f) // the unmergeable lane: it is the last frame sent
	}
	// Give the writer a moment to flush it, then close.
	time.AfterFunc(200*time.Millisecond, c.kill)
}

// kill disconnects the socket; close follows from the disconnect event.
func (c *conn) kill() {
	c.sock.Disconnect(true)
	c.close()
}

// close releases everything the connection holds; idempotent.
func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.out.close()
		c.srv.detach(c)
		c.mu.Lock()
		subs := c.clientSubs
		c.clientSubs = nil
		c.mu.Unlock()
		if r := c.srv.router(); len(subs) > 0 {
			byTarget := map[string][]string{}
			for k := range subs {
				byTarget[k[0]] = append(byTarget[k[0]], k[1])
			}
			for target, typ := range byTarget {
				go r.ClientUnsubscribe(target, c.id, typ, "disconnect")
			}
		}
		c.srv.log.Debug("disconnected", "conn", c.id)
	})
}

func (c *conn) setName(n string) {
	c.mu.Lock()
	c.name = n
	c.mu.Unlock()
}
