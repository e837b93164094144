// Package sioclient is a small Socket.IO client over WebSocket that speaks
// both Engine.IO v3 (socket.io 2.x servers such as ioBroker's socketio
// adapter) and Engine.IO v4. It backs the adapter SDK, brokerload and Go
// end-to-end tests. Polling is deliberately not implemented; the maintained Go
// clients speak only EIO4, and the load tool must reach EIO3-only servers.
package sioclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Options configure Dial.
type Options struct {
	URL    string     // http(s)://host:port[/path]; /socket.io/ is appended unless Path is set
	Path   string     // Engine.IO path, default "/socket.io/"
	EIO    int        // 3 or 4 (default 4)
	Query  url.Values // extra handshake query (user/pass, token …)
	Header http.Header
	// Auth is the EIO4 CONNECT payload ({token} or {user, pass}).
	Auth map[string]any
	// MaxMessage bounds one incoming frame (default 256 MiB).
	MaxMessage int64
	// Setup, when set, runs once the namespace is connected and before the
	// first event is read, so handlers registered there miss no event.
	Setup func(*Conn)
}

// Message is one received event or ack: the JSON arguments and any binary
// attachments (placeholders in Args refer to them by index).
type Message struct {
	Args        []json.RawMessage
	Attachments [][]byte
}

// Binary returns the attachment an argument refers to, if it is a placeholder.
func (m Message) Binary(i int) ([]byte, bool) {
	if i >= len(m.Args) {
		return nil, false
	}
	var ph struct {
		P   bool `json:"_placeholder"`
		Num int  `json:"num"`
	}
	if json.Unmarshal(m.Args[i], &ph) != nil || !ph.P || ph.Num < 0 || ph.Num >= len(m.Attachments) {
		return nil, false
	}
	return m.Attachments[ph.Num], true
}

// ErrClosed is returned for operations on a closed connection.
var ErrClosed = errors.New("sioclient: connection closed")

// ConnectError is the server refusing the namespace connection.
type ConnectError struct{ Message string }

func (e *ConnectError) Error() string { return "sioclient: connect refused: " + e.Message }

// Conn is one connected socket on the root namespace.
type Conn struct {
	ws     *websocket.Conn
	eio    int
	SID    string
	writeM sync.Mutex

	mu       sync.Mutex
	nextAck  int
	acks     map[int]chan Message
	handlers map[string]func(Message)
	ackH     map[string]func(Message, func(args ...any))
	anyH     func(event string, m Message)
	closed   bool
	err      error
	done     chan struct{}

	pingInterval time.Duration
	pingTimeout  time.Duration
	lastRecv     time.Time
}

// Dial connects and waits for the namespace CONNECT.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	if o.EIO == 0 {
		o.EIO = 4
	}
	if o.EIO != 3 && o.EIO != 4 {
		return nil, fmt.Errorf("sioclient: EIO must be 3 or 4, not %d", o.EIO)
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return nil, fmt.Errorf("sioclient: unsupported scheme %q", u.Scheme)
	}
	path := o.Path
	if path == "" {
		path = strings.TrimSuffix(u.Path, "/") + "/socket.io/"
	}
	u.Path = path
	q := url.Values{}
	for k, v := range o.Query {
		q[k] = v
	}
	q.Set("EIO", strconv.Itoa(o.EIO))
	q.Set("transport", "websocket")
	u.RawQuery = q.Encode()
	ws, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPHeader: o.Header})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("sioclient: handshake: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("sioclient: handshake: %w", err)
	}
	max := o.MaxMessage
	if max == 0 {
		max = 256 << 20
	}
	ws.SetReadLimit(max)
	c := &Conn{ws: ws, eio: o.EIO, acks: map[int]chan Message{}, handlers: map[string]func(Message){},
		ackH: map[string]func(Message, func(args ...any)){}, done: make(chan struct{})}
	if err := c.open(ctx, o); err != nil {
		ws.Close(websocket.StatusNormalClosure, "")
		return nil, err
	}
	if o.Setup != nil {
		o.Setup(c)
	}
	go c.readLoop()
	if c.eio == 3 {
		go c.pingLoop()
	}
	return c, nil
}

