package transport

import (
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// trackTransport counts the connection under its current transport and
// Engine.IO version, and moves it when the client upgrades polling→websocket.
func (c *conn) trackTransport(sock *socket.Socket) {
	m := c.srv.opts.Metrics
	if m == nil {
		return
	}
	es := sock.Conn()
	c.eio = 4
	if es.Protocol() == 3 {
		c.eio = 3
	}
	c.mu.Lock()
	c.transport = es.Transport().Name()
	c.mu.Unlock()
	m.Connection(c.transport, c.eio, 1)
	c.out.onCoalesced = func(n int) { m.Dropped("coalesced", n) }
	_ = es.On("upgrade", func(...any) {
		c.mu.Lock()
		old := c.transport
		c.transport = es.Transport().Name()
		cur := c.transport
		c.mu.Unlock()
		if old != "" && old != cur {
			m.Connection(old, c.eio, -1)
			m.Connection(cur, c.eio, 1)
		}
	})
}

func (c *conn) untrackTransport() {
	m := c.srv.opts.Metrics
	if m == nil {
		return
	}
	c.mu.Lock()
	t := c.transport
	c.transport = ""
	c.mu.Unlock()
	if t != "" {
		m.Connection(t, c.eio, -1)
	}
}
