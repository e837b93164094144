package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/files"
	"github.com/redis/go-redis/v9"
)

// Files is the Redis files.Store: content at cfg.f.<ns>$%$<name>$%$data,
// meta (ioBroker's shape) at …$%$meta, and per namespace a sorted set of
// the stored names for folder listings and subtree operations.
type Files struct {
	o   Options
	rdb *redis.Client
	k   keys

	checker  files.NamespaceChecker
	defaults func() acl.File

	mu     sync.RWMutex
	groups func(user string) []string
	// Now is the ms clock of new metas (tests replace it before use).
	Now func() int64

	feed *feed
	w    watchers[files.Change]
}

var _ files.Store = (*Files)(nil)

const markerName = "_data.json"

func isMarker(name string) bool {
	return name == markerName || strings.HasSuffix(name, "/"+markerName)
}

func splitName(name string) (dir, base string) {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}

func dirPrefix(dir string) string {
	if dir == "" {
		return ""
	}
	return dir + "/"
}

// fileMeta is ioBroker's meta JSON: size lives in stats.
type fileMeta struct {
	ACL      acl.File `json:"acl"`
	MimeType string   `json:"mimeType"`
	Binary   bool     `json:"binary"`
	Stats    struct {
		Size int64 `json:"size"`
	} `json:"stats"`
	ModifiedAt int64 `json:"modifiedAt"`
	CreatedAt  int64 `json:"createdAt"`
	Virtual    bool  `json:"virtualFile,omitempty"`
	NotExists  bool  `json:"notExists,omitempty"`
}

func encodeMeta(m *files.Meta) []byte {
	w := fileMeta{ACL: m.ACL, MimeType: m.MimeType, Binary: m.Binary, ModifiedAt: m.ModifiedAt,
		CreatedAt: m.CreatedAt, Virtual: m.Virtual, NotExists: m.Virtual}
	w.Stats.Size = m.Size
	b, _ := json.Marshal(&w)
	return b
}

func decodeMeta(b []byte) (*files.Meta, error) {
	var w fileMeta
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	return &files.Meta{ACL: w.ACL, MimeType: w.MimeType, Binary: w.Binary, Size: w.Stats.Size,
		ModifiedAt: w.ModifiedAt, CreatedAt: w.CreatedAt, Virtual: w.Virtual}, nil
}

// OpenFiles builds the name index once if missing (an ioBroker database)
// and starts following the change stream. ns decides which namespaces are
// meta objects; defaults returns the defaultNewAcl of files (may be nil).
func OpenFiles(o Options, ns files.NamespaceChecker, defaults func() acl.File) (*Files, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	if ns == nil {
		return nil, errors.New("redisstore: OpenFiles needs a namespace checker")
	}
	s := &Files{o: o, rdb: o.Client, k: keys{o.Prefix}, checker: ns, defaults: defaults,
		Now: func() int64 { return time.Now().UnixMilli() }}
	ctx := context.Background()
	if err := s.index(ctx); err != nil {
		return nil, err
	}
	tail, err := tailID(ctx, s.rdb, s.k.fileStream())
	if err != nil {
		return nil, err
	}
	s.feed = newFeed(s.rdb, s.k.fileStream(), tail, o.Logger, s.apply, nil)
	return s, nil
}

// Close stops following the change stream.
func (s *Files) Close() { s.feed.close() }

// index scans cfg.f.*$%$meta once to build the name sets.
func (s *Files) index(ctx context.Context) error {
	n, err := s.rdb.Exists(ctx, s.k.filesIndexed()).Result()
	if err != nil {
		return unavailable(err)
	}
	if n == 1 {
		return nil
	}
	pfx := s.k.p + "cfg.f."
	it := s.rdb.Scan(ctx, 0, escapeGlob(pfx)+"*$%$meta", 1000).Iterator()
	p := s.rdb.Pipeline()
	for it.Next(ctx) {
		rest := strings.TrimSuffix(strings.TrimPrefix(it.Val(), pfx), "$%$meta")
		ns, name, ok := strings.Cut(rest, "$%$")
		if !ok {
			continue
		}
		p.ZAdd(ctx, s.k.fileNames(ns), redis.Z{Member: name})
		p.ZAdd(ctx, s.k.fileNamespaces(), redis.Z{Member: ns})
		if p.Len() > 1000 {
			if _, err := p.Exec(ctx); err != nil {
				return unavailable(err)
			}
		}
	}
	if err := it.Err(); err != nil {
		return unavailable(err)
	}
	if _, err := p.Exec(ctx); err != nil {
		return unavailable(err)
	}
	return unavailable(s.rdb.Set(ctx, s.k.filesIndexed(), "1", 0).Err())
}

