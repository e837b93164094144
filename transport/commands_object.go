package transport

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
	"github.com/brokerd/brokerd/pattern"
)

type objectsMeta = objects.Meta

func init() {
	register("getObject", &Command{Perm: Perm{"object", "read"}, Params: []Param{{"id", KString, false}}, Ack: "(err, obj|null)",
		Doc: "one object, null when missing", Handler: cmdGetObject})
	register("getObjects", &Command{Perm: Perm{"object", "list"}, Params: []Param{{"list", KStrings, true}},
		PermFor: func(a Args) Perm {
			if len(a.Strings(0)) > 0 {
				return Perm{"object", "read"}
			}
			return Perm{"object", "list"}
		},
		Ack: "(err, {id: obj})",
		Doc: "no list: states, channels, devices, enums and system.config (with enums); list: those ids (object.read)", Handler: cmdGetObjects})
	register("getAllObjects", &Command{Perm: Perm{"object", "list"}, Via: "getObjects", Ack: "(err, {id: obj})",
		Doc: "admin: every readable object; others: like getObjects()", Handler: cmdGetAllObjects})
	register("getObjectView", &Command{Perm: Perm{"object", "list"}, Params: []Param{{"design", KString, false}, {"search", KString, false}, {"params", KAny, true}},
		Ack: "(err, {rows: [{id, value}]})", Doc: "view of protocol.md 7", Handler: cmdGetObjectView})
	register("setObject", &Command{Perm: Perm{"object", "write"}, Params: []Param{{"id", KString, false}, {"obj", KAny, false}}, Ack: "(err, {id})",
		Doc: "create or replace", Handler: cmdSetObject})
	register("extendObject", &Command{Perm: Perm{"object", "write"}, Params: []Param{{"id", KString, false}, {"obj", KObject, false}}, Ack: "(err, {id, value})",
		Doc: "deep-merge into the object, creating it when missing", Handler: cmdExtendObject})
	// delObject does not shift in the reference: (id, cb) is never answered;
	// here options is required and a short call gets an argument error.
	register("delObject", &Command{Perm: Perm{"object", "delete"}, Params: []Param{{"id", KString, false}, {"options", KAny, false}}, Ack: "(err)",
		Doc: "non-admin: only flot.* / fullcalendar.*; admin: any id, options.recursive", Handler: func(call *Call) { cmdDelObject(call, false) }})
	register("delObjects", &Command{Perm: Perm{"object", "delete"}, Via: "delObject", Params: []Param{{"id", KString, false}, {"options", KAny, true}}, Ack: "(err)",
		Doc: "recursive delObject", Handler: func(call *Call) { cmdDelObject(call, true) }})
	register("getForeignObjects", &Command{Perm: Perm{"object", "list"}, Via: "getObjects", Params: []Param{{"pattern", KString, false}, {"type", KString, true}},
		Ack: "(err, {id: obj})", Doc: "objects of type (default state) matching the pattern", Handler: cmdGetForeignObjects})
	register("getCompactSystemConfig", &Command{Perm: Perm{"object", "read"}, Via: "getObject", Ack: "(err, systemConfig)",
		Doc: "system.config with native reduced to {secret, vendor}", Handler: cmdGetCompactSystemConfig})
	register("getAdapterInstances", &Command{Perm: Perm{"object", "read"}, Via: "getObject", Params: []Param{{"adapterName", KString, true}},
		Ack: "(err, instance[])", Doc: "instance objects of an adapter (all when empty), common.news removed", Handler: cmdGetAdapterInstances})
}

func isAdmin(sub *acl.Subject) bool { return sub == nil || sub.Admin || sub.User == acl.Admin }

// readObject returns the raw object when it exists and sub may read it.
func (s *Server) readObject(sub *acl.Subject, id string) (json.RawMessage, *objects.Meta, error) {
	raw, m, ok := s.st.Objects.GetRaw(id)
	if !ok {
		return nil, nil, nil
	}
	if m != nil && !acl.ObjectAllowed(sub, m.ACL, acl.Read) {
		return nil, nil, ErrPermission
	}
	return raw, m, nil
}

func (s *Server) objectsOr(call *Call) objects.Store {
	if s.st.Objects == nil {
		call.Fail(errors.New(errDBClosed))
	}
	return s.st.Objects
}

func cmdGetObject(call *Call) {
	s := call.srv
	if s.objectsOr(call) == nil {
		return
	}
	raw, _, err := s.readObject(call.Subject(), call.Args.Str(0))
	if err != nil {
		call.Fail(err)
		return
	}
	call.Reply(nil, rawOrNull(raw))
}

