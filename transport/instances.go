package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
)

// Adapter instances connect like any client and claim an instance id in the
// handshake (docs/adapters.md): EIO4 auth payload {"instance": "haa.0"}, or
// query ?instance=haa.0. brokerd keeps the instance's alive/connected states
// and routes sendTo/sendToHost to its socket.

const (
	// AliveInterval is how often alive/connected are refreshed.
	AliveInterval = 15 * time.Second
	// AliveExpire (seconds) lets alive/connected lapse when brokerd itself
	// stops refreshing them (crash), so no stale true survives.
	AliveExpire = 30
	// claimTTL bounds how long a handshake may hold a claim before attaching.
	claimTTL = 10 * time.Second
)

var (
	adapterInstanceRE = regexp.MustCompile(`^system\.adapter\.[a-zA-Z0-9_-]+\.[0-9]+$`)
	hostRE            = regexp.MustCompile(`^system\.host\.[a-zA-Z0-9._-]+$`)
)

// instanceRegistry maps instance ids to their live connection.
type instanceRegistry struct {
	mu     sync.Mutex
	claims map[string]time.Time // handshake accepted, not yet attached
	conns  map[string]*conn
}

// claimedInstance returns the normalised instance a handshake claims ("" = none).
func claimedInstance(h *Handshake) (string, error) {
	name, _ := h.Auth["instance"].(string)
	if name == "" {
		name = h.Query.Get("instance")
	}
	if name == "" {
		return "", nil
	}
	if !strings.HasPrefix(name, "system.host.") {
		name = instanceID(name)
	}
	if !adapterInstanceRE.MatchString(name) && !hostRE.MatchString(name) {
		return "", fmt.Errorf("invalid instance name %q (expected <adapter>.<n>, e.g. haa.0)", strings.TrimPrefix(name, "system.adapter."))
	}
	return name, nil
}

// mayActAs is the [GO] rule of docs/adapters.md: administrators, or users
// who may send messages and write states.
func mayActAs(sub *acl.Subject) bool {
	return sub.Admin || (sub.Perms.Other.SendTo && sub.Perms.State.Write)
}

func shortName(instance string) string { return strings.TrimPrefix(instance, "system.adapter.") }

// claim reserves instance for a handshake; a live or fresh claim refuses it.
func (r *instanceRegistry) claim(instance string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.claims == nil {
		r.claims, r.conns = map[string]time.Time{}, map[string]*conn{}
	}
	if _, live := r.conns[instance]; live {
		return fmt.Errorf("instance %s is already connected", shortName(instance))
	}
	if t, ok := r.claims[instance]; ok && time.Since(t) < claimTTL {
		return fmt.Errorf("instance %s is already connected", shortName(instance))
	}
	r.claims[instance] = time.Now()
	return nil
}

func (r *instanceRegistry) attach(instance string, c *conn) {
	r.mu.Lock()
	delete(r.claims, instance)
	r.conns[instance] = c
	r.mu.Unlock()
}

// detach releases instance if c still holds it.
func (r *instanceRegistry) detach(instance string, c *conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns[instance] != c {
		return false
	}
	delete(r.conns, instance)
	return true
}

func (r *instanceRegistry) get(instance string) *conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[instance]
}

func (r *instanceRegistry) all() []*conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*conn, 0, len(r.conns))
	for _, c := range r.conns {
		out = append(out, c)
	}
	return out
}

// instanceAttached starts the bookkeeping of an adapter connection.
func (s *Server) instanceAttached(c *conn) {
	s.instances.attach(c.instance, c)
	s.log.Info("instance connected", "conn", c.id, "instance", c.instance, "user", c.sess.Subject().User)
	s.queueAlive(c.instance, true)
}

// instanceDetached marks the instance as gone.
func (s *Server) instanceDetached(c *conn) {
	if c.instance == "" || !s.instances.detach(c.instance, c) {
		return
	}
	s.log.Info("instance disconnected", "conn", c.id, "instance", c.instance)
	s.queueAlive(c.instance, false)
}

type aliveWrite struct {
	instance string
	up       bool
}

// queueAlive hands an alive/connected write to the single writer goroutine,
// so "connected" and "disconnected" of one instance land in that order.
func (s *Server) queueAlive(instance string, up bool) {
	select {
	case s.aliveQ <- aliveWrite{instance, up}:
	default:
		s.log.Error("alive queue full, dropping instance state write", "instance", instance, "up", up)
	}
}

// runAlive writes queued alive states in order and refreshes the states of
// connected instances before their expiry.
func (s *Server) runAlive() {
	t := time.NewTicker(AliveInterval)
	defer t.Stop()
	for {
		select {
		case w := <-s.aliveQ:
			s.writeAlive(w.instance, w.up)
		case <-t.C:
			if s.closed.Load() {
				return
			}
			for _, c := range s.instances.all() {
				s.writeAlive(c.instance, true)
			}
		}
	}
}

// aliveIDs are the instance states brokerd maintains.
func aliveIDs(instance string) []string {
	return []string{instance + ".alive", instance + ".connected"}
}

// writeAlive writes alive/connected (creating their objects when missing).
// true carries an expiry so a crashed broker leaves no stale true.
func (s *Server) writeAlive(instance string, up bool) {
	if s.st.States == nil {
		return
	}
	for _, id := range aliveIDs(instance) {
		s.ensureAliveObject(id)
		t := true
		w := states.Write{Val: up, HasVal: true, Ack: &t, From: instance, User: acl.Admin}
		if up {
			exp := int64(AliveExpire)
			w.Expire = &exp
		}
		if _, err := s.st.States.Set(id, w); err != nil {
			s.log.Error("cannot write instance state", "id", id, "err", err)
		}
	}
}