// SetUserGroups installs the lookup of a user's groups (primary first) that
// Chown uses when no ownerGroup is given.
func (s *Files) SetUserGroups(fn func(user string) []string) {
	s.mu.Lock()
	s.groups = fn
	s.mu.Unlock()
}

// Watch registers fn for every content write or delete of any node, in
// stream order.
func (s *Files) Watch(fn func(files.Change)) { s.w.add(fn) }

func (s *Files) apply(msgs []redis.XMessage) {
	for _, m := range msgs {
		ns, _ := field(m, "n")
		p, _ := field(m, "p")
		c := files.Change{Namespace: ns, Path: p}
		if size, ok := field(m, "s"); ok {
			c.Size, _ = strconv.ParseInt(size, 10, 64)
		} else {
			c.Deleted = true
		}
		s.w.publish(c)
	}
}

func (s *Files) defaultACL() acl.File {
	var d acl.File
	if s.defaults != nil {
		d = s.defaults()
	}
	if d.Owner == "" {
		d.Owner = acl.Admin
	}
	if d.OwnerGroup == "" {
		d.OwnerGroup = acl.AdminGroup
	}
	if d.Permissions == 0 {
		d.Permissions = 0x644
	}
	return d
}

func fillACL(d acl.File, m *files.Meta) acl.File {
	if m == nil {
		return d
	}
	a := m.ACL
	if a.Owner == "" {
		a.Owner = d.Owner
	}
	if a.OwnerGroup == "" {
		a.OwnerGroup = d.OwnerGroup
	}
	if a.Permissions == 0 {
		a.Permissions = d.Permissions
	}
	return a
}

func (s *Files) prepare(ns, name string) (string, string, error) {
	ns, name, err := files.Normalize(ns, name)
	if errors.Is(err, files.ErrEmptyID) {
		return ns, name, err
	}
	if !s.checker.IsMeta(ns) {
		return ns, name, &files.NotMetaError{Namespace: ns}
	}
	return ns, name, err
}

func (s *Files) prepareFile(ns, name string) (string, string, error) {
	ns, name, err := s.prepare(ns, name)
	if err == nil && name == "" {
		err = files.ErrNotExists
	}
	return ns, name, err
}

// reader is the read side of one operation: plain client or a WATCHing tx.
type reader interface {
	Get(ctx context.Context, key string) *redis.StringCmd
	MGet(ctx context.Context, keys ...string) *redis.SliceCmd
	ZRangeByLex(ctx context.Context, key string, opt *redis.ZRangeBy) *redis.StringSliceCmd
}

// meta reads the meta of a stored name, nil when missing.
func (s *Files) meta(ctx context.Context, r reader, ns, name string) (*files.Meta, error) {
	b, err := r.Get(ctx, s.k.fileMeta(ns, name)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, rerr(err)
	}
	return decodeMeta(b)
}

// allowed checks op against name's file acl, or the default acl for
// directories, missing names and the root.
func (s *Files) allowed(ctx context.Context, r reader, ns, name string, sub *acl.Subject, op int) (bool, error) {
	var m *files.Meta
	if name != "" && !isMarker(name) {
		var err error
		if m, err = s.meta(ctx, r, ns, name); err != nil {
			return false, err
		}
	}
	return acl.FileAllowed(sub, fillACL(s.defaultACL(), m), op), nil
}

// below lists the stored names starting with prefix, sorted byte-wise.
func (s *Files) below(ctx context.Context, r reader, ns, prefix string) ([]string, error) {
	lo, hi := prefixRange(prefix)
	names, err := r.ZRangeByLex(ctx, s.k.fileNames(ns), &redis.ZRangeBy{Min: lo, Max: hi}).Result()
	if err != nil {
		return nil, rerr(err)
	}
	return names, nil
}

