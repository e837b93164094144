package auth

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
)

// Errors of user and group management, with the reference texts.
var (
	ErrUserExists       = errors.New("User yet exists")
	ErrUserNotFound     = errors.New("User does not exist")
	ErrGroupExists      = errors.New("Group yet exists")
	ErrGroupNotFound    = errors.New("Group does not exist")
	ErrSystemUser       = errors.New("Cannot delete user, while is system user")
	ErrSystemGroup      = errors.New("Cannot delete group, while is system group")
	ErrInvalidName      = errors.New("Invalid characters in the name. Only following special characters are allowed: -@+$§=?!&# and letters")
	ErrInvalidLogin     = errors.New("Invalid password or user name")
	ErrNoCredentials    = errors.New("Cannot detect user")
	ErrOriginNotAllowed = errors.New("Origin not allowed")
)

// User describes a user for listings (never the password hash).
type User struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Enabled bool     `json:"enabled"`
	Groups  []string `json:"groups"`
}

// Group describes a group for listings.
type Group struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Desc    string   `json:"desc,omitempty"`
	Members []string `json:"members"`
}

func (s *Service) writeOpts() objects.WriteOptions {
	return objects.WriteOptions{User: acl.Admin, From: s.from}
}

// textOf renders a name that may be translated ({en: …}).
func textOf(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		if en, ok := t["en"].(string); ok {
			return en
		}
		for _, x := range t {
			if s, ok := x.(string); ok {
				return s
			}
		}
	}
	return ""
}

// resolveUser maps a login name to a user id: "admin" and full ids directly,
// then a user whose common.name equals name, else the normalised id.
func (s *Service) resolveUser(name string) string {
	if name == "admin" || strings.HasPrefix(name, acl.UserPrefix) {
		return UserID(name)
	}
	found := ""
	s.store.Range(acl.UserPrefix, acl.UserPrefix+objects.Sentinel, func(id string, m *objects.Meta, raw json.RawMessage) bool {
		if m != nil && m.Type != "user" {
			return true
		}
		var u struct {
			Common struct {
				Name any `json:"name"`
			} `json:"common"`
		}
		if json.Unmarshal(raw, &u) == nil && textOf(u.Common.Name) == name {
			found = id
			return false
		}
		return true
	})
	if found != "" {
		return found
	}
	return UserID(name)
}

type userDoc struct {
	Type   string `json:"type"`
	Common struct {
		Name     any    `json:"name"`
		Password string `json:"password"`
		Enabled  any    `json:"enabled"`
	} `json:"common"`
	hasCommon bool
}

func (s *Service) loadUser(id string) (*userDoc, bool) {
	raw, m, ok := s.store.GetRaw(id)
	if !ok {
		return nil, false
	}
	var u userDoc
	if json.Unmarshal(raw, &u) != nil {
		return nil, false
	}
	u.hasCommon = m == nil || m.HasCommon
	return &u, true
}

// userActive reports whether id may use its credentials: the object exists
// with a truthy common.enabled; system.user.admin always may.
func (s *Service) userActive(id string) bool {
	if id == acl.Admin {
		return true
	}
	u, ok := s.loadUser(id)
	return ok && u.hasCommon && truthy(u.Common.Enabled)
}

func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case float64:
		return t != 0
	case string:
		return t != ""
	}
	return true
}

// Login checks name and password (datamodel.md 5) and returns the user id.
// Unknown users, disabled users (except system.user.admin) and wrong
// passwords all give ErrInvalidLogin after the same hashing work.
func (s *Service) Login(name, password string) (string, error) {
	return s.loginID(s.resolveUser(name), password)
}

func (s *Service) loginID(id, password string) (string, error) {
	u, ok := s.loadUser(id)
	usable := ok && u.hasCommon && (id == acl.Admin || truthy(u.Common.Enabled))
	hash := dummyHash()
	if usable {
		hash = u.Common.Password
	}
	match, err := CheckPassword(hash, password)
	if err != nil {
		s.log.Warn("stored password hash unusable", "user", id, "err", err)
	}
	if !usable || !match || err != nil {
		return "", ErrInvalidLogin
	}
	return id, nil
}

