// Package cluster lets several brokerd nodes on one Redis (store: redis)
// reach each other's adapter instances: a transport.MessageRouter that
// forwards sendTo, sendToHost and clientSubscribe to the node holding the
// target and carries the reply back, over Redis pub/sub (docs/redis.md).
//
// Keys and channels (after Options.Prefix):
//
//	brokerd.cluster.instances   hash  instance → "<node>|<deadline ms>" (Redis clock)
//	brokerd.cluster.node.<node> string, PX NodeTTL: the node is running
//	brokerd.cluster.req.<node>  channel: requests for instances held by node
//	brokerd.cluster.rep.<node>.<id> channel: the reply to request id of node
//
// The holder refreshes its entries and its node key every HeartbeatInterval;
// an entry whose deadline passed or whose node key expired is stale and is
// removed by the next reader, so a killed node's instances stop resolving
// within NodeTTL (at once for requests: PUBLISH reaches no subscriber).
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brokerd/brokerd/transport"
	"github.com/redis/go-redis/v9"
)

// Timings of the registry.
const (
	// HeartbeatInterval is how often a node refreshes its node key and the
	// registry entries of the instances it holds.
	HeartbeatInterval = time.Second
	// NodeTTL is how long a node key outlives its last heartbeat.
	NodeTTL = 5 * time.Second
	// EntryTTL is how long a registry entry outlives its last refresh.
	EntryTTL = 10 * time.Second
	// DefaultTimeout bounds a routed request on the requesting node: the
	// holder's own sendTo timeout plus a margin for the two hops.
	DefaultTimeout = transport.DefaultSendToTimeout + 5*time.Second
	// maxServing bounds the requests one node handles at once.
	maxServing = 1024
)

// Local delivers a message to an instance or host connected to this node
// only, failing with transport.ErrNotConnected otherwise
// (*transport.Server implements it).
type Local interface {
	Deliver(ctx context.Context, target, from, command string, message any) (any, error)
}

