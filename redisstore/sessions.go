package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/brokerd/brokerd/auth"
	"github.com/redis/go-redis/v9"
)

// Sessions is the Redis auth.SessionStore: browser sessions and OAuth2
// token pairs shared by every node on one Redis and prefix, so a login on
// one node is valid on all and a revocation on one ends the sockets using
// the token on all (docs/redis.md, "Sessions").
//
// Redis holds the credentials; each node keeps a cache of the ones it has
// validated or issued so that Alive, called before every command and every
// second per idle socket, never waits for Redis. The cache stays correct
// because every revocation deletes the keys and PUBLISHes the hashes in one
// atomic unit, and each node applies those messages to its cache:
//
//   - While the subscription is up, Redis delivers every message published
//     after it was confirmed, in order. A revocation that races a cache fill
//     either happened before the GET (the GET finds nothing) or publishes
//     after it; its message leaves a tombstone that the fill respects, or
//     marks the filled entry revoked.
//   - Pub/sub drops what is published while a subscriber is away. When the
//     connection is lost (an error, or no answer to PING within
//     lostAfter), the node stops adding entries to the cache, resubscribes
//     and, once the new subscription is confirmed, checks every cached entry
//     with EXISTS: whatever was revoked in the gap is then missing. Fills
//     that started before the loss are not cached (generation check).
//   - Every Revalidate (default 30 s) the same check runs anyway, bounding
//     the damage of a loss the node did not notice.
//
// Between a loss and the re-check a node answers from its cache: a revocation
// made on another node in that window takes effect here when Redis is back
// (this node cannot write or re-check anything before then either).
// Expiry needs no message: each entry carries its deadline and each key has
// a Redis TTL of its remaining life.
type Sessions struct {
	rdb   *redis.Client
	k     keys
	now   func() time.Time
	log   *slog.Logger
	every time.Duration

	mu    sync.RWMutex
	cache map[tokenHash]*sessEntry
	up    bool   // the revocation subscription is confirmed and healthy
	gen   uint64 // bumped on every loss and every new subscription

	psMu   sync.Mutex
	ps     *redis.PubSub
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// SessionsOptions configure OpenSessions.
type SessionsOptions struct {
	// Now is the clock that decides expiry (nil = time.Now). Redis TTLs are
	// set from it too, as the remaining life in milliseconds.
	Now func() time.Time
	// Revalidate is how often the cached credentials are checked against
	// Redis besides after a reconnect (0 = 30 s).
	Revalidate time.Duration
}

var _ auth.SessionStore = (*Sessions)(nil)

type tokenHash [sha256.Size]byte

func hashOf(token string) tokenHash { return sha256.Sum256([]byte(token)) }

func (h tokenHash) String() string { return hex.EncodeToString(h[:]) }

// sessRecord is the stored JSON, the shape of the bbolt store's records.
type sessRecord struct {
	Kind    auth.Kind `json:"k"`
	User    string    `json:"u"`
	Expires int64     `json:"e"` // unix ms
	Created int64     `json:"c"` // unix ms
	Peer    string    `json:"p,omitempty"`
}

// sessEntry is one cached credential, or a tombstone of a revoked one.
type sessEntry struct {
	kind    auth.Kind
	user    string
	expires time.Time
	revoked bool      // tombstone: Validate refuses without asking Redis
	forget  time.Time // tombstones: Sweep drops them after this
}

// tombstoneTTL keeps a revoked hash refused locally long enough to outlast
// any GET that was in flight when the revocation arrived.
const tombstoneTTL = time.Minute

// Timings of the revocation subscription.
const (
	pingEvery = 5 * time.Second  // PING an idle subscription this often
	lostAfter = 12 * time.Second // nothing received for this long: reconnect
)

// pruneMargin keeps index entries of just-expired tokens a little longer so
// a node with a slower clock still finds them for RevokeUser.
const pruneMargin = time.Minute

func (k keys) sessToken(h tokenHash) string { return k.p + "brokerd.sessions.tok." + h.String() }
func (k keys) sessUser(user string) string  { return k.p + "brokerd.sessions.user." + user }
func (k keys) sessRevoked() string          { return k.p + "brokerd.sessions.revoked" }

// OpenSessions subscribes to the revocation channel (waiting for Redis to
// confirm it) and returns the store. o.Client and o.Prefix are used; Close
// stops the subscription.
func OpenSessions(o Options, so SessionsOptions) (*Sessions, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	if so.Now == nil {
		so.Now = time.Now
	}
	if so.Revalidate <= 0 {
		so.Revalidate = 30 * time.Second
	}
	s := &Sessions{rdb: o.Client, k: keys{o.Prefix}, now: so.Now, log: o.Logger, every: so.Revalidate,
		cache: map[tokenHash]*sessEntry{}, done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	ps := s.rdb.Subscribe(ctx, s.k.sessRevoked())
	if _, err := ps.ReceiveTimeout(ctx, 5*time.Second); err != nil {
		ps.Close()
		s.cancel()
		return nil, unavailable(err)
	}
	s.ps, s.up, s.gen = ps, true, 1
	go s.listen()
	return s, nil
}

// Close ends the subscription. The client stays open.
func (s *Sessions) Close() {
	s.cancel()
	s.psMu.Lock()
	if s.ps != nil {
		s.ps.Close() // interrupts a blocked receive
	}
	s.psMu.Unlock()
	<-s.done
}

// listen applies revocation messages and re-checks the cache after every
// new subscription and every Revalidate.
func (s *Sessions) listen() {
	defer close(s.done)
	defer func() {
		s.psMu.Lock()
		if s.ps != nil {
			s.ps.Close()
			s.ps = nil
		}
		s.psMu.Unlock()
	}()
	lastSeen := time.Now()
	nextCheck := time.Now().Add(s.every)
	backoff := 20 * time.Millisecond
	for {
		s.psMu.Lock()
		if s.ctx.Err() != nil { // checked under psMu: Close cannot miss a new subscription
			s.psMu.Unlock()
			return
		}
		ps := s.ps
		if ps == nil {
			ps = s.rdb.Subscribe(s.ctx, s.k.sessRevoked())
			s.ps = ps
			lastSeen = time.Now()
		}
		s.psMu.Unlock()
		wait := pingEvery
		if d := time.Until(nextCheck); d < wait && s.isUp() {
			wait = max(d, time.Millisecond)
		}
		msg, err := ps.ReceiveTimeout(s.ctx, wait)
		if s.ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && isTimeout(err) && time.Since(lastSeen) < lostAfter:
			err = nil
			// Idle: a PING proves the connection (the Pong arrives as a message).
			if time.Since(lastSeen) >= pingEvery {
				err = ps.Ping(s.ctx)
			}
		case err == nil:
			lastSeen = time.Now()
			switch m := msg.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" {
					s.setUp(true)
					nextCheck = time.Time{} // revocations of the gap: check now
					backoff = 20 * time.Millisecond
				}
			case *redis.Message:
				s.applyRevoked(strings.Split(m.Payload, ","))
			}
		}
		if err != nil {
			s.lost(err)
			s.psMu.Lock()
			ps.Close()
			s.ps = nil
			s.psMu.Unlock()
			select {
			case <-s.ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		if !time.Now().Before(nextCheck) && s.isUp() {
			if err := s.revalidate(); err != nil {
				s.log.Warn("redis: sessions re-check failed, retrying", "err", err)
				nextCheck = time.Now().Add(time.Second)
			} else {
				nextCheck = time.Now().Add(s.every)
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *Sessions) lost(err error) {
	s.mu.Lock()
	was := s.up
	s.up = false
	s.gen++
	s.mu.Unlock()
	if was {
		s.log.Warn("redis: sessions revocation channel lost, resubscribing", "err", err)
	}
}

func (s *Sessions) setUp(up bool) {
	s.mu.Lock()
	s.up = up
	s.gen++
	s.mu.Unlock()
}

func (s *Sessions) isUp() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.up
}

// generation returns the subscription generation, or ok=false while the
// subscription is down (then nothing may be added to the cache).
func (s *Sessions) generation() (uint64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen, s.up
}

// applyRevoked turns the hashes into tombstones (also hashes this node has
// not cached: a fill in flight must not resurrect them).
func (s *Sessions) applyRevoked(hexes []string) {
	now := s.now()
	s.mu.Lock()
	s.applyHexLocked(hexes, now)
	s.mu.Unlock()
}

// tombstoneLocked replaces the entry: entries are never changed in place,
// so readers may use one after unlocking.
func (s *Sessions) tombstoneLocked(h tokenHash, now time.Time) {
	s.cache[h] = &sessEntry{revoked: true, forget: now.Add(tombstoneTTL)}
}

// revalidate tombstones every cached live credential whose key is gone.
func (s *Sessions) revalidate() error {
	s.mu.RLock()
	live := make([]tokenHash, 0, len(s.cache))
	for h, e := range s.cache {
		if !e.revoked {
			live = append(live, h)
		}
	}
	s.mu.RUnlock()
	const batch = 1000
	for len(live) > 0 {
		n := min(batch, len(live))
		part := live[:n]
		live = live[n:]
		cmds := make([]*redis.IntCmd, n)
		_, err := s.rdb.Pipelined(s.ctx, func(p redis.Pipeliner) error {
			for i, h := range part {
				cmds[i] = p.Exists(s.ctx, s.k.sessToken(h))
			}
			return nil
		})
		if err != nil {
			return unavailable(err)
		}
		now := s.now()
		s.mu.Lock()
		for i, h := range part {
			if cmds[i].Val() == 0 {
				s.tombstoneLocked(h, now)
			}
		}
		s.mu.Unlock()
	}
	return nil
}

// cacheFill adds a live entry unless the subscription changed since gen
// was read or the hash was revoked meanwhile.
func (s *Sessions) cacheFill(gen uint64, fills map[tokenHash]*sessEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.up || s.gen != gen {
		return
	}
	for h, e := range fills {
		if cur := s.cache[h]; cur != nil && cur.revoked {
			continue
		}
		s.cache[h] = e
	}
}

// newCred is one credential to store.
type newCred struct {
	h   tokenHash
	rec sessRecord
}

// putLua stores the credentials KEYS[first..] with ARGV quadruples from
// ARGV[a] on (hash, JSON, PX, expiry score), indexes them in the user's
// sorted set KEYS[idx] whose TTL grows to the longest, and prunes index
// entries that expired before ARGV[pruneBefore].
const putLua = `
local function put(idx, first, a, pruneBefore)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. pruneBefore)
  local maxpx = 0
  for i = first, #KEYS do
    local j = a + (i - first) * 4
    local px = tonumber(ARGV[j + 2])
    redis.call('SET', KEYS[i], ARGV[j + 1], 'PX', px)
    redis.call('ZADD', idx, ARGV[j + 3], ARGV[j])
    if px > maxpx then maxpx = px end
  end
  if redis.call('PTTL', idx) < maxpx then redis.call('PEXPIRE', idx, maxpx) end
end
`

// createScript: KEYS = user index, token keys; ARGV = prune-before, quadruples.
var createScript = redis.NewScript(putLua + `
put(KEYS[1], 2, 2, ARGV[1])
return 1
`)

// rotateScript exchanges a refresh token atomically: it succeeds only while
// the old refresh token still holds exactly the JSON the caller checked, so
// of two racing refreshes (on any nodes) one wins and the other gets 0.
// KEYS = old refresh, its peer, user index, new access, new refresh.
// ARGV = old JSON, channel, message, old refresh hash, peer hash,
// prune-before, quadruples.
var rotateScript = redis.NewScript(putLua + `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[4], ARGV[5])
put(KEYS[3], 4, 7, ARGV[6])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`)

// put stores creds of one user in Redis, then in the cache.
func (s *Sessions) put(creds []newCred) error {
	gen, _ := s.generation()
	now := s.now()
	user := creds[0].rec.User
	ks := []string{s.k.sessUser(user)}
	args := []any{now.Add(-pruneMargin).UnixMilli()}
	ks, args = s.appendCreds(ks, args, creds, now)
	if err := createScript.Run(s.ctx, s.rdb, ks, args...).Err(); err != nil {
		return unavailable(err)
	}
	s.cacheFill(gen, entries(creds))
	return nil
}

func (s *Sessions) appendCreds(ks []string, args []any, creds []newCred, now time.Time) ([]string, []any) {
	for _, c := range creds {
		js, _ := json.Marshal(c.rec)
		px := max(c.rec.Expires-now.UnixMilli(), 1)
		ks = append(ks, s.k.sessToken(c.h))
		args = append(args, c.h.String(), js, px, c.rec.Expires)
	}
	return ks, args
}

func entries(creds []newCred) map[tokenHash]*sessEntry {
	m := make(map[tokenHash]*sessEntry, len(creds))
	for _, c := range creds {
		if c.rec.Kind != auth.KindRefresh { // never valid for connecting: not cached
			m[c.h] = &sessEntry{kind: c.rec.Kind, user: c.rec.User, expires: time.UnixMilli(c.rec.Expires)}
		}
	}
	return m
}

// NewSession creates a browser session of user valid for ttl.
func (s *Sessions) NewSession(user string, ttl time.Duration) (string, time.Time, error) {
	now := s.now()
	token := auth.NewToken()
	exp := now.Add(ttl)
	c := newCred{hashOf(token), sessRecord{Kind: auth.KindSession, User: user, Expires: exp.UnixMilli(), Created: now.UnixMilli()}}
	if err := s.put([]newCred{c}); err != nil {
		return "", time.Time{}, err
	}
	return token, time.UnixMilli(c.rec.Expires), nil
}

// pair builds a new access/refresh pair of user, linked to each other.
func pair(user string, now time.Time, accessTTL, refreshTTL time.Duration) (auth.TokenPair, []newCred) {
	p := auth.TokenPair{User: user, AccessToken: auth.NewToken(), RefreshToken: auth.NewToken(),
		AccessExpires: time.UnixMilli(now.Add(accessTTL).UnixMilli()), RefreshExpires: time.UnixMilli(now.Add(refreshTTL).UnixMilli())}
	ah, rh := hashOf(p.AccessToken), hashOf(p.RefreshToken)
	return p, []newCred{
		{ah, sessRecord{Kind: auth.KindAccess, User: user, Expires: p.AccessExpires.UnixMilli(), Created: now.UnixMilli(), Peer: rh.String()}},
		{rh, sessRecord{Kind: auth.KindRefresh, User: user, Expires: p.RefreshExpires.UnixMilli(), Created: now.UnixMilli(), Peer: ah.String()}},
	}
}

// IssueTokens creates an OAuth2 access/refresh pair of user.
func (s *Sessions) IssueTokens(user string, accessTTL, refreshTTL time.Duration) (auth.TokenPair, error) {
	p, creds := pair(user, s.now(), accessTTL, refreshTTL)
	if err := s.put(creds); err != nil {
		return auth.TokenPair{}, err
	}
	return p, nil
}

// get reads and decodes a stored credential; ok=false when there is none.
func (s *Sessions) get(h tokenHash) (rec sessRecord, raw string, ok bool, err error) {
	raw, err = s.rdb.Get(s.ctx, s.k.sessToken(h)).Result()
	if errors.Is(err, redis.Nil) {
		return rec, "", false, nil
	}
	if err != nil {
		return rec, "", false, unavailable(err)
	}
	if json.Unmarshal([]byte(raw), &rec) != nil {
		return rec, "", false, nil
	}
	return rec, raw, true, nil
}

// peerOf returns the peer hash of rec, or h itself when there is none.
func peerOf(rec sessRecord, h tokenHash) tokenHash {
	var p tokenHash
	if n, err := hex.Decode(p[:], []byte(rec.Peer)); err == nil && n == len(p) {
		return p
	}
	return h
}

// Refresh exchanges a live refresh token for a new pair and revokes the old
// pair on every node. Of concurrent refreshes with one token, on any nodes,
// exactly one succeeds.
func (s *Sessions) Refresh(refreshToken string, accessTTL, refreshTTL time.Duration) (auth.TokenPair, error) {
	now := s.now()
	h := hashOf(refreshToken)
	rec, raw, ok, err := s.get(h)
	if err != nil {
		return auth.TokenPair{}, err
	}
	if !ok || rec.Kind != auth.KindRefresh || rec.Expires <= now.UnixMilli() {
		return auth.TokenPair{}, auth.ErrInvalidToken
	}
	gen, _ := s.generation()
	peer := peerOf(rec, h)
	p, creds := pair(rec.User, now, accessTTL, refreshTTL)
	ks := []string{s.k.sessToken(h), s.k.sessToken(peer), s.k.sessUser(rec.User)}
	args := []any{raw, s.k.sessRevoked(), h.String() + "," + peer.String(), h.String(), peer.String(), now.Add(-pruneMargin).UnixMilli()}
	ks, args = s.appendCreds(ks, args, creds, now)
	n, err := rotateScript.Run(s.ctx, s.rdb, ks, args...).Int()
	if err != nil {
		return auth.TokenPair{}, unavailable(err)
	}
	if n == 0 {
		return auth.TokenPair{}, auth.ErrInvalidToken
	}
	s.tombstone(h, peer)
	s.cacheFill(gen, entries(creds))
	return p, nil
}

// tombstone applies a revocation made here at once, before its message
// comes back, so that this node refuses the token when the call returns.
func (s *Sessions) tombstone(hs ...tokenHash) {
	now := s.now()
	s.mu.Lock()
	for _, h := range hs {
		s.tombstoneLocked(h, now)
	}
	s.mu.Unlock()
}

// Validate reports the user and expiry of a live session id or access
// token: from the cache, or with one GET for a token this node has not seen.
func (s *Sessions) Validate(token string) (string, time.Time, bool) {
	if token == "" {
		return "", time.Time{}, false
	}
	h := hashOf(token)
	s.mu.RLock()
	e := s.cache[h]
	s.mu.RUnlock()
	if e != nil {
		if e.revoked || e.kind == auth.KindRefresh || !e.expires.After(s.now()) {
			return "", time.Time{}, false
		}
		return e.user, e.expires, true
	}
	gen, _ := s.generation()
	rec, _, ok, err := s.get(h)
	if err != nil {
		s.log.Debug("redis: session lookup failed", "err", err)
		return "", time.Time{}, false
	}
	exp := time.UnixMilli(rec.Expires)
	if !ok || rec.Kind == auth.KindRefresh || !exp.After(s.now()) {
		return "", time.Time{}, false
	}
	s.cacheFill(gen, map[tokenHash]*sessEntry{h: {kind: rec.Kind, user: rec.User, expires: exp}})
	return rec.User, exp, true
}

// Alive reports whether token still validates; for a token Validate
// accepted it answers from memory.
func (s *Sessions) Alive(token string) bool {
	_, _, ok := s.Validate(token)
	return ok
}

// Revoke deletes token and its peer on every node; ErrNoSession when Redis
// does not hold it (unknown, expired, or already revoked).
func (s *Sessions) Revoke(token string) error {
	h := hashOf(token)
	rec, _, ok, err := s.get(h)
	if err != nil {
		return err
	}
	if !ok {
		s.tombstone(h)
		return auth.ErrNoSession
	}
	peer := peerOf(rec, h)
	var del *redis.IntCmd
	_, err = s.rdb.TxPipelined(s.ctx, func(p redis.Pipeliner) error {
		del = p.Del(s.ctx, s.k.sessToken(h))
		p.Del(s.ctx, s.k.sessToken(peer))
		p.ZRem(s.ctx, s.k.sessUser(rec.User), h.String(), peer.String())
		p.Publish(s.ctx, s.k.sessRevoked(), h.String()+","+peer.String())
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	s.tombstone(h, peer)
	if del.Val() == 0 {
		return auth.ErrNoSession // revoked or rotated by someone else meanwhile
	}
	return nil
}

// RevokeUser deletes every session and token of user on every node and
// returns how many credentials Redis still held.
func (s *Sessions) RevokeUser(user string) (int, error) {
	idx := s.k.sessUser(user)
	var (
		n      int
		hashes []string
	)
	txf := func(tx *redis.Tx) error {
		hs, err := tx.ZRange(s.ctx, idx, 0, -1).Result()
		if err != nil {
			return err
		}
		hashes = hs
		var del *redis.IntCmd
		_, err = tx.TxPipelined(s.ctx, func(p redis.Pipeliner) error {
			if len(hs) > 0 {
				ks := make([]string, len(hs))
				for i, x := range hs {
					ks[i] = s.k.p + "brokerd.sessions.tok." + x
				}
				del = p.Del(s.ctx, ks...)
				p.Publish(s.ctx, s.k.sessRevoked(), strings.Join(hs, ","))
			}
			p.Del(s.ctx, idx)
			return nil
		})
		if err == nil && del != nil {
			n = int(del.Val())
		}
		return err
	}
	var err error
	for range maxRetries {
		// WATCH: a credential issued between ZRANGE and EXEC restarts the round.
		if err = s.rdb.Watch(s.ctx, txf, idx); !errors.Is(err, redis.TxFailedErr) {
			break
		}
	}
	if err != nil {
		return 0, unavailable(err)
	}
	now := s.now()
	s.mu.Lock()
	s.applyHexLocked(hashes, now)
	for h, e := range s.cache {
		if e.user == user && !e.revoked {
			s.tombstoneLocked(h, now)
		}
	}
	s.mu.Unlock()
	return n, nil
}

func (s *Sessions) applyHexLocked(hexes []string, now time.Time) {
	for _, x := range hexes {
		var h tokenHash
		if n, err := hex.Decode(h[:], []byte(x)); err == nil && n == len(h) {
			s.tombstoneLocked(h, now)
		}
	}
}

// Sweep turns expired cache entries into tombstones and forgets old
// tombstones; Redis drops expired keys by their TTL. An expired entry stays
// a tombstone for a while so that a socket still holding it is refused from
// memory, not with a GET. It returns how many expired credentials it found.
func (s *Sessions) Sweep() (int, error) {
	now := s.now()
	n := 0
	s.mu.Lock()
	for h, e := range s.cache {
		switch {
		case e.revoked && !e.forget.After(now):
			delete(s.cache, h)
		case !e.revoked && !e.expires.After(now):
			s.tombstoneLocked(h, now)
			n++
		}
	}
	s.mu.Unlock()
	return n, nil
}
