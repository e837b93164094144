package objects

import (
	"fmt"
	"testing"

	"github.com/brokerd/brokerd/database"
	bolt "go.etcd.io/bbolt"
)

// fill100k writes n realistic state objects straight into bbolt (setup speed).
func fill(b *testing.B, db *database.DB, n int) {
	b.Helper()
	const batch = 10000
	for start := 0; start < n; start += batch {
		err := db.Bolt.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte(Bucket))
			if err != nil {
				return err
			}
			for i := start; i < min(start+batch, n); i++ {
				id := fmt.Sprintf("hm-rpc.%d.DEV%05d.%d.STATE", i%3, i/10, i%10)
				v := fmt.Sprintf(`{"_id":%q,"type":"state","common":{"name":{"en":"State %d","de":"Zustand %d"},"role":"switch","type":"boolean","read":true,"write":true,"def":false,"custom":%s},"native":{"address":"DEV%05d:%d","param":"STATE","flags":1},"from":"system.adapter.hm-rpc.0","user":"system.user.admin","ts":1700000000000,"acl":{"owner":"system.user.admin","ownerGroup":"system.group.administrator","object":1636,"state":1636}}`,
					id, i, i, customFor(i), i/10, i%10)
				if err := bk.Put([]byte(id), []byte(v)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func customFor(i int) string {
	if i%50 == 0 {
		return `{"history.0":{"enabled":true}}`
	}
	return "null"
}

func open100k(b *testing.B) (*BoltStore, *database.DB) {
	b.Helper()
	db, err := database.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	fill(b, db, 100000)
	s, err := Open(db)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.InitDefaults("bench", "x"); err != nil {
		b.Fatal(err)
	}
	return s, db
}

func BenchmarkViewRange100k(b *testing.B) {
	s, db := open100k(b)
	defer db.Close()
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			rows, err := s.View("system", "state", ViewParams{}, nil)
			if err != nil || len(rows) != 100001 {
				b.Fatal(len(rows), err)
			}
		}
	})
	b.Run("prefix", func(b *testing.B) {
		for b.Loop() {
			rows, _ := s.View("system", "state", ViewParams{StartKey: "hm-rpc.1.DEV00100.", EndKey: "hm-rpc.1.DEV00100.\u9999"}, nil)
			if len(rows) != 4 {
				b.Fatal(len(rows))
			}
		}
	})
	b.Run("custom", func(b *testing.B) {
		for b.Loop() {
			rows, _ := s.View("system", "custom", ViewParams{}, nil)
			if len(rows) != 2000 {
				b.Fatal(len(rows))
			}
		}
	})
}

func BenchmarkSet(b *testing.B) {
	db, err := database.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := Open(db)
	if err != nil {
		b.Fatal(err)
	}
	o := Object{"type": "state", "common": map[string]any{"name": "x", "type": "number", "role": "value"}, "native": map[string]any{}}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.Set(fmt.Sprintf("bench.0.s%d", i%1000), o, WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.Set(fmt.Sprintf("bench.1.s%d", i%1000), o, WriteOptions{}); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

func BenchmarkOpen100k(b *testing.B) {
	_, db := open100k(b)
	defer db.Close()
	for b.Loop() {
		s, err := Open(db)
		if err != nil || s.Len() != 100000+16 {
			b.Fatal(s.Len(), err)
		}
	}
}
