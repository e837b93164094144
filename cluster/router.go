// Package cluster lets several brokerd nodes on one Redis (store: redis)
// reach each other's adapter instances: a transport.MessageRouter that
// forwards sendTo, sendToHost and clientSubscribe to the node holding the
// target and carries the reply back, and a transport.IMRouter that carries
// an instance's `im` messages to subscribed sockets on other nodes, over
// Redis pub/sub (docs/redis.md).
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
//
// Instance messages need no key: the node holding an instance learns the
// node of every socket that subscribes to it from the forwarded
// clientSubscribe (sid → node, in memory) and publishes the socket's `im`
// messages on that node's request channel, in order, from one goroutine.
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
	// IMTimeout bounds the wait for the node of a socket to confirm an im.
	IMTimeout = 5 * time.Second
	// maxIMRoutes bounds the sid → node table (entries of sockets whose
	// disconnect never reached this node are evicted at random).
	maxIMRoutes = 1 << 17
	// outQueue and maxBatch size the ordered publisher.
	outQueue = 4096
	maxBatch = 256
)

// Local delivers a message to an instance or host connected to this node
// only, failing with transport.ErrNotConnected otherwise
// (*transport.Server implements it).
type Local interface {
	Deliver(ctx context.Context, target, from, command string, message any) (any, error)
}