// metas reads the metas of names (nil for missing ones).
func (s *Files) metas(ctx context.Context, r reader, ns string, names []string) ([]*files.Meta, error) {
	out := make([]*files.Meta, len(names))
	const chunk = 1000
	for lo := 0; lo < len(names); lo += chunk {
		part := names[lo:min(lo+chunk, len(names))]
		ks := make([]string, len(part))
		for i, n := range part {
			ks[i] = s.k.fileMeta(ns, n)
		}
		vals, err := r.MGet(ctx, ks...).Result()
		if err != nil {
			return nil, rerr(err)
		}
		for i, v := range vals {
			if str, ok := v.(string); ok {
				if out[lo+i], err = decodeMeta([]byte(str)); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// fop is one key change of an operation.
type fop struct {
	name     string
	meta     *files.Meta // nil: delete
	data     []byte
	from     string // rename: content read from this name in the read phase
	metaOnly bool
}

// run executes an operation: plan reads under WATCH (the namespace's name
// set plus the meta keys it names) and returns the changes, which are
// committed atomically with the index updates, stream entries and
// publishes. Retries when another writer interfered.
func (s *Files) run(ns string, watch []string, plan func(ctx context.Context, tx *redis.Tx) ([]fop, error)) error {
	ctx := context.Background()
	watch = append(watch, s.k.fileNames(ns))
	for attempt := 0; attempt < maxRetries; attempt++ {
		var userErr error
		var xid streamID
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			ops, err := plan(ctx, tx)
			if err != nil {
				if isRedisErr(err) {
					return err
				}
				userErr = err
				return nil
			}
			if len(ops) == 0 {
				return nil
			}
			// Rename sources are read before anything is written.
			src := map[string][]byte{}
			for _, op := range ops {
				if op.from != "" {
					b, err := tx.Get(ctx, s.k.fileData(ns, op.from)).Bytes()
					if err != nil {
						return rerr(err)
					}
					src[op.from] = b
				}
			}
			var last *redis.StringCmd
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				for _, op := range ops {
					mk, dk := s.k.fileMeta(ns, op.name), s.k.fileData(ns, op.name)
					if op.meta == nil {
						p.Del(ctx, mk, dk)
						p.ZRem(ctx, s.k.fileNames(ns), op.name)
						if !isMarker(op.name) {
							last = p.XAdd(ctx, &redis.XAddArgs{Stream: s.k.fileStream(), MaxLen: s.o.StreamMaxLen, Approx: true,
								Values: []any{"n", ns, "p", op.name}})
							p.Publish(ctx, dk, "null")
						}
						continue
					}
					p.Set(ctx, mk, encodeMeta(op.meta), 0)
					if op.metaOnly {
						continue
					}
					data := op.data
					if op.from != "" {
						data = src[op.from]
					}
					if data == nil {
						data = []byte{}
					}
					p.Set(ctx, dk, data, 0)
					p.ZAdd(ctx, s.k.fileNames(ns), redis.Z{Member: op.name})
					p.ZAdd(ctx, s.k.fileNamespaces(), redis.Z{Member: ns})
					if !isMarker(op.name) {
						size := strconv.FormatInt(op.meta.Size, 10)
						last = p.XAdd(ctx, &redis.XAddArgs{Stream: s.k.fileStream(), MaxLen: s.o.StreamMaxLen, Approx: true,
							Values: []any{"n", ns, "p", op.name, "s", size}})
						p.Publish(ctx, dk, size)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if last != nil {
				xid = parseStreamID(last.Val())
			}
			return nil
		}, watch...)
		if userErr != nil {
			return userErr
		}
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return unavailable(err)
		}
		if xid != (streamID{}) {
			s.feed.waitFor(xid, s.o.WaitDelivery)
		}
		return nil
	}
	return errf("too many concurrent writers in %s", ns)
}

// Read returns the content and meta of one file after the READ check;
// both come from one MGET, so an overwrite is seen whole or not at all.
func (s *Files) Read(ns, name string, sub *acl.Subject) ([]byte, *files.Meta, error) {
	ns, name, err := s.prepareFile(ns, name)
	if err != nil {
		return nil, nil, err
	}
	if isMarker(name) {
		return nil, nil, files.ErrNotExists
	}
	vals, err := s.rdb.MGet(context.Background(), s.k.fileMeta(ns, name), s.k.fileData(ns, name)).Result()
	if err != nil {
		return nil, nil, unavailable(err)
	}
	ms, ok1 := vals[0].(string)
	data, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		if !acl.FileAllowed(sub, s.defaultACL(), acl.Read) {
			return nil, nil, files.ErrPermission
		}
		return nil, nil, files.ErrNotExists
	}
	m, err := decodeMeta([]byte(ms))
	if err != nil {
		return nil, nil, err
	}
	if !acl.FileAllowed(sub, fillACL(s.defaultACL(), m), acl.Read) {
		return nil, nil, files.ErrPermission
	}
	return []byte(data), m, nil
}

// Exists reports whether a file or a folder exists at name.
func (s *Files) Exists(ns, name string, sub *acl.Subject) (bool, error) {
	ns, name, err := s.prepareFile(ns, name)
	if err != nil {
		return false, err
	}
	ctx := context.Background()
	var m *files.Meta
	if !isMarker(name) {
		if m, err = s.meta(ctx, s.rdb, ns, name); err != nil {
			return false, unavailable(err)
		}
	}
	if !acl.FileAllowed(sub, fillACL(s.defaultACL(), m), acl.Read) {
		return false, files.ErrPermission
	}
	if isMarker(name) {
		return false, nil
	}
	if m != nil {
		return true, nil
	}
	lo, hi := prefixRange(name + "/")
	n, err := s.rdb.ZLexCount(ctx, s.k.fileNames(ns), lo, hi).Result()
	if err != nil {
		return false, unavailable(err)
	}
	return n > 0, nil
}

// ReadDir lists one level of dir like files.BoltStore.ReadDir.
func (s *Files) ReadDir(ns, dir string, sub *acl.Subject) ([]files.Entry, error) {
	ctx := context.Background()
	if ns == "" {
		return s.namespaces(ctx)
	}
	ns, dir, err := s.prepare(ns, dir)
	if err != nil {
		return nil, err
	}
	ok, err := s.allowed(ctx, s.rdb, ns, dir, sub, acl.Read)
	if err != nil {
		return nil, unavailable(err)
	}
	if !ok {
		return nil, files.ErrPermission
	}
	prefix := dirPrefix(dir)
	names, err := s.below(ctx, s.rdb, ns, prefix)
	if err != nil {
		return nil, unavailable(err)
	}
	var fileNames []string
	out := []files.Entry{}
	lastDir := ""
	for _, n := range names {
		rest := n[len(prefix):]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			if d := rest[:j]; d != lastDir {
				out = append(out, files.Entry{File: d, IsDir: true})
				lastDir = d
			}
			continue
		}
		if rest != markerName {
			fileNames = append(fileNames, n)
		}
	}
	ms, err := s.metas(ctx, s.rdb, ns, fileNames)
	if err != nil {
		return nil, unavailable(err)
	}
	admin := sub == nil || sub.Admin
	d := s.defaultACL()
	for i, n := range fileNames {
		m := ms[i]
		if m == nil {
			continue
		}
		a := fillACL(d, m)
		if !acl.FileAllowed(sub, a, acl.Read) {
			continue
		}
		e := fileEntry("", n[len(prefix):], m, &a)
		e.Read = admin || a.Permissions&acl.EveryRead != 0
		e.Write = admin || a.Permissions&acl.EveryWrite != 0
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b files.Entry) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		switch {
		case a.IsDir == b.IsDir:
			return 0
		case b.IsDir:
			return -1
		}
		return 1
	})
	return out, nil
}

