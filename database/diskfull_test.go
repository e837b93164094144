package database_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/files"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
	bolt "go.etcd.io/bbolt"
)

// stores are the three stores on one database, opened without the broker.
type stores struct {
	db *database.DB
	o  *objects.BoltStore
	s  *states.BoltStore
	f  *files.BoltStore
}

func openStores(t *testing.T, dir string) *stores {
	t.Helper()
	db, err := database.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := &stores{db: db}
	if st.o, err = objects.Open(db); err != nil {
		db.Close()
		t.Fatal(err)
	}
	if st.s, err = states.Open(db); err != nil {
		db.Close()
		t.Fatal(err)
	}
	if st.f, err = files.Open(db, files.NamespaceFunc(func(string) bool { return true }), nil); err != nil {
		st.s.Close()
		db.Close()
		t.Fatal(err)
	}
	return st
}

func (st *stores) close() error {
	st.s.Close()
	return st.db.Close()
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, or skips the
// test when that is not possible (not root, no mount permission).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// acked holds the last acknowledged write of every key.
type acked struct {
	states  map[string]string
	objects map[string]string
	files   map[string][]byte
}

const fileNS = "0_userdata.0"

// writer produces writes of about size bytes to a rotating set of keys.
type writer struct {
	st   *stores
	a    *acked
	seq  int
	size int
}

func (w *writer) state() error {
	w.seq++
	id := fmt.Sprintf("fault.0.s%d", w.seq%64)
	val := fmt.Sprintf("%d:%s", w.seq, strings.Repeat("s", w.size))
	if _, err := w.st.s.Set(id, states.Write{Val: val, HasVal: true}); err != nil {
		return err
	}
	w.a.states[id] = val
	return nil
}

func (w *writer) object() error {
	w.seq++
	id := fmt.Sprintf("fault.0.o%d", w.seq%64)
	desc := fmt.Sprintf("%d:%s", w.seq, strings.Repeat("o", w.size))
	o := objects.Object{"type": "state", "common": map[string]any{"name": "n", "type": "string", "desc": desc}, "native": map[string]any{}}
	if _, err := w.st.o.Set(id, o, objects.WriteOptions{}); err != nil {
		return err
	}
	w.a.objects[id] = desc
	return nil
}

func (w *writer) file() error {
	w.seq++
	name := fmt.Sprintf("d/f%d.txt", w.seq%64)
	body := bytes.Repeat([]byte(fmt.Sprintf("%08d\n", w.seq)), 4*w.size/9+1)
	if err := w.st.f.Write(fileNS, name, body, true, files.WriteOptions{}, nil); err != nil {
		return err
	}
	w.a.files[name] = body
	return nil
}

// verify checks that every acknowledged write is what the stores return.
func (a *acked) verify(t *testing.T, st *stores, when string) {
	t.Helper()
	for id, want := range a.states {
		got, ok := st.s.Get(id)
		if !ok || got.Val != want {
			t.Errorf("%s: state %s = %.20v, acknowledged %.20s", when, id, got, want)
		}
	}
	for id, want := range a.objects {
		o, err := st.o.Get(id)
		if err != nil || o == nil {
			t.Errorf("%s: object %s: %v", when, id, err)
			continue
		}
		if c, _ := o["common"].(map[string]any); c["desc"] != want {
			t.Errorf("%s: object %s desc %.20v, acknowledged %.20s", when, id, c["desc"], want)
		}
	}
	for name, want := range a.files {
		got, _, err := st.f.Read(fileNS, name, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: file %s: %v (%d bytes, acknowledged %d)", when, name, err, len(got), len(want))
		}
	}
}

// checkBolt runs bbolt's consistency check on the open database.
func checkBolt(t *testing.T, db *bolt.DB, when string) {
	t.Helper()
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Errorf("%s: bbolt check: %v", when, err)
	}
}

// TestDiskFull fills a small tmpfs until the database cannot grow: every
// refused write must say "no space left on device", reads keep answering
// the last acknowledged values, and once space returns writes succeed again
// and everything acknowledged is there after a reopen.
func TestDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, 4<<20)
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "data")
	st := openStores(t, dir)
	defer func() {
		if st != nil {
			st.close()
		}
	}()
	a := &acked{states: map[string]string{}, objects: map[string]string{}, files: map[string][]byte{}}
	w := &writer{st: st, a: a, size: 2000}
	kinds := []struct {
		name  string
		write func() error
	}{{"setState", w.state}, {"setObject", w.object}, {"writeFile", w.file}}

	// Fill: round-robin over the stores, growing the values, until each
	// kind has been refused a few times.
	failures := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; ; i++ {
		if time.Now().After(deadline) || i > 100000 {
			t.Fatalf("disk never filled: %d writes, failures %v", i, failures)
		}
		k := kinds[i%len(kinds)]
		err := k.write()
		if err == nil {
			w.size += 97 // growing values defeat page reuse
			continue
		}
		if !errors.Is(err, syscall.ENOSPC) && !strings.Contains(err.Error(), "no space left on device") {
			t.Fatalf("%s refused with %q, want an error naming the full disk", k.name, err)
		}
		if failures[k.name] == 0 {
			t.Logf("%s refused: %v", k.name, err)
		}
		failures[k.name]++
		if failures["setState"] >= 3 && failures["setObject"] >= 3 && failures["writeFile"] >= 3 {
			break
		}
	}
	t.Logf("disk full after %d acknowledged states, %d objects, %d files (value size %d); failures %v",
		len(a.states), len(a.objects), len(a.files), w.size, failures)

	// Reads keep working and show only acknowledged values (failed writes
	// were reverted in memory).
	a.verify(t, st, "while full")
	checkBolt(t, st.db.Bolt, "while full")
	if t.Failed() {
		return
	}

	// Space returns: writes succeed again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	w.size = 100
	for _, k := range kinds {
		for range 5 {
			if err := k.write(); err != nil {
				t.Fatalf("%s after space returned: %v", k.name, err)
			}
		}
	}
	a.verify(t, st, "after space returned")
	checkBolt(t, st.db.Bolt, "after space returned")

	// Reopen: the file opens and holds every acknowledged write.
	if err := st.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	st = openStores(t, dir)
	a.verify(t, st, "after reopen")
	checkBolt(t, st.db.Bolt, "after reopen")
}
