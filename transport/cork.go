package transport

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// The library's WebSocket transport writes every packet as its own message
// through gorilla, which hands every frame (and, with its 1 KiB buffer, every
// KiB of a large message) to the socket with its own write(2). In a fan-out
// that system call was 37-45 % of the server's CPU (docs/performance.md). A
// corked connection collects what one Send of the transport writes and hands
// it to the kernel in one call when the transport reports the batch written
// ("drain").

// corkLimit bounds the bytes held back: a larger batch goes out in pieces.
const corkLimit = 64 << 10

// corkCloseWait bounds how long Close spends writing what is still held.
const corkCloseWait = time.Second

var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// corkConn passes writes through, except between cork and uncork, when they
// are collected (up to corkLimit) and written on uncork.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked int
	buf    *[]byte // held bytes; nil when nothing is held (idle connections keep no buffer)
	err    error   // first write error; the connection is closed then
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.corked == 0 {
		return c.writeLocked(p)
	}
	if c.buf == nil {
		c.buf = corkBufs.Get().(*[]byte)
	}
	if len(*c.buf)+len(p) > corkLimit {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= corkLimit {
			return c.writeLocked(p)
		}
		c.buf = corkBufs.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

func (c *corkConn) writeLocked(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.fail(err)
	}
	return n, err
}

func (c *corkConn) fail(err error) {
	if c.err == nil {
		c.err = err
		_ = c.Conn.Close() // the reader sees the close and ends the session
	}
}

// flushLocked writes the held bytes and returns the buffer to the pool.
func (c *corkConn) flushLocked() error {
	if c.buf == nil {
		return c.err
	}
	b := c.buf
	c.buf = nil
	var err error
	if len(*b) > 0 && c.err == nil {
		_, err = c.writeLocked(*b)
	}
	if cap(*b) <= 2*corkLimit {
		*b = (*b)[:0]
		corkBufs.Put(b)
	}
	if err != nil {
		return err
	}
	return c.err
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked++
	c.mu.Unlock()
}

func (c *corkConn) uncork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked > 0 {
		c.corked--
	}
	if c.corked == 0 {
		_ = c.flushLocked()
	}
}

// Close writes what is held (a last frame such as "reauthenticate" must not
// be lost), bounded by corkCloseWait so a client that reads nothing cannot
// hold it up, then closes.
func (c *corkConn) Close() error {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(corkCloseWait)) // also ends a write stuck in progress
	c.mu.Lock()
	c.corked = 0
	_ = c.flushLocked()
	c.mu.Unlock()
	return c.Conn.Close()
}

// corkHijacker hands gorilla a corked connection when it takes over a
// WebSocket upgrade request. The library keeps the request's context (and
// with it this writer) for the whole session; once hijacked, the writer
// lets go of net/http's response, which would otherwise pin its 4 KiB read
// and 2 KiB write buffers for the life of every connection.
type corkHijacker struct {
	http.ResponseWriter
}

func (h *corkHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.ResponseWriter = hijackedWriter{}
	return &corkConn{Conn: nc}, rw, nil
}

func (h *corkHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// hijackedWriter stands in for a response whose connection was taken over.
type hijackedWriter struct{}

func (hijackedWriter) Header() http.Header       { return http.Header{} }
func (hijackedWriter) Write([]byte) (int, error) { return 0, http.ErrHijacked }
func (hijackedWriter) WriteHeader(int)           {}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// corkedTransport corks its connection for every Send; the transport's
// "drain" (emitted once the batch is written) uncorks it.
//
// hold lets the connection's writer hand a batch of frames to Engine.IO as
// one Send: while held the transport reports itself not writable, so the
// engine queues the frames in its write buffer, and the writer's last frame
// (written after release) flushes them all. Without it every frame was its
// own Send: a queue hand-off, a drain and a flush per frame and subscriber.
type corkedTransport struct {
	transports.Transport
	cork  *corkConn
	hold  atomic.Bool
	sends atomic.Int64 // Engine.IO batches handed to the transport (tests)
}

func (t *corkedTransport) Writable() bool {
	return !t.hold.Load() && t.Transport.Writable()
}

// corkedOf returns the corked transport of an engine socket, or nil.
func corkedOf(es engine.Socket) *corkedTransport {
	if es == nil {
		return nil
	}
	tr := es.Transport()
	if g, ok := tr.(*gatedTransport); ok {
		tr = g.Transport
	}
	ct, _ := tr.(*corkedTransport)
	return ct
}

func (t *corkedTransport) Send(packets []*packet.Packet) {
	t.sends.Add(1)
	t.cork.cork()
	t.Transport.Send(packets)
}

// withCork wraps a WebSocket transport whose connection came through
// corkHijacker; other transports are returned unchanged.
func withCork(t transports.Transport, ctx *types.HttpContext) transports.Transport {
	if t.Name() != transports.WEBSOCKET || ctx.Websocket == nil || ctx.Websocket.Conn == nil {
		return t
	}
	cc, ok := ctx.Websocket.NetConn().(*corkConn)
	if !ok {
		return t
	}
	_ = t.On("drain", func(...any) { cc.uncork() })
	return &corkedTransport{Transport: t, cork: cc}
}
