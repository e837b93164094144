package database_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
	bolt "go.etcd.io/bbolt"
)

const pageSize = 4096

// goodDB builds a database with states, objects and files (branch, leaf and
// overflow pages) and returns its bytes, the high-water mark in bytes (the
// file is longer: bbolt grows it ahead) and the type of every page.
func goodDB(t *testing.T) ([]byte, int, []string) {
	t.Helper()
	dir := shmDir(t)
	st := openStores(t, dir)
	for i := range 600 {
		if _, err := st.s.Set(fmt.Sprintf("c.0.s%04d", i), states.Write{Val: float64(i), HasVal: true}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		o := objects.Object{"type": "state", "common": map[string]any{"name": fmt.Sprint("n", i), "type": "number"}, "native": map[string]any{}}
		if _, err := st.o.Set(fmt.Sprintf("c.0.s%04d", i), o, objects.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 8 {
		body := []byte(strings.Repeat(fmt.Sprintf("file %d\n", i), 2500))
		if err := st.f.Write(fileNS, fmt.Sprintf("f%d.txt", i), body, true, files.WriteOptions{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, database.FileName)
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var hwm int
	var types []string
	b.View(func(tx *bolt.Tx) error {
		hwm = int(tx.Size())
		for id := 0; id < hwm/pageSize; id++ {
			info, err := tx.Page(id)
			if err != nil || info == nil {
				t.Fatalf("page %d: %v", id, err)
			}
			types = append(types, info.Type)
			if info.Type == "free" {
				continue // the header is stale
			}
			for range info.OverflowCount {
				types = append(types, "overflow")
				id++
			}
		}
		return nil
	})
	b.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, hwm, types
}

// shmDir is a temporary directory on tmpfs when there is one: these tests
// commit and open many databases, and need no real disk.
func shmDir(t *testing.T) string {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); err != nil || !st.IsDir() {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("/dev/shm", "brokerd-corrupt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// writeDB puts data as the database of a new data directory.
func writeDB(t *testing.T, data []byte) (dir, path string) {
	dir = shmDir(t)
	path = filepath.Join(dir, database.FileName)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// wantCorrupt checks that err is the start-up refusal naming the file and
// the restore command.
func wantCorrupt(t *testing.T, err error, path, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: database opened", what)
	}
	msg := err.Error()
	if !strings.Contains(msg, path) || !strings.Contains(msg, "brokerd restore") {
		t.Fatalf("%s: message %q does not name the file and `brokerd restore`", what, msg)
	}
}

func TestCorruptDatabaseStopsStartup(t *testing.T) {
	good, hwm, _ := goodDB(t)
	if len(good)%pageSize != 0 || hwm < 8*pageSize || hwm > len(good) {
		t.Fatalf("unexpected database size %d, high-water mark %d", len(good), hwm)
	}
	garbage := func(n int) []byte {
		r := rand.New(rand.NewPCG(1, uint64(n)))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	cases := []struct {
		name string
		mod  func([]byte) []byte
	}{
		{"empty", func([]byte) []byte { return nil }},
		{"shorter than a page", func(b []byte) []byte { return b[:100] }},
		{"one page", func(b []byte) []byte { return b[:pageSize] }},
		{"meta pages only", func(b []byte) []byte { return b[:2*pageSize] }},
		{"half", func(b []byte) []byte { return b[:hwm/2/pageSize*pageSize] }},
		{"last used page missing", func(b []byte) []byte { return b[:hwm-pageSize] }},
		{"last used page cut", func(b []byte) []byte { return b[:hwm-1000] }},
		{"both meta pages garbage", func(b []byte) []byte { copy(b, garbage(2*pageSize)); return b }},
		{"all but meta garbage", func(b []byte) []byte { copy(b[2*pageSize:], garbage(len(b)-2*pageSize)); return b }},
		{"text file", func([]byte) []byte { return []byte("listen: 127.0.0.1:8084\n") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, path := writeDB(t, c.mod(append([]byte(nil), good...)))
			db, err := database.Open(dir)
			if err == nil {
				db.Close()
			}
			wantCorrupt(t, err, path, c.name)
			t.Log(err)
		})
	}
}

// TestGarbagePages overwrites one page at a time (zeros, random bytes, random
// body under a valid header, absurd element count): opening must either
// refuse with the restore message or give a database whose every state,
// object and file reads without a panic.
func TestGarbagePages(t *testing.T) {
	good, hwm, types := goodDB(t)
	pages := hwm / pageSize
	r := rand.New(rand.NewPCG(7, 7))
	variants := []struct {
		name string
		mod  func(p []byte)
	}{
		{"zeros", func(p []byte) { clear(p) }},
		{"random", func(p []byte) {
			for i := range p {
				p[i] = byte(r.Uint32())
			}
		}},
		{"random body", func(p []byte) {
			for i := 16; i < len(p); i++ {
				p[i] = byte(r.Uint32())
			}
		}},
		{"huge count", func(p []byte) { binary.LittleEndian.PutUint16(p[10:], 0xffff) }},
		{"huge overflow", func(p []byte) { binary.LittleEndian.PutUint32(p[12:], 0x7fffffff) }},
		{"element pointing far", func(p []byte) {
			// first element's pos (branch and leaf elements both start
			// their 16-byte header with it or carry it at offset 4)
			binary.LittleEndian.PutUint32(p[16:], 0x7ffffff0)
			binary.LittleEndian.PutUint32(p[20:], 0x7ffffff0)
		}},
	}
	refused, opened, storeErrs := 0, 0, 0
	undetected := map[string]int{}
	for pg := 2; pg < pages; pg++ {
		for _, v := range variants {
			data := append([]byte(nil), good...)
			v.mod(data[pg*pageSize : (pg+1)*pageSize])
			dir, path := writeDB(t, data)
			db, err := database.Open(dir)
			if err != nil {
				wantCorrupt(t, err, path, fmt.Sprintf("page %d %s", pg, v.name))
				refused++
				continue
			}
			db.Close()
			opened++
			if types[pg] != "free" {
				undetected[types[pg]+" "+v.name]++
			}
			if err := readEverything(t, dir); err != nil {
				storeErrs++
			}
		}
	}
	t.Logf("%d pages × %d variants: %d refused at open, %d opened (%d of them refused by a store's load); opened with a used page damaged: %v",
		pages-2, len(variants), refused, opened, storeErrs, undetected)
	if refused == 0 {
		t.Fatal("no corruption was detected")
	}
}

// readEverything opens the stores and reads every state, object and file.
func readEverything(t *testing.T, dir string) error {
	t.Helper()
	db, err := database.Open(dir)
	if err != nil {
		return err
	}
	defer db.Close()
	o, err := objects.Open(db)
	if err != nil {
		return err
	}
	s, err := states.Open(db)
	if err != nil {
		return err
	}
	defer s.Close()
	f, err := files.Open(db, files.NamespaceFunc(func(string) bool { return true }), nil)
	if err != nil {
		return err
	}
	s.All(func(string, *states.State) bool { return true })
	o.Range("", "\u9999", func(id string, _ *objects.Meta, _ json.RawMessage) bool { _, _ = o.Get(id); return true })
	for i := range 8 {
		_, _, _ = f.Read(fileNS, fmt.Sprintf("f%d.txt", i), nil)
	}
	return nil
}
