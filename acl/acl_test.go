package acl

import "testing"

func TestAllowedClassSelection(t *testing.T) {
	owner := &Subject{User: "system.user.bob", Groups: []string{"system.group.user"}}
	member := &Subject{User: "system.user.eve", Groups: []string{"system.group.user"}}
	other := &Subject{User: "system.user.tom", Groups: []string{"system.group.guest"}}
	admin := &Subject{User: "system.user.root", Groups: []string{AdminGroup}, Admin: true}
	cases := []struct {
		name string
		s    *Subject
		mask int
		op   int
		want bool
	}{
		{"owner read 0x644", owner, 0x644, Read, true},
		{"owner write 0x644", owner, 0x644, Write, true},
		{"group read 0x644", member, 0x644, Read, true},
		{"group write 0x644", member, 0x644, Write, false},
		{"group write 0x664", member, 0x664, Write, true},
		{"everyone read 0x640", other, 0x640, Read, false},
		{"everyone read 0x644", other, 0x644, Read, true},
		{"owner without owner bits no fall-through", owner, 0x066, Read, false},
		{"admin bypass", admin, 0, Write, true},
		{"octal misuse 0644 is not owner rw", owner, 0644, Write, false},
	}
	for _, c := range cases {
		if got := Allowed(c.s, "system.user.bob", "system.group.user", c.mask, c.op); got != c.want {
			t.Errorf("%s: got %v", c.name, got)
		}
	}
}

func TestObjectAndStateAllowed(t *testing.T) {
	u := &Subject{User: "system.user.bob", Groups: []string{"system.group.user"}}
	if !ObjectAllowed(u, nil, Write) {
		t.Error("object without acl must be open")
	}
	a := &Object{Owner: "system.user.admin", OwnerGroup: AdminGroup, Object: 0x644, State: 0x600}
	if !ObjectAllowed(u, a, Read) || ObjectAllowed(u, a, Write) {
		t.Error("object nibble not applied")
	}
	if StateAllowed(u, a, Read) {
		t.Error("state nibble 0x600 must deny everyone")
	}
	a.State = 0
	if !StateAllowed(u, a, Read) {
		t.Error("missing state nibble must fall back to object nibble")
	}
	groupAdmin := &Subject{User: "system.user.root", Groups: []string{AdminGroup}, Admin: true}
	a.State = 0x600
	if StateAllowed(groupAdmin, a, Read) {
		t.Error("state check has no administrator-group bypass")
	}
	if !StateAllowed(&Subject{User: Admin}, a, Read) {
		t.Error("system.user.admin bypasses the state check")
	}
}

func TestPermissionsHas(t *testing.T) {
	p := Permissions{State: Ops{Read: true}, Other: Ops{SendTo: true}}
	for _, c := range []struct {
		typ, op string
		want    bool
	}{{"", "", true}, {"state", "read", true}, {"state", "write", false}, {"other", "sendto", true}, {"other", "http", false}, {"bogus", "read", false}, {"state", "bogus", false}} {
		if p.Has(c.typ, c.op) != c.want {
			t.Errorf("%s.%s", c.typ, c.op)
		}
	}
	all := All()
	if !all.Has("users", "delete") || !all.Has("other", "execute") {
		t.Error("All incomplete")
	}
}
