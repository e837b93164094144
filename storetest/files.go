package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/files"
)

// FilesEnv is what a file store under test is wired to: the factory must
// use these for the namespace check, the default file acl, the ms clock of
// new metas and Chown's group lookup.
type FilesEnv struct {
	IsMeta     func(ns string) bool
	DefaultACL func() acl.File
	Now        func() int64
	Groups     func(user string) []string
}

// FilesFactory opens an empty file store wired to env for one test and
// closes it in t.Cleanup.
type FilesFactory func(t *testing.T, env *FilesEnv) files.Store

var (
	metaNamespaces = map[string]bool{"vis.0": true, "vis": true, "vis.admin": true, "0_userdata.0": true, "other.0": true}
	admin          = &acl.Subject{User: acl.Admin, Groups: []string{acl.AdminGroup}, Admin: true}
	adminMember    = &acl.Subject{User: "system.user.boss", Groups: []string{"system.group.user", acl.AdminGroup}, Admin: true}
	alice          = &acl.Subject{User: "system.user.alice", Groups: []string{"system.group.user"}}
	bob            = &acl.Subject{User: "system.user.bob", Groups: []string{"system.group.user", "system.group.editor"}}
	carol          = &acl.Subject{User: "system.user.carol", Groups: []string{"system.group.guest"}}
)

type filesEnv struct {
	s     files.Store
	clock atomic.Int64
	mu    sync.Mutex
	feed  []files.Change
	deflt acl.File
}

func newFilesEnv(t *testing.T, open FilesFactory) *filesEnv {
	t.Helper()
	e := &filesEnv{}
	e.s = open(t, &FilesEnv{
		IsMeta:     func(ns string) bool { return metaNamespaces[ns] },
		DefaultACL: func() acl.File { return e.deflt },
		Now:        func() int64 { return e.clock.Add(1) },
		Groups: func(user string) []string {
			switch user {
			case alice.User:
				return alice.Groups
			case bob.User:
				return bob.Groups
			}
			return nil
		},
	})
	e.s.Watch(func(c files.Change) {
		e.mu.Lock()
		e.feed = append(e.feed, c)
		e.mu.Unlock()
	})
	return e
}

func (e *filesEnv) changes() []files.Change {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]files.Change(nil), e.feed...)
}

func (e *filesEnv) write(t testing.TB, ns, name, data string) {
	t.Helper()
	if err := e.s.Write(ns, name, []byte(data), true, files.WriteOptions{}, nil); err != nil {
		t.Fatalf("Write(%s, %s): %v", ns, name, err)
	}
}

func (e *filesEnv) writeAs(t testing.TB, sub *acl.Subject, ns, name, data string, mode int) {
	t.Helper()
	if err := e.s.Write(ns, name, []byte(data), true, files.WriteOptions{Mode: mode}, sub); err != nil {
		t.Fatalf("Write(%s, %s) as %s: %v", ns, name, sub.User, err)
	}
}

func (e *filesEnv) read(t *testing.T, ns, name string) (string, *files.Meta) {
	t.Helper()
	d, m, err := e.s.Read(ns, name, nil)
	if err != nil {
		t.Fatalf("Read(%s, %s): %v", ns, name, err)
	}
	return string(d), m
}

// snapshot is everything the store shows an admin: every namespace,
// folder and file with its content and meta.
func (e *filesEnv) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	nss, err := e.s.ReadDir("", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(ns, dir string)
	walk = func(ns, dir string) {
		es, err := e.s.ReadDir(ns, dir, nil)
		if err != nil {
			t.Fatalf("ReadDir(%s, %s): %v", ns, dir, err)
		}
		for _, en := range es {
			p := strings.TrimPrefix(dir+"/"+en.File, "/")
			if en.IsDir {
				fmt.Fprintf(&b, "dir %s %s\n", ns, p)
				walk(ns, p)
				continue
			}
			d, m, err := e.s.Read(ns, p, nil)
			fmt.Fprintf(&b, "file %s %s %q %+v %v\n", ns, p, d, m, err)
		}
	}
	for _, ns := range nss {
		walk(ns.File, "")
	}
	return b.String()
}

