package objects

import (
	"encoding/json"
	"testing"
)

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
