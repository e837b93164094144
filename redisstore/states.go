package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/brokerd/brokerd/states"
	"github.com/redis/go-redis/v9"
)

// setStateScript writes one state if the stored JSON is still the one the
// new state was derived from (ARGV[1]; "" = none), so that concurrent
// writers on other nodes never lose an update; it returns {0, current}
// when it is not, else {1, stream id}.
// KEYS: io.<id>, ids, expiry, stream. ARGV: expected, json, px, id, maxlen, expireAt.
var setStateScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[1] then return {0, cur} end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('ZREM', KEYS[3], ARGV[4])
end
redis.call('ZADD', KEYS[2], 0, ARGV[4])
local x
if tonumber(ARGV[3]) > 0 then
  x = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'i', ARGV[4], 's', ARGV[2], 'x', ARGV[6])
else
  x = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'i', ARGV[4], 's', ARGV[2])
end
redis.call('PUBLISH', KEYS[1], ARGV[2])
return {1, x}
`)

// delStateScript deletes one state and always publishes the deletion.
// KEYS: io.<id>, ids, expiry, stream. ARGV: id, maxlen.
var delStateScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local x = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 'i', ARGV[1])
redis.call('PUBLISH', KEYS[1], 'null')
return x
`)

// expireStateScript publishes the expiry of one state exactly once across
// all nodes: only the caller that still finds its deadline does it, and
// only once Redis has dropped the key (a later write moved or removed the
// deadline). KEYS: io.<id>, ids, expiry, stream. ARGV: id, maxlen.
var expireStateScript = redis.NewScript(`
if redis.call('ZSCORE', KEYS[3], ARGV[1]) == false then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local x = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 'i', ARGV[1], 'e', '1')
redis.call('PUBLISH', KEYS[1], 'null')
return x
`)

// States is the Redis states.Store. Every node holds all states in memory
// (loaded at open, then fed by the change stream), so reads never touch
// Redis; writes go to Redis first and are acknowledged once it accepted them.
type States struct {
	o   Options
	rdb *redis.Client
	k   keys

	mu  sync.RWMutex
	m   map[string]*stEntry
	n   int
	pos streamID // last stream entry applied to m

	localMu sync.Mutex
	local   map[string]*states.State // stream id → state written here, for the feed

	stripes [64]sync.Mutex // serialise this node's writers per id
	seed    maphash.Seed

	feed *feed
	w    watchers[states.Change]

	expWake       chan struct{}
	ctx           context.Context
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	notifications bool // keyspace expiry notifications are used

	now func() time.Time
}

// stEntry is one id in memory; ver orders writes of this node against the
// feed. st == nil is a tombstone of a local deletion not yet delivered.
type stEntry struct {
	st  *states.State
	raw string // the stored JSON (what setStateScript compares)
	ver streamID
}

var _ states.Store = (*States)(nil)

// OpenStates loads every state into memory and starts following the
// change stream and the expiry of states.
func OpenStates(o Options) (*States, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &States{o: o, rdb: o.Client, k: keys{o.Prefix}, local: map[string]*states.State{},
		seed: maphash.MakeSeed(), expWake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, now: time.Now}
	if err := s.index(ctx); err != nil {
		cancel()
		return nil, err
	}
	tail, err := tailID(ctx, s.rdb, s.k.stateStream())
	if err != nil {
		cancel()
		return nil, err
	}
	if err := s.load(ctx, tail); err != nil {
		cancel()
		return nil, err
	}
	s.feed = newFeed(s.rdb, s.k.stateStream(), tail, o.Logger, s.apply, s.resync)
	s.notifications = s.enableNotifications(ctx)
	s.wg.Add(1)
	go s.expiryLoop()
	return s, nil
}

// Notifications reports whether Redis keyspace expiry notifications are
// used (else expiry relies on the deadline scan alone).
func (s *States) Notifications() bool { return s.notifications }

// Close stops the feed and the expiry goroutines; the client stays open.
func (s *States) Close() {
	s.cancel()
	s.feed.close()
	s.wg.Wait()
}