// RunFiles runs the file store suite against new stores from open.
func RunFiles(t *testing.T, open FilesFactory) {
	tests := []struct {
		name string
		fn   func(*testing.T, FilesFactory)
	}{
		{"WriteReadMeta", filesWriteReadMeta},
		{"BadInputs", filesBadInputs},
		{"FilePermissions", filesFilePermissions},
		{"ReadDir", filesReadDir},
		{"Exists", filesExists},
		{"UnlinkDelete", filesUnlinkDelete},
		{"Rename", filesRename},
		{"ChmodChown", filesChmodChown},
		{"AtomicOverwrite", filesAtomicOverwrite},
		{"ChangeOrder", filesChangeOrder},
		{"WriteCopiesData", filesWriteCopiesData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

func filesWriteReadMeta(t *testing.T, open FilesFactory) {
	e := newFilesEnv(t, open)
	if err := e.s.Write("vis.0", "/main/vis-views.json", []byte(`{"a":1}`), true, files.WriteOptions{}, alice); !errors.Is(err, files.ErrPermission) {
		t.Fatalf("alice creates with default 0x644: %v, want permissionError", err)
	}
	e.writeAs(t, admin, "vis.0", "/main/vis-views.json", `{"a":1}`, 0)
	data, m := e.read(t, "vis.0", "main/vis-views.json")
	want := &files.Meta{ACL: acl.File{Owner: acl.Admin, OwnerGroup: acl.AdminGroup, Permissions: 0x644},
		MimeType: "application/json", Size: 7, ModifiedAt: 1, CreatedAt: 1}
	if data != `{"a":1}` || !reflect.DeepEqual(m, want) {
		t.Fatalf("read = %q %+v, want %+v", data, m, want)
	}
	// Overwrite by an everyone-writer keeps acl and createdAt, moves modifiedAt.
	if _, err := e.s.Chmod("vis.0", "main/vis-views.json", 0x666, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Write("vis.0", "main/vis-views.json", []byte{0xff, 0}, false, files.WriteOptions{Mode: 0x600, MimeType: "x/y"}, alice); err != nil {
		t.Fatal(err)
	}
	data, m = e.read(t, "vis.0", "main/vis-views.json")
	want = &files.Meta{ACL: acl.File{Owner: acl.Admin, OwnerGroup: acl.AdminGroup, Permissions: 0x666},
		MimeType: "x/y", Size: 2, ModifiedAt: 2, CreatedAt: 1}
	if data != "\xff\x00" || !reflect.DeepEqual(m, want) {
		t.Fatalf("after overwrite = %q %+v, want %+v", data, m, want)
	}
	// A new file by a user: owner = user, group = primary group, mode from options.
	e.deflt = acl.File{Permissions: 0x666}
	e.writeAs(t, bob, "0_userdata.0", "b.bin", "x", 0x640)
	_, m = e.read(t, "0_userdata.0", "b.bin")
	if m.ACL != (acl.File{Owner: bob.User, OwnerGroup: "system.group.user", Permissions: 0x640}) || !m.Binary || m.MimeType != "application/octet-stream" {
		t.Fatalf("bob's file meta %+v", m)
	}
	// Default file mode from defaultNewAcl; internal writer gets the default owner.
	e.deflt = acl.File{Owner: "system.user.sys", OwnerGroup: "system.group.sys", Permissions: 0x660}
	e.write(t, "0_userdata.0", "c.txt", "")
	_, m = e.read(t, "0_userdata.0", "c.txt")
	if m.ACL != (acl.File{Owner: "system.user.sys", OwnerGroup: "system.group.sys", Permissions: 0x660}) || m.Size != 0 {
		t.Fatalf("internal file meta %+v", m)
	}
	// Admin without groups: ownerGroup administrator.
	e.writeAs(t, &acl.Subject{User: acl.Admin, Admin: true}, "0_userdata.0", "d.txt", "d", 0)
	_, m = e.read(t, "0_userdata.0", "d.txt")
	if m.ACL.Owner != acl.Admin || m.ACL.OwnerGroup != acl.AdminGroup {
		t.Fatalf("admin file acl %+v", m.ACL)
	}
	// The .admin namespace strips a leading admin/.
	e.write(t, "vis.admin", "admin/index.html", "<p>")
	if d, m := e.read(t, "vis.admin", "index.html"); d != "<p>" || m.MimeType != "text/html" || m.Binary {
		t.Fatalf("vis.admin index.html = %q %+v", d, m)
	}
}

// TestBadInputs: each refused call returns its exact error and changes nothing.
func filesBadInputs(t *testing.T, open FilesFactory) {
	e := newFilesEnv(t, open)
	e.write(t, "vis.0", "main/a.json", "{}")
	e.write(t, "vis.0", "main/sub/b.txt", "b")
	if err := e.s.Mkdir("vis.0", "empty", nil); err != nil {
		t.Fatal(err)
	}
	e.writeAs(t, admin, "vis.0", "private.txt", "p", 0x600)
	notMeta := `notmeta.0 is not an object of type "meta"`
	defer func(old int) { files.MaxFileSize = old }(files.MaxFileSize)
	files.MaxFileSize = 1 << 20
	big := make([]byte, files.MaxFileSize+1)
	tests := []struct {
		what string
		call func() error
		want string
	}{
		{"write non-meta", func() error { return e.s.Write("notmeta.0", "x", nil, true, files.WriteOptions{}, nil) }, notMeta},
		{"read non-meta", func() error { _, _, err := e.s.Read("notmeta.0", "x", nil); return err }, notMeta},
		{"exists non-meta", func() error { _, err := e.s.Exists("notmeta.0", "x", nil); return err }, notMeta},
		{"readDir non-meta", func() error { _, err := e.s.ReadDir("notmeta.0", "", nil); return err }, notMeta},
		{"mkdir non-meta", func() error { return e.s.Mkdir("notmeta.0", "d", nil) }, notMeta},
		{"unlink non-meta", func() error { return e.s.Unlink("notmeta.0", "x", nil) }, notMeta},
		{"deleteFile non-meta", func() error { return e.s.DeleteFile("notmeta.0", "x", nil) }, notMeta},
		{"rename non-meta", func() error { return e.s.Rename("notmeta.0", "x", "y", nil) }, notMeta},
		{"renameFile non-meta", func() error { return e.s.RenameFile("notmeta.0", "x", "y", nil) }, notMeta},
		{"chmod non-meta", func() error { _, err := e.s.Chmod("notmeta.0", "x", 0x644, nil); return err }, notMeta},
		{"chown non-meta", func() error { _, err := e.s.Chown("notmeta.0", "x", "admin", "administrator", nil); return err }, notMeta},
		{"hostile non-meta", func() error { _, _, err := e.s.Read("notmeta.0", "%2e%2e", nil); return err }, notMeta},
		{"write empty ns", func() error { return e.s.Write("", "x", nil, true, files.WriteOptions{}, nil) }, "Empty ID"},
		{"read sanitised-empty ns", func() error { _, _, err := e.s.Read("[..]", "x", nil); return err }, "Empty ID"},
		{"readDir sanitised-empty ns", func() error { _, err := e.s.ReadDir("/", "", nil); return err }, "Empty ID"},
		{"write empty name", func() error { return e.s.Write("vis.0", "", []byte("x"), true, files.WriteOptions{}, nil) }, "Not exists"},
		{"write slash name", func() error { return e.s.Write("vis.0", "/", []byte("x"), true, files.WriteOptions{}, nil) }, "Not exists"},
		{"write // name", func() error { return e.s.Write("vis.0", "//", []byte("x"), true, files.WriteOptions{}, nil) }, "Not exists"},
		{"write encoded dots", func() error { return e.s.Write("vis.0", "%2e%2e/x", []byte("x"), true, files.WriteOptions{}, nil) }, "Not exists"},
		{"write NUL", func() error { return e.s.Write("vis.0", "a\x00b", []byte("x"), true, files.WriteOptions{}, nil) }, "Not exists"},
		{"write marker", func() error {
			return e.s.Write("vis.0", "main/_data.json", []byte("x"), true, files.WriteOptions{}, nil)
		}, "permissionError"},
		{"write root marker", func() error { return e.s.Write("vis.0", "_data.json", []byte("x"), true, files.WriteOptions{}, nil) }, "permissionError"},
		{"write too large", func() error { return e.s.Write("vis.0", "big.bin", big, false, files.WriteOptions{}, nil) },
			fmt.Sprintf("file too large: %d bytes exceeds the limit of %d bytes", files.MaxFileSize+1, files.MaxFileSize)},
		{"write bad mode", func() error { return e.s.Write("vis.0", "m.txt", nil, true, files.WriteOptions{Mode: 0x1000}, nil) }, "invalid parameter"},
		{"write no right", func() error { return e.s.Write("vis.0", "main/a.json", []byte("x"), true, files.WriteOptions{}, alice) }, "permissionError"},
		{"write new no right", func() error { return e.s.Write("vis.0", "new.txt", []byte("x"), true, files.WriteOptions{}, alice) }, "permissionError"},
		{"read missing", func() error { _, _, err := e.s.Read("vis.0", "nope", nil); return err }, "Not exists"},
		{"read empty", func() error { _, _, err := e.s.Read("vis.0", "", nil); return err }, "Not exists"},
		{"read slash", func() error { _, _, err := e.s.Read("vis.0", "/", nil); return err }, "Not exists"},
		{"read folder", func() error { _, _, err := e.s.Read("vis.0", "main", nil); return err }, "Not exists"},
		{"read marker", func() error { _, _, err := e.s.Read("vis.0", "empty/_data.json", nil); return err }, "Not exists"},
		{"read protected", func() error { _, _, err := e.s.Read("vis.0", "private.txt", alice); return err }, "permissionError"},
		{"exists protected", func() error { _, err := e.s.Exists("vis.0", "private.txt", alice); return err }, "permissionError"},
		{"exists empty", func() error { _, err := e.s.Exists("vis.0", "", nil); return err }, "Not exists"},
		{"readDir protected dir", func() error { _, err := e.s.ReadDir("vis.0", "private.txt", alice); return err }, "permissionError"},
		{"mkdir no right", func() error { return e.s.Mkdir("vis.0", "d", alice) }, "permissionError"},
		{"mkdir marker", func() error { return e.s.Mkdir("vis.0", "d/_data.json", nil) }, "permissionError"},
		{"unlink no right", func() error { return e.s.Unlink("vis.0", "main", alice) }, "permissionError"},
		{"unlink file no right", func() error { return e.s.Unlink("vis.0", "main/a.json", alice) }, "permissionError"},
		{"deleteFile missing", func() error { return e.s.DeleteFile("vis.0", "nope", nil) }, "Not exists"},
		{"deleteFile folder", func() error { return e.s.DeleteFile("vis.0", "main", nil) }, "Not exists"},
		{"deleteFile marker", func() error { return e.s.DeleteFile("vis.0", "empty/_data.json", nil) }, "Not exists"},
		{"deleteFile empty", func() error { return e.s.DeleteFile("vis.0", "", nil) }, "Not exists"},
		{"deleteFile no right", func() error { return e.s.DeleteFile("vis.0", "main/a.json", alice) }, "permissionError"},
		{"rename empty old", func() error { return e.s.Rename("vis.0", "", "x", nil) }, "Not exists"},
		{"rename // new", func() error { return e.s.Rename("vis.0", "main/a.json", "//", nil) }, "Not exists"},
		{"rename hostile new", func() error { return e.s.Rename("vis.0", "main/a.json", "%2e%2e%2fx", nil) }, "Not exists"},
		{"rename into itself", func() error { return e.s.Rename("vis.0", "main", "main/sub/x", nil) }, "invalid parameter"},
		{"rename onto parent", func() error { return e.s.Rename("vis.0", "main/sub", "main", nil) }, "invalid parameter"},
		{"rename no right", func() error { return e.s.Rename("vis.0", "main/a.json", "main/c.json", alice) }, "permissionError"},
		{"rename to marker", func() error { return e.s.Rename("vis.0", "main/a.json", "main/_data.json", nil) }, "permissionError"},
		{"renameFile missing", func() error { return e.s.RenameFile("vis.0", "nope", "x", nil) }, "Not exists"},
		{"renameFile folder", func() error { return e.s.RenameFile("vis.0", "main", "x", nil) }, "Not exists"},
		{"chmod missing", func() error { _, err := e.s.Chmod("vis.0", "nope", 0x644, nil); return err }, "Not exists"},
		{"chmod empty", func() error { _, err := e.s.Chmod("vis.0", "", 0x644, nil); return err }, "Not exists"},
		{"chmod bad mode", func() error { _, err := e.s.Chmod("vis.0", "main", -1, nil); return err }, "invalid parameter"},
		{"chmod empty folder", func() error { _, err := e.s.Chmod("vis.0", "empty", 0x600, nil); return err }, "Not exists"},
		{"chmod no right", func() error { _, err := e.s.Chmod("vis.0", "main", 0x666, alice); return err }, "permissionError"},
		{"chown missing", func() error { _, err := e.s.Chown("vis.0", "nope", "alice", "", nil); return err }, "Not exists"},
		{"chown no group", func() error { _, err := e.s.Chown("vis.0", "main", "dave", "", nil); return err }, `user "system.user.dave" belongs to no group`},
		{"chown no right", func() error { _, err := e.s.Chown("vis.0", "main/a.json", "alice", "", alice); return err }, "permissionError"},
	}
	before := e.snapshot(t)
	nfeed := len(e.changes())
	for _, tt := range tests {
		wantErr(t, tt.what, tt.call(), tt.want)
		if after := e.snapshot(t); after != before {
			t.Fatalf("%s changed the store:\n%s\nwant\n%s", tt.what, after, before)
		}
	}
	if n := len(e.changes()); n != nfeed {
		t.Fatalf("refused calls published %d changes", n-nfeed)
	}
	// Error values match with errors.Is.
	_, _, err := e.s.Read("notmeta.0", "x", nil)
	var nm *files.NotMetaError
	if !errors.Is(err, files.ErrNotMeta) || !errors.As(err, &nm) || nm.Namespace != "notmeta.0" {
		t.Fatalf("not-meta error %v", err)
	}
	if err := e.s.Write("vis.0", "big.bin", big, false, files.WriteOptions{}, nil); !errors.Is(err, files.ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
}

func filesFilePermissions(t *testing.T, open FilesFactory) {
	e := newFilesEnv(t, open)
	e.writeAs(t, admin, "vis.0", "open.txt", "o", 0x666)
	e.writeAs(t, admin, "vis.0", "public.txt", "p", 0x644)
	e.writeAs(t, admin, "vis.0", "private.txt", "x", 0x600)
	e.writeAs(t, admin, "vis.0", "group.txt", "g", 0x660) // ownerGroup administrator
	if _, err := e.s.Chown("vis.0", "group.txt", "admin", "editor", nil); err != nil {
		t.Fatal(err)
	}
	e.writeAs(t, admin, "vis.0", "alice.txt", "a", 0x004) // owner alice below, owner nibble empty
	if _, err := e.s.Chown("vis.0", "alice.txt", "alice", "", nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sub         *acl.Subject
		file        string
		read, write bool
	}{
		{nil, "private.txt", true, true},
		{admin, "private.txt", true, true},
		{adminMember, "private.txt", true, true},
		{alice, "open.txt", true, true},
		{alice, "public.txt", true, false},
		{alice, "private.txt", false, false},
		{alice, "group.txt", false, false},
		{bob, "group.txt", true, true}, // member of editor (not primary)
		{carol, "group.txt", false, false},
		{alice, "alice.txt", false, false}, // owner nibble wins, no fall-through
		{bob, "alice.txt", false, false},   // group user, group nibble empty
		{carol, "alice.txt", true, false},  // everyone read
	}
	for _, tt := range tests {
		user := "internal"
		if tt.sub != nil {
			user = tt.sub.User
		}
		_, _, err := e.s.Read("vis.0", tt.file, tt.sub)
		if (err == nil) != tt.read || (err != nil && !errors.Is(err, files.ErrPermission)) {
			t.Errorf("%s read %s: %v, want allowed=%v", user, tt.file, err, tt.read)
		}
		err = e.s.Write("vis.0", tt.file, []byte("w"), true, files.WriteOptions{}, tt.sub)
		if (err == nil) != tt.write || (err != nil && !errors.Is(err, files.ErrPermission)) {
			t.Errorf("%s write %s: %v, want allowed=%v", user, tt.file, err, tt.write)
		}
	}
	// A zero mode counts as missing: the default file mode applies.
	if _, err := e.s.Chmod("vis.0", "private.txt", 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.Read("vis.0", "private.txt", alice); err != nil {
		t.Fatalf("mode 0 → default 0x644 readable: %v", err)
	}
	// Delete = WRITE on the file.
	if err := e.s.DeleteFile("vis.0", "public.txt", alice); !errors.Is(err, files.ErrPermission) {
		t.Fatalf("alice deletes public.txt: %v", err)
	}
	if err := e.s.DeleteFile("vis.0", "open.txt", alice); err != nil {
		t.Fatalf("alice deletes open.txt: %v", err)
	}
	// [GO] rename checks the target: alice may write open2 but not create at root.
	e.writeAs(t, admin, "vis.0", "open2.txt", "o", 0x666)
	if err := e.s.Rename("vis.0", "open2.txt", "fresh.txt", alice); !errors.Is(err, files.ErrPermission) {
		t.Fatalf("rename to a path alice cannot create: %v", err)
	}
	if err := e.s.Rename("vis.0", "open2.txt", "public.txt", alice); !errors.Is(err, files.ErrPermission) {
		t.Fatalf("rename over a file alice cannot write: %v", err)
	}
	e.deflt = acl.File{Permissions: 0x666}
	if err := e.s.Rename("vis.0", "open2.txt", "fresh.txt", alice); err != nil {
		t.Fatalf("rename with writable default: %v", err)
	}
}

func filesReadDir(t *testing.T, open FilesFactory) {
	e := newFilesEnv(t, open)
	for _, n := range []string{"main/vis-views.json", "main/img/a.png", "main/img/b.png", "main/b.css", "main/a.js", "main/a", "main.txt", "top.json"} {
		e.write(t, "vis.0", n, n)
	}
	e.writeAs(t, admin, "vis.0", "main/secret.txt", "s", 0x600)
	e.writeAs(t, admin, "vis.0", "main/open.txt", "o", 0x666)
	for _, d := range []string{"main/empty", "main/img", "newdir"} {
		if err := e.s.Mkdir("vis.0", d, nil); err != nil {
			t.Fatal(err)
		}
	}
	e.write(t, "other.0", "x", "x")
	tests := []struct {
		ns, dir string
		sub     *acl.Subject
		want    []string
	}{
		{"vis.0", "main", nil, []string{"a", "a.js", "b.css", "empty/", "img/", "open.txt", "secret.txt", "vis-views.json"}},
		{"vis.0", "/main/", nil, []string{"a", "a.js", "b.css", "empty/", "img/", "open.txt", "secret.txt", "vis-views.json"}},
		{"vis.0", "main", alice, []string{"a", "a.js", "b.css", "empty/", "img/", "open.txt", "vis-views.json"}},
		{"vis.0", "", nil, []string{"main/", "main.txt", "newdir/", "top.json"}},
		{"vis.0", "/", nil, []string{"main/", "main.txt", "newdir/", "top.json"}},
		{"vis.0", "main/img", nil, []string{"a.png", "b.png"}},
		{"vis.0", "main/empty", nil, []string{}},
		{"vis.0", "missing", nil, []string{}},
		{"vis.0", "top.json", nil, []string{}},
		{"vis", "", nil, []string{}},
		{"vis.admin", "admin", nil, []string{}},
	}
	for _, tt := range tests {
		got, err := e.s.ReadDir(tt.ns, tt.dir, tt.sub)
		if err != nil || got == nil || !reflect.DeepEqual(names(got), tt.want) {
			t.Errorf("ReadDir(%s, %q) = %v, %v; want %v", tt.ns, tt.dir, names(got), err, tt.want)
		}
	}
	// files.Entry shape and the everyone-bits rule.
	got, _ := e.s.ReadDir("vis.0", "main", alice)
	byName := map[string]files.Entry{}
	for _, en := range got {
		byName[en.File] = en
	}
	v := byName["vis-views.json"]
	if v.IsDir || v.Size != int64(len("main/vis-views.json")) || v.ACL == nil || v.ACL.Permissions != 0x644 ||
		!v.Read || v.Write || v.MimeType != "application/json" || v.ModifiedAt == 0 || v.CreatedAt == 0 {
		t.Errorf("vis-views.json entry %+v", v)
	}
	if o := byName["open.txt"]; !o.Read || !o.Write {
		t.Errorf("open.txt entry %+v", o)
	}
	if d := byName["img"]; !d.IsDir || d.ACL != nil || d.Size != 0 {
		t.Errorf("img entry %+v", d)
	}
	got, _ = e.s.ReadDir("vis.0", "main", adminMember)
	for _, en := range got {
		if !en.IsDir && (!en.Read || !en.Write) {
			t.Errorf("admin entry %s read/write %v/%v", en.File, en.Read, en.Write)
		}
	}
	// Namespaces holding files.
	got, err := e.s.ReadDir("", "", alice)
	if err != nil || !reflect.DeepEqual(names(got), []string{"other.0/", "vis.0/"}) {
		t.Errorf("ReadDir(\"\") = %v, %v", names(got), err)
	}
	// A folder readable only through its default acl.
	e.deflt = acl.File{Permissions: 0x600}
	if _, err := e.s.ReadDir("vis.0", "main", alice); !errors.Is(err, files.ErrPermission) {
		t.Errorf("ReadDir with default 0x600 as alice: %v", err)
	}
}

func filesExists(t *testing.T, open FilesFactory) {
	e := newFilesEnv(t, open)
	e.write(t, "vis.0", "main/a.json", "{}")
	if err := e.s.Mkdir("vis.0", "empty", nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		want bool
	}{{"main/a.json", true}, {"/main/a.json", true}, {"main", true}, {"empty", true}, {"empty/_data.json", false}, {"main/b", false}, {"mai", false}} {
		got, err := e.s.Exists("vis.0", tt.name, alice)
		if err != nil || got != tt.want {
			t.Errorf("Exists(%q) = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func filesUnlinkDelete(t *testing.T, open FilesFactory) {
	e := newFilesEnv(t, open)
	for _, n := range []string{"a/b/c.txt", "a/b/d.txt", "a/e.txt", "ab.txt", "a.txt"} {
		e.write(t, "vis.0", n, n)
	}
	if err := e.s.Mkdir("vis.0", "a/f", nil); err != nil {
		t.Fatal(err)
	}
	e.write(t, "vis", "a/x.txt", "other namespace")
	if err := e.s.Unlink("vis.0", "missing", nil); err != nil {
		t.Fatalf("unlink missing: %v", err)
	}
	if err := e.s.Unlink("vis.0", "a/b", nil); err != nil {
		t.Fatal(err)
	}
	got, _ := e.s.ReadDir("vis.0", "a", nil)
	if !reflect.DeepEqual(names(got), []string{"e.txt", "f/"}) {
		t.Fatalf("after unlink a/b: %v", names(got))
	}
	if err := e.s.Unlink("vis.0", "a", nil); err != nil {
		t.Fatal(err)
	}
	got, _ = e.s.ReadDir("vis.0", "", nil)
	if !reflect.DeepEqual(names(got), []string{"a.txt", "ab.txt"}) {
		t.Fatalf("after unlink a: %v", names(got))
	}
	if err := e.s.Unlink("vis.0", "a.txt", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteFile("vis.0", "ab.txt", nil); err != nil {
		t.Fatal(err)
	}
	got, _ = e.s.ReadDir("", "", nil)
	if !reflect.DeepEqual(names(got), []string{"vis/"}) {
		t.Fatalf("namespaces after deleting all of vis.0: %v", names(got))
	}
	// Unlink of the root empties the namespace.
	if err := e.s.Unlink("vis", "", alice); !errors.Is(err, files.ErrPermission) {
		t.Fatalf("alice unlinks the root: %v", err)
	}
	if err := e.s.Unlink("vis", "/", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.s.ReadDir("", "", nil); len(got) != 0 {
		t.Fatalf("namespaces left: %v", names(got))
	}
	var deleted []string
	for _, c := range e.changes() {
		if c.Deleted {
			deleted = append(deleted, c.Namespace+"/"+c.Path)
		}
	}
	want := []string{"vis.0/a/b/c.txt", "vis.0/a/b/d.txt", "vis.0/a/e.txt", "vis.0/a.txt", "vis.0/ab.txt", "vis/a/x.txt"}
	if !reflect.DeepEqual(deleted, want) {
		t.Fatalf("delete feed %v, want %v", deleted, want)
	}
}

func filesRename(t *testing.T, open FilesFactory) {
	e := newFilesEnv(t, open)
	for _, n := range []string{"p1/a.json", "p1/img/x.png", "p1x.txt", "keep.txt"} {
		e.write(t, "vis.0", n, n)
	}
	if err := e.s.Mkdir("vis.0", "p1/empty", nil); err != nil {
		t.Fatal(err)
	}
	_, before := e.read(t, "vis.0", "p1/a.json")
	if err := e.s.Rename("vis.0", "missing", "x", nil); err != nil {
		t.Fatalf("rename missing: %v", err)
	}
	if err := e.s.Rename("vis.0", "/p1/", "p2", nil); err != nil {
		t.Fatal(err)
	}
	got, _ := e.s.ReadDir("vis.0", "", nil)
	if !reflect.DeepEqual(names(got), []string{"keep.txt", "p1x.txt", "p2/"}) {
		t.Fatalf("root after rename: %v", names(got))
	}
	got, _ = e.s.ReadDir("vis.0", "p2", nil)
	if !reflect.DeepEqual(names(got), []string{"a.json", "empty/", "img/"}) {
		t.Fatalf("p2: %v", names(got))
	}
	d, m := e.read(t, "vis.0", "p2/a.json")
	if d != "p1/a.json" || !reflect.DeepEqual(m, before) {
		t.Fatalf("moved file %q %+v, want meta %+v", d, m, before)
	}
	if err := e.s.RenameFile("vis.0", "p2/a.json", "p2/b.json", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RenameFile("vis.0", "p2/img/x.png", "keep.txt", nil); err != nil {
		t.Fatal(err)
	}
	if d, m := e.read(t, "vis.0", "keep.txt"); d != "p1/img/x.png" || m.MimeType != "image/png" {
		t.Fatalf("overwritten keep.txt = %q %+v", d, m)
	}
	if err := e.s.Rename("vis.0", "p2", "/p2/", nil); err != nil {
		t.Fatalf("folder onto itself: %v", err)
	}
	if err := e.s.Rename("vis.0", "p2/b.json", "p2/b.json", nil); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.s.Exists("vis.0", "p2/b.json", nil); !ok {
		t.Fatal("rename onto itself lost the file")
	}
	var feed []string
	for _, c := range e.changes()[4:] {
		feed = append(feed, fmt.Sprintf("%s %v %d", c.Path, c.Deleted, c.Size))
	}
	want := []string{
		"p2/a.json false 9", "p2/img/x.png false 12", "p1/a.json true 0", "p1/img/x.png true 0",
		"p2/b.json false 9", "p2/a.json true 0",
		"keep.txt false 12", "p2/img/x.png true 0",
	}
	if !reflect.DeepEqual(feed, want) {
		t.Fatalf("rename feed\n%q\nwant\n%q", feed, want)
	}
}

func filesChmodChown(t *testing.T, open FilesFactory) {
	e := newFilesEnv(t, open)
	for _, n := range []string{"main/a.json", "main/sub/b.txt", "main2/c.txt", "mainx.txt", "other.txt"} {
		e.write(t, "vis.0", n, n)
	}
	if err := e.s.Mkdir("vis.0", "main/empty", nil); err != nil {
		t.Fatal(err)
	}
	paths := func(es []files.Entry) []string {
		var out []string
		for _, en := range es {
			out = append(out, en.Path+"|"+en.File)
		}
		return out
	}
	tests := []struct {
		name string
		want []string
	}{
		{"main", []string{"main|a.json", "main/sub|b.txt"}},
		{"/main/", []string{"main|a.json", "main/sub|b.txt"}},
		{"main*", []string{"main|a.json", "main/sub|b.txt", "main2|c.txt", "|mainx.txt"}},
		{"main/a.json", []string{"main|a.json"}},
		{"*", []string{"main|a.json", "main/sub|b.txt", "main2|c.txt", "|mainx.txt", "|other.txt"}},
	}
	for i, tt := range tests {
		mode := 0x600 + i
		got, err := e.s.Chmod("vis.0", tt.name, mode, nil)
		if err != nil || !reflect.DeepEqual(paths(got), tt.want) {
			t.Errorf("Chmod(%q) = %v, %v; want %v", tt.name, paths(got), err, tt.want)
			continue
		}
		for _, en := range got {
			if en.IsDir || en.ACL == nil || en.ACL.Permissions != mode || en.ModifiedAt == 0 || en.CreatedAt == 0 || en.Size == 0 || !en.Read || !en.Write {
				t.Errorf("Chmod(%q) entry %+v", tt.name, en)
			}
			_, m := e.read(t, "vis.0", strings.TrimPrefix(en.Path+"/"+en.File, "/"))
			if m.ACL.Permissions != mode {
				t.Errorf("Chmod(%q): %s stored mode %x", tt.name, en.File, m.ACL.Permissions)
			}
		}
	}
	got, err := e.s.Chown("vis.0", "main", "alice", "", nil)
	if err != nil || len(got) != 2 || got[0].ACL.Owner != alice.User || got[0].ACL.OwnerGroup != "system.group.user" {
		t.Fatalf("Chown main: %+v, %v", got, err)
	}
	got, err = e.s.Chown("vis.0", "main/a.json", "", "editor", alice)
	if err != nil || got[0].ACL.Owner != alice.User || got[0].ACL.OwnerGroup != "system.group.editor" {
		t.Fatalf("Chown default owner: %+v, %v", got, err)
	}
	// 0x604: bob (group editor) has no group write, alice owns it.
	if _, err := e.s.Chmod("vis.0", "main/a.json", 0x600, bob); !errors.Is(err, files.ErrPermission) {
		t.Fatalf("bob chmods alice's file: %v", err)
	}
	if _, err := e.s.Chmod("vis.0", "main/a.json", 0x640, alice); err != nil {
		t.Fatalf("alice chmods her own file: %v", err)
	}
	// Chmod/chown publish no content change.
	for _, c := range e.changes()[5:] {
		t.Errorf("unexpected change %+v", c)
	}
}

// TestAtomicOverwrite: readers racing an overwriter of a large file see one
// whole version, never a mix, and the meta always matches the content.
func filesAtomicOverwrite(t *testing.T, open FilesFactory) {
	e := newFilesEnv(t, open)
	const size = 2 << 20
	versions := [][]byte{bytes.Repeat([]byte{'A'}, size), bytes.Repeat([]byte{'B'}, size/2), bytes.Repeat([]byte{'C'}, size+1)}
	if err := e.s.Write("vis.0", "big.bin", versions[0], false, files.WriteOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, m, err := e.s.Read("vis.0", "big.bin", nil)
				if err != nil {
					errs <- err
					return
				}
				if int64(len(d)) != m.Size || len(d) == 0 || bytes.Count(d, d[:1]) != len(d) {
					errs <- fmt.Errorf("torn read: %d bytes, meta size %d", len(d), m.Size)
					return
				}
				reads.Add(1)
			}
		}()
	}
	for i := range 30 {
		if err := e.s.Write("vis.0", "big.bin", versions[i%3], false, files.WriteOptions{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if reads.Load() == 0 {
		t.Fatal("no reads ran")
	}
	t.Logf("%d whole reads during 30 overwrites", reads.Load())
	// Read-your-write: the last version is what comes back.
	if d, _, _ := e.s.Read("vis.0", "big.bin", nil); !bytes.Equal(d, versions[29%3]) {
		t.Fatal("last write not visible")
	}
}

// TestChangeOrder: the feed follows commit order; for each file the last
// published size is the size finally stored.
func filesChangeOrder(t *testing.T, open FilesFactory) {
	e := newFilesEnv(t, open)
	const writers, per = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				name := fmt.Sprintf("f%d.txt", i%5)
				data := strings.Repeat("x", 1+w*per+i) // unique size per write
				if err := e.s.Write("vis.0", name, []byte(data), true, files.WriteOptions{}, nil); err != nil {
					t.Error(err)
					return
				}
				if i%17 == 0 {
					_ = e.s.Unlink("vis.0", name, nil)
				}
			}
		}()
	}
	wg.Wait()
	feed := e.changes()
	last := map[string]files.Change{}
	writes := 0
	for _, c := range feed {
		last[c.Path] = c
		if !c.Deleted {
			writes++
		}
	}
	if writes != writers*per {
		t.Fatalf("%d write changes, want %d", writes, writers*per)
	}
	for name, c := range last {
		d, _, err := e.s.Read("vis.0", name, nil)
		if c.Deleted {
			if !errors.Is(err, files.ErrNotExists) {
				t.Errorf("%s: last change is a delete, read gives %v", name, err)
			}
			continue
		}
		if err != nil || int64(len(d)) != c.Size {
			t.Errorf("%s: stored %d bytes (%v), last change says %d", name, len(d), err, c.Size)
		}
	}
	// A single writer sees exactly its sequence.
	e2 := newFilesEnv(t, open)
	e2.write(t, "vis.0", "a", "1")
	e2.write(t, "vis.0", "b", "22")
	e2.write(t, "vis.0", "a", "333")
	_ = e2.s.Unlink("vis.0", "b", nil)
	_ = e2.s.Rename("vis.0", "a", "c", nil)
	var got []string
	for _, c := range e2.changes() {
		got = append(got, fmt.Sprintf("%s/%s %d %v", c.Namespace, c.Path, c.Size, c.Deleted))
	}
	want := []string{"vis.0/a 1 false", "vis.0/b 2 false", "vis.0/a 3 false", "vis.0/b 0 true", "vis.0/c 3 false", "vis.0/a 0 true"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("feed %q, want %q", got, want)
	}
}

// TestWriteCopiesData: the caller may reuse its buffer after Write.
func filesWriteCopiesData(t *testing.T, open FilesFactory) {
	e := newFilesEnv(t, open)
	buf := []byte("hello")
	if err := e.s.Write("vis.0", "h.txt", buf, true, files.WriteOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXX")
	d, _ := e.read(t, "vis.0", "h.txt")
	if d != "hello" {
		t.Fatalf("read %q", d)
	}
	r, _, _ := e.s.Read("vis.0", "h.txt", nil)
	r[0] = 'J'
	if d, _ := e.read(t, "vis.0", "h.txt"); d != "hello" {
		t.Fatalf("read result aliases storage: %q", d)
	}
}

func names(es []files.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.File
		if e.IsDir {
			out[i] += "/"
		}
	}
	return out
}

func wantErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Errorf("%s: error = %v, want %q", what, err, want)
	}
}
