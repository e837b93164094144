package transport

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/brokerd/brokerd/database"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/states"
	bolt "go.etcd.io/bbolt"
)

// bulkServer is a Server over 100,000 state objects with a value each
// (plus a few hundred objects of other types), built once per test binary.
var bulkServer = sync.OnceValues(func() (*Server, error) {
	const n = 100000
	db, err := database.Open(bulkDir)
	if err != nil {
		return nil, err
	}
	err = db.Bolt.Update(func(tx *bolt.Tx) error {
		ob, err := tx.CreateBucketIfNotExists([]byte(objects.Bucket))
		if err != nil {
			return err
		}
		sb, err := tx.CreateBucketIfNotExists(states.Bucket)
		if err != nil {
			return err
		}
		for i := range n {
			id := fmt.Sprintf("hm-rpc.%d.DEV%05d.%d.STATE", i%3, i/10, i%10)
			obj := fmt.Sprintf(`{"_id":%q,"type":"state","common":{"name":"State %d","role":"switch","type":"boolean","read":true,"write":true,"def":false},"native":{"address":"DEV%05d:%d"},"from":"system.adapter.hm-rpc.0","user":"system.user.admin","ts":1700000000000,"acl":{"owner":"system.user.admin","ownerGroup":"system.group.administrator","object":1636,"state":1636}}`, id, i, i/10, i%10)
			st := fmt.Sprintf(`{"val":%d.5,"ack":true,"ts":1700000000123,"q":0,"from":"system.adapter.hm-rpc.0","lc":1700000000000}`, i)
			if err := ob.Put([]byte(id), []byte(obj)); err != nil {
				return err
			}
			if err := sb.Put([]byte(id), []byte(st)); err != nil {
				return err
			}
			if i%10 == 0 {
				ch := fmt.Sprintf("hm-rpc.%d.DEV%05d", i%3, i/10)
				if err := ob.Put([]byte(ch), []byte(fmt.Sprintf(`{"_id":%q,"type":"device","common":{"name":"x"},"native":{}}`, ch))); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	obj, err := objects.Open(db)
	if err != nil {
		return nil, err
	}
	if err := obj.InitDefaults("bench", "x"); err != nil {
		return nil, err
	}
	st, err := states.Open(db)
	if err != nil {
		return nil, err
	}
	return New(Stores{Objects: obj, States: st}, Options{Version: "1.2.3"})
})

var bulkDir string

// invokeEncoded runs a command as admin and encodes its ack as it would go
// on the wire; it returns the packet size.
func invokeEncoded(b *testing.B, srv *Server, name string, args []any) int {
	ack, err := srv.Invoke(context.Background(), StaticSession{adminSubject()}, name, args)
	if err != nil {
		b.Fatal(err)
	}
	f, err := encodeAck(1, ack)
	if err != nil {
		b.Fatal(err)
	}
	return len(f.text)
}

func bulkSetup(b *testing.B) *Server {
	b.Helper()
	if bulkDir == "" {
		bulkDir = b.TempDir() // lives as long as the first benchmark using it
	}
	srv, err := bulkServer()
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

// BenchmarkGetStatesAll100k is getStates('*') over 100,000 states, ack
// encoding included (budget: 150 ms for the ≈15 MB answer).
func BenchmarkGetStatesAll100k(b *testing.B) {
	srv := bulkSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.SetBytes(int64(invokeEncoded(b, srv, "getStates", []any{"*"})))
	}
}

// BenchmarkObjectView100k is getObjectView('system', 'state', {}) over
// 100,000 state objects, ack encoding included (budget: 150 ms).
func BenchmarkObjectView100k(b *testing.B) {
	srv := bulkSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.SetBytes(int64(invokeEncoded(b, srv, "getObjectView", []any{"system", "state", map[string]any{}})))
	}
}
