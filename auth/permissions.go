package auth

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
)

// permCache holds the merged permission set per user. It is dropped on every
// change of a system.user.* or system.group.* object ([GO] rule of
// datamodel.md 4.4) and listeners learn which users were affected.
type permCache struct {
	store objects.Store

	mu      sync.Mutex
	subs    map[string]*acl.Subject
	members map[string][]string // group id → members, to notify former members
	gen     atomic.Uint64
	lmu     sync.Mutex
	lists   atomic.Pointer[[]func(string)]
}

func newPermCache(store objects.Store) *permCache {
	p := &permCache{store: store, subs: make(map[string]*acl.Subject), members: make(map[string][]string)}
	store.Watch(p.onChange)
	p.mu.Lock()
	store.Range(acl.GroupPrefix, acl.GroupPrefix+objects.Sentinel, func(id string, _ *objects.Meta, raw json.RawMessage) bool {
		if _, seen := p.members[id]; !seen { // a concurrent onChange is newer
			p.members[id] = groupMembers(raw)
		}
		return true
	})
	p.mu.Unlock()
	return p
}

// onChange runs on the committer goroutine; it must not block.
func (p *permCache) onChange(c objects.Change) {
	isUser := strings.HasPrefix(c.ID, acl.UserPrefix)
	if !isUser && !strings.HasPrefix(c.ID, acl.GroupPrefix) {
		return
	}
	affected := map[string]bool{}
	p.mu.Lock()
	if isUser {
		affected[c.ID] = true
	} else {
		now := groupMembers(c.Object)
		for _, m := range p.members[c.ID] {
			affected[m] = true
		}
		for _, m := range now {
			affected[m] = true
		}
		if c.Object == nil {
			delete(p.members, c.ID)
		} else {
			p.members[c.ID] = now
		}
	}
	clear(p.subs)
	p.gen.Add(1)
	p.mu.Unlock()
	if l := p.lists.Load(); l != nil {
		users := make([]string, 0, len(affected))
		for u := range affected {
			users = append(users, u)
		}
		slices.Sort(users)
		for _, fn := range *l {
			for _, u := range users {
				fn(u)
			}
		}
	}
}

func (p *permCache) onUserChange(fn func(string)) {
	p.lmu.Lock()
	defer p.lmu.Unlock()
	var next []func(string)
	if l := p.lists.Load(); l != nil {
		next = append(next, *l...)
	}
	next = append(next, fn)
	p.lists.Store(&next)
}

// groupDoc is the part of a group object the merge needs.
type groupDoc struct {
	Common struct {
		Members []any                      `json:"members"`
		RawACL  map[string]json.RawMessage `json:"acl"`
	} `json:"common"`
}

