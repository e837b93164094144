package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
	"github.com/redis/go-redis/v9"
)

// Objects is the Redis objects.Store. Redis holds the objects (cfg.o.<id>)
// and their indexes; ranges and views read the sorted sets with
// ZRANGEBYLEX and the values with MGET. Single-object reads go through a
// cache that only the change feed and fills made before any newer change
// update, so it is never older than what this node has delivered.
type Objects struct {
	o   Options
	rdb *redis.Client
	k   keys

	feed *feed
	w    watchers[objects.Change]

	cmu   sync.RWMutex
	cache map[string]*objEntry
	epoch uint64 // bumped by every change the feed applies
}

type objEntry struct {
	raw json.RawMessage
	p   *objects.Parsed
}

var _ objects.Store = (*Objects)(nil)

// OpenObjects builds the indexes once if they are missing (an ioBroker
// database) and starts following the change stream.
func OpenObjects(o Options) (*Objects, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	s := &Objects{o: o, rdb: o.Client, k: keys{o.Prefix}, cache: map[string]*objEntry{}}
	ctx := context.Background()
	if err := s.index(ctx); err != nil {
		return nil, err
	}
	tail, err := tailID(ctx, s.rdb, s.k.objectStream())
	if err != nil {
		return nil, err
	}
	s.feed = newFeed(s.rdb, s.k.objectStream(), tail, o.Logger, s.apply, s.dropCache)
	return s, nil
}

// Close stops following the change stream.
func (s *Objects) Close() { s.feed.close() }

// index builds brokerd's sorted sets and ioBroker's type sets once for a
// database written by ioBroker.
func (s *Objects) index(ctx context.Context) error {
	return indexOnce(ctx, s.rdb, s.k.objectsIndexed(), s.k.object(""), "", func(ids []string) error {
		return mgetEach(ctx, s.rdb, ids, bulkSize, s.k.object, func(lo int, vals []any) error {
			return s.indexStored(ctx, ids[lo:], vals)
		})
	})
}

// indexStored adds the stored JSON vals of ids (nil: gone meanwhile) to the
// indexes; an unreadable object is left out and logged.
func (s *Objects) indexStored(ctx context.Context, ids []string, vals []any) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, v := range vals {
			raw, ok := v.(string)
			if !ok {
				continue
			}
			parsed, err := objects.ParseStored(ids[i], []byte(raw))
			if err != nil {
				s.o.Logger.Warn("redis: unreadable object not indexed", "id", ids[i], "err", err)
				continue
			}
			s.indexCmds(ctx, p, ids[i], nil, parsed)
		}
		return nil
	})
	return err
}

// indexCmds queues the index updates of old → new (either may be nil).
func (s *Objects) indexCmds(ctx context.Context, p redis.Pipeliner, id string, old, new *objects.Parsed) {
	key := s.k.object(id)
	if old != nil && (new == nil || old.Meta.Type != new.Meta.Type) {
		p.SRem(ctx, s.k.typeSet(old.Meta.Type), key)
		p.ZRem(ctx, s.k.objectType(old.Meta.Type), id)
	}
	if old != nil && old.Meta.HasCustom && (new == nil || !new.Meta.HasCustom) {
		p.SRem(ctx, s.k.customSet(), key)
		p.ZRem(ctx, s.k.objectCustom(), id)
	}
	if new == nil {
		p.ZRem(ctx, s.k.objectIDs(), id)
		return
	}
	p.ZAdd(ctx, s.k.objectIDs(), redis.Z{Member: id})
	p.SAdd(ctx, s.k.typeSet(new.Meta.Type), key)
	p.ZAdd(ctx, s.k.objectType(new.Meta.Type), redis.Z{Member: id})
	if new.Meta.HasCustom {
		p.SAdd(ctx, s.k.customSet(), key)
		p.ZAdd(ctx, s.k.objectCustom(), redis.Z{Member: id})
	}
}

// apply runs on the feed goroutine: refresh the cache, then tell watchers.
func (s *Objects) apply(msgs []redis.XMessage) {
	changes := make([]objects.Change, 0, len(msgs))
	s.cmu.Lock()
	for _, m := range msgs {
		id, _ := field(m, "i")
		if id == "" {
			continue
		}
		s.epoch++
		if raw, ok := field(m, "o"); ok {
			p, err := objects.ParseStored(id, []byte(raw))
			if err != nil {
				delete(s.cache, id)
				continue
			}
			s.cache[id] = &objEntry{raw: json.RawMessage(raw), p: p}
			changes = append(changes, objects.Change{ID: id, Object: json.RawMessage(raw), Meta: p.Meta})
			continue
		}
		delete(s.cache, id)
		meta := &objects.Meta{ID: id}
		if d, ok := field(m, "d"); ok {
			if p, err := objects.ParseStored(id, []byte(d)); err == nil {
				meta = p.Meta
			}
		}
		changes = append(changes, objects.Change{ID: id, Meta: meta})
	}
	s.cmu.Unlock()
	for _, c := range changes {
		s.w.publish(c)
	}
}

