package auth

import (
	"testing"
	"time"
)

// BenchmarkSessionsAlive is the per-command revocation/expiry check.
func BenchmarkSessionsAlive(b *testing.B) {
	e := newEnv(b)
	tok, _, err := e.svc.Sessions().NewSession("system.user.admin", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !e.svc.Sessions().Alive(tok) {
				b.Fatal("dead")
			}
		}
	})
}

// BenchmarkPermissionsCached is a cache hit of the merged permission set.
func BenchmarkPermissionsCached(b *testing.B) {
	e := newEnv(b)
	if err := e.svc.AddUser("bench", "pw", "user"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Permissions("system.user.bench"); err != nil {
			b.Fatal(err)
		}
	}
}