func fileEntry(dir, file string, m *files.Meta, a *acl.File) files.Entry {
	return files.Entry{File: file, Path: dir, Size: m.Size, ACL: a, MimeType: m.MimeType,
		ModifiedAt: m.ModifiedAt, CreatedAt: m.CreatedAt}
}

// namespaces lists the namespaces that hold files.
func (s *Files) namespaces(ctx context.Context) ([]files.Entry, error) {
	nss, err := s.rdb.ZRange(ctx, s.k.fileNamespaces(), 0, -1).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, ns := range nss {
			p.ZCard(ctx, s.k.fileNames(ns))
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]files.Entry, 0, len(nss))
	for i, ns := range nss {
		if cmds[i].(*redis.IntCmd).Val() > 0 {
			out = append(out, files.Entry{File: ns, IsDir: true})
		}
	}
	return out, nil
}

// Write stores data as one file (datamodel.md 7.5 writeFile).
func (s *Files) Write(ns, name string, data []byte, text bool, o files.WriteOptions, sub *acl.Subject) error {
	ns, name, err := s.prepareFile(ns, name)
	if err != nil {
		return err
	}
	if isMarker(name) {
		return files.ErrPermission
	}
	if len(data) > files.MaxFileSize {
		return fmt.Errorf("%w: %d bytes exceeds the limit of %d bytes", files.ErrTooLarge, len(data), files.MaxFileSize)
	}
	if o.Mode < 0 || o.Mode > 0xfff {
		return files.ErrInvalidParameter
	}
	mt, bin := files.DetectMime(name, text)
	if o.MimeType != "" {
		mt = o.MimeType
	}
	data = bytes.Clone(data)
	return s.run(ns, []string{s.k.fileMeta(ns, name)}, func(ctx context.Context, tx *redis.Tx) ([]fop, error) {
		old, err := s.meta(ctx, tx, ns, name)
		if err != nil {
			return nil, err
		}
		if !acl.FileAllowed(sub, fillACL(s.defaultACL(), old), acl.Write) {
			return nil, files.ErrPermission
		}
		now := s.Now()
		m := &files.Meta{MimeType: mt, Binary: bin, Size: int64(len(data)), ModifiedAt: now, CreatedAt: now}
		if old != nil {
			m.ACL = old.ACL
			if old.CreatedAt != 0 {
				m.CreatedAt = old.CreatedAt
			}
		} else {
			m.ACL = s.newACL(sub, o.Mode)
		}
		return []fop{{name: name, meta: m, data: data}}, nil
	})
}

