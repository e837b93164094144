// Package redisstore implements the object, state and file stores on Redis
// with ioBroker's key layout (docs/redis.md), so that several brokerd nodes
// can share one Redis and an ioBroker installation's Redis can be read.
//
// Every write is one MULTI/EXEC transaction or Lua script that stores the
// value, updates the indexes, appends the change to the store's Redis
// Stream and PUBLISHes it on the key name (for foreign ioBroker readers).
// Each node reads the streams from its last id and delivers changes to its
// Watch listeners in stream (commit) order; a write returns after its own
// node has delivered it, so listeners and caches are read-your-writes.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure the stores of one node.
type Options struct {
	// Client is the connection pool; required.
	Client *redis.Client
	// Prefix is put before every key and channel ("" = ioBroker's layout).
	Prefix string
	// StreamMaxLen bounds each change stream (XADD MAXLEN ~); a node that
	// is away for more changes than this resynchronises instead of replaying.
	StreamMaxLen int64
	// WaitDelivery bounds how long a write waits for its own node to deliver
	// it after Redis accepted it (default 5 s); after that it returns success.
	WaitDelivery time.Duration
	// Logger receives reconnects, gaps and expiry problems (default slog.Default()).
	Logger *slog.Logger
}

func (o *Options) fill() error {
	if o.Client == nil {
		return errors.New("redisstore: Options.Client is required")
	}
	if o.StreamMaxLen <= 0 {
		o.StreamMaxLen = 100_000
	}
	if o.WaitDelivery <= 0 {
		o.WaitDelivery = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// NewClient connects to addr ("host:port") and database db and checks that
// Redis answers.
func NewClient(addr string, db int) (*redis.Client, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, unavailable(err)
	}
	return c, nil
}

// ErrUnavailable is matched (errors.Is) by every error caused by a lost or
// refused Redis connection.
var ErrUnavailable = errors.New("redis unavailable")

// UnavailableError wraps the Redis client error of a failed call.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return "redis unavailable: " + e.Err.Error() }

// Unwrap returns the client error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

func unavailable(err error) error {
	if err == nil {
		return nil
	}
	var u *UnavailableError
	if errors.As(err, &u) {
		return err
	}
	return &UnavailableError{Err: err}
}

// keys builds every key name; see docs/redis.md.
type keys struct{ p string }

func (k keys) state(id string) string  { return k.p + "io." + id }
func (k keys) object(id string) string { return k.p + "cfg.o." + id }
func (k keys) fileData(ns, name string) string {
	return k.p + "cfg.f." + ns + "$%$" + name + "$%$data"
}
func (k keys) fileMeta(ns, name string) string {
	return k.p + "cfg.f." + ns + "$%$" + name + "$%$meta"
}

// ioBroker's own object indexes (sets of object keys).
func (k keys) typeSet(t string) string { return k.p + "cfg.s.object.type." + t }
func (k keys) customSet() string       { return k.p + "cfg.s.object.common.custom" }

// brokerd's indexes: sorted sets of ids, score 0, for ZRANGEBYLEX ranges.
func (k keys) objectIDs() string          { return k.p + "brokerd.objects.ids" }
func (k keys) objectType(t string) string { return k.p + "brokerd.objects.type." + t }
func (k keys) objectCustom() string       { return k.p + "brokerd.objects.custom" }
func (k keys) objectsIndexed() string     { return k.p + "brokerd.objects.indexed" }
func (k keys) objectStream() string       { return k.p + "brokerd.objects.changes" }
func (k keys) stateIDs() string           { return k.p + "brokerd.states.ids" }
func (k keys) stateExpiry() string        { return k.p + "brokerd.states.expiry" }
func (k keys) statesIndexed() string      { return k.p + "brokerd.states.indexed" }
func (k keys) stateStream() string        { return k.p + "brokerd.states.changes" }
func (k keys) fileNames(ns string) string { return k.p + "brokerd.files.names." + ns }
func (k keys) fileNamespaces() string     { return k.p + "brokerd.files.namespaces" }
func (k keys) filesIndexed() string       { return k.p + "brokerd.files.indexed" }
func (k keys) fileStream() string         { return k.p + "brokerd.files.changes" }

// lexRange returns ZRANGEBYLEX bounds holding every id that is, in UTF-16
// order, inside [start, end]. Byte order and UTF-16 order differ only where
// a character of U+E000..U+FFFF meets one above U+FFFF; both start with a
// byte ≥ 0xEE in UTF-8, so bounds are cut before the first such byte and
// the caller filters exactly.
func lexRange(start, end string) (minB, maxB string) {
	minB = "[" + cutHigh(start)
	if c := cutHigh(end); c == end {
		maxB = "[" + end
	} else {
		maxB = "(" + c + "\xff"
	}
	return minB, maxB
}

func cutHigh(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xEE {
			return s[:i]
		}
	}
	return s
}

// prefixRange is the ZRANGEBYLEX range of all members starting with p.
func prefixRange(p string) (string, string) {
	if p == "" {
		return "-", "+"
	}
	return "[" + p, "(" + p + "\xff"
}

// streamID is a parsed Redis stream id "<ms>-<seq>".
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) streamID {
	a, b, _ := strings.Cut(s, "-")
	ms, _ := strconv.ParseUint(a, 10, 64)
	seq, _ := strconv.ParseUint(b, 10, 64)
	return streamID{ms, seq}
}

func (a streamID) less(b streamID) bool {
	return a.ms < b.ms || a.ms == b.ms && a.seq < b.seq
}

func (a streamID) String() string {
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}