// Options configure a Router.
type Options struct {
	// Client is the connection pool; required.
	Client *redis.Client
	// Prefix is put before every key and channel (the stores' prefix).
	Prefix string
	// Node names this node; it must be unique among running nodes
	// (default "<hostname>-<pid>-<random>").
	Node string
	// Local delivers requests for instances held here; SetLocal may set it
	// later (the transport server is built after its router).
	Local Local
	// From is the sender of clientSubscribe/clientUnsubscribe as the
	// adapter sees it (system.adapter.<namespace>).
	From string
	// Timeout bounds a routed request when the caller's context does not
	// end sooner (default DefaultTimeout).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Router is one node's transport.MessageRouter for targets held by other nodes.
type Router struct {
	o     Options
	rdb   *redis.Client
	node  string
	ps    *redis.PubSub
	local atomic.Pointer[localBox]

	mu      sync.Mutex
	held    map[string]bool       // instances connected to this node
	waiting map[uint64]chan reply // request id → its waiter
	seq     atomic.Uint64

	serving chan struct{} // semaphore of requests being handled
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type localBox struct{ l Local }

var _ transport.MessageRouter = (*Router)(nil)

// request is what travels on a node's request channel.
type request struct {
	ID      uint64 `json:"id"`
	Reply   string `json:"reply"`          // channel for the reply ("" = none wanted)
	Target  string `json:"target"`         // system.adapter.<name>.<n> or system.host.<name>
	From    string `json:"from"`           // sender, as the adapter sees it
	Command string `json:"command"`        // sendTo command or clientSubscribe/clientUnsubscribe
	Message any    `json:"message"`        // as decoded from the wire
	Timeout int64  `json:"ms,omitempty"`   // how long the requester waits
	Node    string `json:"node,omitempty"` // requesting node (logs)
}

// reply is what travels on a reply channel.
type reply struct {
	Reply        any    `json:"reply"`
	Err          string `json:"err,omitempty"`
	NotConnected bool   `json:"nc,omitempty"`
}

// New subscribes to this node's request and reply channels and starts the
// heartbeat. Close ends both.
func New(o Options) (*Router, error) {
	if o.Client == nil {
		return nil, errors.New("cluster: Options.Client is required")
	}
	if o.Node == "" {
		o.Node = DefaultNodeName()
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Router{o: o, rdb: o.Client, node: o.Node, held: map[string]bool{}, waiting: map[uint64]chan reply{},
		serving: make(chan struct{}, maxServing), ctx: ctx, cancel: cancel}
	if o.Local != nil {
		r.SetLocal(o.Local)
	}
	// Both subscriptions are confirmed before New returns, so no request or
	// reply sent after it can miss this node.
	r.ps = r.rdb.Subscribe(ctx, r.reqChannel(r.node))
	if _, err := r.ps.Receive(ctx); err != nil {
		r.ps.Close()
		cancel()
		return nil, fmt.Errorf("cluster: subscribe: %w", err)
	}
	if err := r.ps.PSubscribe(ctx, r.replyChannel(r.node, "*")); err != nil {
		r.ps.Close()
		cancel()
		return nil, fmt.Errorf("cluster: subscribe: %w", err)
	}
	if _, err := r.ps.Receive(ctx); err != nil {
		r.ps.Close()
		cancel()
		return nil, fmt.Errorf("cluster: subscribe: %w", err)
	}
	if err := r.beat(ctx); err != nil {
		r.ps.Close()
		cancel()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	r.wg.Add(2)
	go r.receive()
	go r.heartbeat()
	return r, nil
}

// DefaultNodeName is "<hostname>-<pid>-<4 random bytes hex>".
func DefaultNodeName() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "brokerd"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Node returns this node's name.
func (r *Router) Node() string { return r.node }

// SetLocal installs the delivery to this node's connections.
func (r *Router) SetLocal(l Local) { r.local.Store(&localBox{l}) }

// Close stops serving, unregisters this node's instances and its node key.
func (r *Router) Close() {
	r.cancel()
	r.ps.Close()
	r.wg.Wait()
	r.mu.Lock()
	held := make([]string, 0, len(r.held))
	for inst := range r.held {
		held = append(held, inst)
	}
	r.held = map[string]bool{}
	for id, ch := range r.waiting {
		ch <- reply{Err: "cluster router closed"}
		delete(r.waiting, id)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, inst := range held {
		_ = r.release(ctx, inst)
	}
	_ = r.rdb.Del(ctx, r.nodeKey(r.node)).Err()
}

func (r *Router) key(s string) string                 { return r.o.Prefix + "brokerd.cluster." + s }
func (r *Router) instancesKey() string                { return r.key("instances") }
func (r *Router) nodeKey(node string) string          { return r.key("node." + node) }
func (r *Router) reqChannel(node string) string       { return r.key("req." + node) }
func (r *Router) replyChannel(node, id string) string { return r.key("rep." + node + "." + id) }

// claimScript sets an entry with a deadline on Redis's clock.
// KEYS: instances. ARGV: instance, node, ttl ms.
var claimScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. (now + tonumber(ARGV[3])))
return 1
`)

// releaseScript removes an entry if node still holds it.
// KEYS: instances. ARGV: instance, node.
var releaseScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. '|' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
`)

// lookupScript returns the node holding an instance, or false when there is
// no fresh entry of a running node (a stale entry is removed).
// KEYS: instances. ARGV: instance, node key prefix.
var lookupScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
local node, dl = string.match(v, '^(.*)|(%d+)$')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if node == nil or tonumber(dl) < now or redis.call('EXISTS', ARGV[2] .. node) == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return false
end
return node
`)

// Held records that instance connected to (up) or left (!up) this node.
// The broker calls it before the instance's alive state is written, so a
// node that sees connected=true can already route to it.
func (r *Router) Held(instance string, up bool) {
	r.mu.Lock()
	if up {
		r.held[instance] = true
	} else {
		delete(r.held, instance)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	var err error
	if up {
		err = claimScript.Run(ctx, r.rdb, []string{r.instancesKey()}, instance, r.node, EntryTTL.Milliseconds()).Err()
	} else {
		err = r.release(ctx, instance)
	}
	if err != nil && r.ctx.Err() == nil {
		// The heartbeat retries a registration; a failed release lapses with EntryTTL.
		r.o.Logger.Warn("cluster registry write failed", "instance", instance, "up", up, "err", err)
	}
}

func (r *Router) release(ctx context.Context, instance string) error {
	return releaseScript.Run(ctx, r.rdb, []string{r.instancesKey()}, instance, r.node).Err()
}

// Holder returns the running node holding instance ("" = none).
func (r *Router) Holder(ctx context.Context, instance string) (string, error) {
	v, err := lookupScript.Run(ctx, r.rdb, []string{r.instancesKey()}, instance, r.nodeKey("")).Text()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redis unavailable: %w", err)
	}
	return v, nil
}

// HeldElsewhere reports the other running node that holds instance, so a
// second adapter claiming it on this node can be refused. A node whose
// request channel has no subscriber (killed, its node key not yet expired)
// does not count.
func (r *Router) HeldElsewhere(ctx context.Context, instance string) (string, error) {
	node, err := r.Holder(ctx, instance)
	if err != nil || node == "" || node == r.node {
		return "", err
	}
	n, err := r.rdb.PubSubNumSub(ctx, r.reqChannel(node)).Result()
	if err != nil {
		return "", fmt.Errorf("redis unavailable: %w", err)
	}
	if n[r.reqChannel(node)] == 0 {
		return "", nil
	}
	return node, nil
}

// heartbeat refreshes the node key and the entries of held instances.
func (r *Router) heartbeat() {
	defer r.wg.Done()
	t := time.NewTicker(HeartbeatInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(r.ctx, HeartbeatInterval)
		err := r.beat(ctx)
		cancel()
		switch {
		case err != nil && !failing && r.ctx.Err() == nil:
			r.o.Logger.Warn("cluster heartbeat failed", "node", r.node, "err", err)
			failing = true
		case err == nil && failing:
			r.o.Logger.Info("cluster heartbeat restored", "node", r.node)
			failing = false
		}
	}
}

func (r *Router) beat(ctx context.Context) error {
	r.mu.Lock()
	held := make([]string, 0, len(r.held))
	for inst := range r.held {
		held = append(held, inst)
	}
	r.mu.Unlock()
	p := r.rdb.Pipeline()
	p.Set(ctx, r.nodeKey(r.node), strconv.Itoa(os.Getpid()), NodeTTL)
	for _, inst := range held {
		// EVAL, not EVALSHA: a pipeline cannot fall back after NOSCRIPT.
		claimScript.Eval(ctx, p, []string{r.instancesKey()}, inst, r.node, EntryTTL.Milliseconds())
	}
	_, err := p.Exec(ctx)
	return err
}

// receive dispatches requests to this node and replies to its requests.
// The client resubscribes after a reconnect; pub/sub delivers nothing
// twice, and what was sent while this node was away is lost (the
// requester then times out).
func (r *Router) receive() {
	defer r.wg.Done()
	ch := r.ps.Channel(redis.WithChannelSize(1024))
	req := r.reqChannel(r.node)
	for m := range ch {
		if m.Channel == req {
			r.serve(m.Payload)
			continue
		}
		r.resolve(m.Channel, m.Payload)
	}
}

func (r *Router) resolve(channel, payload string) {
	prefix := r.replyChannel(r.node, "")
	if len(channel) <= len(prefix) {
		return
	}
	id, err := strconv.ParseUint(channel[len(prefix):], 10, 64)
	if err != nil {
		return
	}
	var rep reply
	if err := json.Unmarshal([]byte(payload), &rep); err != nil {
		rep = reply{Err: "cluster: bad reply: " + err.Error()}
	}
	r.mu.Lock()
	w := r.waiting[id]
	delete(r.waiting, id)
	r.mu.Unlock()
	if w != nil {
		w <- rep
	}
}

// serve handles one request on its own goroutine (bounded by maxServing).
func (r *Router) serve(payload string) {
	var q request
	if err := json.Unmarshal([]byte(payload), &q); err != nil {
		r.o.Logger.Warn("cluster: bad request", "err", err)
		return
	}
	select {
	case r.serving <- struct{}{}:
	default:
		r.answer(q, reply{Err: "cluster: node " + r.node + " is busy"})
		return
	}
	go func() {
		defer func() { <-r.serving }()
		timeout := time.Duration(q.Timeout) * time.Millisecond
		if timeout <= 0 {
			timeout = r.o.Timeout
		}
		ctx, cancel := context.WithTimeout(r.ctx, timeout)
		defer cancel()
		var rep reply
		box := r.local.Load()
		if box == nil {
			rep.NotConnected = true
		} else {
			v, err := box.l.Deliver(ctx, q.Target, q.From, q.Command, q.Message)
			switch {
			case errors.Is(err, transport.ErrNotConnected):
				rep.NotConnected = true
			case err != nil:
				rep.Err = err.Error()
			default:
				rep.Reply = v
			}
		}
		r.answer(q, rep)
	}()
}

func (r *Router) answer(q request, rep reply) {
	if q.Reply == "" {
		return
	}
	b, err := json.Marshal(rep)
	if err != nil {
		b, _ = json.Marshal(reply{Err: "cluster: reply not encodable: " + err.Error()})
	}
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	if err := r.rdb.Publish(ctx, q.Reply, b).Err(); err != nil && r.ctx.Err() == nil {
		r.o.Logger.Warn("cluster: reply lost", "to", q.Node, "target", q.Target, "err", err)
	}
}

// forward sends a request to the node holding target and waits for the
// reply (wait = false: fire and forget).
func (r *Router) forward(ctx context.Context, target, from, command string, message any, wait bool) (any, error) {
	node, err := r.Holder(ctx, target)
	if err != nil {
		return nil, err
	}
	if node == "" || node == r.node {
		// Not held, or held here but the transport did not find it (it
		// left a moment ago): not connected either way.
		return nil, transport.ErrNotConnected
	}
	timeout := r.o.Timeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	q := request{Target: target, From: from, Command: command, Message: message, Timeout: timeout.Milliseconds(), Node: r.node}
	var ch chan reply
	if wait {
		q.ID = r.seq.Add(1)
		q.Reply = r.replyChannel(r.node, strconv.FormatUint(q.ID, 10))
		ch = make(chan reply, 1)
		r.mu.Lock()
		r.waiting[q.ID] = ch
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			delete(r.waiting, q.ID)
			r.mu.Unlock()
		}()
	}
	b, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("cluster: message not encodable: %w", err)
	}
	n, err := r.rdb.Publish(ctx, r.reqChannel(node), b).Result()
	if err != nil {
		return nil, fmt.Errorf("redis unavailable: %w", err)
	}
	if n == 0 {
		// The holder is gone (killed; its keys not expired yet).
		_ = releaseScript.Run(ctx, r.rdb, []string{r.instancesKey()}, target, node).Err()
		return nil, transport.ErrNotConnected
	}
	if !wait {
		return nil, nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	// A holder that dies after the request reached it never answers: watch
	// that its request channel still has a subscriber.
	alive := time.NewTicker(holderCheckInterval)
	defer alive.Stop()
	for {
		select {
		case rep := <-ch:
			switch {
			case rep.NotConnected:
				return nil, transport.ErrNotConnected
			case rep.Err != "":
				return nil, errors.New(rep.Err)
			}
			return rep.Reply, nil
		case <-alive.C:
			subs, err := r.rdb.PubSubNumSub(ctx, r.reqChannel(node)).Result()
			if err == nil && subs[r.reqChannel(node)] == 0 {
				_ = releaseScript.Run(ctx, r.rdb, []string{r.instancesKey()}, target, node).Err()
				return nil, transport.ErrNotConnected
			}
		case <-t.C:
			return nil, fmt.Errorf("timeout: no reply from %s (node %s) within %s", shortName(target), node, timeout.Round(time.Millisecond))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.ctx.Done():
			return nil, errors.New("cluster router closed")
		}
	}
}

// holderCheckInterval is how often a waiting request checks its holder is alive.
const holderCheckInterval = 500 * time.Millisecond

func shortName(target string) string {
	const p = "system.adapter."
	if len(target) > len(p) && target[:len(p)] == p {
		return target[len(p):]
	}
	return target
}

// SendTo implements transport.MessageRouter for instances on other nodes.
func (r *Router) SendTo(ctx context.Context, from, instance, command string, message any) (any, error) {
	return r.forward(ctx, instance, from, command, message, true)
}

// SendToHost implements transport.MessageRouter for hosts on other nodes.
func (r *Router) SendToHost(ctx context.Context, from, host, command string, message any) (any, error) {
	return r.forward(ctx, host, from, command, message, true)
}

// ClientSubscribe implements transport.MessageRouter. The instance answers
// with `im` messages to its own node, which delivers them only to sockets
// connected there (docs/redis.md).
func (r *Router) ClientSubscribe(ctx context.Context, target, sid, msgType string, data any) (any, error) {
	return r.forward(ctx, target, r.o.From, "clientSubscribe", map[string]any{"type": msgType, "sid": sid, "data": data}, true)
}

// ClientUnsubscribe implements transport.MessageRouter (no reply awaited).
func (r *Router) ClientUnsubscribe(target, sid string, msgTypes []string, reason string) {
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	_, _ = r.forward(ctx, target, r.o.From, "clientUnsubscribe", map[string]any{"type": msgTypes, "sid": sid, "reason": reason}, false)
}