// open reads the Engine.IO open packet and completes the namespace connect.
func (c *Conn) open(ctx context.Context, o Options) error {
	typ, data, err := c.ws.Read(ctx)
	if err != nil {
		return fmt.Errorf("sioclient: open: %w", err)
	}
	if typ != websocket.MessageText || len(data) == 0 || data[0] != '0' {
		return fmt.Errorf("sioclient: expected open packet, got %q", truncate(data))
	}
	var op struct {
		SID          string `json:"sid"`
		PingInterval int    `json:"pingInterval"`
		PingTimeout  int    `json:"pingTimeout"`
	}
	if err := json.Unmarshal(data[1:], &op); err != nil {
		return fmt.Errorf("sioclient: open packet: %w", err)
	}
	c.SID = op.SID
	c.pingInterval = time.Duration(op.PingInterval) * time.Millisecond
	c.pingTimeout = time.Duration(op.PingTimeout) * time.Millisecond
	if c.eio == 4 {
		pkt := "40"
		if o.Auth != nil {
			b, _ := json.Marshal(o.Auth)
			pkt += string(b)
		}
		if err := c.ws.Write(ctx, websocket.MessageText, []byte(pkt)); err != nil {
			return err
		}
	}
	// Wait for CONNECT (40…) or ERROR (44…); events may not precede it.
	for {
		typ, data, err := c.ws.Read(ctx)
		if err != nil {
			return fmt.Errorf("sioclient: connect: %w", err)
		}
		if typ != websocket.MessageText || len(data) == 0 {
			continue
		}
		s := string(data)
		switch {
		case s == "2" && c.eio == 4:
			c.writeText(ctx, "3")
		case strings.HasPrefix(s, "40"):
			return nil
		case strings.HasPrefix(s, "44"):
			msg := s[2:]
			var m struct {
				Message string `json:"message"`
			}
			if json.Unmarshal([]byte(msg), &m) == nil && m.Message != "" {
				msg = m.Message
			} else {
				var str string
				if json.Unmarshal([]byte(msg), &str) == nil {
					msg = str
				}
			}
			return &ConnectError{Message: msg}
		case strings.HasPrefix(s, "42"):
			// Pre-connect events (reauthenticate) are dropped like socket.io-client does.
		case s == "1":
			return fmt.Errorf("sioclient: server closed during connect")
		}
	}
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// On registers the handler of a server event (replacing an earlier one).
// Handlers run on the read goroutine: keep them short.
func (c *Conn) On(event string, fn func(Message)) {
	c.mu.Lock()
	c.handlers[event] = fn
	c.mu.Unlock()
}

// OnAck registers the handler of a server event that may carry an ack id
// (`42<id>["event",…]`), replacing an earlier OnAck handler; it takes
// precedence over On for the same event. reply sends `43<id>[args…]`: call it
// at most once (later calls are ignored), from any goroutine; when the server
// asked for no ack it does nothing. Handlers run on the read goroutine: hand
// slow work to another goroutine and reply from there.
func (c *Conn) OnAck(event string, fn func(m Message, reply func(args ...any))) {
	c.mu.Lock()
	c.ackH[event] = fn
	c.mu.Unlock()
}

// OnAny registers a handler for events without their own handler.
func (c *Conn) OnAny(fn func(event string, m Message)) {
	c.mu.Lock()
	c.anyH = fn
	c.mu.Unlock()
}

// Done is closed when the connection ends.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Emit sends an event without ack.
func (c *Conn) Emit(event string, args ...any) error {
	return c.send(context.Background(), event, -1, args)
}

// EmitAck sends an event and waits for the ack.
func (c *Conn) EmitAck(ctx context.Context, event string, args ...any) (Message, error) {
	ch := make(chan Message, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Message{}, ErrClosed
	}
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.mu.Unlock()
	if err := c.send(ctx, event, id, args); err != nil {
		c.dropAck(id)
		return Message{}, err
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return Message{}, ErrClosed
		}
		return m, nil
	case <-ctx.Done():
		c.dropAck(id)
		return Message{}, ctx.Err()
	}
}