// index builds brokerd.states.ids once from the io.* keys of an existing
// ioBroker database.
func (s *States) index(ctx context.Context) error {
	return indexOnce(ctx, s.rdb, s.k.statesIndexed(), s.k.state(""), "", func(ids []string) error {
		zs := make([]redis.Z, len(ids))
		for i, id := range ids {
			zs[i] = redis.Z{Member: id}
		}
		return s.rdb.ZAdd(ctx, s.k.stateIDs(), zs...).Err()
	})
}

// loadChunk is how many states load reads with one MGET.
const loadChunk = 2000

// load reads every state into memory; entries get version ver.
func (s *States) load(ctx context.Context, ver streamID) error {
	ids, err := s.rdb.ZRange(ctx, s.k.stateIDs(), 0, -1).Result()
	if err != nil {
		return unavailable(err)
	}
	m := make(map[string]*stEntry, len(ids))
	err = mgetEach(ctx, s.rdb, ids, loadChunk, s.k.state, func(lo int, vals []any) error {
		var expiring []string
		for i, v := range vals {
			id := ids[lo+i]
			raw, ok := v.(string)
			if !ok {
				continue // expired while nobody ran; the expiry scan publishes it
			}
			st, err := decodeState(raw)
			if err != nil {
				s.o.Logger.Warn("redis: unreadable state skipped", "id", id, "err", err)
				continue
			}
			m[id] = &stEntry{st: st, raw: raw, ver: ver}
			if st.Expire {
				expiring = append(expiring, id)
			}
		}
		if len(expiring) == 0 {
			return nil
		}
		scores, err := s.rdb.ZMScore(ctx, s.k.stateExpiry(), expiring...).Result()
		if err != nil {
			return err
		}
		for i, id := range expiring {
			m[id].st.ExpireAt = int64(scores[i])
		}
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	s.mu.Lock()
	s.m = m
	s.n = len(m)
	s.pos = ver
	s.mu.Unlock()
	return nil
}

// resync reloads everything after the feed lost entries.
func (s *States) resync() {
	tail, err := tailID(s.ctx, s.rdb, s.k.stateStream())
	if err != nil {
		return
	}
	if err := s.load(s.ctx, tail); err != nil {
		s.o.Logger.Warn("redis: states resync failed", "err", err)
		return
	}
	s.feed.skipTo(tail)
}

// wireState is the stored JSON: the client form (states.State's fields),
// whose expire an ioBroker writer may set to anything but true; the
// deadline lives in the expiry set, not here.
type wireState struct {
	states.State
	Expire any `json:"expire"` // shadows State.Expire
}

func decodeState(raw string) (*states.State, error) {
	var w wireState
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		return nil, err
	}
	st := &w.State
	if b, ok := w.Expire.(bool); ok && b {
		st.Expire = true
	}
	return st, nil
}

// Current returns the value readers see (nil: a local deletion not yet
// delivered).
func (e *stEntry) Current() *states.State { return e.st }

// Get returns the state from memory; the pointer is shared, do not modify.
func (s *States) Get(id string) (*states.State, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return states.Lookup(s.m, id)
}

// GetMany returns the states of ids in order, nil for missing ones.
func (s *States) GetMany(ids []string) []*states.State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return states.LookupMany(s.m, ids)
}

// Len returns the number of states with a value.
func (s *States) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}

// All calls fn for every state in id order on a snapshot.
func (s *States) All(fn func(id string, st *states.State) bool) {
	s.mu.RLock()
	snap := states.TakeSnapshot(s.m, s.n)
	s.mu.RUnlock()
	snap.Each(fn)
}

// Watch registers fn for every change, delivered in stream order on the
// feed goroutine (changes of all nodes); fn must not block.
func (s *States) Watch(fn func(states.Change)) { s.w.add(fn) }

func (s *States) stripe(id string) *sync.Mutex {
	return &s.stripes[maphash.String(s.seed, id)%uint64(len(s.stripes))]
}