func (s *Files) newACL(sub *acl.Subject, mode int) acl.File {
	a := s.defaultACL()
	if sub != nil {
		if sub.User != "" {
			a.Owner = sub.User
		}
		switch {
		case len(sub.Groups) > 0:
			a.OwnerGroup = sub.Groups[0]
		case sub.User == acl.Admin:
			a.OwnerGroup = acl.AdminGroup
		}
	}
	if mode > 0 {
		a.Permissions = mode
	}
	return a
}

// Mkdir writes the hidden marker dir/_data.json.
func (s *Files) Mkdir(ns, dir string, sub *acl.Subject) error {
	ns, dir, err := s.prepare(ns, dir)
	if err != nil {
		return err
	}
	if isMarker(dir) {
		return files.ErrPermission
	}
	marker := dir + "/" + markerName
	return s.run(ns, []string{s.k.fileMeta(ns, dir), s.k.fileMeta(ns, marker)}, func(ctx context.Context, tx *redis.Tx) ([]fop, error) {
		ok, err := s.allowed(ctx, tx, ns, dir, sub, acl.Write)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, files.ErrPermission
		}
		if dir == "" {
			return nil, nil
		}
		if m, err := s.meta(ctx, tx, ns, marker); err != nil || m != nil {
			return nil, err
		}
		now := s.Now()
		m := &files.Meta{ACL: s.newACL(sub, 0), MimeType: "application/json", ModifiedAt: now, CreatedAt: now, Virtual: true}
		return []fop{{name: marker, meta: m}}, nil
	})
}

// Unlink deletes the file name, or everything below the folder name.
func (s *Files) Unlink(ns, name string, sub *acl.Subject) error {
	ns, name, err := s.prepare(ns, name)
	if err != nil {
		return err
	}
	if isMarker(name) {
		return nil
	}
	err = s.run(ns, []string{s.k.fileMeta(ns, name)}, func(ctx context.Context, tx *redis.Tx) ([]fop, error) {
		var m *files.Meta
		if name != "" {
			var err error
			if m, err = s.meta(ctx, tx, ns, name); err != nil {
				return nil, err
			}
		}
		if !acl.FileAllowed(sub, fillACL(s.defaultACL(), m), acl.Write) {
			return nil, files.ErrPermission
		}
		if m != nil {
			return []fop{{name: name}}, nil
		}
		names, err := s.below(ctx, tx, ns, dirPrefix(name))
		if err != nil {
			return nil, err
		}
		ops := make([]fop, len(names))
		for i, n := range names {
			ops[i] = fop{name: n}
		}
		return ops, nil
	})
	if err == nil {
		s.dropEmpty(ns)
	}
	return err
}