func cmdGetObjects(call *Call) {
	s := call.srv
	if s.objectsOr(call) == nil {
		return
	}
	sub := call.Subject()
	if list := call.Args.Strings(0); len(list) > 0 {
		out := map[string]json.RawMessage{}
		for _, id := range list {
			raw, _, err := s.readObject(sub, id)
			if err == nil && raw != nil {
				out[id] = raw
			}
		}
		call.Reply(nil, out)
		return
	}
	call.Reply(nil, s.webObjects(sub))
}

func cmdGetAllObjects(call *Call) {
	s := call.srv
	if s.objectsOr(call) == nil {
		return
	}
	sub := call.Subject()
	if !isAdmin(sub) {
		call.Reply(nil, s.webObjects(sub))
		return
	}
	out := map[string]json.RawMessage{}
	s.st.Objects.Range("", pattern.RangeEnd, func(id string, m *objects.Meta, raw json.RawMessage) bool {
		out[id] = raw
		return true
	})
	call.Reply(nil, out)
}

// webObjects is getObjects() of the web adapters (protocol.md 8.1): state,
// channel, device and enum objects plus system.config; states get the room
// enums of the id, its channel and its device, the others every enum that
// lists them (or their parents).
func (s *Server) webObjects(sub *acl.Subject) map[string]any {
	type enumInfo struct {
		id   string
		name any
	}
	members := map[string][]enumInfo{} // member id → enums listing it
	out := map[string]any{}
	s.st.Objects.Range("", pattern.RangeEnd, func(id string, m *objects.Meta, raw json.RawMessage) bool {
		if m == nil || !acl.ObjectAllowed(sub, m.ACL, acl.Read) {
			return true
		}
		switch m.Type {
		case "state", "channel", "device", "enum":
		default:
			if id != "system.config" {
				return true
			}
		}
		var obj map[string]any
		if json.Unmarshal(raw, &obj) != nil {
			return true
		}
		out[id] = obj
		if m.Type == "enum" {
			common, _ := obj["common"].(map[string]any)
			list, _ := common["members"].([]any)
			for _, e := range list {
				if mid, ok := e.(string); ok {
					members[mid] = append(members[mid], enumInfo{id, common["name"]})
				}
			}
		}
		return true
	})
	for id, v := range out {
		obj, _ := v.(map[string]any)
		typ, _ := obj["type"].(string)
		if typ == "" || id == "system.config" {
			continue
		}
		enums := map[string]any{}
		for _, anc := range selfAndParents(id) {
			for _, e := range members[anc] {
				if typ != "state" || strings.HasPrefix(e.id, "enum.rooms.") {
					enums[e.id] = e.name
				}
			}
		}
		obj["enums"] = enums
	}
	return out
}

// selfAndParents returns id, its parent and its grandparent.
func selfAndParents(id string) []string {
	out := []string{id}
	for i := 0; i < 2; i++ {
		j := strings.LastIndexByte(id, '.')
		if j <= 0 {
			break
		}
		id = id[:j]
		out = append(out, id)
	}
	return out
}

func cmdGetObjectView(call *Call) {
	s := call.srv
	if s.objectsOr(call) == nil {
		return
	}
	var p objects.ViewParams
	if params, ok := call.Args.Any(2).(map[string]any); ok {
		p.StartKey, _ = params["startkey"].(string)
		p.EndKey, _ = params["endkey"].(string)
		if d, ok := params["depth"].(float64); ok && d > 0 {
			p.Depth = int(d)
		}
	}
	sub := call.Subject()
	var allow func(*objects.Meta) bool
	if !isAdmin(sub) {
		allow = func(m *objects.Meta) bool { return acl.ObjectAllowed(sub, m.ACL, acl.Read) }
	}
	rows, err := s.st.Objects.View(call.Args.Str(0), call.Args.Str(1), p, allow)
	if err != nil {
		call.Fail(err)
		return
	}
	call.Reply(nil, appendRows(nil, rows))
}

// appendRows appends the getObjectView answer {"rows":[{id, value}, …]} to
// b in one pass; values are the stored JSON, copied as they are.
func appendRows(b []byte, rows []objects.Row) json.RawMessage {
	n := 12
	for _, r := range rows {
		n += len(r.ID) + len(r.Value) + 20
	}
	b = slices.Grow(b, n)
	b = append(b, `{"rows":[`...)
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendJSONString(b, r.ID)
		b = append(b, `,"value":`...)
		if len(r.Value) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, r.Value...)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func (s *Server) writeOptions(sub *acl.Subject) objects.WriteOptions {
	return objects.WriteOptions{User: sub.User, From: s.from, Subject: sub}
}