// Set applies w to the current state (datamodel.md 3.3) and returns once
// Redis accepted the write and this node delivered it.
func (s *States) Set(id string, w states.Write) (*states.State, error) {
	if _, err := states.ParseID(id); err != nil {
		return nil, err
	}
	mu := s.stripe(id)
	mu.Lock()
	defer mu.Unlock()
	s.mu.RLock()
	var prev *states.State
	var prevRaw string
	if e := s.m[id]; e != nil && e.st != nil {
		prev, prevRaw = e.st, e.raw
	}
	s.mu.RUnlock()
	ks := []string{s.k.state(id), s.k.stateIDs(), s.k.stateExpiry(), s.k.stateStream()}
	for attempt := 0; ; attempt++ {
		now := s.now().UnixMilli()
		st := states.NewState(prev, w, now)
		js := string(states.AppendJSON(make([]byte, 0, 128), st))
		px := int64(0)
		if st.ExpireAt != 0 {
			px = max(st.ExpireAt-now, 1)
		}
		res, err := setStateScript.Run(s.ctx, s.rdb, ks, prevRaw, js, px, id, s.o.StreamMaxLen, st.ExpireAt).Slice()
		if err != nil {
			return nil, unavailable(err)
		}
		if ok, _ := res[0].(int64); ok == 0 {
			// Another node wrote meanwhile: derive from what Redis holds.
			if attempt == maxRetries {
				return nil, errf("state %s: too many concurrent writers", id)
			}
			if attempt > 1 { // back off against a writer on another node
				time.Sleep(time.Duration(rand.IntN(attempt*200)) * time.Microsecond)
			}
			prev, prevRaw = nil, ""
			if cur, isStr := res[1].(string); isStr {
				if prev, err = decodeState(cur); err != nil {
					return nil, errf("state %s: %v", id, err)
				}
				prevRaw = cur
			}
			continue
		}
		xid := parseStreamID(res[1].(string))
		s.installLocal(id, st, js, xid)
		s.feed.waitFor(xid, s.o.WaitDelivery)
		if st.ExpireAt != 0 {
			s.pokeExpiry()
		}
		return st, nil
	}
}

// SetAsync is Set: the write is durable when it returns, wait returns nil.
func (s *States) SetAsync(id string, w states.Write) (*states.State, func() error, error) {
	st, err := s.Set(id, w)
	if err != nil {
		return nil, nil, err
	}
	return st, func() error { return nil }, nil
}

// Delete removes the state and publishes the deletion (also for a missing one).
func (s *States) Delete(id string) error {
	if _, err := states.ParseID(id); err != nil {
		return err
	}
	mu := s.stripe(id)
	mu.Lock()
	defer mu.Unlock()
	ks := []string{s.k.state(id), s.k.stateIDs(), s.k.stateExpiry(), s.k.stateStream()}
	x, err := delStateScript.Run(s.ctx, s.rdb, ks, id, s.o.StreamMaxLen).Text()
	if err != nil {
		return unavailable(err)
	}
	xid := parseStreamID(x)
	s.installLocal(id, nil, "", xid)
	s.feed.waitFor(xid, s.o.WaitDelivery)
	return nil
}

// installLocal puts a write of this node into memory unless the feed has
// already applied it (and maybe newer ones) or holds a newer value.
func (s *States) installLocal(id string, st *states.State, raw string, xid streamID) {
	s.localMu.Lock()
	s.local[xid.String()] = st
	s.localMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pos.less(xid) {
		return
	}
	e := s.m[id]
	if e != nil && xid.less(e.ver) {
		return
	}
	s.put(id, e, st, raw, xid)
}

// put replaces the value of id; call with mu held.
func (s *States) put(id string, e *stEntry, st *states.State, raw string, ver streamID) {
	had := e != nil && e.st != nil
	if e == nil {
		e = &stEntry{}
		s.m[id] = e
	}
	switch {
	case had && st == nil:
		s.n--
	case !had && st != nil:
		s.n++
	}
	e.st, e.raw, e.ver = st, raw, ver
}