// EmitAsync sends an event with an ack and returns a channel for the answer,
// so callers can pipeline many requests.
func (c *Conn) EmitAsync(event string, args ...any) (<-chan Message, error) {
	ch := make(chan Message, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.mu.Unlock()
	if err := c.send(context.Background(), event, id, args); err != nil {
		c.dropAck(id)
		return nil, err
	}
	return ch, nil
}

func (c *Conn) dropAck(id int) {
	c.mu.Lock()
	delete(c.acks, id)
	c.mu.Unlock()
}

// send encodes the event; []byte arguments become binary attachments.
func (c *Conn) send(ctx context.Context, event string, ack int, args []any) error {
	return c.sendPacket(ctx, false, event, ack, args)
}

// sendPacket writes an EVENT (isAck false) or an ACK packet with id ack.
func (c *Conn) sendPacket(ctx context.Context, isAck bool, event string, ack int, args []any) error {
	var atts [][]byte
	all := make([]any, 0, len(args)+1)
	if !isAck {
		all = append(all, event)
	}
	for _, a := range args {
		if b, ok := a.([]byte); ok {
			all = append(all, map[string]any{"_placeholder": true, "num": len(atts)})
			atts = append(atts, b)
			continue
		}
		all = append(all, a)
	}
	body, err := json.Marshal(all)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteByte('4')
	switch {
	case len(atts) > 0 && isAck:
		buf.WriteByte('6')
	case len(atts) > 0:
		buf.WriteByte('5')
	case isAck:
		buf.WriteByte('3')
	default:
		buf.WriteByte('2')
	}
	if len(atts) > 0 {
		buf.WriteString(strconv.Itoa(len(atts)))
		buf.WriteByte('-')
	}
	if ack >= 0 {
		buf.WriteString(strconv.Itoa(ack))
	}
	buf.Write(body)
	c.writeM.Lock()
	defer c.writeM.Unlock()
	if err := c.ws.Write(ctx, websocket.MessageText, buf.Bytes()); err != nil {
		return err
	}
	for _, a := range atts {
		frame := a
		if c.eio == 3 {
			frame = append([]byte{4}, a...)
		}
		if err := c.ws.Write(ctx, websocket.MessageBinary, frame); err != nil {
			return err
		}
	}
	return nil
}

// WriteRaw sends one raw Engine.IO text frame (for protocol tests).
func (c *Conn) WriteRaw(ctx context.Context, frame string) error { return c.writeText(ctx, frame) }

func (c *Conn) writeText(ctx context.Context, s string) error {
	c.writeM.Lock()
	defer c.writeM.Unlock()
	return c.ws.Write(ctx, websocket.MessageText, []byte(s))
}

// Close disconnects cleanly.
func (c *Conn) Close() error {
	c.writeText(context.Background(), "41")
	c.finish(ErrClosed)
	return c.ws.Close(websocket.StatusNormalClosure, "")
}

func (c *Conn) finish(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.err = err
	acks := c.acks
	c.acks = map[int]chan Message{}
	c.mu.Unlock()
	for _, ch := range acks {
		close(ch)
	}
	close(c.done)
}

func (c *Conn) pingLoop() {
	iv := c.pingInterval
	if iv <= 0 {
		iv = 25 * time.Second
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if err := c.writeText(context.Background(), "2"); err != nil {
				return
			}
		}
	}
}

type pendingBinary struct {
	isAck bool
	id    int
	event string
	msg   Message
	need  int
}