// dropCache forgets everything after the feed lost entries.
func (s *Objects) dropCache() {
	s.cmu.Lock()
	s.cache = map[string]*objEntry{}
	s.epoch++
	s.cmu.Unlock()
	if tail, err := tailID(context.Background(), s.rdb, s.k.objectStream()); err == nil {
		s.feed.skipTo(tail)
	}
}

// lookup returns id from the cache or Redis (nil when missing).
func (s *Objects) lookup(ctx context.Context, id string) (*objEntry, error) {
	s.cmu.RLock()
	e, ok := s.cache[id]
	epoch := s.epoch
	s.cmu.RUnlock()
	if ok {
		return e, nil
	}
	raw, err := s.rdb.Get(ctx, s.k.object(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	p, err := objects.ParseStored(id, raw)
	if err != nil {
		return nil, err
	}
	e = &objEntry{raw: raw, p: p}
	s.cmu.Lock()
	if s.epoch == epoch { // no change applied since the GET: still current
		s.cache[id] = e
	}
	s.cmu.Unlock()
	return e, nil
}

// Get returns a decoded copy of id, nil when missing.
func (s *Objects) Get(id string) (objects.Object, error) { return s.GetAs(id, nil) }

// GetAs is Get with the per-object READ check for sub (nil = internal).
func (s *Objects) GetAs(id string, sub *acl.Subject) (objects.Object, error) {
	if id == "" {
		return nil, objects.ErrEmptyID
	}
	e, err := s.lookup(context.Background(), id)
	if err != nil || e == nil {
		return nil, err
	}
	if !objects.Allowed(sub, e.p.Meta, acl.Read) {
		return nil, objects.ErrPermission
	}
	var o objects.Object
	if err := json.Unmarshal(e.raw, &o); err != nil {
		return nil, err
	}
	return o, nil
}

// GetRaw returns the stored JSON (shared: do not modify) and its meta; an
// unreachable Redis reads as missing.
func (s *Objects) GetRaw(id string) (json.RawMessage, *objects.Meta, bool) {
	e, err := s.lookup(context.Background(), id)
	if err != nil || e == nil {
		return nil, nil, false
	}
	return e.raw, e.p.Meta, true
}

// GetMany looks up ids in order (getObjects with an id list).
func (s *Objects) GetMany(ids []string, sub *acl.Subject) []objects.RawResult {
	out := make([]objects.RawResult, len(ids))
	for i, id := range ids {
		out[i].ID = id
		e, err := s.lookup(context.Background(), id)
		if err != nil {
			out[i].Err = err
			continue
		}
		if e == nil {
			continue
		}
		if !objects.Allowed(sub, e.p.Meta, acl.Read) {
			out[i].Err = objects.ErrPermission
			continue
		}
		out[i].Raw, out[i].Meta = e.raw, e.p.Meta
	}
	return out
}

// DefaultNewACL returns system.config common.defaultNewAcl, nil when none.
func (s *Objects) DefaultNewACL() *objects.DefaultACL {
	raw, _, ok := s.GetRaw("system.config")
	if !ok {
		return nil
	}
	return objects.ParseDefaultACL(raw)
}

// Len returns the number of objects (0 when Redis is unreachable).
func (s *Objects) Len() int {
	n, _ := s.rdb.ZCard(context.Background(), s.k.objectIDs()).Result()
	return int(n)
}

// Watch registers fn for every change of any node, in stream order.
func (s *Objects) Watch(fn func(objects.Change)) { s.w.add(fn) }

// rangeIDs returns the members of the index zset in [start, end] (UTF-16
// order, inclusive), sorted; all ignores the bounds.
func (s *Objects) rangeIDs(ctx context.Context, zset, start, end string, all bool) ([]string, error) {
	var ids []string
	var err error
	if all {
		ids, err = s.rdb.ZRange(ctx, zset, 0, -1).Result()
	} else {
		if objects.CompareUTF16(start, end) > 0 {
			return nil, nil
		}
		lo, hi := lexRange(start, end)
		ids, err = s.rdb.ZRangeByLex(ctx, zset, &redis.ZRangeBy{Min: lo, Max: hi}).Result()
	}
	if err != nil {
		return nil, unavailable(err)
	}
	if !all {
		ids = slices.DeleteFunc(ids, func(id string) bool {
			return objects.CompareUTF16(id, start) < 0 || objects.CompareUTF16(id, end) > 0
		})
	}
	objects.SortIDs(ids)
	return ids, nil
}

// fetch reads the objects of ids with MGET; missing ones (deleted between
// the index read and the MGET) are left out.
func (s *Objects) fetch(ctx context.Context, ids []string) ([]string, []json.RawMessage, []*objects.Parsed, error) {
	outIDs := make([]string, 0, len(ids))
	raws := make([]json.RawMessage, 0, len(ids))
	ps := make([]*objects.Parsed, 0, len(ids))
	err := mgetEach(ctx, s.rdb, ids, bulkSize, s.k.object, func(lo int, vals []any) error {
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue
			}
			raw := json.RawMessage(str)
			p, err := objects.ParseStored(ids[lo+i], raw)
			if err != nil {
				continue
			}
			outIDs = append(outIDs, ids[lo+i])
			raws = append(raws, raw)
			ps = append(ps, p)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, unavailable(err)
	}
	return outIDs, raws, ps, nil
}

// Range calls fn for every object in [start, end] (inclusive, UTF-16 order).
func (s *Objects) Range(start, end string, fn func(id string, m *objects.Meta, raw json.RawMessage) bool) {
	ctx := context.Background()
	ids, err := s.rangeIDs(ctx, s.k.objectIDs(), start, end, false)
	if err != nil {
		s.o.Logger.Warn("redis: object range failed", "err", err)
		return
	}
	for lo := 0; lo < len(ids); lo += bulkSize {
		got, raws, ps, err := s.fetch(ctx, ids[lo:min(lo+bulkSize, len(ids))])
		if err != nil {
			s.o.Logger.Warn("redis: object range failed", "err", err)
			return
		}
		for i := range got {
			if !fn(got[i], ps[i].Meta, raws[i]) {
				return
			}
		}
	}
}

// Keys returns the ids in [start, end] accepted by match (nil = all), sorted.
func (s *Objects) Keys(match func(string) bool, start, end string) []string {
	ids, err := s.rangeIDs(context.Background(), s.k.objectIDs(), start, end, false)
	if err != nil {
		return nil
	}
	if match != nil {
		ids = slices.DeleteFunc(ids, func(id string) bool { return !match(id) })
	}
	return ids
}

// View answers getObjectView from the per-type (or custom) sorted set.
func (s *Objects) View(design, search string, p objects.ViewParams, allow func(*objects.Meta) bool) ([]objects.Row, error) {
	ctx := context.Background()
	d, err := s.lookup(ctx, "_design/"+design)
	if err != nil {
		return nil, err
	}
	var draw json.RawMessage
	if d != nil {
		draw = d.raw
	}
	q, err := objects.ResolveView(design, search, draw, p)
	if err != nil {
		return nil, err
	}
	zset := s.k.objectCustom()
	if !q.Custom {
		zset = s.k.objectType(q.Type)
	}
	start, end, all := q.Bounds()
	ids, err := s.rangeIDs(ctx, zset, start, end, all)
	if err != nil {
		return nil, err
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return !q.Match(id) })
	_, raws, ps, err := s.fetch(ctx, ids)
	if err != nil {
		return nil, err
	}
	if allow != nil {
		n := 0
		for i := range ps {
			if allow(ps[i].Meta) {
				ps[n], raws[n] = ps[i], raws[i]
				n++
			}
		}
		ps, raws = ps[:n], raws[:n]
	}
	return q.Rows(ps, raws), nil
}

// change is one write of a transaction: id becomes raw (nil = deleted; old
// is the JSON before).
type change struct {
	id       string
	old, raw json.RawMessage
	oldP     *objects.Parsed
}

// commit queues the writes, index updates, stream entries and publishes of
// cs into the MULTI of tx and returns the stream id of the last entry.
func (s *Objects) commit(ctx context.Context, tx *redis.Tx, cs []change) (streamID, error) {
	var last *redis.StringCmd
	_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range cs {
			key := s.k.object(c.id)
			var newP *objects.Parsed
			if c.raw != nil {
				var err error
				if newP, err = objects.ParseStored(c.id, c.raw); err != nil {
					return err
				}
				p.Set(ctx, key, []byte(c.raw), 0)
			} else {
				p.Del(ctx, key)
			}
			s.indexCmds(ctx, p, c.id, c.oldP, newP)
			vals := []any{"i", c.id}
			if c.raw != nil {
				vals = append(vals, "o", []byte(c.raw))
				p.Publish(ctx, key, []byte(c.raw))
			} else {
				if c.old != nil {
					vals = append(vals, "d", []byte(c.old))
				}
				p.Publish(ctx, key, "null")
			}
			last = p.XAdd(ctx, &redis.XAddArgs{Stream: s.k.objectStream(), MaxLen: s.o.StreamMaxLen, Approx: true, Values: vals})
		}
		return nil
	})
	if err != nil {
		return streamID{}, err
	}
	if last == nil {
		return streamID{}, nil
	}
	return parseStreamID(last.Val()), nil
}

