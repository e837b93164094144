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
	eio := 4
	if es.Protocol() == 3 {
		eio = 3
	}
	name := es.Transport().Name()
	c.mu.Lock()
	c.eio, c.transport = eio, name
	c.mu.Unlock()
	m.Connection(name, eio, 1)
	c.out.setOnCoalesced(func(n int) { m.Dropped("coalesced", n) })
	_ = es.On("upgrade", func(...any) {
		cur := es.Transport().Name()
		c.mu.Lock()
		old := c.transport
		if old != "" {
			c.transport = cur
		}
		c.mu.Unlock()
		if old != "" && old != cur {
			m.Connection(old, eio, -1)
			m.Connection(cur, eio, 1)
		}
	})
}

func (c *conn) untrackTransport() {
	m := c.srv.opts.Metrics
	if m == nil {
		return
	}
	c.mu.Lock()
	t, eio := c.transport, c.eio
	c.transport = ""
	c.mu.Unlock()
	if t != "" {
		m.Connection(t, eio, -1)
	}
}
