package files

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/database"
	bolt "go.etcd.io/bbolt"
)

var (
	metaNamespaces = map[string]bool{"vis.0": true, "vis": true, "vis.admin": true, "0_userdata.0": true, "other.0": true}
	admin          = &acl.Subject{User: acl.Admin, Groups: []string{acl.AdminGroup}, Admin: true}
	adminMember    = &acl.Subject{User: "system.user.boss", Groups: []string{"system.group.user", acl.AdminGroup}, Admin: true}
	alice          = &acl.Subject{User: "system.user.alice", Groups: []string{"system.group.user"}}
	bob            = &acl.Subject{User: "system.user.bob", Groups: []string{"system.group.user", "system.group.editor"}}
	carol          = &acl.Subject{User: "system.user.carol", Groups: []string{"system.group.guest"}}
)

type testEnv struct {
	t     *testing.T
	dir   string
	db    *database.DB
	s     *BoltStore
	clock atomic.Int64
	mu    sync.Mutex
	feed  []Change
	deflt acl.File
	sync  bool // fsync every commit (benchmarks of the real write path)
}

func newEnv(t testing.TB, dir string) *testEnv {
	return newEnvSync(t, dir, false)
}

func newEnvSync(t testing.TB, dir string, sync bool) *testEnv {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	e := &testEnv{dir: dir, sync: sync}
	e.open(t)
	return e
}

func (e *testEnv) open(t testing.TB) {
	t.Helper()
	db, err := database.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	db.Bolt.NoSync = !e.sync // tests: durability of the disk is not under test
	s, err := Open(db, NamespaceFunc(func(ns string) bool { return metaNamespaces[ns] }), func() acl.File { return e.deflt })
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() int64 { return e.clock.Add(1) }
	s.SetUserGroups(func(user string) []string {
		switch user {
		case alice.User:
			return alice.Groups
		case bob.User:
			return bob.Groups
		}
		return nil
	})
	s.Watch(func(c Change) {
		e.mu.Lock()
		e.feed = append(e.feed, c)
		e.mu.Unlock()
	})
	e.db, e.s = db, s
	if tt, ok := t.(*testing.T); ok {
		e.t = tt
		tt.Cleanup(func() { e.close() })
	} else if b, ok := t.(*testing.B); ok {
		b.Cleanup(func() { e.close() })
	}
}

func (e *testEnv) close() {
	if e.db != nil {
		_ = e.db.Close()
		e.db = nil
	}
}

func (e *testEnv) reopen(t *testing.T) {
	e.close()
	e.open(t)
}

func (e *testEnv) changes() []Change {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Change(nil), e.feed...)
}

func (e *testEnv) write(t testing.TB, ns, name, data string) {
	t.Helper()
	if err := e.s.Write(ns, name, []byte(data), true, WriteOptions{}, nil); err != nil {
		t.Fatalf("Write(%s, %s): %v", ns, name, err)
	}
}

func (e *testEnv) writeAs(t testing.TB, sub *acl.Subject, ns, name, data string, mode int) {
	t.Helper()
	if err := e.s.Write(ns, name, []byte(data), true, WriteOptions{Mode: mode}, sub); err != nil {
		t.Fatalf("Write(%s, %s) as %s: %v", ns, name, sub.User, err)
	}
}

// snapshot is everything stored: bbolt buckets and the memory index.
func (e *testEnv) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	err := e.db.Bolt.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketData} {
			if err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				fmt.Fprintf(&b, "%s %q=%q\n", name, k, v)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.s.mu.RLock()
	nss := make([]string, 0, len(e.s.ns))
	for ns := range e.s.ns {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		for _, n := range e.s.ns[ns].names {
			fmt.Fprintf(&b, "mem %s %s %+v\n", ns, n, *e.s.ns[ns].metas[n])
		}
	}
	e.s.mu.RUnlock()
	return b.String()
}

func (e *testEnv) read(t *testing.T, ns, name string) (string, *Meta) {
	t.Helper()
	d, m, err := e.s.Read(ns, name, nil)
	if err != nil {
		t.Fatalf("Read(%s, %s): %v", ns, name, err)
	}
	return string(d), m
}

func wantErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Errorf("%s: error = %v, want %q", what, err, want)
	}
}

func TestPersistence(t *testing.T) {
	e := newEnv(t, "")
	e.writeAs(t, admin, "vis.0", "main/vis-views.json", `{"v":1}`, 0x664)
	e.write(t, "vis.0", "main/img/logo.png", "\x89PNG")
	e.write(t, "vis.0", "gone.txt", "g")
	if err := e.s.Mkdir("vis.0", "main/empty", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteFile("vis.0", "gone.txt", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Rename("vis.0", "main/img", "main/pics", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Chown("vis.0", "main/vis-views.json", "alice", "", nil); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	e.reopen(t)
	if after := e.snapshot(t); after != before {
		t.Fatalf("after reopen:\n%s\nwant\n%s", after, before)
	}
	d, m := e.read(t, "vis.0", "main/vis-views.json")
	if d != `{"v":1}` || m.ACL.Owner != alice.User || m.ACL.Permissions != 0x664 {
		t.Fatalf("reopened file %q %+v", d, m)
	}
	got, _ := e.s.ReadDir("vis.0", "main", nil)
	if !reflect.DeepEqual(names(got), []string{"empty/", "pics/", "vis-views.json"}) {
		t.Fatalf("reopened main: %v", names(got))
	}
}

// TestFailedCommitReverts: an op the committer refuses leaves memory as
// bbolt has it.
func TestFailedCommitReverts(t *testing.T) {
	e := newEnv(t, "")
	e.write(t, "vis.0", "keep.txt", "k")
	e.write(t, "vis.0", "old.txt", "o")
	e.db.Committer.Close()
	got, _ := e.s.ReadDir("vis.0", "", nil)
	before := strings.Join(names(got), ",")
	calls := []func() error{
		func() error { return e.s.Write("vis.0", "new.txt", []byte("n"), true, WriteOptions{}, nil) },
		func() error { return e.s.Write("vis.0", "keep.txt", []byte("changed"), true, WriteOptions{}, nil) },
		func() error { return e.s.DeleteFile("vis.0", "old.txt", nil) },
		func() error { return e.s.Rename("vis.0", "old.txt", "moved.txt", nil) },
		func() error { return e.s.Mkdir("vis.0", "dir", nil) },
		func() error { _, err := e.s.Chmod("vis.0", "keep.txt", 0x600, nil); return err },
	}
	for i, call := range calls {
		if err := call(); err == nil || err.Error() != "DB closed" {
			t.Fatalf("call %d on a closed committer: %v", i, err)
		}
	}
	if d, m := e.read(t, "vis.0", "keep.txt"); d != "k" || m.Size != 1 || m.ACL.Permissions != 0x644 {
		t.Fatalf("keep.txt after failed writes: %q %+v", d, m)
	}
	if n := len(e.s.pending); n != 0 {
		t.Fatalf("%d pending marks left", n)
	}
	got, _ = e.s.ReadDir("vis.0", "", nil)
	if after := strings.Join(names(got), ","); after != before || before != "keep.txt,old.txt" {
		t.Fatalf("listing after failed ops %q, want %q", after, before)
	}
}

func names(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.File
		if e.IsDir {
			out[i] += "/"
		}
	}
	return out
}