// dropEmpty removes ns from the namespace index once it holds nothing
// (best effort: listings also skip empty namespaces).
func (s *Files) dropEmpty(ns string) {
	ctx := context.Background()
	if n, err := s.rdb.ZCard(ctx, s.k.fileNames(ns)).Result(); err == nil && n == 0 {
		s.rdb.ZRem(ctx, s.k.fileNamespaces(), ns)
	}
}

// DeleteFile deletes exactly one file.
func (s *Files) DeleteFile(ns, name string, sub *acl.Subject) error {
	ns, name, err := s.prepareFile(ns, name)
	if err != nil {
		return err
	}
	if isMarker(name) {
		return files.ErrNotExists
	}
	err = s.run(ns, []string{s.k.fileMeta(ns, name)}, func(ctx context.Context, tx *redis.Tx) ([]fop, error) {
		m, err := s.meta(ctx, tx, ns, name)
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, files.ErrNotExists
		}
		if !acl.FileAllowed(sub, fillACL(s.defaultACL(), m), acl.Write) {
			return nil, files.ErrPermission
		}
		return []fop{{name: name}}, nil
	})
	if err == nil {
		s.dropEmpty(ns)
	}
	return err
}

// Rename moves a file or folder; a missing source is not an error.
func (s *Files) Rename(ns, oldName, newName string, sub *acl.Subject) error {
	return s.rename(ns, oldName, newName, sub, false)
}

// RenameFile moves one file; a missing source is ErrNotExists.
func (s *Files) RenameFile(ns, oldName, newName string, sub *acl.Subject) error {
	return s.rename(ns, oldName, newName, sub, true)
}

func (s *Files) rename(ns, oldName, newName string, sub *acl.Subject, single bool) error {
	ns, from, err := s.prepareFile(ns, oldName)
	if err != nil {
		return err
	}
	_, to, err := files.Normalize(ns, newName)
	if err != nil {
		return err
	}
	if to == "" {
		return files.ErrNotExists
	}
	if isMarker(from) || isMarker(to) {
		return files.ErrPermission
	}
	return s.run(ns, []string{s.k.fileMeta(ns, from), s.k.fileMeta(ns, to)}, func(ctx context.Context, tx *redis.Tx) ([]fop, error) {
		fm, err := s.meta(ctx, tx, ns, from)
		if err != nil {
			return nil, err
		}
		check := func() error {
			for _, n := range []string{from, to} {
				ok, err := s.allowed(ctx, tx, ns, n, sub, acl.Write)
				if err != nil {
					return err
				}
				if !ok {
					return files.ErrPermission
				}
			}
			return nil
		}
		if fm != nil {
			if err := check(); err != nil || from == to {
				return nil, err
			}
			return []fop{{name: to, meta: fm, from: from}, {name: from}}, nil
		}
		var srcs []string
		if !single {
			if srcs, err = s.below(ctx, tx, ns, from+"/"); err != nil {
				return nil, err
			}
		}
		if len(srcs) == 0 {
			if single {
				return nil, files.ErrNotExists
			}
			return nil, nil
		}
		if err := check(); err != nil || from == to {
			return nil, err
		}
		if strings.HasPrefix(to, from+"/") || strings.HasPrefix(from, to+"/") {
			return nil, files.ErrInvalidParameter
		}
		dsts := make([]string, len(srcs))
		for i, src := range srcs {
			dsts[i] = to + src[len(from):]
		}
		srcMetas, err := s.metas(ctx, tx, ns, srcs)
		if err != nil {
			return nil, err
		}
		dstMetas, err := s.metas(ctx, tx, ns, dsts)
		if err != nil {
			return nil, err
		}
		var ops []fop
		for i, src := range srcs {
			if !isMarker(dsts[i]) && dstMetas[i] != nil && !acl.FileAllowed(sub, fillACL(s.defaultACL(), dstMetas[i]), acl.Write) {
				return nil, files.ErrPermission
			}
			if srcMetas[i] == nil {
				continue
			}
			ops = append(ops, fop{name: dsts[i], meta: srcMetas[i], from: src})
		}
		for _, src := range srcs {
			ops = append(ops, fop{name: src})
		}
		return ops, nil
	})
}