// AddUser creates a user (enabled) with a password and adds it to groups.
func (s *Service) AddUser(name, password string, groups ...string) error {
	if !validAccountName(name, false) {
		return ErrInvalidName
	}
	id := UserID(name)
	s.mgmt.Lock()
	defer s.mgmt.Unlock()
	if _, _, ok := s.store.GetRaw(id); ok {
		return ErrUserExists
	}
	gids := make([]string, 0, len(groups))
	for _, g := range groups {
		gid := GroupID(g)
		if !s.isType(gid, "group") {
			return ErrGroupNotFound
		}
		gids = append(gids, gid)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	obj := objects.Object{"type": "user", "common": map[string]any{"name": name, "password": hash, "enabled": true},
		"native": map[string]any{}}
	if _, err := s.store.Set(id, obj, s.writeOpts()); err != nil {
		return err
	}
	for _, gid := range gids {
		if err := s.editMembers(gid, id, true); err != nil {
			return err
		}
	}
	s.log.Info("user added", "user", id)
	return nil
}

func (s *Service) isType(id, typ string) bool {
	_, m, ok := s.store.GetRaw(id)
	return ok && (m == nil || m.Type == typ)
}

// DelUser deletes a user, removes it from every group and revokes its
// sessions. system.user.admin cannot be deleted.
func (s *Service) DelUser(name string) error {
	id := s.resolveUser(name)
	if id == acl.Admin {
		return ErrSystemUser
	}
	s.mgmt.Lock()
	defer s.mgmt.Unlock()
	if !s.isType(id, "user") {
		return ErrUserNotFound
	}
	for _, g := range s.groups() {
		if slices.Contains(g.Members, id) {
			if err := s.editMembers(g.ID, id, false); err != nil {
				return err
			}
		}
	}
	if err := s.store.Delete(id, s.writeOpts()); err != nil {
		if errors.Is(err, objects.ErrNotDeletable) {
			return ErrSystemUser
		}
		return err
	}
	if _, err := s.sessions.RevokeUser(id); err != nil {
		return err
	}
	s.log.Info("user deleted", "user", id)
	return nil
}

// SetPassword replaces a user's password; "" stores an empty password, with
// which login always fails. Existing sessions of the user are revoked.
func (s *Service) SetPassword(name, password string) error {
	id := s.resolveUser(name)
	hash := ""
	if password != "" {
		var err error
		if hash, err = HashPassword(password); err != nil {
			return err
		}
	}
	if err := s.updateUser(id, func(c map[string]any) { c["password"] = hash }); err != nil {
		return err
	}
	if _, err := s.sessions.RevokeUser(id); err != nil {
		return err
	}
	s.log.Info("password changed", "user", id)
	return nil
}

// SetEnabled enables or disables a user; disabling revokes its sessions.
func (s *Service) SetEnabled(name string, enabled bool) error {
	id := s.resolveUser(name)
	if err := s.updateUser(id, func(c map[string]any) { c["enabled"] = enabled }); err != nil {
		return err
	}
	if !enabled {
		if _, err := s.sessions.RevokeUser(id); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) updateUser(id string, edit func(common map[string]any)) error {
	s.mgmt.Lock()
	defer s.mgmt.Unlock()
	obj, err := s.store.Get(id)
	if err != nil {
		return err
	}
	if obj == nil || obj["type"] != "user" {
		return ErrUserNotFound
	}
	c, _ := obj["common"].(map[string]any)
	if c == nil {
		c = map[string]any{}
		obj["common"] = c
	}
	edit(c)
	_, err = s.store.Set(id, obj, s.writeOpts())
	return err
}

// ListUsers returns every user in id order with its groups.
func (s *Service) ListUsers() []User {
	groups := s.groups()
	var out []User
	s.store.Range(acl.UserPrefix, acl.UserPrefix+objects.Sentinel, func(id string, m *objects.Meta, raw json.RawMessage) bool {
		if m != nil && m.Type != "user" {
			return true
		}
		var u userDoc
		if json.Unmarshal(raw, &u) != nil {
			return true
		}
		e := User{ID: id, Name: textOf(u.Common.Name), Enabled: truthy(u.Common.Enabled), Groups: []string{}}
		for _, g := range groups {
			if slices.Contains(g.Members, id) {
				e.Groups = append(e.Groups, g.ID)
			}
		}
		out = append(out, e)
		return true
	})
	return out
}

// ListGroups returns every group in id order.
func (s *Service) ListGroups() []Group { return s.groups() }

func (s *Service) groups() []Group {
	var out []Group
	s.store.Range(acl.GroupPrefix, acl.GroupPrefix+objects.Sentinel, func(id string, m *objects.Meta, raw json.RawMessage) bool {
		if m != nil && m.Type != "group" {
			return true
		}
		var g struct {
			Common struct {
				Name any `json:"name"`
				Desc any `json:"desc"`
			} `json:"common"`
		}
		if json.Unmarshal(raw, &g) != nil {
			return true
		}
		members := groupMembers(raw)
		if members == nil {
			members = []string{}
		}
		out = append(out, Group{ID: id, Name: textOf(g.Common.Name), Desc: textOf(g.Common.Desc), Members: members})
		return true
	})
	return out
}

// AddGroup creates a group. perms nil grants nothing.
func (s *Service) AddGroup(name, desc string, perms *acl.Permissions) error {
	if !validAccountName(name, true) {
		return ErrInvalidName
	}
	id := GroupID(name)
	s.mgmt.Lock()
	defer s.mgmt.Unlock()
	if _, _, ok := s.store.GetRaw(id); ok {
		return ErrGroupExists
	}
	var p acl.Permissions
	if perms != nil {
		p = *perms
	}
	ops := func(o acl.Ops) map[string]any {
		return map[string]any{"list": o.List, "read": o.Read, "write": o.Write, "create": o.Create, "delete": o.Delete}
	}
	common := map[string]any{
		"name": name, "members": []any{},
		"acl": map[string]any{
			"object": ops(p.Object), "state": ops(p.State), "users": ops(p.Users), "file": ops(p.File),
			"other": map[string]any{"execute": p.Other.Execute, "http": p.Other.HTTP, "sendto": p.Other.SendTo},
		},
	}
	if desc != "" {
		common["desc"] = desc
	}
	if _, err := s.store.Set(id, objects.Object{"type": "group", "common": common, "native": map[string]any{}}, s.writeOpts()); err != nil {
		return err
	}
	s.log.Info("group added", "group", id)
	return nil
}

// DelGroup deletes a group; system groups (administrator, dontDelete) are refused.
func (s *Service) DelGroup(name string) error {
	id := GroupID(name)
	if id == acl.AdminGroup {
		return ErrSystemGroup
	}
	s.mgmt.Lock()
	defer s.mgmt.Unlock()
	if !s.isType(id, "group") {
		return ErrGroupNotFound
	}
	if err := s.store.Delete(id, s.writeOpts()); err != nil {
		if errors.Is(err, objects.ErrNotDeletable) {
			return ErrSystemGroup
		}
		return err
	}
	s.log.Info("group deleted", "group", id)
	return nil
}

// AddToGroup adds a user to a group (no-op when already a member).
func (s *Service) AddToGroup(user, group string) error { return s.membership(user, group, true) }

// RemoveFromGroup removes a user from a group (no-op when not a member).
func (s *Service) RemoveFromGroup(user, group string) error { return s.membership(user, group, false) }

func (s *Service) membership(user, group string, add bool) error {
	uid, gid := s.resolveUser(user), GroupID(group)
	s.mgmt.Lock()
	defer s.mgmt.Unlock()
	if uid != acl.Admin && !s.isType(uid, "user") {
		return ErrUserNotFound
	}
	if !s.isType(gid, "group") {
		return ErrGroupNotFound
	}
	return s.editMembers(gid, uid, add)
}

// editMembers adds or removes uid in gid's common.members. Caller holds mgmt.
func (s *Service) editMembers(gid, uid string, add bool) error {
	obj, err := s.store.Get(gid)
	if err != nil {
		return err
	}
	if obj == nil {
		return ErrGroupNotFound
	}
	c, _ := obj["common"].(map[string]any)
	if c == nil {
		c = map[string]any{}
		obj["common"] = c
	}
	old, _ := c["members"].([]any)
	next := make([]any, 0, len(old)+1)
	has := false
	for _, m := range old {
		if m == uid {
			has = true
			if !add {
				continue
			}
		}
		next = append(next, m)
	}
	if add == has {
		return nil
	}
	if add {
		next = append(next, uid)
	}
	c["members"] = next
	_, err = s.store.Set(gid, obj, s.writeOpts())
	return err
}
