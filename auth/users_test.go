package auth

import (
	"errors"
	"slices"
	"testing"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	s := e.svc
	must(t, s.AddUser("John Doe", "pw1", "user"))

	if id, err := s.Login("admin", adminPassword); err != nil || id != acl.Admin {
		t.Fatalf("admin login = %q, %v", id, err)
	}
	// By common.name and by normalised id.
	for _, name := range []string{"John Doe", "john_doe", "system.user.john_doe"} {
		if id, err := s.Login(name, "pw1"); err != nil || id != "system.user.john_doe" {
			t.Fatalf("Login(%q) = %q, %v", name, id, err)
		}
	}
	_, errWrong := s.Login("John Doe", "nope")
	_, errUnknown := s.Login("nobody", "pw1")
	if !errors.Is(errWrong, ErrInvalidLogin) || !errors.Is(errUnknown, ErrInvalidLogin) || errWrong.Error() != errUnknown.Error() {
		t.Fatalf("wrong password %v, unknown user %v: want the same ErrInvalidLogin", errWrong, errUnknown)
	}
	if errWrong.Error() != "Invalid password or user name" {
		t.Fatal(errWrong)
	}

	// Disabled users are refused, system.user.admin is not.
	must(t, s.SetEnabled("John Doe", false))
	if _, err := s.Login("John Doe", "pw1"); !errors.Is(err, ErrInvalidLogin) {
		t.Fatalf("disabled user: %v", err)
	}
	must(t, s.SetEnabled("admin", false))
	if _, err := s.Login("admin", adminPassword); err != nil {
		t.Fatalf("disabled admin must still log in: %v", err)
	}
	must(t, s.SetEnabled("John Doe", true))
	if _, err := s.Login("John Doe", "pw1"); err != nil {
		t.Fatal(err)
	}

	// Empty password: login always fails.
	must(t, s.SetPassword("John Doe", ""))
	if _, err := s.Login("John Doe", ""); !errors.Is(err, ErrInvalidLogin) {
		t.Fatalf("empty password: %v", err)
	}
	must(t, s.SetPassword("John Doe", "new"))
	if _, err := s.Login("John Doe", "new"); err != nil {
		t.Fatal(err)
	}

	// A user object without common cannot log in.
	_, err := e.store.Set("system.user.bare", objects.Object{"type": "user"}, objects.WriteOptions{})
	must(t, err)
	if _, err := s.Login("bare", ""); !errors.Is(err, ErrInvalidLogin) {
		t.Fatal(err)
	}
}

func TestUserManagement(t *testing.T) {
	e := newEnv(t)
	s := e.svc
	for _, tc := range []struct {
		name string
		err  error
		fn   func() error
	}{
		{"invalid name", ErrInvalidName, func() error { return s.AddUser("a/b", "x") }},
		{"unknown group", ErrGroupNotFound, func() error { return s.AddUser("bob", "x", "nogroup") }},
		{"add", nil, func() error { return s.AddUser("Bob", "x", "user") }},
		{"exists", ErrUserExists, func() error { return s.AddUser("bob", "y") }},
		{"admin exists", ErrUserExists, func() error { return s.AddUser("admin", "y") }},
		{"del admin", ErrSystemUser, func() error { return s.DelUser("admin") }},
		{"del unknown", ErrUserNotFound, func() error { return s.DelUser("ghost") }},
		{"password unknown", ErrUserNotFound, func() error { return s.SetPassword("ghost", "x") }},
		{"add group", nil, func() error {
			return s.AddGroup("Editors", "edit things", &acl.Permissions{Object: acl.Ops{Read: true}})
		}},
		{"group exists", ErrGroupExists, func() error { return s.AddGroup("editors", "", nil) }},
		{"group invalid", ErrInvalidName, func() error { return s.AddGroup("a/b", "", nil) }},
		{"del admin group", ErrSystemGroup, func() error { return s.DelGroup("administrator") }},
		{"del user group", ErrSystemGroup, func() error { return s.DelGroup("user") }},
		{"del unknown group", ErrGroupNotFound, func() error { return s.DelGroup("nogroup") }},
		{"to unknown group", ErrGroupNotFound, func() error { return s.AddToGroup("bob", "nogroup") }},
		{"unknown to group", ErrUserNotFound, func() error { return s.AddToGroup("ghost", "editors") }},
		{"to group", nil, func() error { return s.AddToGroup("bob", "editors") }},
		{"to group again", nil, func() error { return s.AddToGroup("bob", "editors") }},
	} {
		if err := tc.fn(); !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.err)
		}
	}
	users := s.ListUsers()
	i := slices.IndexFunc(users, func(u User) bool { return u.ID == "system.user.bob" })
	if i < 0 || users[i].Name != "Bob" || !users[i].Enabled ||
		!slices.Equal(users[i].Groups, []string{"system.group.editors", "system.group.user"}) {
		t.Fatalf("ListUsers = %+v", users)
	}
	groups := s.ListGroups()
	i = slices.IndexFunc(groups, func(g Group) bool { return g.ID == "system.group.editors" })
	if i < 0 || groups[i].Desc != "edit things" || !slices.Equal(groups[i].Members, []string{"system.user.bob"}) {
		t.Fatalf("ListGroups = %+v", groups)
	}

	must(t, s.RemoveFromGroup("bob", "editors"))
	must(t, s.RemoveFromGroup("bob", "editors"))
	tok, _, err := s.Sessions().NewSession("system.user.bob", 3600e9)
	must(t, err)
	must(t, s.DelUser("Bob"))
	if o, _ := e.store.Get("system.user.bob"); o != nil {
		t.Fatal("user object still there")
	}
	for _, g := range s.ListGroups() {
		if slices.Contains(g.Members, "system.user.bob") {
			t.Fatalf("deleted user still member of %s", g.ID)
		}
	}
	if s.Sessions().Alive(tok) {
		t.Fatal("DelUser must revoke the user's sessions")
	}
	must(t, s.DelGroup("editors"))
}