// Chmod sets the permissions of a file, a folder's files, or with a
// trailing '*' of every file whose name starts with the text before it.
func (s *Files) Chmod(ns, name string, mode int, sub *acl.Subject) ([]files.Entry, error) {
	if mode < 0 || mode > 0xfff {
		return nil, files.ErrInvalidParameter
	}
	return s.changeACL(ns, name, sub, func(a *acl.File) { a.Permissions = mode })
}

// Chown sets owner and ownerGroup like Chmod selects files.
func (s *Files) Chown(ns, name, owner, ownerGroup string, sub *acl.Subject) ([]files.Entry, error) {
	if owner == "" {
		owner = acl.Admin
		if sub != nil && sub.User != "" {
			owner = sub.User
		}
	}
	if !strings.HasPrefix(owner, acl.UserPrefix) {
		owner = acl.UserPrefix + owner
	}
	if ownerGroup == "" {
		s.mu.RLock()
		lookup := s.groups
		s.mu.RUnlock()
		if lookup != nil {
			if gs := lookup(owner); len(gs) > 0 {
				ownerGroup = gs[0]
			}
		}
		if ownerGroup == "" {
			return nil, &files.NoGroupError{Owner: owner}
		}
	}
	if !strings.HasPrefix(ownerGroup, acl.GroupPrefix) {
		ownerGroup = acl.GroupPrefix + ownerGroup
	}
	return s.changeACL(ns, name, sub, func(a *acl.File) { a.Owner, a.OwnerGroup = owner, ownerGroup })
}

func (s *Files) changeACL(ns, name string, sub *acl.Subject, change func(*acl.File)) ([]files.Entry, error) {
	ns, name, err := s.prepareFile(ns, name)
	if err != nil {
		return nil, err
	}
	glob := strings.HasSuffix(name, "*")
	target := strings.TrimSuffix(name, "*")
	if isMarker(target) {
		return nil, files.ErrNotExists
	}
	var out []files.Entry
	err = s.run(ns, []string{s.k.fileMeta(ns, target)}, func(ctx context.Context, tx *redis.Tx) ([]fop, error) {
		out = nil
		var names []string
		var err error
		tm, err := s.meta(ctx, tx, ns, target)
		if err != nil {
			return nil, err
		}
		switch {
		case glob:
			names, err = s.below(ctx, tx, ns, target)
		case tm != nil:
			names = []string{target}
		default:
			names, err = s.below(ctx, tx, ns, dirPrefix(target))
		}
		if err != nil {
			return nil, err
		}
		names = slices.DeleteFunc(names, isMarker)
		ms, err := s.metas(ctx, tx, ns, names)
		if err != nil {
			return nil, err
		}
		var ops []fop
		d := s.defaultACL()
		for i, n := range names {
			if ms[i] == nil {
				continue
			}
			m := *ms[i]
			m.ACL = fillACL(d, &m)
			change(&m.ACL)
			ops = append(ops, fop{name: n, meta: &m, metaOnly: true})
			dir, file := splitName(n)
			a := m.ACL
			out = append(out, fileEntry(dir, file, &m, &a))
		}
		ok, err := s.allowed(ctx, tx, ns, strings.TrimSuffix(target, "/"), sub, acl.Write)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, files.ErrPermission
		}
		if len(ops) == 0 {
			return nil, files.ErrNotExists
		}
		return ops, nil
	})
	if err != nil {
		return nil, err
	}
	admin := sub == nil || sub.Admin
	for i := range out {
		p := out[i].ACL.Permissions
		out[i].Read = admin || p&acl.EveryRead != 0
		out[i].Write = admin || p&acl.EveryWrite != 0
	}
	return out, nil
}
