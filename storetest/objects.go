package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/brokerd/brokerd/acl"
	"github.com/brokerd/brokerd/objects"
)

// ObjectStore is objects.Store plus what the broker uses of the bbolt store
// beyond the interface; every backend implements it.
type ObjectStore interface {
	objects.Store
	GetAs(id string, sub *acl.Subject) (objects.Object, error)
	GetMany(ids []string, sub *acl.Subject) []objects.RawResult
	SetJSON(id string, raw json.RawMessage, o objects.WriteOptions) (objects.Object, error)
	Keys(match func(string) bool, start, end string) []string
	InitDefaults(hostname, adminPasswordHash string) error
	DefaultNewACL() *objects.DefaultACL
}

// ObjectsFactory opens an empty object store for one test and closes it in
// t.Cleanup.
type ObjectsFactory func(t *testing.T) ObjectStore

// RunObjects runs the object store suite against new stores from open.
func RunObjects(t *testing.T, open ObjectsFactory) {
	tests := []struct {
		name string
		fn   func(*testing.T, ObjectsFactory)
	}{
		{"Delete", objectsDelete},
		{"DeleteRecursiveAndEnumCleanup", objectsDeleteRecursiveAndEnumCleanup},
		{"ObjectACL", objectsObjectACL},
		{"ChangeFeedOrder", objectsChangeFeedOrder},
		{"InitDefaults", objectsInitDefaults},
		{"RangeAndKeys", objectsRangeAndKeys},
		{"SystemViews", objectsSystemViews},
		{"ViewRanges", objectsViewRanges},
		{"ViewErrorsAndForeignDesigns", objectsViewErrorsAndForeignDesigns},
		{"ViewDepth", objectsViewDepth},
		{"SetValidationErrors", objectsSetValidationErrors},
		{"SetBadArguments", objectsSetBadArguments},
		{"SetEnvelope", objectsSetEnvelope},
		{"SetPreserveRules", objectsSetPreserveRules},
		{"SetKeepsOldACL", objectsSetKeepsOldACL},
		{"DefaultNewACL", objectsDefaultNewACL},
		{"ExtendMerge", objectsExtendMerge},
		{"NonEdit", objectsNonEdit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

func objectsDelete(t *testing.T, open ObjectsFactory) {
	s := open(t)
	if err := s.Delete("a.0.missing", objects.WriteOptions{}); err != nil {
		t.Fatalf("missing object: %v", err)
	}
	mustSet(t, s, "a.0.keep", `{"type":"state","common":{"dontDelete":true}}`)
	errIs(t, s.Delete("a.0.keep", objects.WriteOptions{}), "not deletable")
	if !errorsIs(s.Delete("a.0.keep", objects.WriteOptions{}), objects.ErrNotDeletable) {
		t.Fatal("not ErrNotDeletable")
	}
	mustSet(t, s, "a.0.st", `{"type":"state"}`)
	m, err := s.DeleteObject("a.0.st", objects.WriteOptions{})
	if err != nil || m == nil || m.Type != "state" {
		t.Fatalf("DeleteObject %v %v", m, err)
	}
	if o, _ := s.Get("a.0.st"); o != nil {
		t.Fatal("still there")
	}
}

func errorsIs(err, target error) bool { return err == target }

func objectsDeleteRecursiveAndEnumCleanup(t *testing.T, open ObjectsFactory) {
	s := open(t)
	for _, id := range []string{"d.0", "d.0.dev", "d.0.dev.ch", "d.0.dev.ch.s1", "d.0.dev.ch.s2", "d.0x", "d.1.other"} {
		mustSet(t, s, id, `{"type":"state"}`)
	}
	mustSet(t, s, "d.0.dev.prot", `{"type":"state","common":{"dontDelete":true}}`)
	mustSet(t, s, "enum.rooms.kitchen", `{"type":"enum","common":{"name":"Kitchen","members":["d.0.dev.ch.s1","d.1.other","d.0.dev.ch"]}}`)
	mustSet(t, s, "enum.functions.light", `{"type":"enum","common":{"name":"Light","members":["d.0.dev.ch.s2"]}}`)
	mustSet(t, s, "enum.functions.none", `{"type":"enum","common":{"name":"None","members":["x.y"]}}`)

	var mu sync.Mutex
	var changes []string
	s.Watch(func(c objects.Change) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, fmt.Sprintf("%s:%v", c.ID, c.Object != nil))
	})
	metas, err := s.DeleteRecursive("d.0", objects.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range metas {
		ids = append(ids, m.ID)
	}
	jsonEq(t, ids, `["d.0","d.0.dev","d.0.dev.ch","d.0.dev.ch.s1","d.0.dev.ch.s2"]`)
	for _, id := range []string{"d.0.dev.prot", "d.0x", "d.1.other"} {
		mustGet(t, s, id)
	}
	jsonEq(t, at(mustGet(t, s, "enum.rooms.kitchen"), "common", "members"), `["d.1.other"]`)
	jsonEq(t, at(mustGet(t, s, "enum.functions.light"), "common", "members"), `[]`)
	mu.Lock()
	jsonEq(t, changes, `["d.0:false","d.0.dev:false","d.0.dev.ch:false","d.0.dev.ch.s1:false","d.0.dev.ch.s2:false",
		"enum.functions.light:true","enum.rooms.kitchen:true"]`)
	mu.Unlock()
	// The protected root refuses.
	_, err = s.DeleteRecursive("d.0.dev.prot", objects.WriteOptions{})
	errIs(t, err, "not deletable")
	// Single delete also cleans enums.
	mustSet(t, s, "enum.rooms.bath", `{"type":"enum","common":{"members":["d.0x"]}}`)
	if err := s.Delete("d.0x", objects.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	jsonEq(t, at(mustGet(t, s, "enum.rooms.bath"), "common", "members"), `[]`)
}

func objectsObjectACL(t *testing.T, open ObjectsFactory) {
	s := open(t)
	bob := &acl.Subject{User: "system.user.bob", Groups: []string{"system.group.user"}}
	eve := &acl.Subject{User: "system.user.eve", Groups: []string{"system.group.other"}}
	adm := &acl.Subject{User: "system.user.root", Groups: []string{acl.AdminGroup}, Admin: true}
	// owner rw, group r, everyone nothing.
	mustSet(t, s, "p.0.x", `{"type":"state","common":{},"acl":{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1600}}`)
	mustSet(t, s, "p.0.open", `{"type":"state","common":{}}`)
	mustSet(t, s, "p.0.nocommon", `{"type":"state","acl":{"owner":"system.user.bob","ownerGroup":"system.group.user","object":0}}`)

	if _, err := s.GetAs("p.0.x", bob); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetAs("p.0.x", eve)
	errIs(t, err, "permissionError")
	if o, err := s.GetAs("p.0.x", adm); err != nil || o == nil {
		t.Fatal("admin denied")
	}
	for _, id := range []string{"p.0.open", "p.0.nocommon"} {
		if _, err := s.GetAs(id, eve); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	res := s.GetMany([]string{"p.0.x", "p.0.missing", "p.0.open"}, eve)
	if res[0].Err != objects.ErrPermission || res[1].Raw != nil || res[1].Err != nil || res[2].Raw == nil {
		t.Fatalf("GetMany %+v", res)
	}

	member := &acl.Subject{User: "system.user.carl", Groups: []string{"system.group.user"}}
	_, err = s.Extend("p.0.x", obj(t, `{"common":{"a":1}}`), objects.WriteOptions{Subject: member})
	errIs(t, err, "permissionError")
	errIs(t, s.Delete("p.0.x", objects.WriteOptions{Subject: member}), "permissionError")
	_, err = s.Set("p.0.x", obj(t, `{"type":"state"}`), objects.WriteOptions{Subject: member})
	errIs(t, err, "permissionError")
	if at(mustGet(t, s, "p.0.x"), "common", "a") != nil {
		t.Fatal("refused extend was applied")
	}
	// Owner may write, but a group member with write may not hand it over.
	if _, err := s.Extend("p.0.x", obj(t, `{"common":{"a":1}}`), objects.WriteOptions{Subject: bob}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "p.0.g", `{"type":"state","common":{},"acl":{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1632}}`)
	_, err = s.Set("p.0.g", obj(t, `{"type":"state","acl":{"owner":"system.user.carl","ownerGroup":"system.group.user","object":1632}}`), objects.WriteOptions{Subject: member})
	errIs(t, err, "permissionError")
	_, err = s.Extend("p.0.g", obj(t, `{"acl":{"owner":"system.user.carl"}}`), objects.WriteOptions{Subject: member})
	errIs(t, err, "permissionError")
	if _, err := s.Set("p.0.g", obj(t, `{"type":"state","common":{"v":1}}`), objects.WriteOptions{Subject: member}); err != nil {
		t.Fatalf("group write: %v", err)
	}
	if _, err := s.Set("p.0.g", obj(t, `{"type":"state","acl":{"owner":"system.user.carl","ownerGroup":"system.group.user","object":1632}}`), objects.WriteOptions{Subject: bob}); err != nil {
		t.Fatalf("owner hand-over: %v", err)
	}
	// New objects: one may only name oneself owner.
	_, err = s.Set("p.0.new", obj(t, `{"type":"state","acl":{"owner":"system.user.admin","object":1604}}`), objects.WriteOptions{Subject: eve})
	errIs(t, err, "permissionError")
	if _, err := s.Set("p.0.new", obj(t, `{"type":"state","acl":{"owner":"system.user.eve","object":1604}}`), objects.WriteOptions{Subject: eve}); err != nil {
		t.Fatal(err)
	}
	// Delete by owner works.
	if err := s.Delete("p.0.x", objects.WriteOptions{Subject: bob}); err != nil {
		t.Fatal(err)
	}
	// Recursive delete is all or nothing.
	mustSet(t, s, "r.0", `{"type":"folder","common":{}}`)
	mustSet(t, s, "r.0.locked", `{"type":"state","common":{},"acl":{"owner":"system.user.bob","ownerGroup":"g","object":1536}}`)
	_, err = s.DeleteRecursive("r.0", objects.WriteOptions{Subject: eve})
	errIs(t, err, "permissionError")
	mustGet(t, s, "r.0")
}

func objectsChangeFeedOrder(t *testing.T, open ObjectsFactory) {
	s := open(t)
	var mu sync.Mutex
	last := map[string]string{}
	seq := map[string][]float64{}
	s.Watch(func(c objects.Change) {
		var o struct {
			N float64 `json:"n"`
		}
		_ = json.Unmarshal(c.Object, &o)
		mu.Lock()
		last[c.ID] = string(c.Object)
		seq[c.ID] = append(seq[c.ID], o.N)
		mu.Unlock()
	})
	const writers, per = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				id := fmt.Sprintf("f.0.%d", i%5)
				if _, err := s.Set(id, objects.Object{"type": "state", "n": float64(w*1000 + i)}, objects.WriteOptions{}); err != nil {
					t.Error(err)
				}
			}
			// Each writer's own sequence on one id is ordered.
			for i := range per {
				if _, err := s.Set(fmt.Sprintf("w.0.%d", w), objects.Object{"type": "state", "n": float64(i)}, objects.WriteOptions{}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for i := range 5 {
		id := fmt.Sprintf("f.0.%d", i)
		raw, _, _ := s.GetRaw(id)
		if last[id] != string(raw) {
			t.Fatalf("%s: last change %s, stored %s", id, last[id], raw)
		}
	}
	for w := range writers {
		got := seq[fmt.Sprintf("w.0.%d", w)]
		if len(got) != per {
			t.Fatalf("writer %d: %d changes", w, len(got))
		}
		for i, n := range got {
			if n != float64(i) {
				t.Fatalf("writer %d: out of order %v", w, got)
			}
		}
	}
}

func objectsInitDefaults(t *testing.T, open ObjectsFactory) {
	s := open(t)
	if err := s.InitDefaults("myhost", "pbkdf2$x"); err != nil {
		t.Fatal(err)
	}
	want := []string{"_design/system", "system.config", "system.group.administrator", "system.group.user",
		"system.user.admin", "enum.rooms", "enum.functions", "system.repositories", "system.licenses",
		"system.certificates", "alias.0", "0_userdata.0", "0_userdata.0.example_state", "system.meta.uuid",
		"system.host.myhost", "system.host.myhost.adapter"}
	for _, id := range want {
		mustGet(t, s, id)
	}
	cfg := mustGet(t, s, "system.config")
	if !regexp.MustCompile(`^[0-9a-f]{48}$`).MatchString(at(cfg, "native", "secret").(string)) {
		t.Fatalf("secret %v", at(cfg, "native", "secret"))
	}
	jsonEq(t, cfg["acl"], `{"owner":"system.user.admin","ownerGroup":"system.group.administrator","object":1604}`)
	if cfg["from"] != "system.host.myhost.cli" || has(cfg, "common", "defaultNewAcl") {
		t.Fatal("system.config envelope")
	}
	jsonEq(t, at(mustGet(t, s, "system.certificates"), "acl", "object"), `1536`)
	jsonEq(t, at(mustGet(t, s, "enum.rooms"), "acl", "object"), `1911`)
	jsonEq(t, at(mustGet(t, s, "_design/system"), "acl", "object"), `1092`)
	admin := mustGet(t, s, "system.user.admin")
	if at(admin, "common", "password") != "pbkdf2$x" || has(admin, "acl") || admin["from"] != "system.host.myhost.tools" {
		t.Fatalf("admin %v", admin)
	}
	jsonEq(t, at(mustGet(t, s, "system.group.user"), "common", "acl", "object"), `{"list":true,"read":true,"write":false,"delete":false}`)
	if at(mustGet(t, s, "0_userdata.0.example_state"), "acl", "state") != nil {
		t.Fatal("example_state has a state acl")
	}
	// Existing objects are kept.
	if _, err := s.Extend("system.config", obj(t, `{"common":{"language":"de"}}`), objects.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	secret := at(cfg, "native", "secret")
	if err := s.InitDefaults("myhost", "other"); err != nil {
		t.Fatal(err)
	}
	cfg = mustGet(t, s, "system.config")
	if at(cfg, "common", "language") != "de" || at(cfg, "native", "secret") != secret {
		t.Fatal("existing system.config replaced")
	}
	if at(mustGet(t, s, "system.user.admin"), "common", "password") != "pbkdf2$x" {
		t.Fatal("admin password replaced")
	}
	// Every system view answers.
	for _, v := range objects.SystemViews {
		if _, err := s.View("system", v, objects.ViewParams{}, nil); err != nil {
			t.Fatalf("view %s: %v", v, err)
		}
	}
	rows, _ := s.View("system", "config", objects.ViewParams{StartKey: "system.", EndKey: "system.\u9999"}, nil)
	var names []string
	for _, r := range rows {
		names = append(names, r.ID)
	}
	jsonEq(t, names, `["Certificates","System configuration","Licenses","System repositories"]`)
}

func objectsRangeAndKeys(t *testing.T, open ObjectsFactory) {
	s := open(t)
	for _, id := range []string{"a", "a.b", "a.c", "b", "ｆ", "a.ｆ"} {
		mustSet(t, s, id, `{"type":"folder"}`)
	}
	jsonEq(t, s.Keys(nil, "a.", "a.\u9999"), `["a.b","a.c"]`)
	jsonEq(t, s.Keys(nil, "a", "b"), `["a","a.b","a.c","a.ｆ","b"]`)
	jsonEq(t, s.Keys(func(id string) bool { return id != "a.c" }, "", "\uffff"), `["a","a.b","a.ｆ","b","ｆ"]`)
	n := 0
	s.Range("", "\uffff", func(string, *objects.Meta, json.RawMessage) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatal("Range did not stop")
	}
}

func viewIDs(t *testing.T, s ObjectStore, design, search string, p objects.ViewParams, allow func(*objects.Meta) bool) []string {
	t.Helper()
	rows, err := s.View(design, search, p, allow)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

func viewStore(t *testing.T, open ObjectsFactory) ObjectStore {
	s := open(t)
	if err := s.InitDefaults("h", "x"); err != nil {
		t.Fatal(err)
	}
	for id, js := range map[string]string{
		"hm.0.dev":             `{"type":"device","common":{"name":"D"}}`,
		"hm.0.dev.ch":          `{"type":"channel","common":{"name":"C"}}`,
		"hm.0.dev.ch.a":        `{"type":"state","common":{"name":"a","custom":{"h.0":{"e":true}}}}`,
		"hm.0.dev.ch.b":        `{"type":"state","common":{"name":"b","custom":{}}}`,
		"hm.0.dev.ch.c":        `{"type":"state","common":{"name":"c","custom":null}}`,
		"hm.0.dev.ch.x.deep":   `{"type":"state","common":{}}`,
		"hm.0.dev.ch.x.y.deep": `{"type":"state","common":{}}`,
		"hm.1.s":               `{"type":"state","common":{}}`,
		"hm.0.ｆ":               `{"type":"state","common":{}}`,
		"system.adapter.hm.0":  `{"type":"instance","common":{}}`,
		"system.adapter.hm.12": `{"type":"instance","common":{}}`,
		"system.adapter.hm":    `{"type":"adapter","common":{}}`,
		"system.group.zz":      `{"type":"group","common":{"name":"Zed"}}`,
		"_design/custom":       `{"type":"design","views":{"byType":{"map":"function(doc) { if (doc.type === 'channel') emit(doc._id, doc); }"},"byName":{"map":"function (doc) {\n if (doc.type==='device') emit(doc.common.name, doc)\n}"},"weird":{"map":"function(doc) { emit(doc.x, 1); }"}}}`,
	} {
		mustSet(t, s, id, js)
	}
	return s
}

func objectsSystemViews(t *testing.T, open ObjectsFactory) {
	s := viewStore(t, open)
	all := objects.ViewParams{}
	jsonEq(t, viewIDs(t, s, "system", "state", all, nil), `["0_userdata.0.example_state","hm.0.dev.ch.a","hm.0.dev.ch.b","hm.0.dev.ch.c","hm.0.dev.ch.x.deep","hm.0.dev.ch.x.y.deep","hm.0.ｆ","hm.1.s"]`)
	jsonEq(t, viewIDs(t, s, "system", "device", all, nil), `["hm.0.dev"]`)
	jsonEq(t, viewIDs(t, s, "system", "channel", all, nil), `["hm.0.dev.ch"]`)
	jsonEq(t, viewIDs(t, s, "system", "instance", all, nil), `["system.adapter.hm.0","system.adapter.hm.12"]`)
	jsonEq(t, viewIDs(t, s, "system", "adapter", all, nil), `["system.adapter.hm"]`)
	jsonEq(t, viewIDs(t, s, "system", "host", all, nil), `["system.host.h"]`)
	jsonEq(t, viewIDs(t, s, "system", "enum", all, nil), `["enum.functions","enum.rooms"]`)
	jsonEq(t, viewIDs(t, s, "system", "meta", all, nil), `["0_userdata.0","alias.0","system.meta.uuid"]`)
	jsonEq(t, viewIDs(t, s, "system", "design", all, nil), `["_design/custom","_design/system"]`)
	jsonEq(t, viewIDs(t, s, "system", "group", all, nil), `["Administrator","User","Zed"]`)
	jsonEq(t, viewIDs(t, s, "system", "user", all, nil), `["admin"]`)
	jsonEq(t, viewIDs(t, s, "system", "schedule", all, nil), `[]`)
	jsonEq(t, viewIDs(t, s, "system", "custom-full", all, nil), `["hm.0.dev.ch.a","hm.0.dev.ch.b"]`)

	rows, _ := s.View("system", "custom", all, nil)
	if len(rows) != 2 || string(rows[0].Value) != `{"h.0":{"e":true}}` || string(rows[1].Value) != `{}` {
		t.Fatalf("custom %+v", rows)
	}
	rows, _ = s.View("system", "device", all, nil)
	raw, _, _ := s.GetRaw("hm.0.dev")
	if string(rows[0].Value) != string(raw) {
		t.Fatal("row value is not the stored JSON")
	}
	rows, _ = s.View("system", "instanceStats", all, nil)
	b, _ := json.Marshal(rows)
	if string(b) != `[{"id":"_stats","value":{"max":12}}]` {
		t.Fatalf("instanceStats %s", b)
	}
	rows, _ = s.View("system", "instanceStats", objects.ViewParams{StartKey: "system.adapter.x.", EndKey: "system.adapter.x.\u9999"}, nil)
	if len(rows) != 0 {
		t.Fatal("instanceStats without instances")
	}
	// allow filters in the same pass.
	jsonEq(t, viewIDs(t, s, "system", "state", all, func(m *objects.Meta) bool { return m.HasCustom }), `["hm.0.dev.ch.a","hm.0.dev.ch.b"]`)
}

func objectsViewRanges(t *testing.T, open ObjectsFactory) {
	s := viewStore(t, open)
	cases := []struct {
		start, end string
		want       string
	}{
		{"hm.0.", "hm.0.\u9999", `["hm.0.dev.ch.a","hm.0.dev.ch.b","hm.0.dev.ch.c","hm.0.dev.ch.x.deep","hm.0.dev.ch.x.y.deep"]`}, // ｆ sorts after the sentinel
		{"hm.0.dev.ch.a", "hm.0.dev.ch.b", `["hm.0.dev.ch.a","hm.0.dev.ch.b"]`},                                                   // inclusive
		{"hm.0.dev.ch.b", "hm.0.dev.ch.b", `["hm.0.dev.ch.b"]`},                                                                   // start == end
		{"hm.0.dev.ch.b", "", `["hm.0.dev.ch.b","hm.0.dev.ch.c","hm.0.dev.ch.x.deep","hm.0.dev.ch.x.y.deep","hm.0.ｆ","hm.1.s"]`},
		{"hm.1.s\U0001F600", "", `[]`},
		{"hm.1.s", "hm.1.s\uFF46", `["hm.1.s"]`},
		{"hm.0.", "hm.0.\uffff", `["hm.0.dev.ch.a","hm.0.dev.ch.b","hm.0.dev.ch.c","hm.0.dev.ch.x.deep","hm.0.dev.ch.x.y.deep","hm.0.ｆ"]`},
		{"hm.", "hm.\u9999.deep", `["hm.0.dev.ch.x.deep","hm.0.dev.ch.x.y.deep"]`}, // wildcard in the middle
		{"", "\u9999.s", `["hm.1.s"]`}, // wildcard first: suffix match
		{"zzz", "a", `[]`},
	}
	for _, c := range cases {
		got := viewIDs(t, s, "system", "state", objects.ViewParams{StartKey: c.start, EndKey: c.end}, nil)
		b, _ := json.Marshal(got)
		var w []string
		_ = json.Unmarshal([]byte(c.want), &w)
		wb, _ := json.Marshal(w)
		if string(b) != string(wb) {
			t.Errorf("[%q,%q]: got %s want %s", c.start, c.end, b, wb)
		}
	}
}

func objectsViewErrorsAndForeignDesigns(t *testing.T, open ObjectsFactory) {
	s := viewStore(t, open)
	_, err := s.View("nope", "state", objects.ViewParams{}, nil)
	errIs(t, err, `Cannot find view "nope"`)
	var ve *objects.ViewError
	_, err = s.View("system", "nope", objects.ViewParams{}, nil)
	errIs(t, err, `Cannot find search "nope" in "system"`)
	if _, ok := err.(*objects.ViewError); !ok {
		t.Fatalf("%T", err)
	}
	_ = ve
	_, err = s.View("custom", "weird", objects.ViewParams{}, nil)
	errIs(t, err, `Cannot find search "weird" in "custom"`)
	_, err = s.View("custom", "missing", objects.ViewParams{}, nil)
	errIs(t, err, `Cannot find search "missing" in "custom"`)
	jsonEq(t, viewIDs(t, s, "custom", "byType", objects.ViewParams{}, nil), `["hm.0.dev.ch"]`)
	jsonEq(t, viewIDs(t, s, "custom", "byName", objects.ViewParams{}, nil), `["D"]`)
}

func objectsViewDepth(t *testing.T, open ObjectsFactory) {
	s := viewStore(t, open)
	rows, err := s.View("system", "state", objects.ViewParams{StartKey: "hm.0.dev.ch", EndKey: "hm.0.dev.ch.\u9999", Depth: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.ID)
	}
	// a,b,c: k=0; x.deep: k=1 (kept); x.y.deep: k=2 → folder x.y with 1 child.
	jsonEq(t, got, `["hm.0.dev.ch.a","hm.0.dev.ch.b","hm.0.dev.ch.c","hm.0.dev.ch.x.deep","hm.0.dev.ch.x.y"]`)
	var v map[string]any
	_ = json.Unmarshal(rows[4].Value, &v)
	jsonEq(t, v, `{"_id":"hm.0.dev.ch.x.y","common":{},"native":{},"type":"folder","virtual":true,"hasChildren":1}`)

	rows, _ = s.View("system", "state", objects.ViewParams{StartKey: "hm.", EndKey: "hm.\u9999", Depth: 1}, nil)
	got = nil
	for _, r := range rows {
		var v map[string]any
		_ = json.Unmarshal(r.Value, &v)
		got = append(got, r.ID+"="+jsonStr(v["hasChildren"]))
	}
	jsonEq(t, got, `["hm.0.dev=5","hm.0.dev.ch=5","hm.0.dev.ch.x=2","hm.0.dev.ch.x.y=1","hm.0.ｆ=null","hm.1.s=null"]`)
}

func jsonStr(v any) string { b, _ := json.Marshal(v); return string(b) }

func objectsSetValidationErrors(t *testing.T, open ObjectsFactory) {
	s := open(t)
	cases := []struct{ name, js, err string }{
		{"missing type", `{"common":{}}`, "mandatory property type missing!"},
		{"empty type", `{"type":""}`, "mandatory property type missing!"},
		{"null type", `{"type":null}`, "mandatory property type missing!"},
		{"unknown type", `{"type":"foo"}`, `Invalid type "foo": property "type" must be one of ` + strings.Join(objects.Types, ", ")},
		{"number type", `{"type":5}`, `Invalid type 5: property "type" must be one of ` + strings.Join(objects.Types, ", ")},
		{"common string", `{"type":"state","common":"x"}`, `property "common" must be an object`},
		{"common null", `{"type":"state","common":null}`, `property "common" must be an object`},
		{"state common.type", `{"type":"state","common":{"type":"text"}}`, `Invalid common.type "text": must be one of ` + strings.Join(objects.StateValueTypes, ", ")},
		{"state common.type number", `{"type":"state","common":{"type":1}}`, `Invalid common.type 1: must be one of ` + strings.Join(objects.StateValueTypes, ", ")},
		{"enum members string", `{"type":"enum","common":{"members":"a"}}`, `property "common.members" must be an array of strings`},
		{"enum members numbers", `{"type":"enum","common":{"members":[1]}}`, `property "common.members" must be an array of strings`},
		{"group members null", `{"type":"group","common":{"members":null}}`, `property "common.members" must be an array of strings`},
		{"acl string", `{"type":"state","acl":"x"}`, `property "acl" must be an object`},
		{"acl owner", `{"type":"state","acl":{"owner":5}}`, `property "acl.owner" must be a string`},
		{"acl ownerGroup", `{"type":"state","acl":{"ownerGroup":true}}`, `property "acl.ownerGroup" must be a string`},
		{"acl object", `{"type":"state","acl":{"object":"644"}}`, `property "acl.object" must be a number`},
		{"acl state", `{"type":"state","acl":{"state":null}}`, `property "acl.state" must be a number`},
		{"alias object bad", `{"type":"state","common":{"alias":{"id":{"read":"a"}}}}`, "Invalid alias ID"},
		{"alias number", `{"type":"state","common":{"alias":{"id":5}}}`, "Invalid alias ID"},
		{"alias on alias", `{"type":"state","common":{"alias":{"id":"alias.0.x"}}}`, "Cannot make alias on alias"},
		{"alias on alias write", `{"type":"state","common":{"alias":{"id":{"read":"a.0.x","write":"alias.0.y"}}}}`, "Cannot make alias on alias"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Set("test.0.x", obj(t, c.js), objects.WriteOptions{})
			errIs(t, err, c.err)
			var ve *objects.ValidationError
			if strings.HasPrefix(c.err, "property") && !errors.As(err, &ve) {
				t.Fatalf("%v is not a *ValidationError", err)
			}
		})
	}
	if s.Len() != 0 {
		t.Fatalf("refused writes stored %d objects", s.Len())
	}
	// Valid variants of the same fields.
	for _, js := range []string{
		`{"type":"state","common":{"type":"mixed"}}`,
		`{"type":"enum","common":{"members":["a.0.b"]}}`,
		`{"type":"state","acl":{"owner":"system.user.x","ownerGroup":"system.group.y","object":1604,"state":1604}}`,
		`{"type":"state","common":{"alias":{"id":{"read":"a.0.r","write":"a.0.w"}}}}`,
		`{"type":"state","acl":null}`,
	} {
		if _, err := s.Set("test.0.ok", obj(t, js), objects.WriteOptions{}); err != nil {
			t.Errorf("%s: %v", js, err)
		}
	}
}

func objectsSetBadArguments(t *testing.T, open ObjectsFactory) {
	s := open(t)
	_, err := s.Set("a.0.b", nil, objects.WriteOptions{})
	errIs(t, err, "null object")
	for js, want := range map[string]string{"null": "null object", "": "null object", "5": "no object",
		`"x"`: "no object", `[1]`: "no object", `true`: "no object"} {
		_, err := s.SetJSON("a.0.b", []byte(js), objects.WriteOptions{})
		errIs(t, err, want)
	}
	_, err = s.Set("a*b", obj(t, `{"type":"state"}`), objects.WriteOptions{})
	errIs(t, err, "Invalid ID: a*b")
	var ie *objects.IDError
	if !errors.As(err, &ie) || ie.ID != "a*b" {
		t.Fatalf("want *IDError, got %T", err)
	}
	_, err = s.Set("", obj(t, `{"type":"state"}`), objects.WriteOptions{})
	if !errors.Is(err, objects.ErrEmptyID) {
		t.Fatal(err)
	}
	_, err = s.Extend("a.", obj(t, `{"type":"state"}`), objects.WriteOptions{})
	errIs(t, err, `The id "a." is invalid. Ids are not allowed to end in "."`)
	_, err = s.Extend("a.0.b", nil, objects.WriteOptions{})
	errIs(t, err, "null object")
	errIs(t, s.Delete("a?", objects.WriteOptions{}), "Invalid ID: a?")
	if o, err := s.SetJSON("a.0.b", []byte(` {"type":"state"} `), objects.WriteOptions{}); err != nil || o["_id"] != "a.0.b" {
		t.Fatal(o, err)
	}
}

func objectsSetEnvelope(t *testing.T, open ObjectsFactory) {
	s := open(t)
	in := obj(t, `{"_id":"wrong","type":"state","common":{"name":"x"}}`)
	o, err := s.Set("a.0.b", in, objects.WriteOptions{User: "system.user.bob", From: "system.adapter.web.0"})
	if err != nil {
		t.Fatal(err)
	}
	if in["_id"] != "wrong" || has(in, "ts") {
		t.Fatal("caller's map was modified")
	}
	got := mustGet(t, s, "a.0.b")
	if got["_id"] != "a.0.b" || got["user"] != "system.user.bob" || got["from"] != "system.adapter.web.0" {
		t.Fatalf("envelope %v", got)
	}
	if ts, _ := got["ts"].(float64); ts < 1.7e12 {
		t.Fatalf("ts %v", got["ts"])
	}
	if o["_id"] != "a.0.b" {
		t.Fatal("returned object")
	}
	// Round trip keeps old ts/from/user (fill only if missing).
	mustSet(t, s, "a.0.c", `{"type":"state","ts":5,"from":"x","user":"system.user.y"}`)
	got = mustGet(t, s, "a.0.c")
	if got["ts"] != 5.0 || got["from"] != "x" || got["user"] != "system.user.y" {
		t.Fatalf("kept envelope %v", got)
	}
	// Without options: user admin, no from.
	got = mustSet(t, s, "a.0.d", `{"type":"state"}`)
	if got["user"] != acl.Admin || has(got, "from") {
		t.Fatalf("default envelope %v", got)
	}
	// No defaultNewAcl on a fresh store: no acl.
	if has(got, "acl") {
		t.Fatal("acl without defaultNewAcl")
	}
}

func objectsSetPreserveRules(t *testing.T, open ObjectsFactory) {
	s := open(t)
	mustSet(t, s, "a.0.s", `{"type":"state","common":{"name":"s","custom":{"history.0":{"enabled":true},"sql.0":{"enabled":true}},
		"smartName":"Lamp","material":{"x":1},"habpanel":1,"mobile":{"m":1}}}`)

	// Omitted: everything kept.
	mustSet(t, s, "a.0.s", `{"type":"state","common":{"name":"s2"}}`)
	jsonEq(t, mustGet(t, s, "a.0.s")["common"], `{"name":"s2","custom":{"history.0":{"enabled":true},"sql.0":{"enabled":true}},
		"smartName":"Lamp","material":{"x":1},"habpanel":1,"mobile":{"m":1}}`)

	// Null removes keys; custom merges per key, null key deletes.
	mustSet(t, s, "a.0.s", `{"type":"state","common":{"name":"s3","custom":{"sql.0":null,"influx.0":{"enabled":false}},
		"smartName":null,"material":null,"habpanel":null,"mobile":{"new":true}}}`)
	jsonEq(t, mustGet(t, s, "a.0.s")["common"], `{"name":"s3","custom":{"history.0":{"enabled":true},"influx.0":{"enabled":false}},"mobile":{"new":true}}`)

	// All custom keys nulled: custom removed entirely.
	mustSet(t, s, "a.0.s", `{"type":"state","common":{"custom":{"history.0":null,"influx.0":null}}}`)
	if has(mustGet(t, s, "a.0.s"), "common", "custom") {
		t.Fatal("empty custom kept")
	}
	// custom: null deletes.
	mustSet(t, s, "a.0.s", `{"type":"state","common":{"custom":{"h.0":{}}}}`)
	mustSet(t, s, "a.0.s", `{"type":"state","common":{"custom":null}}`)
	if has(mustGet(t, s, "a.0.s"), "common", "custom") {
		t.Fatal("custom:null kept")
	}
	// Non-object new custom is dropped and the old one kept.
	mustSet(t, s, "a.0.s", `{"type":"state","common":{"custom":{"h.0":{"a":1}}}}`)
	mustSet(t, s, "a.0.s", `{"type":"state","common":{"custom":"junk"}}`)
	jsonEq(t, at(mustGet(t, s, "a.0.s"), "common", "custom"), `{"h.0":{"a":1}}`)

	// custom is only kept for states.
	mustSet(t, s, "a.0.ch", `{"type":"channel","common":{"custom":{"h.0":{}},"smartName":"x"}}`)
	mustSet(t, s, "a.0.ch", `{"type":"channel","common":{}}`)
	got := mustGet(t, s, "a.0.ch")
	if has(got, "common", "custom") || at(got, "common", "smartName") != "x" {
		t.Fatalf("channel preserve %v", got["common"])
	}
	// Without common in the new object nothing is preserved into it.
	mustSet(t, s, "a.0.ch", `{"type":"channel"}`)
	if has(mustGet(t, s, "a.0.ch"), "common") {
		t.Fatal("common invented")
	}
}

func objectsSetKeepsOldACL(t *testing.T, open ObjectsFactory) {
	s := open(t)
	mustSet(t, s, "a.0.x", `{"type":"state","acl":{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1604,"state":1636}}`)
	mustSet(t, s, "a.0.x", `{"type":"state","common":{}}`)
	jsonEq(t, mustGet(t, s, "a.0.x")["acl"], `{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1604,"state":1636}`)
	_, m, _ := s.GetRaw("a.0.x")
	if m.ACL == nil || m.ACL.Owner != "system.user.bob" || m.ACL.State != 1636 {
		t.Fatalf("meta acl %+v", m.ACL)
	}
}

func setDefaultACL(t *testing.T, s ObjectStore) {
	t.Helper()
	mustSet(t, s, "system.config", `{"type":"config","common":{"name":"cfg","defaultNewAcl":
		{"owner":"system.user.admin","ownerGroup":"system.group.administrator","object":1636,"state":1636,"file":1632}}}`)
}

func objectsDefaultNewACL(t *testing.T, open ObjectsFactory) {
	s := open(t)
	if s.DefaultNewACL() != nil {
		t.Fatal("fresh store has a defaultNewAcl")
	}
	// An object written before defaultNewAcl exists has no acl.
	if got := mustSet(t, s, "a.0.noacl", `{"type":"state"}`); has(got, "acl") {
		t.Fatalf("acl without defaultNewAcl: %v", got["acl"])
	}
	setDefaultACL(t, s)
	if d := s.DefaultNewACL(); d == nil || d.File != 1632 || d.Object != 1636 {
		t.Fatalf("DefaultNewACL %+v", d)
	}
	bob := &acl.Subject{User: "system.user.bob", Groups: []string{"system.group.user", "system.group.x"}}

	// Internal/admin write: defaults, state key only for states, no file.
	got := mustSet(t, s, "a.0.st", `{"type":"state"}`)
	jsonEq(t, got["acl"], `{"owner":"system.user.admin","ownerGroup":"system.group.administrator","object":1636,"state":1636}`)
	got = mustSet(t, s, "a.0.ch", `{"type":"channel"}`)
	jsonEq(t, got["acl"], `{"owner":"system.user.admin","ownerGroup":"system.group.administrator","object":1636}`)

	// A user becomes owner, its primary group ownerGroup.
	got, err := s.Set("a.0.bob", obj(t, `{"type":"state"}`), objects.WriteOptions{Subject: bob})
	if err != nil {
		t.Fatal(err)
	}
	jsonEq(t, got["acl"], `{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1636,"state":1636}`)

	// An acl without ownerGroup gets the primary group.
	got, err = s.Set("a.0.bob2", obj(t, `{"type":"state","acl":{"owner":"system.user.bob","object":1604}}`), objects.WriteOptions{Subject: bob})
	if err != nil {
		t.Fatal(err)
	}
	jsonEq(t, got["acl"], `{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1604}`)

	// Extend of an existing acl-less object: defaults, owner not changed to the caller.
	got, err = s.Extend("a.0.noacl", obj(t, `{"common":{"x":1}}`), objects.WriteOptions{Subject: bob})
	if err != nil {
		t.Fatal(err)
	}
	jsonEq(t, got["acl"], `{"owner":"system.user.admin","ownerGroup":"system.group.administrator","object":1636,"state":1636}`)
	// Extend that creates behaves like setObject.
	got, err = s.Extend("a.0.new", obj(t, `{"type":"state"}`), objects.WriteOptions{Subject: bob})
	if err != nil {
		t.Fatal(err)
	}
	jsonEq(t, got["acl"], `{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1636,"state":1636}`)
}

func objectsExtendMerge(t *testing.T, open ObjectsFactory) {
	s := open(t)
	mustSet(t, s, "a.0.x", `{"type":"state","common":{"name":"x","arr":[1,2,3],"objs":[{"a":1,"b":2}],"nested":{"k":1,"l":2},"members":["q"]},
		"native":{"devices":[1,2,3],"repositories":[1,2],"certificates":[1,2],"other":[1,2,3]},"ts":1}`)
	cases := []struct {
		name, patch string
		path        []string
		want        string
	}{
		{"nested merge", `{"common":{"nested":{"m":3}}}`, []string{"common", "nested"}, `{"k":1,"l":2,"m":3}`},
		{"null overwrites", `{"common":{"nested":{"k":null}}}`, []string{"common", "nested"}, `{"k":null,"l":2,"m":3}`},
		{"array by index", `{"common":{"arr":[9]}}`, []string{"common", "arr"}, `[9,2,3]`},
		{"array longer", `{"common":{"arr":[7,8,9,10]}}`, []string{"common", "arr"}, `[7,8,9,10]`},
		{"array of objects deep", `{"common":{"objs":[{"b":5,"c":6}]}}`, []string{"common", "objs"}, `[{"a":1,"b":5,"c":6}]`},
		{"members wholesale", `{"common":{"members":[]}}`, []string{"common", "members"}, `[]`},
		{"devices wholesale", `{"native":{"devices":[5]}}`, []string{"native", "devices"}, `[5]`},
		{"repositories wholesale", `{"native":{"repositories":[5]}}`, []string{"native", "repositories"}, `[5]`},
		{"certificates wholesale", `{"native":{"certificates":[5]}}`, []string{"native", "certificates"}, `[5]`},
		{"other native by index", `{"native":{"other":[5]}}`, []string{"native", "other"}, `[5,2,3]`},
		{"object replaces scalar", `{"common":{"name":{"en":"X"}}}`, []string{"common", "name"}, `{"en":"X"}`},
		{"scalar replaces object", `{"common":{"name":"plain"}}`, []string{"common", "name"}, `"plain"`},
		{"ts kept when given", `{"ts":2}`, []string{"ts"}, `2`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Extend("a.0.x", obj(t, c.patch), objects.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			jsonEq(t, at(mustGet(t, s, "a.0.x"), c.path...), c.want)
		})
	}
	if got := mustGet(t, s, "a.0.x"); got["type"] != "state" || got["_id"] != "a.0.x" {
		t.Fatalf("envelope lost %v", got)
	}
	// Extend validates the merged result.
	_, err := s.Extend("a.0.x", obj(t, `{"type":"bogus"}`), objects.WriteOptions{})
	var ve *objects.ValidationError
	if !errors.As(err, &ve) || ve.Field != "type" {
		t.Fatalf("err %v", err)
	}
	_, err = s.Extend("a.0.x", obj(t, `{"common":{"type":"text"}}`), objects.WriteOptions{})
	if !errors.As(err, &ve) || ve.Field != "common.type" {
		t.Fatalf("err %v", err)
	}
	// Extend of a missing object creates it; a patch without type is refused.
	if _, err := s.Extend("a.0.new", obj(t, `{"type":"channel","common":{"name":"n"}}`), objects.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if mustGet(t, s, "a.0.new")["type"] != "channel" {
		t.Fatal("not created")
	}
	_, err = s.Extend("a.0.none", obj(t, `{"common":{}}`), objects.WriteOptions{})
	errIs(t, err, "mandatory property type missing!")
	// Extend refreshes ts when the patch has none.
	mustSet(t, s, "a.0.ts", `{"type":"state","ts":1}`)
	if _, err := s.Extend("a.0.ts", obj(t, `{"common":{}}`), objects.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if mustGet(t, s, "a.0.ts")["ts"] == 1.0 {
		t.Fatal("ts not refreshed")
	}
}

func objectsNonEdit(t *testing.T, open ObjectsFactory) {
	s := open(t)
	mustSet(t, s, "v.0.x", `{"type":"state","common":{"name":"n","min":0},"nonEdit":{"password":"secret","common":{"min":0}}}`)
	got := mustGet(t, s, "v.0.x")
	if has(got, "nonEdit", "password") || at(got, "nonEdit", "passHash") != objects.NonEditHash("secret") {
		t.Fatalf("nonEdit stored %v", got["nonEdit"])
	}
	// A write without the password cannot change protected values.
	mustSet(t, s, "v.0.x", `{"type":"state","common":{"name":"n2","min":5}}`)
	got = mustGet(t, s, "v.0.x")
	if at(got, "common", "min") != 0.0 || at(got, "common", "name") != "n2" || at(got, "nonEdit", "passHash") == nil {
		t.Fatalf("protected %v", got)
	}
	// Changing nonEdit needs the password.
	_, err := s.Set("v.0.x", obj(t, `{"type":"state","nonEdit":{"common":{"min":1}}}`), objects.WriteOptions{})
	errIs(t, err, "Invalid password for update of vendor information")
	_, err = s.Set("v.0.x", obj(t, `{"type":"state","nonEdit":{"password":"wrong","common":{"min":1}}}`), objects.WriteOptions{})
	errIs(t, err, "Invalid password for update of vendor information")
	if _, err := s.Set("v.0.x", obj(t, `{"type":"state","common":{"min":1},"nonEdit":{"password":"secret","common":{"min":1}}}`), objects.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if at(mustGet(t, s, "v.0.x"), "common", "min") != 1.0 {
		t.Fatal("password holder could not change")
	}
}

// obj decodes a JSON literal into an objects.Object.
func obj(t testing.TB, js string) objects.Object {
	t.Helper()
	var o objects.Object
	if err := json.Unmarshal([]byte(js), &o); err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return o
}

func mustSet(t testing.TB, s ObjectStore, id, js string) objects.Object {
	t.Helper()
	o, err := s.Set(id, obj(t, js), objects.WriteOptions{})
	if err != nil {
		t.Fatalf("Set %s: %v", id, err)
	}
	return o
}

func mustGet(t testing.TB, s ObjectStore, id string) objects.Object {
	t.Helper()
	o, err := s.Get(id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	if o == nil {
		t.Fatalf("Get %s: missing", id)
	}
	return o
}

// at walks a dotted path through nested maps.
func at(o objects.Object, path ...string) any {
	var cur any = o
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func has(o objects.Object, path ...string) bool {
	var cur any = o
	for i, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		v, ok := m[p]
		if !ok {
			return false
		}
		if i == len(path)-1 {
			return true
		}
		cur = v
	}
	return true
}

func jsonEq(t testing.TB, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(got)
	var g any
	_ = json.Unmarshal(gb, &g)
	wb, _ := json.Marshal(w)
	gb, _ = json.Marshal(g)
	if string(gb) != string(wb) {
		t.Fatalf("got  %s\nwant %s", gb, wb)
	}
}

func errIs(t testing.TB, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %q, got nil", want)
	}
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err.Error(), want)
	}
}
