// Package database opens the single bbolt file that holds all three stores
// and owns its group committer.
package database

import (
	"fmt"
	"os"
	"path/filepath"
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
	b, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	return &DB{Path: path, Bolt: b, Committer: groupcommit.New(b)}, nil
}

func openBolt(path string) (b *bolt.DB, err error) {
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
