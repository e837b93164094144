// Package database opens the single bbolt file that holds all three stores
// and owns its group committer.
package database

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/brokerd/brokerd/groupcommit"
	bolt "go.etcd.io/bbolt"
)

// FileName is the database file inside the data directory.
const FileName = "brokerd.db"

// DB is the opened database.
type DB struct {
	Path      string
	Bolt      *bolt.DB
	Committer *groupcommit.Committer
}

// Open creates dir when missing and opens (or creates) the database in it.
// A corrupt or truncated file stops start-up with a message naming it.
func Open(dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		// bbolt would silently initialise an empty database over it.
		return nil, corrupt(path, errors.New("the file is empty"))
	}
	b, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	if err := verify(b); err != nil {
		b.Close()
		return nil, corrupt(path, err)
	}
	return &DB{Path: path, Bolt: b, Committer: groupcommit.New(b)}, nil
}

// verify reads every page reachable from the root once, so that a corrupt
// or truncated file stops start-up here instead of crashing a reader later:
// the file must hold every page below the high-water mark (a page past the
// end of an mmapped file is a SIGBUS), every bucket and value must be
// readable, and bbolt's consistency check (free list, page references, key
// order) must pass. Memory faults become recoverable panics on this
// goroutine; bbolt's own check goroutine runs only once the walk proved that
// every page it will touch is in the file.
func verify(b *bolt.DB) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	fi, err := os.Stat(b.Path())
	if err != nil {
		return err
	}
	return b.View(func(tx *bolt.Tx) error {
		if tx.Size() > fi.Size() {
			return fmt.Errorf("truncated: the file has %d bytes, its pages reach %d", fi.Size(), tx.Size())
		}
		if err := scanPages(tx); err != nil {
			return err
		}
		var touched byte
		err := tx.ForEach(func(name []byte, bk *bolt.Bucket) error { return walkBucket(bk, name, 0, &touched) })
		runtime.KeepAlive(touched)
		if err != nil {
			return err
		}
		var first error
		for e := range tx.Check() { // drain: Check's goroutine sends every error
			if first == nil {
				first = e
			}
		}
		return first
	})
}

// scanPages checks the header of every page below the high-water mark: each
// is free or a meta, free-list, branch or leaf page whose overflow pages stay
// below the mark. bbolt's check trusts these headers (a garbage overflow
// count makes it loop for billions of pages).
func scanPages(tx *bolt.Tx) error {
	hwm := int(tx.Size() / int64(tx.DB().Info().PageSize))
	for id := 0; id < hwm; {
		info, err := tx.Page(id)
		if err != nil {
			return err
		}
		if info == nil {
			return fmt.Errorf("page %d: missing below the high-water mark %d", id, hwm)
		}
		switch info.Type {
		case "free":
			id++
			continue
		case "meta", "freelist", "branch", "leaf":
		default:
			return fmt.Errorf("page %d: unknown page type %q", id, info.Type)
		}
		if info.OverflowCount < 0 || id+info.OverflowCount >= hwm {
			return fmt.Errorf("page %d: %d overflow pages reach past the high-water mark %d", id, info.OverflowCount, hwm)
		}
		id += info.OverflowCount + 1
	}
	return nil
}

// maxBucketDepth bounds nested buckets (ours nest at most one level).
const maxBucketDepth = 16

// walkBucket visits every key of bk and its nested buckets, touching the
// first and last byte of every value so that a value reaching past the file
// faults here.
func walkBucket(bk *bolt.Bucket, name []byte, depth int, touched *byte) error {
	if depth > maxBucketDepth {
		return fmt.Errorf("bucket %q: nested deeper than %d", name, maxBucketDepth)
	}
	return bk.ForEach(func(k, v []byte) error {
		if v != nil {
			if len(v) > 0 {
				*touched ^= v[0] ^ v[len(v)-1]
			}
			return nil
		}
		child := bk.Bucket(k)
		if child == nil {
			return fmt.Errorf("bucket %q: key %q is neither a value nor a bucket", name, k)
		}
		return walkBucket(child, k, depth+1, touched)
	})
}

func openBolt(path string) (b *bolt.DB, err error) {
	// A meta or free-list page past the end of the file faults instead of
	// failing: make that a panic we can recover.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		// bbolt panics on some forms of corruption instead of returning an error.
		if r := recover(); r != nil {
			b, err = nil, corrupt(path, fmt.Errorf("%v", r))
		}
	}()
	b, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		if err == bolt.ErrTimeout {
			return nil, fmt.Errorf("database %s is locked by another process (is brokerd already running?)", path)
		}
		return nil, corrupt(path, err)
	}
	return b, nil
}

func corrupt(path string, err error) error {
	return fmt.Errorf("database %s cannot be opened (%v); it may be corrupt or truncated: restore a backup with `brokerd restore FILE`", path, err)
}

// Close flushes pending commits and closes the file.
func (d *DB) Close() error {
	d.Committer.Close()
	return d.Bolt.Close()
}
