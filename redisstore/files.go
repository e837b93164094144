package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
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

	policy *files.Policy // the rules shared with files.BoltStore
	// Now is the ms clock of new metas (tests replace it before use).
	Now func() int64

	feed *feed
	w    watchers[files.Change]
}

var _ files.Store = (*Files)(nil)

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
	s := &Files{o: o, rdb: o.Client, k: keys{o.Prefix}, policy: files.NewPolicy(ns, defaults),
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

// index builds the name sets once from the cfg.f.*$%$meta keys of an
// ioBroker database.
func (s *Files) index(ctx context.Context) error {
	return indexOnce(ctx, s.rdb, s.k.filesIndexed(), s.k.p+"cfg.f.", "$%$meta", func(rests []string) error {
		p := s.rdb.Pipeline()
		for _, rest := range rests {
			ns, name, ok := strings.Cut(rest, "$%$")
			if !ok {
				continue
			}
			p.ZAdd(ctx, s.k.fileNames(ns), redis.Z{Member: name})
			p.ZAdd(ctx, s.k.fileNamespaces(), redis.Z{Member: ns})
		}
		_, err := p.Exec(ctx)
		return err
	})
}

// SetUserGroups installs the lookup of a user's groups (primary first) that
// Chown uses when no ownerGroup is given.
func (s *Files) SetUserGroups(fn func(user string) []string) { s.policy.SetUserGroups(fn) }

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

// reader is the read side of one operation: plain client or a WATCHing tx.
type reader interface {
	getter
	mgetter
	ZRangeByLex(ctx context.Context, key string, opt *redis.ZRangeBy) *redis.StringSliceCmd
}

// meta reads the meta of a stored name, nil when missing.
func (s *Files) meta(ctx context.Context, r reader, ns, name string) (*files.Meta, error) {
	b, err := getRaw(ctx, r, s.k.fileMeta(ns, name))
	if err != nil || b == nil {
		return nil, err
	}
	return decodeMeta(b)
}

// allowed checks op against name's file acl, or the default acl for
// directories, missing names and the root.
func (s *Files) allowed(ctx context.Context, r reader, ns, name string, sub *acl.Subject, op int) (bool, error) {
	var m *files.Meta
	if files.HasACL(name) {
		var err error
		if m, err = s.meta(ctx, r, ns, name); err != nil {
			return false, err
		}
	}
	return s.policy.Allows(sub, m, op), nil
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
	key := func(name string) string { return s.k.fileMeta(ns, name) }
	err := mgetEach(ctx, r, names, bulkSize, key, func(lo int, vals []any) error {
		for i, v := range vals {
			if str, ok := v.(string); ok {
				var err error
				if out[lo+i], err = decodeMeta([]byte(str)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
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
// set plus the meta keys it names) and returns the changes, which commit
// applies atomically (watchTxn retries when another writer interfered).
func (s *Files) run(ns string, watch []string, plan func(ctx context.Context, tx *redis.Tx) ([]fop, error)) error {
	watch = append(watch, s.k.fileNames(ns))
	ok, err := watchTxn(s.rdb, s.feed, s.o.WaitDelivery, watch, func(ctx context.Context, tx *redis.Tx) (streamID, error) {
		ops, err := plan(ctx, tx)
		if err != nil || len(ops) == 0 {
			return streamID{}, err
		}
		return s.commit(ctx, tx, ns, ops)
	})
	if !ok {
		return errf("too many concurrent writers in %s", ns)
	}
	return err
}

// commit queues ops into the MULTI of tx with the index updates, stream
// entries and publishes, and returns the stream id of the last entry.
func (s *Files) commit(ctx context.Context, tx *redis.Tx, ns string, ops []fop) (streamID, error) {
	// Rename sources are read before anything is written.
	src := map[string][]byte{}
	for _, op := range ops {
		if op.from != "" {
			b, err := tx.Get(ctx, s.k.fileData(ns, op.from)).Bytes()
			if err != nil {
				return streamID{}, rerr(err)
			}
			src[op.from] = b
		}
	}
	var last *redis.StringCmd
	_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, op := range ops {
			mk, dk := s.k.fileMeta(ns, op.name), s.k.fileData(ns, op.name)
			if op.meta == nil {
				p.Del(ctx, mk, dk)
				p.ZRem(ctx, s.k.fileNames(ns), op.name)
				if !files.IsMarker(op.name) {
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
			if !files.IsMarker(op.name) {
				size := strconv.FormatInt(op.meta.Size, 10)
				last = p.XAdd(ctx, &redis.XAddArgs{Stream: s.k.fileStream(), MaxLen: s.o.StreamMaxLen, Approx: true,
					Values: []any{"n", ns, "p", op.name, "s", size}})
				p.Publish(ctx, dk, size)
			}
		}
		return nil
	})
	if err != nil {
		return streamID{}, rerr(err)
	}
	if last == nil {
		return streamID{}, nil
	}
	return parseStreamID(last.Val()), nil
}

// Read returns the content and meta of one file after the READ check;
// both come from one MGET, so an overwrite is seen whole or not at all.
func (s *Files) Read(ns, name string, sub *acl.Subject) ([]byte, *files.Meta, error) {
	ns, name, err := s.policy.PrepareExisting(ns, name)
	if err != nil {
		return nil, nil, err
	}
	vals, err := s.rdb.MGet(context.Background(), s.k.fileMeta(ns, name), s.k.fileData(ns, name)).Result()
	if err != nil {
		return nil, nil, unavailable(err)
	}
	ms, ok1 := vals[0].(string)
	data, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		if !s.policy.Allows(sub, nil, acl.Read) {
			return nil, nil, files.ErrPermission
		}
		return nil, nil, files.ErrNotExists
	}
	m, err := decodeMeta([]byte(ms))
	if err != nil {
		return nil, nil, err
	}
	if !s.policy.Allows(sub, m, acl.Read) {
		return nil, nil, files.ErrPermission
	}
	return []byte(data), m, nil
}

// Exists reports whether a file or a folder exists at name.
func (s *Files) Exists(ns, name string, sub *acl.Subject) (bool, error) {
	ns, name, err := s.policy.PrepareFile(ns, name)
	if err != nil {
		return false, err
	}
	ctx := context.Background()
	var m *files.Meta
	if files.HasACL(name) {
		if m, err = s.meta(ctx, s.rdb, ns, name); err != nil {
			return false, unavailable(err)
		}
	}
	if !s.policy.Allows(sub, m, acl.Read) {
		return false, files.ErrPermission
	}
	if files.IsMarker(name) {
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

// ReadDir lists one level of dir like files.BoltStore.ReadDir: the walk
// (files.Children) and the rows (files.Listing) are the same code.
func (s *Files) ReadDir(ns, dir string, sub *acl.Subject) ([]files.Entry, error) {
	ctx := context.Background()
	if ns == "" {
		return s.namespaces(ctx)
	}
	ns, dir, err := s.policy.Prepare(ns, dir)
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
	prefix := files.DirPrefix(dir)
	names, err := s.below(ctx, s.rdb, ns, prefix)
	if err != nil {
		return nil, unavailable(err)
	}
	var folders, fileNames []string
	files.Children(names, dir, func(name, child string, isDir bool) {
		if isDir {
			folders = append(folders, child)
		} else {
			fileNames = append(fileNames, name)
		}
	})
	ms, err := s.metas(ctx, s.rdb, ns, fileNames)
	if err != nil {
		return nil, unavailable(err)
	}
	l := s.policy.NewListing(sub, len(folders)+len(fileNames))
	for _, f := range folders {
		l.Folder(f)
	}
	for i, n := range fileNames {
		if ms[i] != nil { // deleted between the name read and the MGET
			l.File(n[len(prefix):], ms[i])
		}
	}
	return l.Rows(), nil
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

// Write stores data as one file (datamodel.md 7.5 writeFile); the checks
// and the new meta are files.Policy's, as in files.BoltStore.
func (s *Files) Write(ns, name string, data []byte, text bool, o files.WriteOptions, sub *acl.Subject) error {
	w, err := s.policy.PrepareWrite(ns, name, len(data), text, o)
	if err != nil {
		return err
	}
	data = bytes.Clone(data)
	return s.run(w.NS, []string{s.k.fileMeta(w.NS, w.Name)}, func(ctx context.Context, tx *redis.Tx) ([]fop, error) {
		old, err := s.meta(ctx, tx, w.NS, w.Name)
		if err != nil {
			return nil, err
		}
		m, err := w.Meta(old, sub, s.Now)
		if err != nil {
			return nil, err
		}
		return []fop{{name: w.Name, meta: m, data: data}}, nil
	})
}

// Mkdir writes the hidden marker dir/_data.json.
func (s *Files) Mkdir(ns, dir string, sub *acl.Subject) error {
	ns, dir, marker, err := s.policy.PrepareDir(ns, dir)
	if err != nil {
		return err
	}
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
		return []fop{{name: marker, meta: s.policy.MarkerMeta(sub, s.Now())}}, nil
	})
}

// Unlink deletes the file name, or everything below the folder name.
func (s *Files) Unlink(ns, name string, sub *acl.Subject) error {
	ns, name, err := s.policy.Prepare(ns, name)
	if err != nil {
		return err
	}
	if files.IsMarker(name) {
		return nil
	}
	err = s.run(ns, []string{s.k.fileMeta(ns, name)}, func(ctx context.Context, tx *redis.Tx) ([]fop, error) {
		var m *files.Meta
		if files.HasACL(name) {
			var err error
			if m, err = s.meta(ctx, tx, ns, name); err != nil {
				return nil, err
			}
		}
		if !s.policy.Allows(sub, m, acl.Write) {
			return nil, files.ErrPermission
		}
		if m != nil {
			return []fop{{name: name}}, nil
		}
		names, err := s.below(ctx, tx, ns, files.DirPrefix(name))
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
	ns, name, err := s.policy.PrepareExisting(ns, name)
	if err != nil {
		return err
	}
	err = s.run(ns, []string{s.k.fileMeta(ns, name)}, func(ctx context.Context, tx *redis.Tx) ([]fop, error) {
		m, err := s.meta(ctx, tx, ns, name)
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, files.ErrNotExists
		}
		if !s.policy.Allows(sub, m, acl.Write) {
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
	ns, from, to, err := s.policy.PrepareRename(ns, oldName, newName)
	if err != nil {
		return err
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
		if err := files.CheckFolderMove(from, to); err != nil {
			return nil, err
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
			if !files.IsMarker(dsts[i]) && dstMetas[i] != nil && !s.policy.Allows(sub, dstMetas[i], acl.Write) {
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
	change, err := files.ChmodChange(mode)
	if err != nil {
		return nil, err
	}
	return s.changeACL(ns, name, sub, change)
}

// Chown sets owner and ownerGroup like Chmod selects files.
func (s *Files) Chown(ns, name, owner, ownerGroup string, sub *acl.Subject) ([]files.Entry, error) {
	change, err := s.policy.ChownChange(owner, ownerGroup, sub)
	if err != nil {
		return nil, err
	}
	return s.changeACL(ns, name, sub, change)
}

func (s *Files) changeACL(ns, name string, sub *acl.Subject, change files.ACLChange) ([]files.Entry, error) {
	ns, t, err := s.policy.PrepareACLTarget(ns, name)
	if err != nil {
		return nil, err
	}
	var out []files.Entry
	err = s.run(ns, []string{s.k.fileMeta(ns, t.Name)}, func(ctx context.Context, tx *redis.Tx) ([]fop, error) {
		out = nil
		tm, err := s.meta(ctx, tx, ns, t.Name)
		if err != nil {
			return nil, err
		}
		names := []string{t.Name}
		if t.Glob || tm == nil {
			if names, err = s.below(ctx, tx, ns, t.Prefix()); err != nil {
				return nil, err
			}
		}
		names = slices.DeleteFunc(names, files.IsMarker)
		ms, err := s.metas(ctx, tx, ns, names)
		if err != nil {
			return nil, err
		}
		var ops []fop
		d := s.policy.DefaultACL()
		for i, n := range names {
			if ms[i] == nil {
				continue
			}
			m, e := change.Apply(n, ms[i], d, sub)
			ops = append(ops, fop{name: n, meta: m, metaOnly: true})
			out = append(out, e)
		}
		ok, err := s.allowed(ctx, tx, ns, t.Guard(), sub, acl.Write)
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
	return out, nil
}
