// Package acl holds the ioBroker access-control model shared by the stores and
// auth: per-object/state/file permission nibbles and the user-level permission set.
//
// Bits are hex nibbles (0x644 = owner rw, group r, everyone r), never octal.
package acl

// Permission bits of an object, state or file ACL.
const (
	OwnerRead   = 0x400
	OwnerWrite  = 0x200
	GroupRead   = 0x40
	GroupWrite  = 0x20
	EveryRead   = 0x4
	EveryWrite  = 0x2
	Read        = 0x4 // operation flag, shifted by class
	Write       = 0x2 // operation flag, shifted by class
	Admin       = "system.user.admin"
	AdminGroup  = "system.group.administrator"
	UserPrefix  = "system.user."
	GroupPrefix = "system.group."
)

// Subject is who asks: the user id, its groups (primary first) and whether it
// bypasses object and file checks (admin user or administrators group member).
type Subject struct {
	User   string
	Groups []string
	Admin  bool
	// Perms is the OR-merged group permission set (datamodel.md 4.4).
	Perms Permissions
}

// IsSuperUser reports whether s is system.user.admin itself; only that user
// skips the state value check (datamodel.md 4.9).
func (s *Subject) IsSuperUser() bool { return s == nil || s.User == Admin }

// InGroup reports membership in group g.
func (s *Subject) InGroup(g string) bool {
	for _, x := range s.Groups {
		if x == g {
			return true
		}
	}
	return false
}

// Object is the acl of an object: {owner, ownerGroup, object, state?}.
type Object struct {
	Owner      string `json:"owner,omitempty"`
	OwnerGroup string `json:"ownerGroup,omitempty"`
	Object     int    `json:"object,omitempty"`
	State      int    `json:"state,omitempty"`
}

// File is the acl of a file: {owner, ownerGroup, permissions}.
type File struct {
	Owner       string `json:"owner"`
	OwnerGroup  string `json:"ownerGroup"`
	Permissions int    `json:"permissions"`
}

// Allowed tests operation flag op (Read or Write) against mask with the
// owner / owner-group / everyone selection of datamodel.md 4.1: first match
// wins, there is no fall-through.
func Allowed(s *Subject, owner, ownerGroup string, mask, op int) bool {
	if s == nil || s.Admin {
		return true
	}
	return classAllowed(s, owner, ownerGroup, mask, op)
}

func classAllowed(s *Subject, owner, ownerGroup string, mask, op int) bool {
	switch {
	case owner == s.User:
		return mask&(op<<8) != 0
	case ownerGroup != "" && s.InGroup(ownerGroup):
		return mask&(op<<4) != 0
	default:
		return mask&op != 0
	}
}

// ObjectAllowed applies step B of datamodel.md 4.5 to an object acl (nil = no
// acl = open to anyone who passed the group-level check).
func ObjectAllowed(s *Subject, a *Object, op int) bool {
	if a == nil || s == nil || s.Admin {
		return true
	}
	return Allowed(s, a.Owner, a.OwnerGroup, a.Object, op)
}

// StateAllowed applies datamodel.md 4.9: the state nibble (or object nibble if
// absent); only system.user.admin bypasses.
func StateAllowed(s *Subject, a *Object, op int) bool {
	if a == nil || s.IsSuperUser() {
		return true
	}
	mask := a.State
	if mask == 0 {
		mask = a.Object
	}
	return classAllowed(s, a.Owner, a.OwnerGroup, mask, op)
}

// FileAllowed applies datamodel.md 4.8 (missing fields already defaulted by the caller).
func FileAllowed(s *Subject, a File, op int) bool {
	if s == nil || s.Admin {
		return true
	}
	return Allowed(s, a.Owner, a.OwnerGroup, a.Permissions, op)
}

// Ops is one category of the permission set.
type Ops struct {
	List    bool `json:"list"`
	Read    bool `json:"read"`
	Write   bool `json:"write"`
	Create  bool `json:"create"`
	Delete  bool `json:"delete"`
	Execute bool `json:"execute,omitempty"`
	HTTP    bool `json:"http,omitempty"`
	SendTo  bool `json:"sendto,omitempty"`
}

// Permissions is the user-level permission set of datamodel.md 4.4.
type Permissions struct {
	Object Ops `json:"object"`
	State  Ops `json:"state"`
	Users  Ops `json:"users"`
	File   Ops `json:"file"`
	Other  Ops `json:"other"`
}

// All returns a permission set with every flag true.
func All() Permissions {
	o := Ops{List: true, Read: true, Write: true, Create: true, Delete: true}
	return Permissions{Object: o, State: o, Users: o, File: o, Other: Ops{Execute: true, HTTP: true, SendTo: true}}
}

// Has reports whether category typ allows operation op ("read", "list", …).
// An empty type is always allowed.
func (p *Permissions) Has(typ, op string) bool {
	if typ == "" {
		return true
	}
	f := p.flag(typ, op)
	return f != nil && *f
}

// Set changes one flag; unknown categories or operations are ignored.
func (p *Permissions) Set(typ, op string, v bool) {
	if f := p.flag(typ, op); f != nil {
		*f = v
	}
}

// flag locates the boolean of category typ and operation op.
func (p *Permissions) flag(typ, op string) *bool {
	var o *Ops
	switch typ {
	case "object":
		o = &p.Object
	case "state":
		o = &p.State
	case "users":
		o = &p.Users
	case "file":
		o = &p.File
	case "other":
		o = &p.Other
	default:
		return nil
	}
	switch op {
	case "list":
		return &o.List
	case "read":
		return &o.Read
	case "write":
		return &o.Write
	case "create":
		return &o.Create
	case "delete":
		return &o.Delete
	case "execute":
		return &o.Execute
	case "http":
		return &o.HTTP
	case "sendto":
		return &o.SendTo
	}
	return nil
}