func groupMembers(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var g groupDoc
	if json.Unmarshal(raw, &g) != nil {
		return nil
	}
	out := make([]string, 0, len(g.Common.Members))
	for _, m := range g.Common.Members {
		if s, ok := m.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// groupPerms decodes common.acl; only JSON true counts (the socket gate tests
// `=== true`), the legacy key "user" is read as "users".
func groupPerms(raw map[string]json.RawMessage) acl.Permissions {
	var p acl.Permissions
	for cat, v := range raw {
		var flags map[string]any
		if json.Unmarshal(v, &flags) != nil {
			continue
		}
		var o *acl.Ops
		switch cat {
		case "object":
			o = &p.Object
		case "state":
			o = &p.State
		case "users", "user":
			o = &p.Users
		case "file":
			o = &p.File
		case "other":
			o = &p.Other
		default:
			continue
		}
		t := func(k string) bool { b, _ := flags[k].(bool); return b }
		o.List = o.List || t("list")
		o.Read = o.Read || t("read")
		o.Write = o.Write || t("write")
		o.Create = o.Create || t("create")
		o.Delete = o.Delete || t("delete")
		o.Execute = o.Execute || t("execute")
		o.HTTP = o.HTTP || t("http")
		o.SendTo = o.SendTo || t("sendto")
	}
	return p
}

func orPerms(dst *acl.Permissions, src acl.Permissions) {
	or := func(d *acl.Ops, s acl.Ops) {
		d.List = d.List || s.List
		d.Read = d.Read || s.Read
		d.Write = d.Write || s.Write
		d.Create = d.Create || s.Create
		d.Delete = d.Delete || s.Delete
		d.Execute = d.Execute || s.Execute
		d.HTTP = d.HTTP || s.HTTP
		d.SendTo = d.SendTo || s.SendTo
	}
	or(&dst.Object, src.Object)
	or(&dst.State, src.State)
	or(&dst.Users, src.Users)
	or(&dst.File, src.File)
	or(&dst.Other, src.Other)
}

// get returns a copy of the cached subject of user, computing it on a miss.
func (p *permCache) get(user string) (*acl.Subject, error) {
	if !strings.HasPrefix(user, acl.UserPrefix) {
		return &acl.Subject{User: user}, fmt.Errorf("invalid user name: %s", user)
	}
	p.mu.Lock()
	if s := p.subs[user]; s != nil {
		p.mu.Unlock()
		return cloneSubject(s), nil
	}
	gen := p.gen.Load()
	p.mu.Unlock()

	s := p.compute(user)

	p.mu.Lock()
	// A change committed while computing may not be reflected: do not cache.
	if p.gen.Load() == gen {
		p.subs[user] = s
	}
	p.mu.Unlock()
	return cloneSubject(s), nil
}

// compute merges the acls of every group listing user (datamodel.md 4.4).
func (p *permCache) compute(user string) *acl.Subject {
	s := &acl.Subject{User: user}
	exists := user == acl.Admin
	if !exists {
		_, _, exists = p.store.GetRaw(user)
	}
	if !exists {
		return s // unknown users are skipped as group members: nothing
	}
	p.store.Range(acl.GroupPrefix, acl.GroupPrefix+objects.Sentinel, func(id string, m *objects.Meta, raw json.RawMessage) bool {
		if !strings.HasPrefix(id, acl.GroupPrefix) || (m != nil && m.Type != "group") {
			return true
		}
		var g groupDoc
		if json.Unmarshal(raw, &g) != nil {
			return true
		}
		member := false
		for _, x := range g.Common.Members {
			if x == user {
				member = true
				break
			}
		}
		if !member {
			return true
		}
		s.Groups = append(s.Groups, id)
		if id == acl.AdminGroup {
			s.Perms = acl.All()
		} else {
			orPerms(&s.Perms, groupPerms(g.Common.RawACL))
		}
		return true
	})
	if user == acl.Admin && !s.InGroup(acl.AdminGroup) {
		s.Groups = append([]string{acl.AdminGroup}, s.Groups...)
	}
	if user == acl.Admin || s.InGroup(acl.AdminGroup) {
		s.Admin = true
		s.Perms = acl.All()
	}
	return s
}

func cloneSubject(s *acl.Subject) *acl.Subject {
	c := *s
	c.Groups = slices.Clone(s.Groups)
	return &c
}

// CommandPermission is one entry of COMMANDS_PERMISSIONS.
type CommandPermission struct {
	Type      string `json:"type"`
	Operation string `json:"operation"`
}

// commandPermissions is COMMANDS_PERMISSIONS of protocol.md 2.3, verbatim.
var commandPermissions = map[string]CommandPermission{
	"getObject":          {"object", "read"},
	"getObjects":         {"object", "list"},
	"getObjectView":      {"object", "list"},
	"setObject":          {"object", "write"},
	"requireLog":         {"object", "write"},
	"delObject":          {"object", "delete"},
	"extendObject":       {"object", "write"},
	"getHostByIp":        {"object", "list"},
	"subscribeObjects":   {"object", "read"},
	"unsubscribeObjects": {"object", "read"},
	"getStates":          {"state", "list"},
	"getState":           {"state", "read"},
	"setState":           {"state", "write"},
	"delState":           {"state", "delete"},
	"createState":        {"state", "create"},
	"subscribe":          {"state", "read"},
	"unsubscribe":        {"state", "read"},
	"getStateHistory":    {"state", "read"},
	"getVersion":         {"", ""},
	"getAdapterName":     {"", ""},
	"authEnabled":        {"", ""},
	"disconnect":         {"", ""},
	"listPermissions":    {"", ""},
	"getUserPermissions": {"object", "read"},
	"addUser":            {"users", "create"},
	"delUser":            {"users", "delete"},
	"addGroup":           {"users", "create"},
	"delGroup":           {"users", "delete"},
	"changePassword":     {"users", "write"},
	"httpGet":            {"other", "http"},
	"cmdExec":            {"other", "execute"},
	"sendTo":             {"other", "sendto"},
	"sendToHost":         {"other", "sendto"},
	"clientSubscribe":    {"other", "sendto"},
	"clientUnsubscribe":  {"other", "sendto"},
	"readLogs":           {"other", "execute"},
	"eventsThreshold":    {"other", "execute"},
	"readDir":            {"file", "list"},
	"createFile":         {"file", "create"},
	"writeFile":          {"file", "write"},
	"readFile":           {"file", "read"},
	"fileExists":         {"file", "read"},
	"deleteFile":         {"file", "delete"},
	"readFile64":         {"file", "read"},
	"writeFile64":        {"file", "write"},
	"unlink":             {"file", "delete"},
	"rename":             {"file", "write"},
	"mkdir":              {"file", "write"},
	"chmodFile":          {"file", "write"},
	"chownFile":          {"file", "write"},
	"subscribeFiles":     {"file", "read"},
	"unsubscribeFiles":   {"file", "read"},
}

// CommandPermissions returns a copy of COMMANDS_PERMISSIONS (protocol.md
// 2.3, 52 entries), the listPermissions answer.
func CommandPermissions() map[string]CommandPermission {
	m := make(map[string]CommandPermission, len(commandPermissions))
	for k, v := range commandPermissions {
		m[k] = v
	}
	return m
}

// UserACL is the getUserPermissions answer (protocol.md 2.4).
type UserACL struct {
	User   string          `json:"user"`
	Groups []string        `json:"groups"`
	Object map[string]bool `json:"object"`
	State  map[string]bool `json:"state"`
	Users  map[string]bool `json:"users"`
	Other  map[string]bool `json:"other"`
	File   map[string]bool `json:"file"`
}

// SocketACL renders sub as the getUserPermissions result: for
// system.user.admin only the flags that occur in COMMANDS_PERMISSIONS, for
// administrator-group members everything (object without create), otherwise
// the merged group flags (object.create only when granted).
func SocketACL(sub *acl.Subject) UserACL {
	if sub == nil {
		sub = &acl.Subject{User: acl.Admin}
	}
	a := UserACL{User: sub.User, Groups: slices.Clone(sub.Groups)}
	if a.Groups == nil {
		a.Groups = []string{}
	}
	cats := func() map[string]map[string]bool {
		return map[string]map[string]bool{"object": {}, "state": {}, "users": {}, "other": {}, "file": {}}
	}
	m := cats()
	switch {
	case sub.User == acl.Admin:
		a.Groups = []string{acl.AdminGroup}
		for _, p := range commandPermissions {
			if p.Type != "" {
				m[p.Type][p.Operation] = true
			}
		}
	default:
		perms := sub.Perms
		if sub.InGroup(acl.AdminGroup) {
			perms = acl.All()
			perms.Object.Create = false
		}
		std := func(dst map[string]bool, o acl.Ops, withCreate bool) {
			dst["list"], dst["read"], dst["write"], dst["delete"] = o.List, o.Read, o.Write, o.Delete
			if withCreate || o.Create {
				dst["create"] = o.Create
			}
		}
		std(m["object"], perms.Object, false)
		std(m["state"], perms.State, true)
		std(m["users"], perms.Users, true)
		std(m["file"], perms.File, true)
		m["other"]["execute"], m["other"]["http"], m["other"]["sendto"] = perms.Other.Execute, perms.Other.HTTP, perms.Other.SendTo
	}
	a.Object, a.State, a.Users, a.Other, a.File = m["object"], m["state"], m["users"], m["other"], m["file"]
	return a
}
