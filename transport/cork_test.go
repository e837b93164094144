package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// recConn records every Write that reaches the "kernel".
type recConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	err    error
	closed bool
}

func (r *recConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	r.writes = append(r.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (r *recConn) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

func (r *recConn) SetWriteDeadline(time.Time) error { return nil }

func (r *recConn) got() (n int, all string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes), string(bytes.Join(r.writes, nil))
}

func TestCorkCollectsABatchIntoOneWrite(t *testing.T) {
	rc := &recConn{}
	c := &corkConn{Conn: rc}
	if _, err := c.Write([]byte("open|")); err != nil { // not corked: straight through
		t.Fatal(err)
	}
	if n, _ := rc.got(); n != 1 {
		t.Fatalf("uncorked write held back: %d writes", n)
	}
	c.cork()
	for i := 0; i < 100; i++ {
		if _, err := c.Write([]byte("frame|")); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := rc.got(); n != 1 {
		t.Fatalf("corked writes reached the connection: %d writes", n)
	}
	c.uncork()
	n, all := rc.got()
	if n != 2 || all != "open|"+strings.Repeat("frame|", 100) {
		t.Fatalf("after uncork: %d writes, %d bytes", n, len(all))
	}
	if c.buf != nil {
		t.Fatal("an idle connection keeps its buffer")
	}
}

func TestCorkNestedAndLimit(t *testing.T) {
	rc := &recConn{}
	c := &corkConn{Conn: rc}
	c.cork()
	c.cork()
	chunk := bytes.Repeat([]byte("x"), corkLimit/4+1)
	for i := 0; i < 4; i++ { // the 4th chunk passes the limit: the first 3 go out
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if n, all := rc.got(); n != 1 || len(all) != 3*len(chunk) {
		t.Fatalf("limit: %d writes, %d bytes", n, len(all))
	}
	big := bytes.Repeat([]byte("y"), corkLimit+10)
	if _, err := c.Write(big); err != nil { // larger than the limit: held bytes, then it, directly
		t.Fatal(err)
	}
	if n, all := rc.got(); n != 3 || len(all) != 4*len(chunk)+len(big) {
		t.Fatalf("big write: %d writes, %d bytes", n, len(all))
	}
	c.uncork() // still corked once
	if _, err := c.Write([]byte("tail")); err != nil {
		t.Fatal(err)
	}
	if n, _ := rc.got(); n != 3 {
		t.Fatalf("inner uncork flushed: %d writes", n)
	}
	c.uncork()
	if n, all := rc.got(); n != 4 || !strings.HasSuffix(all, "ytail") {
		t.Fatalf("outer uncork: %d writes", n)
	}
}

// A frame held when the connection closes (the last "reauthenticate" before
// a server close) is still written.
func TestCorkCloseWritesHeldBytes(t *testing.T) {
	rc := &recConn{}
	c := &corkConn{Conn: rc}
	c.cork()
	_, _ = c.Write([]byte(`42["reauthenticate"]`))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n, all := rc.got(); n != 1 || all != `42["reauthenticate"]` || !rc.closed {
		t.Fatalf("close: %d writes %q closed=%v", n, all, rc.closed)
	}
}

// A failed flush closes the connection (the reader then ends the session)
// and every later write reports the error instead of buffering.
func TestCorkWriteErrorClosesConnection(t *testing.T) {
	boom := errors.New("broken pipe")
	rc := &recConn{err: boom}
	c := &corkConn{Conn: rc}
	c.cork()
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatalf("held write failed early: %v", err)
	}
	c.uncork()
	if !rc.closed {
		t.Fatal("connection not closed after a failed flush")
	}
	if _, err := c.Write([]byte("b")); !errors.Is(err, boom) {
		t.Fatalf("write after failure = %v", err)
	}
	c.cork()
	if _, err := c.Write([]byte("c")); !errors.Is(err, boom) {
		t.Fatalf("corked write after failure = %v", err)
	}
}

// Close of a connection whose peer reads nothing returns within the bound
// instead of hanging on the held bytes.
func TestCorkCloseDoesNotHangOnAStuckPeer(t *testing.T) {
	a, b := net.Pipe() // synchronous: a write blocks until b reads
	defer b.Close()
	c := &corkConn{Conn: a}
	c.cork()
	_, _ = c.Write([]byte("never read"))
	done := make(chan struct{})
	go func() { _ = c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(corkCloseWait + 5*time.Second):
		t.Fatal("Close hangs on a peer that reads nothing")
	}
}

// Every WebSocket session of the endpoint (EIO3 and EIO4) runs on a corked
// connection, so the fan-out's frames leave in batches.
func TestWebSocketSessionsAreCorked(t *testing.T) {
	srv, hs := testServer(t, Options{})
	for _, eio := range []int{3, 4} {
		c := dialWS(t, hs, eio)
		if got := c.call(nil, "getVersion"); len(got) == 0 {
			t.Fatalf("EIO%d: no answer", eio)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.conns) != 2 {
		t.Fatalf("%d connections", len(srv.conns))
	}
	for c := range srv.conns {
		tr := c.sock.Conn().Transport()
		if g, ok := tr.(*gatedTransport); ok {
			tr = g.Transport
		}
		if _, ok := tr.(*corkedTransport); !ok {
			t.Fatalf("conn %s: transport %T is not corked", c.id, tr)
		}
	}
}

// A batch the writer takes from the outbox reaches Engine.IO as one Send
// (one queue hand-off, one drain, one write(2)), in order and complete.
func TestWriterHandsABatchToEngineIOAsOneSend(t *testing.T) {
	for _, eio := range []int{3, 4} {
		srv, hs := testServer(t, Options{})
		ws := dialWS(t, hs, eio)
		srv.mu.Lock()
		var c *conn
		for k := range srv.conns {
			c = k
		}
		srv.mu.Unlock()
		ct := corkedOf(c.sock.Conn())
		if ct == nil {
			t.Fatalf("EIO%d: no corked transport", eio)
		}
		// Queue the batch with the on-demand writer kept from starting,
		// then run it here: it takes all 200 frames at once.
		const n = 200
		c.out.mu.Lock()
		c.out.running = true
		c.out.mu.Unlock()
		for i := range n {
			f, err := encodeEvent("stateChange", fmt.Sprintf("b.0.s%d", i), json.RawMessage(`{"val":1}`))
			if err != nil {
				t.Fatal(err)
			}
			c.out.pushEvent("", f)
		}
		c.out.mu.Lock()
		c.out.running = false
		c.out.mu.Unlock()
		before := ct.sends.Load()
		c.runWriter()
		for i := range n {
			want := fmt.Sprintf(`42["stateChange","b.0.s%d",{"val":1}]`, i)
			if got := ws.read(); got != want {
				t.Fatalf("EIO%d frame %d: %q, want %q", eio, i, got, want)
			}
		}
		if sends := ct.sends.Load() - before; sends != 1 {
			t.Fatalf("EIO%d: %d frames went out in %d Engine.IO sends, want 1", eio, n, sends)
		}
	}
}
