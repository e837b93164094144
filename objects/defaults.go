package objects

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/brokerd/brokerd/acl"
)

func defaultACL(object int) map[string]any {
	return map[string]any{"owner": acl.Admin, "ownerGroup": acl.AdminGroup, "object": object}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func groupPerms(admin bool) map[string]any {
	ops := func(list, read, write, create, del bool, withCreate bool) map[string]any {
		m := map[string]any{"list": list, "read": read, "write": write, "delete": del}
		if withCreate {
			m["create"] = create
		}
		return m
	}
	if admin {
		return map[string]any{
			"object": ops(true, true, true, false, true, false),
			"state":  ops(true, true, true, true, true, true),
			"users":  ops(true, true, true, true, true, true),
			"other":  map[string]any{"execute": true, "http": true, "sendto": true},
			"file":   ops(true, true, true, true, true, true),
		}
	}
	return map[string]any{
		"object": ops(true, true, false, false, false, false),
		"state":  ops(true, true, true, true, false, true),
		"users":  ops(true, true, false, false, false, true),
		"other":  map[string]any{"execute": false, "http": true, "sendto": false},
		"file":   ops(true, true, false, false, false, true),
	}
}

// systemDesign is _design/system with the view sources of datamodel.md 6.1.
func systemDesign() Object {
	views := map[string]any{}
	for _, v := range SystemViews {
		spec, _ := systemView(v)
		key := "doc._id"
		if spec.byName {
			key = "doc.common.name"
		}
		var src string
		switch v {
		case "instanceStats":
			views[v] = map[string]any{
				"map":    "function(doc) { if (doc.type === 'instance') emit(doc._id, parseInt(doc._id.split('.').pop(), 10)); }",
				"reduce": "_stats",
			}
			continue
		case "custom":
			src = "function(doc) { if (doc.type === 'state' && doc.common && doc.common.custom) emit(doc._id, doc.common.custom); }"
		case "custom-full":
			src = "function(doc) { if (doc.type === 'state' && doc.common && doc.common.custom) emit(doc._id, doc); }"
		default:
			src = fmt.Sprintf("function(doc) { if (doc.type === '%s') emit(%s, doc); }", spec.typ, key)
		}
		views[v] = map[string]any{"map": src}
	}
	return Object{
		"type":     "design",
		"language": "javascript",
		"common":   map[string]any{"name": map[string]any{"en": "Object's selectors", "de": "Objekt-Selektoren"}, "dontDelete": true},
		"views":    views,
		"acl":      defaultACL(0x444),
	}
}

// DefaultObjects returns the objects of a fresh installation (datamodel.md 2).
func DefaultObjects(hostname, adminPasswordHash string) map[string]Object {
	host := "system.host." + hostname
	return map[string]Object{
		"_design/system": systemDesign(),
		"system.config": {
			"type": "config",
			"common": map[string]any{
				"name": map[string]any{"en": "System configuration", "de": "Systemeinstellungen"},
				"city": "", "country": "", "language": "", "tempUnit": "°C", "currency": "",
				"dontDelete": true, "dateFormat": "DD.MM.YYYY", "isFloatComma": true,
				"licenseConfirmed": false, "defaultHistory": "", "expertMode": false,
				"defaultLogLevel": "info", "activeRepo": []any{"stable"}, "diag": "extended",
				"tabs": []any{"tab-intro", "tab-info", "tab-adapters", "tab-instances", "tab-objects",
					"tab-log", "tab-scenes", "tab-javascript", "tab-text2command-0", "tab-node-red-0"},
				"adapterAutoUpgrade": map[string]any{"defaultPolicy": "none",
					"repositories": map[string]any{"stable": true}},
			},
			"native": map[string]any{"secret": randomHex(24)},
			"acl":    defaultACL(0x644),
		},
		"system.group.administrator": {
			"type": "group",
			"common": map[string]any{
				"name":    map[string]any{"en": "Administrator", "de": "Administrator"},
				"desc":    map[string]any{"en": "Can do everything with System", "de": "Kann alles im System"},
				"members": []any{acl.Admin}, "dontDelete": true, "acl": groupPerms(true),
			},
			"acl": defaultACL(0x644),
		},
		"system.group.user": {
			"type": "group",
			"common": map[string]any{
				"name":    map[string]any{"en": "User", "de": "Benutzer"},
				"desc":    map[string]any{"en": "Cannot modify everything", "de": "Kann nicht alles ändern"},
				"members": []any{}, "dontDelete": true, "acl": groupPerms(false),
			},
			"acl": defaultACL(0x644),
		},
		"system.user.admin": {
			"type":   "user",
			"common": map[string]any{"name": "admin", "password": adminPasswordHash, "dontDelete": true, "enabled": true},
			"native": map[string]any{},
			"from":   host + ".tools",
		},
		"enum.rooms": {
			"type": "enum",
			"common": map[string]any{"name": map[string]any{"en": "Rooms", "de": "Räume"},
				"desc": map[string]any{"en": "List of the rooms"}, "members": []any{}, "dontDelete": true},
			"acl": defaultACL(0x777),
		},
		"enum.functions": {
			"type": "enum",
			"common": map[string]any{"name": map[string]any{"en": "Functions", "de": "Funktionen"},
				"desc": map[string]any{"en": "List of the functions"}, "members": []any{}, "dontDelete": true},
			"acl": defaultACL(0x777),
		},
		"system.repositories": {
			"type":   "config",
			"common": map[string]any{"name": map[string]any{"en": "System repositories"}, "dontDelete": true},
			"native": map[string]any{
				"repositories": map[string]any{
					"stable": map[string]any{"link": "http://download.iobroker.net/sources-dist.json", "json": nil},
					"beta":   map[string]any{"link": "http://download.iobroker.net/sources-dist-latest.json", "json": nil},
				},
				"oldRepositories": map[string]any{},
			},
			"acl": defaultACL(0x644),
		},
		"system.licenses": {
			"type":   "config",
			"common": map[string]any{"name": map[string]any{"en": "Licenses"}},
			"native": map[string]any{"login": "", "password": "", "licenses": []any{}, "readTime": 0},
			"acl":    defaultACL(0x644),
		},
		"system.certificates": {
			"type":   "config",
			"common": map[string]any{"name": map[string]any{"en": "Certificates"}},
			"native": map[string]any{"certificates": map[string]any{"defaultPrivate": nil, "defaultPublic": nil}},
			"acl":    defaultACL(0x600),
		},
		"alias.0": {
			"type":   "meta",
			"common": map[string]any{"name": map[string]any{"en": "Aliases"}, "type": "meta.folder", "dontDelete": true},
			"acl":    defaultACL(0x644),
		},
		"0_userdata.0": {
			"type": "meta",
			"common": map[string]any{"name": map[string]any{"en": "User objects and files"},
				"desc": map[string]any{"en": "Folder for user objects and files"}, "type": "meta.user", "dontDelete": true},
			"acl": defaultACL(0x644),
		},
		"0_userdata.0.example_state": {
			"type":   "state",
			"common": map[string]any{"name": "Example state", "role": "indicator", "def": false, "type": "boolean"},
			"acl":    defaultACL(0x644),
		},
		"system.meta.uuid": {
			"type":   "meta",
			"common": map[string]any{"name": "uuid", "type": "uuid"},
			"native": map[string]any{"uuid": newUUID()},
			"from":   host + ".tools",
		},
		host: {
			"type": "host",
			"common": map[string]any{"name": host, "title": "JS controller", "hostname": hostname,
				"address": []any{}, "type": "js-controller", "platform": "Javascript/Node.js",
				"cmd": cmdLine(), "installedVersion": ""},
			"native": map[string]any{
				"os": map[string]any{"hostname": hostname, "type": runtime.GOOS, "platform": runtime.GOOS, "arch": runtime.GOARCH},
			},
		},
		host + ".adapter": {
			"type":   "folder",
			"common": map[string]any{"name": map[string]any{"en": "Adapters"}},
			"native": map[string]any{},
		},
	}
}

func cmdLine() string {
	if len(os.Args) > 0 {
		return os.Args[0]
	}
	return ""
}

// InitDefaults creates the default objects of a fresh installation that are
// missing (existing ones are kept, except _design/system which is always
// rewritten so its view list matches this version).
func (s *BoltStore) InitDefaults(hostname, adminPasswordHash string) error {
	from := "system.host." + hostname + ".cli"
	now := time.Now().UnixMilli()
	objs := DefaultObjects(hostname, adminPasswordHash)
	ids := make([]string, 0, len(objs))
	for id := range objs {
		ids = append(ids, id)
	}
	sortIDs(ids)
	s.mu.Lock()
	var waits []func() error
	for _, id := range ids {
		old := s.m[id]
		if old != nil && id != "_design/system" {
			continue
		}
		n := objs[id]
		if err := ValidateObject(n); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("default object %s: %w", id, err)
		}
		n["_id"] = id
		if n["from"] == nil {
			n["from"] = from
		}
		n["ts"] = now
		w, err := s.store(id, old, n)
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("default object %s: %w", id, err)
		}
		waits = append(waits, w)
	}
	s.mu.Unlock()
	for _, w := range waits {
		if err := w(); err != nil {
			return err
		}
	}
	return nil
}
