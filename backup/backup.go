// Package backup writes and restores one portable archive of the objects,
// states and files of a brokerd database.
//
// The archive is a gzip-compressed tar holding manifest.json and one JSON-lines
// file per store bucket. Each line is {"k": key, "v": value} where value is
// the stored JSON document, or {"k": key, "b": base64} for binary content
// (file data). Sessions and tokens are deliberately not included: a restored
// backup never revives logins.
package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/brokerd/brokerd/database"
	bolt "go.etcd.io/bbolt"
)

// Format is the archive format version.
const Format = 1

// Buckets are the store buckets an archive holds, in restore order.
var Buckets = []string{"objects", "states", "files", "filedata"}

// Manifest describes an archive.
type Manifest struct {
	Format  int            `json:"format"`
	Created time.Time      `json:"created"`
	Version string         `json:"version"`
	Counts  map[string]int `json:"counts"`
}

type line struct {
	K string          `json:"k"`
	V json.RawMessage `json:"v,omitempty"`
	B []byte          `json:"b,omitempty"`
}

// Progress receives the number of entries done out of total.
type Progress func(done, total int)

// Write streams an archive of db to w.
func Write(db *bolt.DB, w io.Writer, version string, progress Progress) error {
	return db.View(func(tx *bolt.Tx) error {
		m := Manifest{Format: Format, Created: time.Now().UTC(), Version: version, Counts: map[string]int{}}
		total := 0
		for _, name := range Buckets {
			if b := tx.Bucket([]byte(name)); b != nil {
				n := b.Stats().KeyN
				m.Counts[name] = n
				total += n
			}
		}
		gz := gzip.NewWriter(w)
		tw := tar.NewWriter(gz)
		mb, _ := json.MarshalIndent(m, "", "  ")
		if err := writeEntry(tw, "manifest.json", mb); err != nil {
			return err
		}
		done := 0
		for _, name := range Buckets {
			b := tx.Bucket([]byte(name))
			if b == nil {
				continue
			}
			// Entries are buffered per bucket because tar needs sizes up front.
			tmp, err := os.CreateTemp("", "brokerd-backup-*")
			if err != nil {
				return err
			}
			bw := bufio.NewWriter(tmp)
			enc := json.NewEncoder(bw)
			err = b.ForEach(func(k, v []byte) error {
				l := line{K: string(k)}
				if isCompactJSON(v) {
					l.V = v
				} else {
					l.B = v
				}
				done++
				if progress != nil && (done%1000 == 0 || done == total) {
					progress(done, total)
				}
				return enc.Encode(l)
			})
			if err == nil {
				err = bw.Flush()
			}
			if err == nil {
				err = copyEntry(tw, name+".jsonl", tmp)
			}
			tmp.Close()
			os.Remove(tmp.Name())
			if err != nil {
				return err
			}
		}
		if progress != nil {
			progress(total, total)
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return gz.Close()
	})
}

func writeEntry(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: time.Now()}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func copyEntry(tw *tar.Writer, name string, f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: time.Now()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// Restore reads an archive into a new database file beside the one in
// dataDir, verifies it with check (e.g. opening the stores on it), and only
// then swaps it in; the previous database is kept as brokerd.db.before-restore.
// Nothing in dataDir changes when any step fails.
func Restore(r io.Reader, dataDir string, check func(dir string) error, progress Progress) error {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return err
	}
	tmpDir, err := os.MkdirTemp(dataDir, ".restore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpDir)
	if err := readArchive(r, filepath.Join(tmpDir, database.FileName), progress); err != nil {
		return err
	}
	if check != nil {
		if err := check(tmpDir); err != nil {
			return fmt.Errorf("restored database does not open: %w", err)
		}
	}
	live := filepath.Join(dataDir, database.FileName)
	if _, err := os.Stat(live); err == nil {
		// Fail early if the daemon holds the database.
		b, err := bolt.Open(live, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			return fmt.Errorf("database %s is in use (stop brokerd before restoring): %v", live, err)
		}
		b.Close()
		if err := os.Rename(live, live+".before-restore"); err != nil {
			return err
		}
	}
	if err := os.Rename(filepath.Join(tmpDir, database.FileName), live); err != nil {
		os.Rename(live+".before-restore", live)
		return err
	}
	return syncDir(dataDir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func readArchive(r io.Reader, dbPath string, progress Progress) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a brokerd backup (gzip): %w", err)
	}
	tr := tar.NewReader(gz)
	db, err := bolt.Open(dbPath, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		return err
	}
	var m *Manifest
	total, done := 0, 0
	known := map[string]bool{}
	for _, b := range Buckets {
		known[b+".jsonl"] = true
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			db.Close()
			return fmt.Errorf("archive is damaged: %w", err)
		}
		switch {
		case h.Name == "manifest.json":
			m = &Manifest{}
			if err := json.NewDecoder(tr).Decode(m); err != nil {
				db.Close()
				return fmt.Errorf("manifest: %w", err)
			}
			if m.Format != Format {
				db.Close()
				return fmt.Errorf("archive format %d is not supported (want %d)", m.Format, Format)
			}
			for _, n := range m.Counts {
				total += n
			}
		case known[h.Name]:
			if m == nil {
				db.Close()
				return errors.New("archive has no manifest.json before its data")
			}
			bucket := h.Name[:len(h.Name)-len(".jsonl")]
			n, err := loadBucket(db, bucket, tr, func(k int) {
				if progress != nil {
					progress(done+k, total)
				}
			})
			done += n
			if err != nil {
				db.Close()
				return fmt.Errorf("%s: %w", h.Name, err)
			}
			if n != m.Counts[bucket] {
				db.Close()
				return fmt.Errorf("%s: %d entries, manifest says %d", h.Name, n, m.Counts[bucket])
			}
		}
	}
	if m == nil {
		db.Close()
		return errors.New("not a brokerd backup: manifest.json missing")
	}
	if err := db.Sync(); err != nil {
		db.Close()
		return err
	}
	if progress != nil {
		progress(total, total)
	}
	return db.Close()
}

// loadBucket writes the lines of one bucket in transactions of bounded size.
func loadBucket(db *bolt.DB, bucket string, r io.Reader, progress func(int)) (int, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	n := 0
	for {
		var batch []line
		for len(batch) < 5000 {
			var l line
			if err := dec.Decode(&l); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return n, fmt.Errorf("line %d: %w", n+len(batch)+1, err)
			}
			batch = append(batch, l)
		}
		if len(batch) == 0 {
			return n, nil
		}
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte(bucket))
			if err != nil {
				return err
			}
			for _, l := range batch {
				v := []byte(l.V)
				if l.V == nil {
					v = l.B
					if v == nil {
						v = []byte{}
					}
				}
				if err := b.Put([]byte(l.K), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(batch)
		progress(n)
	}
}

// isCompactJSON reports whether v is a compact JSON object or array, which
// the line encoder reproduces byte for byte; anything else travels as base64.
func isCompactJSON(v []byte) bool {
	if len(v) == 0 || (v[0] != '{' && v[0] != '[') || !json.Valid(v) {
		return false
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return false
	}
	return bytes.Equal(buf.Bytes(), v)
}