func cmdSetObject(call *Call) {
	s := call.srv
	if s.objectsOr(call) == nil {
		return
	}
	obj, ok := call.Args.Any(1).(map[string]any)
	switch {
	case call.Args.Any(1) == nil:
		call.Fail(objects.ErrNullObject)
		return
	case !ok:
		call.Fail(objects.ErrNoObject)
		return
	}
	id := call.Args.Str(0)
	if _, err := s.st.Objects.Set(id, obj, call.writeOptions()); err != nil {
		call.Fail(err)
		return
	}
	call.Reply(nil, map[string]any{"id": id})
}

func cmdExtendObject(call *Call) {
	s := call.srv
	if s.objectsOr(call) == nil {
		return
	}
	id := call.Args.Str(0)
	obj, err := s.st.Objects.Extend(id, call.Args.Obj(1), call.writeOptions())
	if err != nil {
		call.Fail(err)
		return
	}
	call.Reply(nil, map[string]any{"id": id, "value": obj})
}

func cmdDelObject(call *Call, recursive bool) {
	s := call.srv
	if s.objectsOr(call) == nil {
		return
	}
	id, sub := call.Args.Str(0), call.Subject()
	if !isAdmin(sub) {
		// protocol.md 3.3: non-admins may only delete chart/calendar objects
		if !strings.HasPrefix(id, "flot.") && !strings.HasPrefix(id, "fullcalendar.") {
			call.Fail(ErrPermission)
			return
		}
	} else if opts, ok := call.Args.Any(1).(map[string]any); ok && opts["recursive"] == true {
		recursive = true
	}
	if err := DeleteObjects(s.st, id, recursive, call.writeOptions()); err != nil {
		call.Fail(err)
		return
	}
	call.Reply(nil)
}

// DeleteObjects deletes id (and with recursive its `id.*` subtree) and the
// state values of every deleted state object: the cross-store rule of
// datamodel.md 1.5, shared by the socket commands and the admin CLI.
func DeleteObjects(st Stores, id string, recursive bool, o objects.WriteOptions) error {
	var metas []*objects.Meta
	var err error
	if recursive {
		metas, err = st.Objects.DeleteRecursive(id, o)
	} else {
		var m *objects.Meta
		if m, err = st.Objects.DeleteObject(id, o); m != nil {
			metas = append(metas, m)
		}
	}
	if err != nil {
		return err
	}
	for _, m := range metas {
		if m.Type != "state" || st.States == nil {
			continue
		}
		if _, ok := st.States.Get(m.ID); ok {
			if err := st.States.Delete(m.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

func cmdGetForeignObjects(call *Call) {
	s := call.srv
	if s.objectsOr(call) == nil {
		return
	}
	pat, typ := call.Args.Str(0), call.Args.Str(1)
	if typ == "" {
		typ = "state"
	}
	m, err := pattern.Compile(pat)
	if err != nil {
		call.Fail(err)
		return
	}
	sub := call.Subject()
	start, end := pattern.Range(pat)
	out := map[string]json.RawMessage{}
	s.st.Objects.Range(start, end, func(id string, meta *objects.Meta, raw json.RawMessage) bool {
		if meta != nil && meta.Type == typ && m.Match(id) && acl.ObjectAllowed(sub, meta.ACL, acl.Read) {
			out[id] = raw
		}
		return true
	})
	call.Reply(nil, out)
}

func cmdGetCompactSystemConfig(call *Call) {
	s := call.srv
	if s.objectsOr(call) == nil {
		return
	}
	raw, _, err := s.readObject(call.Subject(), "system.config")
	if err != nil || raw == nil {
		call.Reply(errText(err), nil)
		return
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		call.Fail(err)
		return
	}
	native, _ := obj["native"].(map[string]any)
	compact := map[string]any{}
	for _, k := range []string{"secret", "vendor"} {
		if v, ok := native[k]; ok {
			compact[k] = v
		}
	}
	obj["native"] = compact
	call.Reply(nil, obj)
}

func cmdGetAdapterInstances(call *Call) {
	s := call.srv
	if s.objectsOr(call) == nil {
		return
	}
	start := "system.adapter."
	if name := call.Args.Str(0); name != "" {
		start += name + "."
	}
	sub := call.Subject()
	out := []any{}
	s.st.Objects.Range(start, start+pattern.RangeEnd, func(id string, m *objects.Meta, raw json.RawMessage) bool {
		if m == nil || m.Type != "instance" || !acl.ObjectAllowed(sub, m.ACL, acl.Read) {
			return true
		}
		var obj map[string]any
		if json.Unmarshal(raw, &obj) == nil {
			if common, ok := obj["common"].(map[string]any); ok {
				delete(common, "news")
			}
			out = append(out, obj)
		}
		return true
	})
	call.Reply(nil, out)
}