// IMLocal is what a Local also implements to receive instance messages for
// its sockets (*transport.Server does).
type IMLocal interface {
	DeliverIM(sid, source, msgType string, data any) transport.IMResult
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
	pub   *redis.Client // ordered publisher: no retries, so no duplicate im
	node  string
	ps    *redis.PubSub
	local atomic.Pointer[localBox]
	out   chan outMsg // im requests and replies, published in queue order

	mu       sync.Mutex
	held     map[string]bool        // instances connected to this node
	waiting  map[uint64]func(reply) // request id → its waiter
	imRoutes map[string]string      // sid of another node's socket → that node
	seq      atomic.Uint64

	serving chan struct{} // semaphore of requests being handled
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type localBox struct{ l Local }

var (
	_ transport.MessageRouter = (*Router)(nil)
	_ transport.IMRouter      = (*Router)(nil)
	_ IMLocal                 = (*transport.Server)(nil)
)

// request is what travels on a node's request channel.
type request struct {
	ID      uint64 `json:"id"`
	Reply   string `json:"reply"`          // channel for the reply ("" = none wanted)
	Target  string `json:"target"`         // system.adapter.<name>.<n> or system.host.<name>
	From    string `json:"from"`           // sender, as the adapter sees it
	Command string `json:"command"`        // sendTo command or clientSubscribe/clientUnsubscribe
	Message any    `json:"message"`        // as decoded from the wire
	Timeout int64  `json:"ms,omitempty"`   // how long the requester waits
	Node    string `json:"node,omitempty"` // requesting node
	// IM marks an instance message: Target is the socket id, From the
	// source instance, Type the message type and Message its data.
	IM   bool   `json:"im,omitempty"`
	Type string `json:"type,omitempty"`
}

// outMsg is one PUBLISH of the ordered publisher; id > 0 is an im request
// whose waiter learns when it reached no node or failed.
type outMsg struct {
	channel string
	payload []byte
	id      uint64
}

// reply is what travels on a reply channel.
type reply struct {
	Reply        any    `json:"reply"`
	Err          string `json:"err,omitempty"`
	NotConnected bool   `json:"nc,omitempty"`
}

// New subscribes to this node's request and reply channels and starts the
// heartbeat and the publisher. Close ends them.
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
	// go-redis retries a pipeline whose reply was lost, which would
	// publish an im twice: the publisher gets a client that never retries.
	po := *o.Client.Options()
	po.MaxRetries, po.PoolSize, po.MinIdleConns = -1, 2, 0
	r := &Router{o: o, rdb: o.Client, pub: redis.NewClient(&po), node: o.Node, held: map[string]bool{},
		waiting: map[uint64]func(reply){}, imRoutes: map[string]string{}, out: make(chan outMsg, outQueue),
		serving: make(chan struct{}, maxServing), ctx: ctx, cancel: cancel}
	if o.Local != nil {
		r.SetLocal(o.Local)
	}
	// Both subscriptions are confirmed before New returns, so no request or
	// reply sent after it can miss this node.
	r.ps = r.rdb.Subscribe(ctx, r.reqChannel(r.node))
	if _, err := r.ps.Receive(ctx); err != nil {
		r.ps.Close()
		r.pub.Close()
		cancel()
		return nil, fmt.Errorf("cluster: subscribe: %w", err)
	}
	if err := r.ps.PSubscribe(ctx, r.replyChannel(r.node, "*")); err != nil {
		r.ps.Close()
		r.pub.Close()
		cancel()
		return nil, fmt.Errorf("cluster: subscribe: %w", err)
	}
	if _, err := r.ps.Receive(ctx); err != nil {
		r.ps.Close()
		r.pub.Close()
		cancel()
		return nil, fmt.Errorf("cluster: subscribe: %w", err)
	}
	if err := r.beat(ctx); err != nil {
		r.ps.Close()
		r.pub.Close()
		cancel()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	r.wg.Add(3)
	go r.receive()
	go r.heartbeat()
	go r.pump()
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
	waiting := r.waiting
	r.waiting = map[uint64]func(reply){}
	r.mu.Unlock()
	for _, w := range waiting {
		w(reply{Err: "cluster router closed"})
	}
	r.pub.Close()
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
	r.settle(id, rep)
}

// settle hands rep to the waiter of request id, if it still waits; so each
// waiter runs once, whichever of reply, publish failure, timeout or Close
// comes first.
func (r *Router) settle(id uint64, rep reply) {
	r.mu.Lock()
	w := r.waiting[id]
	delete(r.waiting, id)
	r.mu.Unlock()
	if w != nil {
		w(rep)
	}
}

// serve handles one request on its own goroutine (bounded by maxServing).
func (r *Router) serve(payload string) {
	var q request
	if err := json.Unmarshal([]byte(payload), &q); err != nil {
		r.o.Logger.Warn("cluster: bad request", "err", err)
		return
	}
	if q.IM {
		r.serveIM(q)
		return
	}
	r.noteRoute(q)
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

// noteRoute learns which node a socket lives on from the clientSubscribe it
// forwards to an instance here, before the instance sees it (it may answer
// with an im at once), and forgets it when the socket disconnects.
func (r *Router) noteRoute(q request) {
	if q.Node == "" || q.Node == r.node {
		return
	}
	m, _ := q.Message.(map[string]any)
	sid, _ := m["sid"].(string)
	if sid == "" {
		return
	}
	switch q.Command {
	case "clientSubscribe":
		r.mu.Lock()
		if _, ok := r.imRoutes[sid]; !ok && len(r.imRoutes) >= maxIMRoutes {
			for k := range r.imRoutes {
				delete(r.imRoutes, k)
				break
			}
		}
		r.imRoutes[sid] = q.Node
		r.mu.Unlock()
	case "clientUnsubscribe":
		if reason, _ := m["reason"].(string); reason == "disconnect" {
			r.dropRoute(sid, q.Node)
		}
	}
}

// dropRoute forgets sid if it still points at node.
func (r *Router) dropRoute(sid, node string) {
	r.mu.Lock()
	if r.imRoutes[sid] == node {
		delete(r.imRoutes, sid)
	}
	r.mu.Unlock()
}

// serveIM delivers an instance message to a socket of this node. It runs on
// the receive goroutine, so the messages of one sender reach the socket in
// the order they were published; the reply goes through the publisher.
func (r *Router) serveIM(q request) {
	res := transport.IMNoSocket
	if box := r.local.Load(); box != nil {
		if l, ok := box.l.(IMLocal); ok {
			res = l.DeliverIM(q.Target, q.From, q.Type, q.Message)
		}
	}
	if q.Reply == "" {
		return
	}
	b, _ := json.Marshal(reply{Reply: int(res), NotConnected: res == transport.IMNoSocket})
	r.enqueue(outMsg{channel: q.Reply, payload: b})
}

// PublishIM implements transport.IMRouter: it sends the message to the node
// whose socket sid subscribed to an instance of this node. Calls are
// published in call order by one goroutine and served in that order by the
// receiving node's receive goroutine.
func (r *Router) PublishIM(sid, source, msgType string, data any, done func(transport.IMResult, error)) {
	r.mu.Lock()
	node := r.imRoutes[sid]
	r.mu.Unlock()
	if node == "" {
		done(transport.IMNoSocket, nil)
		return
	}
	id := r.seq.Add(1)
	q := request{ID: id, Reply: r.replyChannel(r.node, strconv.FormatUint(id, 10)), Target: sid, From: source,
		IM: true, Type: msgType, Message: data, Node: r.node}
	b, err := json.Marshal(q)
	if err != nil {
		done(transport.IMNoSocket, fmt.Errorf("cluster: message not encodable: %w", err))
		return
	}
	timer := time.AfterFunc(IMTimeout, func() {
		r.settle(id, reply{Err: fmt.Sprintf("timeout: node %s did not confirm the message within %s", node, IMTimeout)})
	})
	r.mu.Lock()
	r.waiting[id] = func(rep reply) {
		timer.Stop()
		switch {
		case rep.NotConnected:
			// The socket left its node, or the node is gone.
			r.dropRoute(sid, node)
			done(transport.IMNoSocket, nil)
		case rep.Err != "":
			done(transport.IMNoSocket, errors.New(rep.Err))
		default:
			res, _ := rep.Reply.(float64)
			done(transport.IMResult(res), nil)
		}
	}
	r.mu.Unlock()
	if !r.enqueue(outMsg{channel: r.reqChannel(node), payload: b, id: id}) {
		r.settle(id, reply{Err: "cluster router closed"})
	}
}

// enqueue hands m to the publisher, waiting while its queue is full (back
// pressure on the publishing instance); false once the router closed.
func (r *Router) enqueue(m outMsg) bool {
	select {
	case r.out <- m:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// pump publishes the queued messages in order, as pipelines of up to
// maxBatch: a batch is sent only after the previous one was executed, so
// Redis runs the PUBLISHes, and subscribers receive them, in queue order.
func (r *Router) pump() {
	defer r.wg.Done()
	batch := make([]outMsg, 0, maxBatch)
	for {
		select {
		case <-r.ctx.Done():
			return
		case m := <-r.out:
			batch = append(batch[:0], m)
		}
	more:
		for len(batch) < maxBatch {
			select {
			case m := <-r.out:
				batch = append(batch, m)
			default:
				break more
			}
		}
		r.flush(batch)
	}
}

func (r *Router) flush(batch []outMsg) {
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	p := r.pub.Pipeline()
	cmds := make([]*redis.IntCmd, len(batch))
	for i, m := range batch {
		cmds[i] = p.Publish(ctx, m.channel, m.payload)
	}
	if _, err := p.Exec(ctx); err != nil && r.ctx.Err() == nil {
		r.o.Logger.Warn("cluster: publish failed", "messages", len(batch), "err", err)
	}
	for i, m := range batch {
		if m.id == 0 {
			continue
		}
		n, err := cmds[i].Result()
		switch {
		case err != nil:
			r.settle(m.id, reply{Err: "redis unavailable: " + err.Error()})
		case n == 0:
			// The socket's node is gone (killed): so is the socket.
			r.settle(m.id, reply{NotConnected: true})
		}
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
		r.waiting[q.ID] = func(rep reply) { ch <- rep }
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

// ClientSubscribe implements transport.MessageRouter. The holder notes this
// node as the socket's (noteRoute), so the instance's `im` messages for sid
// come back here through PublishIM.
func (r *Router) ClientSubscribe(ctx context.Context, target, sid, msgType string, data any) (any, error) {
	return r.forward(ctx, target, r.o.From, "clientSubscribe", map[string]any{"type": msgType, "sid": sid, "data": data}, true)
}

// ClientUnsubscribe implements transport.MessageRouter (no reply awaited).
func (r *Router) ClientUnsubscribe(target, sid string, msgTypes []string, reason string) {
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	_, _ = r.forward(ctx, target, r.o.From, "clientUnsubscribe", map[string]any{"type": msgTypes, "sid": sid, "reason": reason}, false)
}
