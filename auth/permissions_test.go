package auth

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
)

func setGroup(t *testing.T, st objects.Store, id string, members []any, perms map[string]any) {
	t.Helper()
	_, err := st.Set(id, objects.Object{"type": "group", "common": map[string]any{"name": id, "members": members, "acl": perms}},
		objects.WriteOptions{})
	must(t, err)
}

func TestPermissionsMerge(t *testing.T) {
	e := newEnv(t)
	s := e.svc
	must(t, s.AddUser("alice", "pw"))
	must(t, s.AddUser("carol", "pw"))
	// Two groups: "a-readers" sorts before "b-writers"; legacy key "user".
	setGroup(t, e.store, "system.group.a-readers", []any{"system.user.alice", "system.user.ghost"}, map[string]any{
		"object": map[string]any{"read": true, "list": true},
		"user":   map[string]any{"list": true},
	})
	setGroup(t, e.store, "system.group.b-writers", []any{"system.user.alice"}, map[string]any{
		"state": map[string]any{"write": true, "read": "yes"}, // only JSON true counts
		"other": map[string]any{"sendto": true},
	})

	sub, err := s.Permissions("system.user.alice")
	must(t, err)
	if !slices.Equal(sub.Groups, []string{"system.group.a-readers", "system.group.b-writers"}) || sub.Admin {
		t.Fatalf("groups %v admin %v", sub.Groups, sub.Admin)
	}
	p := sub.Perms
	if !p.Object.Read || !p.Object.List || p.Object.Write || !p.Users.List || !p.State.Write || p.State.Read || !p.Other.SendTo || p.Other.HTTP {
		t.Fatalf("merged perms wrong: %+v", p)
	}

	// Unknown users get nothing, ids without the prefix are an error.
	if sub, err := s.Permissions("system.user.ghost"); err != nil || len(sub.Groups) != 0 || sub.Perms.Object.Read {
		t.Fatalf("ghost = %+v, %v", sub, err)
	}
	if _, err := s.Permissions("alice"); err == nil || err.Error() != "invalid user name: alice" {
		t.Fatalf("bare name: %v", err)
	}

	// Admin, with and without membership, and administrator-group members.
	admin, _ := s.Permissions(acl.Admin)
	if !admin.Admin || admin.Groups[0] != acl.AdminGroup || admin.Perms != acl.All() {
		t.Fatalf("admin = %+v", admin)
	}
	must(t, s.AddToGroup("carol", "administrator"))
	carol, _ := s.Permissions("system.user.carol")
	if !carol.Admin || carol.Perms != acl.All() {
		t.Fatalf("administrator member = %+v", carol)
	}

	// Returned subjects are copies.
	sub.Groups[0] = "x"
	again, _ := s.Permissions("system.user.alice")
	if again.Groups[0] != "system.group.a-readers" {
		t.Fatal("cache entry was mutated through a returned subject")
	}
}

func TestPermissionsInvalidation(t *testing.T) {
	e := newEnv(t)
	s := e.svc
	must(t, s.AddUser("dave", "pw"))
	must(t, s.AddUser("erin", "pw"))
	must(t, s.AddGroup("viewers", "", &acl.Permissions{State: acl.Ops{Read: true}}))

	var mu sync.Mutex
	changed := map[string]int{}
	s.OnChange(func(u string) { mu.Lock(); changed[u]++; mu.Unlock() })
	seen := func(u string) int { mu.Lock(); defer mu.Unlock(); return changed[u] }

	before, _ := s.Permissions("system.user.dave")
	if before.Perms.State.Read {
		t.Fatal("dave is in no group yet")
	}
	gen := s.Generation()
	must(t, s.AddToGroup("dave", "viewers"))
	if s.Generation() == gen || seen("system.user.dave") == 0 {
		t.Fatal("no change notification for the new member")
	}
	after, _ := s.Permissions("system.user.dave")
	if !after.Perms.State.Read || !after.InGroup("system.group.viewers") {
		t.Fatalf("group change not applied: %+v", after)
	}
	if seen("system.user.erin") != 0 {
		t.Fatal("erin is unaffected by the change")
	}

	// Changing the group's acl through the store (e.g. setObject from admin)
	// notifies the cached old member.
	obj, _ := e.store.Get("system.group.viewers")
	obj["common"].(map[string]any)["acl"] = map[string]any{"state": map[string]any{"read": false, "write": true}}
	_, err := e.store.Set("system.group.viewers", obj, objects.WriteOptions{})
	must(t, err)
	if seen("system.user.dave") < 2 {
		t.Fatal("acl change did not notify member")
	}
	now, _ := s.Permissions("system.user.dave")
	if now.Perms.State.Read || !now.Perms.State.Write {
		t.Fatalf("acl change not applied: %+v", now.Perms.State)
	}
	// Removing the member notifies it too (found through the cache).
	must(t, s.RemoveFromGroup("dave", "viewers"))
	if seen("system.user.dave") < 3 {
		t.Fatal("removal did not notify former member")
	}
	if p, _ := s.Permissions("system.user.dave"); p.Perms.State.Write {
		t.Fatal("removal not applied")
	}
	// Deleting a group notifies its members even when nothing is cached
	// (a connection keeps its own copy of the subject).
	must(t, s.AddToGroup("erin", "viewers"))
	n := seen("system.user.erin")
	must(t, s.DelGroup("viewers"))
	if seen("system.user.erin") != n+1 {
		t.Fatal("group deletion did not notify its member")
	}
}