// apply runs on the feed goroutine: update memory, then tell the watchers.
func (s *States) apply(msgs []redis.XMessage) {
	changes := make([]states.Change, 0, len(msgs))
	var earliest int64
	s.mu.Lock()
	for _, m := range msgs {
		id, _ := field(m, "i")
		if id == "" {
			continue
		}
		xid := parseStreamID(m.ID)
		s.localMu.Lock()
		st, mine := s.local[m.ID]
		delete(s.local, m.ID)
		s.localMu.Unlock()
		raw, has := field(m, "s")
		if has && !mine {
			var err error
			if st, err = decodeState(raw); err != nil {
				s.o.Logger.Warn("redis: unreadable state change skipped", "id", id, "err", err)
				continue
			}
			if x, ok := field(m, "x"); ok {
				st.ExpireAt, _ = strconv.ParseInt(x, 10, 64)
			}
		}
		if !has {
			st, raw = nil, ""
		}
		e := s.m[id]
		if e == nil || !xid.less(e.ver) {
			if st == nil {
				if e != nil && e.st != nil {
					s.n--
				}
				delete(s.m, id)
			} else {
				s.put(id, e, st, raw, xid)
			}
		}
		if st != nil && st.ExpireAt != 0 && (earliest == 0 || st.ExpireAt < earliest) {
			earliest = st.ExpireAt
		}
		c := states.Change{ID: id, State: st, JSON: json.RawMessage("null")}
		if st != nil {
			c.JSON = json.RawMessage(raw)
		}
		changes = append(changes, c)
	}
	s.pos = parseStreamID(msgs[len(msgs)-1].ID)
	s.mu.Unlock()
	if earliest != 0 {
		s.pokeExpiry()
	}
	for _, c := range changes {
		s.w.publish(c)
	}
}

// enableNotifications turns on expired-key events (CONFIG SET
// notify-keyspace-events, keeping the flags already set) and subscribes; it
// reports false when Redis refuses (then the deadline scan alone works).
func (s *States) enableNotifications(ctx context.Context) bool {
	cur, err := s.rdb.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		s.o.Logger.Info("redis: cannot read notify-keyspace-events; expiry by deadline scan only", "err", err)
		return false
	}
	flags := cur["notify-keyspace-events"]
	hasX := strings.ContainsAny(flags, "xA")
	if !strings.Contains(flags, "E") || !hasX {
		next := flags
		if !strings.Contains(next, "E") {
			next += "E"
		}
		if !hasX {
			next += "x"
		}
		if err := s.rdb.ConfigSet(ctx, "notify-keyspace-events", next).Err(); err != nil {
			s.o.Logger.Info("redis: cannot enable keyspace notifications; expiry by deadline scan only", "err", err)
			return false
		}
	}
	ch := "__keyevent@" + strconv.Itoa(s.rdb.Options().DB) + "__:expired"
	sub := s.rdb.Subscribe(ctx, ch)
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return false
	}
	pfx := s.k.state("")
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer sub.Close()
		msgs := sub.Channel()
		for {
			select {
			case <-s.ctx.Done():
				return
			case m, ok := <-msgs:
				if !ok {
					return
				}
				if id, ok := strings.CutPrefix(m.Payload, pfx); ok {
					s.expire(id)
				}
			}
		}
	}()
	return true
}

func (s *States) expire(id string) {
	ks := []string{s.k.state(id), s.k.stateIDs(), s.k.stateExpiry(), s.k.stateStream()}
	if err := expireStateScript.Run(s.ctx, s.rdb, ks, id, s.o.StreamMaxLen).Err(); err != nil && s.ctx.Err() == nil {
		s.o.Logger.Warn("redis: state expiry failed", "id", id, "err", err)
	}
}

func (s *States) pokeExpiry() {
	select {
	case s.expWake <- struct{}{}:
	default:
	}
}

// expiryLoop is the deadline scan: it sleeps until the earliest deadline of
// brokerd.states.expiry (at most a second, so deadlines set by other nodes
// and expiries missed while disconnected are found) and expires what is due.
func (s *States) expiryLoop() {
	defer s.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.expWake:
		}
		wait := time.Second
		now := s.now().UnixMilli()
		due, err := s.rdb.ZRangeByScore(s.ctx, s.k.stateExpiry(), &redis.ZRangeBy{Min: "-inf",
			Max: strconv.FormatInt(now, 10), Count: 512}).Result()
		if err == nil {
			for _, id := range due {
				s.expire(id)
			}
			if len(due) == 512 {
				wait = 0
			} else if next, err := s.rdb.ZRangeWithScores(s.ctx, s.k.stateExpiry(), 0, 0).Result(); err == nil && len(next) > 0 {
				wait = min(wait, max(time.Duration(int64(next[0].Score)-now)*time.Millisecond, time.Millisecond))
			}
		} else if s.ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			wait = time.Second
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}
