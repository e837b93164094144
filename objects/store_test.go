package objects

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"github.com/brokerd/brokerd/acl"
)

func TestDelete(t *testing.T) {
	s := newStore(t)
	if err := s.Delete("a.0.missing", WriteOptions{}); err != nil {
		t.Fatalf("missing object: %v", err)
	}
	mustSet(t, s, "a.0.keep", `{"type":"state","common":{"dontDelete":true}}`)
	errIs(t, s.Delete("a.0.keep", WriteOptions{}), "not deletable")
	if !errorsIs(s.Delete("a.0.keep", WriteOptions{}), ErrNotDeletable) {
		t.Fatal("not ErrNotDeletable")
	}
	mustSet(t, s, "a.0.st", `{"type":"state"}`)
	m, err := s.DeleteObject("a.0.st", WriteOptions{})
	if err != nil || m == nil || m.Type != "state" {
		t.Fatalf("DeleteObject %v %v", m, err)
	}
	if o, _ := s.Get("a.0.st"); o != nil {
		t.Fatal("still there")
	}
}

func errorsIs(err, target error) bool { return err == target }

func TestDeleteRecursiveAndEnumCleanup(t *testing.T) {
	s := newStore(t)
	for _, id := range []string{"d.0", "d.0.dev", "d.0.dev.ch", "d.0.dev.ch.s1", "d.0.dev.ch.s2", "d.0x", "d.1.other"} {
		mustSet(t, s, id, `{"type":"state"}`)
	}
	mustSet(t, s, "d.0.dev.prot", `{"type":"state","common":{"dontDelete":true}}`)
	mustSet(t, s, "enum.rooms.kitchen", `{"type":"enum","common":{"name":"Kitchen","members":["d.0.dev.ch.s1","d.1.other","d.0.dev.ch"]}}`)
	mustSet(t, s, "enum.functions.light", `{"type":"enum","common":{"name":"Light","members":["d.0.dev.ch.s2"]}}`)
	mustSet(t, s, "enum.functions.none", `{"type":"enum","common":{"name":"None","members":["x.y"]}}`)

	var mu sync.Mutex
	var changes []string
	s.Watch(func(c Change) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, fmt.Sprintf("%s:%v", c.ID, c.Object != nil))
	})
	metas, err := s.DeleteRecursive("d.0", WriteOptions{})
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
	_, err = s.DeleteRecursive("d.0.dev.prot", WriteOptions{})
	errIs(t, err, "not deletable")
	// Single delete also cleans enums.
	mustSet(t, s, "enum.rooms.bath", `{"type":"enum","common":{"members":["d.0x"]}}`)
	if err := s.Delete("d.0x", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	jsonEq(t, at(mustGet(t, s, "enum.rooms.bath"), "common", "members"), `[]`)
}

func TestObjectACL(t *testing.T) {
	s := newStore(t)
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
	if res[0].Err != ErrPermission || res[1].Raw != nil || res[1].Err != nil || res[2].Raw == nil {
		t.Fatalf("GetMany %+v", res)
	}

	member := &acl.Subject{User: "system.user.carl", Groups: []string{"system.group.user"}}
	_, err = s.Extend("p.0.x", obj(t, `{"common":{"a":1}}`), WriteOptions{Subject: member})
	errIs(t, err, "permissionError")
	errIs(t, s.Delete("p.0.x", WriteOptions{Subject: member}), "permissionError")
	_, err = s.Set("p.0.x", obj(t, `{"type":"state"}`), WriteOptions{Subject: member})
	errIs(t, err, "permissionError")
	if at(mustGet(t, s, "p.0.x"), "common", "a") != nil {
		t.Fatal("refused extend was applied")
	}
	// Owner may write, but a group member with write may not hand it over.
	if _, err := s.Extend("p.0.x", obj(t, `{"common":{"a":1}}`), WriteOptions{Subject: bob}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "p.0.g", `{"type":"state","common":{},"acl":{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1632}}`)
	_, err = s.Set("p.0.g", obj(t, `{"type":"state","acl":{"owner":"system.user.carl","ownerGroup":"system.group.user","object":1632}}`), WriteOptions{Subject: member})
	errIs(t, err, "permissionError")
	_, err = s.Extend("p.0.g", obj(t, `{"acl":{"owner":"system.user.carl"}}`), WriteOptions{Subject: member})
	errIs(t, err, "permissionError")
	if _, err := s.Set("p.0.g", obj(t, `{"type":"state","common":{"v":1}}`), WriteOptions{Subject: member}); err != nil {
		t.Fatalf("group write: %v", err)
	}
	if _, err := s.Set("p.0.g", obj(t, `{"type":"state","acl":{"owner":"system.user.carl","ownerGroup":"system.group.user","object":1632}}`), WriteOptions{Subject: bob}); err != nil {
		t.Fatalf("owner hand-over: %v", err)
	}
	// New objects: one may only name oneself owner.
	_, err = s.Set("p.0.new", obj(t, `{"type":"state","acl":{"owner":"system.user.admin","object":1604}}`), WriteOptions{Subject: eve})
	errIs(t, err, "permissionError")
	if _, err := s.Set("p.0.new", obj(t, `{"type":"state","acl":{"owner":"system.user.eve","object":1604}}`), WriteOptions{Subject: eve}); err != nil {
		t.Fatal(err)
	}
	// Delete by owner works.
	if err := s.Delete("p.0.x", WriteOptions{Subject: bob}); err != nil {
		t.Fatal(err)
	}
	// Recursive delete is all or nothing.
	mustSet(t, s, "r.0", `{"type":"folder","common":{}}`)
	mustSet(t, s, "r.0.locked", `{"type":"state","common":{},"acl":{"owner":"system.user.bob","ownerGroup":"g","object":1536}}`)
	_, err = s.DeleteRecursive("r.0", WriteOptions{Subject: eve})
	errIs(t, err, "permissionError")
	mustGet(t, s, "r.0")
}

func TestPersistenceAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, db := openStore(t, dir)
	mustSet(t, s, "a.0.s", `{"type":"state","common":{"name":{"en":"S","de":"Z"},"custom":{"h.0":{"enabled":true}},"dontDelete":true},
		"acl":{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1604,"state":1536}}`)
	mustSet(t, s, "a.0.gone", `{"type":"state"}`)
	mustSet(t, s, "enum.rooms.k", `{"type":"enum","common":{"name":"K","members":["a.0.s"]}}`)
	mustSet(t, s, "system.user.bob", `{"type":"user","common":{"name":"Bob"}}`)
	if err := s.Delete("a.0.gone", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	raw1, meta1, _ := s.GetRaw("a.0.s")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s2, db2 := openStore(t, dir)
	defer db2.Close()
	if s2.Len() != 3 {
		t.Fatalf("Len %d", s2.Len())
	}
	raw2, meta2, ok := s2.GetRaw("a.0.s")
	if !ok || string(raw1) != string(raw2) {
		t.Fatalf("raw differs\n%s\n%s", raw1, raw2)
	}
	if *meta2.ACL != *meta1.ACL || meta2.Name != "S" || !meta2.HasCustom || !meta2.DontDelete || !meta2.HasCommon || meta2.Type != "state" {
		t.Fatalf("meta %+v", meta2)
	}
	rows, err := s2.View("system", "custom", ViewParams{}, nil)
	if err == nil {
		t.Fatal("no _design/system yet, want error")
	}
	_ = rows
	if err := s2.InitDefaults("h1", "hash"); err != nil {
		t.Fatal(err)
	}
	rows, _ = s2.View("system", "custom", ViewParams{}, nil)
	if len(rows) != 1 || string(rows[0].Value) != `{"h.0":{"enabled":true}}` {
		t.Fatalf("custom rows %+v", rows)
	}
	rows, _ = s2.View("system", "user", ViewParams{}, nil)
	if len(rows) != 2 || rows[1].ID != "Bob" {
		t.Fatalf("user rows %+v", rows)
	}
	// Enum cleanup works after reload (members index rebuilt).
	if err := s2.Delete("a.0.s", WriteOptions{}); err == nil {
		t.Fatal("dontDelete lost")
	}
	if _, err := s2.Extend("a.0.s", obj(t, `{"common":{"dontDelete":false}}`), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Delete("a.0.s", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	jsonEq(t, at(mustGet(t, s2, "enum.rooms.k"), "common", "members"), `[]`)
}

func TestChangeFeedOrder(t *testing.T) {
	s := newStore(t)
	var mu sync.Mutex
	last := map[string]string{}
	seq := map[string][]float64{}
	s.Watch(func(c Change) {
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
				if _, err := s.Set(id, Object{"type": "state", "n": float64(w*1000 + i)}, WriteOptions{}); err != nil {
					t.Error(err)
				}
			}
			// Each writer's own sequence on one id is ordered.
			for i := range per {
				if _, err := s.Set(fmt.Sprintf("w.0.%d", w), Object{"type": "state", "n": float64(i)}, WriteOptions{}); err != nil {
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

func TestCommitFailureReverts(t *testing.T) {
	dir := t.TempDir()
	s, db := openStore(t, dir)
	defer db.Bolt.Close()
	mustSet(t, s, "a.0.x", `{"type":"state","v":1}`)
	published := 0
	s.Watch(func(Change) { published++ })
	db.Committer.Close()
	_, err := s.Set("a.0.x", obj(t, `{"type":"state","v":2}`), WriteOptions{})
	errIs(t, err, "DB closed")
	_, err = s.Set("a.0.y", obj(t, `{"type":"state"}`), WriteOptions{})
	errIs(t, err, "DB closed")
	errIs(t, s.Delete("a.0.x", WriteOptions{}), "DB closed")
	if at(mustGet(t, s, "a.0.x"), "v") != 1.0 {
		t.Fatal("failed write not reverted")
	}
	if o, _ := s.Get("a.0.y"); o != nil || s.Len() != 1 {
		t.Fatal("failed create not reverted")
	}
	rows := 0
	s.Range("", Sentinel, func(string, *Meta, json.RawMessage) bool { rows++; return true })
	if rows != 1 || published != 0 {
		t.Fatalf("rows %d published %d", rows, published)
	}
}

func TestInitDefaults(t *testing.T) {
	s := newStore(t)
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
	if _, err := s.Extend("system.config", obj(t, `{"common":{"language":"de"}}`), WriteOptions{}); err != nil {
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
	for _, v := range SystemViews {
		if _, err := s.View("system", v, ViewParams{}, nil); err != nil {
			t.Fatalf("view %s: %v", v, err)
		}
	}
	rows, _ := s.View("system", "config", ViewParams{StartKey: "system.", EndKey: "system.\u9999"}, nil)
	var names []string
	for _, r := range rows {
		names = append(names, r.ID)
	}
	jsonEq(t, names, `["Certificates","System configuration","Licenses","System repositories"]`)
}

func TestRangeAndKeys(t *testing.T) {
	s := newStore(t)
	for _, id := range []string{"a", "a.b", "a.c", "b", "ｆ", "a.ｆ"} {
		mustSet(t, s, id, `{"type":"folder"}`)
	}
	jsonEq(t, s.Keys(nil, "a.", "a.\u9999"), `["a.b","a.c"]`)
	jsonEq(t, s.Keys(nil, "a", "b"), `["a","a.b","a.c","a.ｆ","b"]`)
	jsonEq(t, s.Keys(func(id string) bool { return id != "a.c" }, "", "\uffff"), `["a","a.b","a.ｆ","b","ｆ"]`)
	n := 0
	s.Range("", "\uffff", func(string, *Meta, json.RawMessage) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatal("Range did not stop")
	}
}

func TestObjectsWeb(t *testing.T) {
	s := newStore(t)
	mustSet(t, s, "system.config", `{"type":"config","common":{"name":"cfg"}}`)
	mustSet(t, s, "hm.0.dev", `{"type":"device","common":{"name":"D"}}`)
	mustSet(t, s, "hm.0.dev.ch", `{"type":"channel","common":{"name":"C"}}`)
	mustSet(t, s, "hm.0.dev.ch.st", `{"type":"state","common":{"name":"S"}}`)
	mustSet(t, s, "hm.0.other", `{"type":"state","common":{}}`)
	mustSet(t, s, "hm.0.meta", `{"type":"meta","common":{}}`)
	mustSet(t, s, "enum.rooms.kitchen", `{"type":"enum","common":{"name":{"en":"Kitchen"},"members":["hm.0.dev"]}}`)
	mustSet(t, s, "enum.functions.light", `{"type":"enum","common":{"name":"Light","members":["hm.0.dev.ch"]}}`)
	var m map[string]map[string]any
	if err := json.Unmarshal(s.AppendObjectsWeb(nil, nil), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 7 || m["hm.0.meta"] != nil {
		t.Fatalf("keys %d", len(m))
	}
	jsonEq(t, m["hm.0.dev.ch.st"]["enums"], `{"enum.rooms.kitchen":{"en":"Kitchen"}}`)
	jsonEq(t, m["hm.0.dev.ch"]["enums"], `{"enum.functions.light":"Light","enum.rooms.kitchen":{"en":"Kitchen"}}`)
	jsonEq(t, m["hm.0.other"]["enums"], `{}`)
	if _, ok := m["system.config"]["enums"]; ok {
		t.Fatal("system.config got enums")
	}
	if m["hm.0.dev.ch.st"]["common"].(map[string]any)["name"] != "S" {
		t.Fatal("object body lost")
	}
	// allow filters.
	m = nil
	_ = json.Unmarshal(s.AppendObjectsWeb(nil, func(m *Meta) bool { return m.Type == "device" }), &m)
	if len(m) != 1 {
		t.Fatalf("filtered %d", len(m))
	}
}