func TestSocketACL(t *testing.T) {
	e := newEnv(t)
	s := e.svc
	admin, _ := s.Permissions(acl.Admin)
	a := SocketACL(admin)
	if !slices.Equal(a.Groups, []string{acl.AdminGroup}) || a.User != acl.Admin {
		t.Fatal(a)
	}
	if _, ok := a.Users["list"]; ok {
		t.Fatal("admin users.list must be absent")
	}
	if _, ok := a.Users["read"]; ok {
		t.Fatal("admin users.read must be absent")
	}
	if _, ok := a.Object["create"]; ok {
		t.Fatal("admin object.create must be absent")
	}
	if !a.Users["create"] || !a.Users["write"] || !a.Object["delete"] || !a.State["create"] || !a.Other["http"] ||
		!a.File["create"] || len(a.Object) != 4 || len(a.Users) != 3 || len(a.Other) != 3 || len(a.File) != 5 || len(a.State) != 5 {
		t.Fatalf("admin acl %+v", a)
	}

	must(t, s.AddUser("frank", "pw", "administrator"))
	f, _ := s.Permissions("system.user.frank")
	fa := SocketACL(f)
	if _, ok := fa.Object["create"]; ok || !fa.Users["list"] || !fa.Users["read"] || !fa.Other["execute"] {
		t.Fatalf("administrator member acl %+v", fa)
	}

	must(t, s.AddUser("gina", "pw", "user"))
	g, _ := s.Permissions("system.user.gina")
	ga := SocketACL(g)
	b, _ := json.Marshal(ga)
	want := `{"user":"system.user.gina","groups":["system.group.user"],` +
		`"object":{"delete":false,"list":true,"read":true,"write":false},` +
		`"state":{"create":true,"delete":false,"list":true,"read":true,"write":true},` +
		`"users":{"create":false,"delete":false,"list":true,"read":true,"write":false},` +
		`"other":{"execute":false,"http":true,"sendto":false},` +
		`"file":{"create":false,"delete":false,"list":true,"read":true,"write":false}}`
	if string(b) != want {
		t.Fatalf("user acl\n got %s\nwant %s", b, want)
	}
}

func TestCommandPermissions(t *testing.T) {
	m := CommandPermissions()
	if len(m) != 52 {
		t.Fatalf("%d entries, want 52", len(m))
	}
	for cmd, want := range map[string]CommandPermission{
		"getObject": {"object", "read"}, "getObjects": {"object", "list"}, "requireLog": {"object", "write"},
		"getUserPermissions": {"object", "read"}, "listPermissions": {"", ""}, "createFile": {"file", "create"},
		"cmdExec": {"other", "execute"}, "changePassword": {"users", "write"}, "unsubscribeFiles": {"file", "read"},
	} {
		if m[cmd] != want {
			t.Errorf("%s = %+v, want %+v", cmd, m[cmd], want)
		}
	}
	m["getObject"] = CommandPermission{}
	if CommandPermissions()["getObject"].Type != "object" {
		t.Fatal("CommandPermissions must return a copy")
	}
	b, _ := json.Marshal(m["setState"])
	if string(b) != `{"type":"state","operation":"write"}` {
		t.Fatal(string(b))
	}
}