func (c *Conn) readLoop() {
	var pend *pendingBinary
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.finish(err)
			return
		}
		if typ == websocket.MessageBinary {
			if pend == nil {
				continue
			}
			if c.eio == 3 && len(data) > 0 {
				data = data[1:]
			}
			pend.msg.Attachments = append(pend.msg.Attachments, data)
			if len(pend.msg.Attachments) == pend.need {
				c.deliver(pend.isAck, pend.id, pend.event, pend.msg)
				pend = nil
			}
			continue
		}
		s := string(data)
		if s == "" {
			continue
		}
		switch s[0] {
		case '2': // EIO4 ping
			c.writeText(context.Background(), "3"+s[1:])
			continue
		case '3', '6': // pong / noop
			continue
		case '1':
			c.finish(errors.New("sioclient: server closed the session"))
			c.ws.Close(websocket.StatusNormalClosure, "")
			return
		case '4':
		default:
			continue
		}
		if len(s) < 2 {
			continue
		}
		p, err := parsePacket(s[1:])
		if err != nil {
			continue
		}
		switch p.typ {
		case '1': // namespace disconnect
			c.finish(errors.New("sioclient: disconnected by server"))
			c.ws.Close(websocket.StatusNormalClosure, "")
			return
		case '2', '3':
			c.deliver(p.typ == '3', p.id, p.event, Message{Args: p.args})
		case '5', '6':
			pend = &pendingBinary{isAck: p.typ == '6', id: p.id, event: p.event, msg: Message{Args: p.args}, need: p.attachments}
			if p.attachments == 0 {
				c.deliver(pend.isAck, pend.id, pend.event, pend.msg)
				pend = nil
			}
		}
	}
}

func (c *Conn) deliver(isAck bool, id int, event string, m Message) {
	c.mu.Lock()
	if isAck {
		ch := c.acks[id]
		delete(c.acks, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
		return
	}
	h := c.handlers[event]
	ah := c.ackH[event]
	anyH := c.anyH
	c.mu.Unlock()
	if ah != nil {
		ah(m, c.replier(id))
	} else if h != nil {
		h(m)
	} else if anyH != nil {
		anyH(event, m)
	}
}

// replier returns the reply function for an event with ack id (-1: none).
func (c *Conn) replier(id int) func(args ...any) {
	if id < 0 {
		return func(...any) {}
	}
	var once sync.Once
	return func(args ...any) {
		once.Do(func() {
			// A failed write means the connection is gone; the server drops the ack then.
			_ = c.sendPacket(context.Background(), true, "", id, args)
		})
	}
}

type packet struct {
	typ         byte
	attachments int
	id          int
	event       string
	args        []json.RawMessage
}

// parsePacket decodes a Socket.IO packet (after the Engine.IO '4').
func parsePacket(s string) (packet, error) {
	p := packet{typ: s[0], id: -1}
	s = s[1:]
	if p.typ == '5' || p.typ == '6' {
		i := strings.IndexByte(s, '-')
		if i < 0 {
			return p, errors.New("bad binary packet")
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return p, err
		}
		p.attachments = n
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "/") { // namespace other than "/"
		if i := strings.IndexByte(s, ','); i >= 0 {
			s = s[i+1:]
		}
	}
	j := 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j > 0 {
		p.id, _ = strconv.Atoi(s[:j])
		s = s[j:]
	}
	if s == "" {
		return p, nil
	}
	arr, err := splitArray([]byte(s)) // one copy; the arguments alias it
	if err != nil {
		return p, err
	}
	if p.typ == '2' || p.typ == '5' {
		if len(arr) == 0 || len(arr[0]) < 2 || arr[0][0] != '"' {
			return p, errors.New("event without name")
		}
		if name := arr[0][1 : len(arr[0])-1]; bytes.IndexByte(name, '\\') < 0 {
			p.event = string(name)
		} else if json.Unmarshal(arr[0], &p.event) != nil {
			return p, errors.New("event without name")
		}
		arr = arr[1:]
	}
	p.args = arr
	return p, nil
}