func (s *Server) ensureAliveObject(id string) {
	if s.st.Objects == nil {
		return
	}
	if _, _, ok := s.st.Objects.GetRaw(id); ok {
		return
	}
	name := id[strings.LastIndexByte(id, '.')+1:]
	obj := objects.Object{
		"type": "state",
		"common": map[string]any{
			"name": shortName(id[:strings.LastIndexByte(id, '.')]) + " " + name,
			"type": "boolean", "role": "indicator.state", "read": true, "write": false,
		},
		"native": map[string]any{},
	}
	if _, err := s.st.Objects.Set(id, obj, objects.WriteOptions{User: acl.Admin, From: s.from}); err != nil {
		s.log.Error("cannot create instance state object", "id", id, "err", err)
	}
}

// localRouter delivers messages to instances connected to this server and
// falls back to Options.Router (other nodes) for the rest.
type localRouter struct{ s *Server }

var messageSeq atomic.Int64

// Deliver sends a message to a target connected to this server only (ErrNotConnected otherwise); the cluster router calls it for other nodes.
func (s *Server) Deliver(ctx context.Context, target, from, command string, message any) (any, error) {
	return localRouter{s}.deliver(ctx, target, from, command, message)
}

func (r localRouter) deliver(ctx context.Context, target, from, command string, message any) (any, error) {
	c := r.s.instances.get(target)
	if c == nil {
		return nil, ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, r.s.opts.SendToTimeout)
	defer cancel()
	msg := map[string]any{
		"command": command,
		"message": message,
		"from":    from,
		"callback": map[string]any{
			"id": messageSeq.Add(1), "ack": false, "time": time.Now().UnixMilli(),
		},
	}
	args, err := c.request(ctx, "message", msg)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("timeout: instance %s did not answer within %s", shortName(target), r.s.opts.SendToTimeout)
	}
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, nil
	}
	return args[0], nil
}

func (r localRouter) SendTo(ctx context.Context, from, instance, command string, message any) (any, error) {
	reply, err := r.deliver(ctx, instance, from, command, message)
	if errors.Is(err, ErrNotConnected) && r.s.opts.Router != nil {
		return r.s.opts.Router.SendTo(ctx, from, instance, command, message)
	}
	return reply, err
}

func (r localRouter) SendToHost(ctx context.Context, from, host, command string, message any) (any, error) {
	reply, err := r.deliver(ctx, host, from, command, message)
	if errors.Is(err, ErrNotConnected) && r.s.opts.Router != nil {
		return r.s.opts.Router.SendToHost(ctx, from, host, command, message)
	}
	return reply, err
}

func (r localRouter) ClientSubscribe(ctx context.Context, target, sid, msgType string, data any) (any, error) {
	reply, err := r.deliver(ctx, target, r.s.from, "clientSubscribe", map[string]any{"type": msgType, "sid": sid, "data": data})
	if errors.Is(err, ErrNotConnected) && r.s.opts.Router != nil {
		return r.s.opts.Router.ClientSubscribe(ctx, target, sid, msgType, data)
	}
	return reply, err
}

func (r localRouter) ClientUnsubscribe(target, sid string, msgTypes []string, reason string) {
	if c := r.s.instances.get(target); c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), r.s.opts.SendToTimeout)
		defer cancel()
		_, _ = c.request(ctx, "message", map[string]any{"command": "clientUnsubscribe", "message": map[string]any{"type": msgTypes, "sid": sid, "reason": reason}, "from": r.s.from})
		return
	}
	if r.s.opts.Router != nil {
		r.s.opts.Router.ClientUnsubscribe(target, sid, msgTypes, reason)
	}
}

// clientAck is an inbound ACK packet (the client answering a server event
// sent with an ack id), handed to the connection as a pseudo event.
type clientAck struct {
	id   uint64
	args []any
}

// request emits event with an ack id and waits for the client's answer.
func (c *conn) request(ctx context.Context, event string, args ...any) ([]any, error) {
	ch := make(chan []any, 1)
	c.mu.Lock()
	if c.requests == nil {
		c.requests = map[uint64]chan []any{}
	}
	c.nextReq++
	id := c.nextReq
	c.requests[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.requests, id)
		c.mu.Unlock()
	}()
	f, err := encodePacket('2', '5', &id, append([]any{event}, args...))
	if err != nil {
		return nil, err
	}
	c.out.pushAck(f) // never merged or dropped
	select {
	case a := <-ch:
		return a, nil
	case <-c.done:
		return nil, fmt.Errorf("instance %s disconnected before answering", shortName(c.instance))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// resolve hands a client's ack to the waiting request.
func (c *conn) resolve(a clientAck) {
	c.lim.handled.Add(1) // a client ack leaves the inbound backlog
	c.mu.Lock()
	ch := c.requests[a.id]
	c.mu.Unlock()
	if ch == nil {
		return
	}
	for i, v := range a.args {
		a.args[i] = fromWire(v)
	}
	select {
	case ch <- a.args:
	default:
	}
}

// jsonArg re-encodes a decoded value (for replies that must pass through unchanged).
func jsonArg(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