// feed reads one change stream from the last id it delivered and hands each
// batch to apply, in stream order, on its own goroutine. After a lost
// connection it resumes from that id (no duplicates, nothing missed unless
// the stream was trimmed past it: then gap is called).
type feed struct {
	rdb    *redis.Client
	stream string
	log    *slog.Logger
	apply  func([]redis.XMessage)
	gap    func()

	mu     sync.Mutex
	last   streamID
	notify chan struct{} // closed and replaced after every applied batch
	down   error         // set while the stream cannot be read

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// tailID returns the id of the newest stream entry ("0-0" when empty).
func tailID(ctx context.Context, rdb *redis.Client, stream string) (streamID, error) {
	msgs, err := rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil {
		return streamID{}, unavailable(err)
	}
	if len(msgs) == 0 {
		return streamID{}, nil
	}
	return parseStreamID(msgs[0].ID), nil
}

func newFeed(rdb *redis.Client, stream string, from streamID, log *slog.Logger, apply func([]redis.XMessage), gap func()) *feed {
	ctx, cancel := context.WithCancel(context.Background())
	f := &feed{rdb: rdb, stream: stream, log: log, apply: apply, gap: gap, last: from,
		notify: make(chan struct{}), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go f.run()
	return f
}

func (f *feed) close() {
	f.cancel()
	<-f.done
}

func (f *feed) run() {
	defer close(f.done)
	backoff := 20 * time.Millisecond
	failed := false
	for f.ctx.Err() == nil {
		if failed && !f.checkGap() {
			f.sleep(&backoff)
			continue
		}
		f.mu.Lock()
		from := f.last.String()
		f.mu.Unlock()
		res, err := f.rdb.XRead(f.ctx, &redis.XReadArgs{Streams: []string{f.stream, from}, Count: 1024, Block: 250 * time.Millisecond}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if f.ctx.Err() != nil {
				return
			}
			if !failed {
				f.log.Warn("redis: change stream lost, reconnecting", "stream", f.stream, "err", err)
			}
			f.setDown(err)
			failed = true
			f.sleep(&backoff)
			continue
		}
		if failed {
			f.log.Info("redis: change stream resumed", "stream", f.stream, "from", from)
			f.setDown(nil)
			failed = false
			backoff = 20 * time.Millisecond
		}
		for _, s := range res {
			if len(s.Messages) == 0 {
				continue
			}
			f.apply(s.Messages)
			f.advance(parseStreamID(s.Messages[len(s.Messages)-1].ID))
		}
	}
}

// checkGap runs after a reconnect. Trimming removes the oldest entries
// first, so while our last entry is still in the stream nothing after it
// was lost; when it is gone and the stream starts after it, entries may
// have been trimmed unseen and the owner resynchronises.
func (f *feed) checkGap() bool {
	f.mu.Lock()
	last := f.last
	f.mu.Unlock()
	if last == (streamID{}) {
		return f.rdb.Ping(f.ctx).Err() == nil
	}
	first, err := f.rdb.XRangeN(f.ctx, f.stream, "-", "+", 1).Result()
	if err != nil {
		return false
	}
	mine, err := f.rdb.XRangeN(f.ctx, f.stream, last.String(), last.String(), 1).Result()
	if err != nil {
		return false
	}
	if len(mine) == 0 && (len(first) == 0 || last.less(parseStreamID(first[0].ID))) {
		f.log.Warn("redis: change stream trimmed while disconnected; resynchronising", "stream", f.stream, "last", last.String())
		if f.gap != nil {
			f.gap()
		}
	}
	return true
}

func (f *feed) sleep(backoff *time.Duration) {
	select {
	case <-f.ctx.Done():
	case <-time.After(*backoff):
	}
	*backoff = min(*backoff*2, time.Second)
}

func (f *feed) setDown(err error) {
	f.mu.Lock()
	f.down = err
	f.mu.Unlock()
}

// skipTo moves the read position forward (after a resync).
func (f *feed) skipTo(id streamID) {
	f.mu.Lock()
	if f.last.less(id) {
		f.last = id
	}
	f.mu.Unlock()
}

func (f *feed) advance(id streamID) {
	f.mu.Lock()
	if f.last.less(id) {
		f.last = id
	}
	ch := f.notify
	f.notify = make(chan struct{})
	f.mu.Unlock()
	close(ch)
}

// position returns the id of the last delivered entry.
func (f *feed) position() streamID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// waitFor blocks until the entry id was delivered, the feed closed or d passed.
func (f *feed) waitFor(id streamID, d time.Duration) bool {
	var timer <-chan time.Time
	for {
		f.mu.Lock()
		if !f.last.less(id) {
			f.mu.Unlock()
			return true
		}
		ch := f.notify
		f.mu.Unlock()
		if timer == nil {
			t := time.NewTimer(d)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-ch:
		case <-timer:
			return false
		case <-f.ctx.Done():
			return false
		}
	}
}

// field reads a string field of a stream entry.
func field(m redis.XMessage, k string) (string, bool) {
	v, ok := m.Values[k]
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// watchers is a copy-on-write listener list.
type watchers[C any] struct {
	mu sync.Mutex
	l  []func(C)
}

func (w *watchers[C]) add(fn func(C)) {
	w.mu.Lock()
	w.l = append(w.l[:len(w.l):len(w.l)], fn)
	w.mu.Unlock()
}

func (w *watchers[C]) publish(c C) {
	w.mu.Lock()
	l := w.l
	w.mu.Unlock()
	for _, fn := range l {
		fn(c)
	}
}

func errf(format string, args ...any) error { return fmt.Errorf("redisstore: "+format, args...) }