// replace commits raw over old (nil: a new object) as the only change of
// tx; old is parsed for its index entries.
func (s *Objects) replace(ctx context.Context, tx *redis.Tx, id string, old, raw json.RawMessage) (streamID, error) {
	c := change{id: id, old: old, raw: raw}
	if old != nil {
		var err error
		if c.oldP, err = objects.ParseStored(id, old); err != nil {
			return streamID{}, err
		}
	}
	xid, err := s.commit(ctx, tx, []change{c})
	return xid, rerr(err)
}

// txn runs fn as an optimistic transaction on the watched keys (watchTxn).
func (s *Objects) txn(watch []string, fn func(ctx context.Context, tx *redis.Tx) (streamID, error)) error {
	ok, err := watchTxn(s.rdb, s.feed, s.o.WaitDelivery, watch, fn)
	if !ok {
		return errf("too many concurrent writers on %v", watch)
	}
	return err
}

// write is the read-modify-write of Set and Extend.
func (s *Objects) write(id string, build func(old json.RawMessage, def *objects.DefaultACL) (objects.Object, json.RawMessage, error)) (objects.Object, error) {
	if err := objects.CheckID(id); err != nil {
		return nil, err
	}
	key := s.k.object(id)
	cfgKey := s.k.object("system.config")
	var out objects.Object
	err := s.txn([]string{key, cfgKey}, func(ctx context.Context, tx *redis.Tx) (streamID, error) {
		old, err := getRaw(ctx, tx, key)
		if err != nil {
			return streamID{}, err
		}
		cfg, err := getRaw(ctx, tx, cfgKey)
		if err != nil {
			return streamID{}, err
		}
		var def *objects.DefaultACL
		if cfg != nil {
			def = objects.ParseDefaultACL(cfg)
		}
		n, raw, err := build(old, def)
		if err != nil {
			return streamID{}, err
		}
		out = n
		return s.replace(ctx, tx, id, old, raw)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Set replaces id with obj (datamodel.md 1.5 setObject).
func (s *Objects) Set(id string, obj objects.Object, o objects.WriteOptions) (objects.Object, error) {
	if err := objects.ValidateID(id); err != nil {
		return nil, err
	}
	if err := objects.ValidateObject(obj); err != nil {
		return nil, err
	}
	return s.write(id, func(old json.RawMessage, def *objects.DefaultACL) (objects.Object, json.RawMessage, error) {
		return objects.PrepareSet(id, obj, old, def, o)
	})
}

// SetJSON is Set for an undecoded argument.
func (s *Objects) SetJSON(id string, raw json.RawMessage, o objects.WriteOptions) (objects.Object, error) {
	obj, err := objects.DecodeSetArg(raw)
	if err != nil {
		return nil, err
	}
	return s.Set(id, obj, o)
}

// Extend deep-merges patch into id, creating it when missing.
func (s *Objects) Extend(id string, patch objects.Object, o objects.WriteOptions) (objects.Object, error) {
	if err := objects.ValidateID(id); err != nil {
		return nil, err
	}
	if patch == nil {
		return nil, objects.ErrNullObject
	}
	return s.write(id, func(old json.RawMessage, def *objects.DefaultACL) (objects.Object, json.RawMessage, error) {
		return objects.PrepareExtend(id, patch, old, def, o)
	})
}

// Delete removes id; a missing object is success.
func (s *Objects) Delete(id string, o objects.WriteOptions) error {
	_, err := s.deleteObjects(id, false, o)
	return err
}

// DeleteObject is Delete returning the deleted meta (nil when missing).
func (s *Objects) DeleteObject(id string, o objects.WriteOptions) (*objects.Meta, error) {
	ms, err := s.deleteObjects(id, false, o)
	if len(ms) == 0 {
		return nil, err
	}
	return ms[0], err
}

// DeleteRecursive deletes id and its `id.*` subtree (all or nothing).
func (s *Objects) DeleteRecursive(id string, o objects.WriteOptions) ([]*objects.Meta, error) {
	return s.deleteObjects(id, true, o)
}

func (s *Objects) deleteObjects(id string, recursive bool, o objects.WriteOptions) ([]*objects.Meta, error) {
	if err := objects.CheckID(id); err != nil {
		return nil, err
	}
	ctx := context.Background()
	for attempt := 0; attempt < maxRetries; attempt++ {
		// The subtree and the enums are read first and then watched, so a
		// concurrent create below id or a new enum aborts the transaction.
		ids := []string{id}
		if recursive {
			lo, hi := prefixRange(id + ".")
			sub, err := s.rdb.ZRangeByLex(ctx, s.k.objectIDs(), &redis.ZRangeBy{Min: lo, Max: hi}).Result()
			if err != nil {
				return nil, unavailable(err)
			}
			objects.SortIDs(sub)
			ids = append(ids, sub...)
		}
		enums, err := s.rdb.ZRange(ctx, s.k.objectType("enum"), 0, -1).Result()
		if err != nil {
			return nil, unavailable(err)
		}
		objects.SortIDs(enums)
		watch := []string{s.k.objectIDs(), s.k.objectType("enum")}
		for _, x := range ids {
			watch = append(watch, s.k.object(x))
		}
		for _, x := range enums {
			watch = append(watch, s.k.object(x))
		}
		var metas []*objects.Meta
		retry := false
		err = s.txn(watch, func(ctx context.Context, tx *redis.Tx) (streamID, error) {
			metas = nil
			now, err := tx.ZRange(ctx, s.k.objectType("enum"), 0, -1).Result()
			if err != nil {
				return streamID{}, rerr(err)
			}
			objects.SortIDs(now)
			if !slices.Equal(now, enums) {
				retry = true
				return streamID{}, nil
			}
			var cs []change
			deleted := map[string]bool{}
			for i, x := range ids {
				raw, err := getRaw(ctx, tx, s.k.object(x))
				if err != nil {
					return streamID{}, err
				}
				if raw == nil {
					continue
				}
				p, err := objects.ParseStored(x, raw)
				if err != nil {
					return streamID{}, err
				}
				if p.Meta.DontDelete {
					if i == 0 {
						return streamID{}, objects.ErrNotDeletable
					}
					continue
				}
				cs = append(cs, change{id: x, old: raw, oldP: p})
				deleted[x] = true
			}
			for _, c := range cs {
				if !objects.Allowed(o.Subject, c.oldP.Meta, acl.Write) {
					return streamID{}, objects.ErrPermission
				}
			}
			if len(cs) == 0 {
				return streamID{}, nil
			}
			for _, c := range cs {
				metas = append(metas, c.oldP.Meta)
			}
			for _, eid := range enums {
				if deleted[eid] {
					continue
				}
				raw, err := getRaw(ctx, tx, s.k.object(eid))
				if err != nil {
					return streamID{}, err
				}
				if raw == nil {
					continue
				}
				p, err := objects.ParseStored(eid, raw)
				if err != nil || !slices.ContainsFunc(p.Members, func(m string) bool { return deleted[m] }) {
					continue
				}
				next, ok, err := objects.RemoveMembers(raw, deleted, o.From)
				if err != nil || !ok {
					continue
				}
				cs = append(cs, change{id: eid, old: raw, oldP: p, raw: next})
			}
			xid, err := s.commit(ctx, tx, cs)
			return xid, rerr(err)
		})
		if err != nil {
			return nil, err
		}
		if retry {
			continue
		}
		return metas, nil
	}
	return nil, errf("too many concurrent writers deleting %s", id)
}

// InitDefaults creates the default objects that are missing (_design/system
// is always rewritten).
func (s *Objects) InitDefaults(hostname, adminPasswordHash string) error {
	ids, raws, err := objects.DefaultsToWrite(hostname, adminPasswordHash, func(id string) bool {
		_, _, ok := s.GetRaw(id)
		return ok
	})
	if err != nil {
		return err
	}
	for i, id := range ids {
		key := s.k.object(id)
		raw := raws[i]
		err := s.txn([]string{key}, func(ctx context.Context, tx *redis.Tx) (streamID, error) {
			old, err := getRaw(ctx, tx, key)
			if err != nil {
				return streamID{}, err
			}
			if old != nil && id != "_design/system" {
				return streamID{}, nil
			}
			return s.replace(ctx, tx, id, old, raw)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
