package objects

import (
	"encoding/json"
	"testing"
)

func viewIDs(t *testing.T, s *BoltStore, design, search string, p ViewParams, allow func(*Meta) bool) []string {
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

func viewStore(t *testing.T) *BoltStore {
	s := newStore(t)
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

func TestSystemViews(t *testing.T) {
	s := viewStore(t)
	all := ViewParams{}
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
	rows, _ = s.View("system", "instanceStats", ViewParams{StartKey: "system.adapter.x.", EndKey: "system.adapter.x.\u9999"}, nil)
	if len(rows) != 0 {
		t.Fatal("instanceStats without instances")
	}
	// allow filters in the same pass.
	jsonEq(t, viewIDs(t, s, "system", "state", all, func(m *Meta) bool { return m.HasCustom }), `["hm.0.dev.ch.a","hm.0.dev.ch.b"]`)
}

func TestViewRanges(t *testing.T) {
	s := viewStore(t)
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
		got := viewIDs(t, s, "system", "state", ViewParams{StartKey: c.start, EndKey: c.end}, nil)
		b, _ := json.Marshal(got)
		var w []string
		_ = json.Unmarshal([]byte(c.want), &w)
		wb, _ := json.Marshal(w)
		if string(b) != string(wb) {
			t.Errorf("[%q,%q]: got %s want %s", c.start, c.end, b, wb)
		}
	}
}

func TestViewErrorsAndForeignDesigns(t *testing.T) {
	s := viewStore(t)
	_, err := s.View("nope", "state", ViewParams{}, nil)
	errIs(t, err, `Cannot find view "nope"`)
	var ve *ViewError
	_, err = s.View("system", "nope", ViewParams{}, nil)
	errIs(t, err, `Cannot find search "nope" in "system"`)
	if _, ok := err.(*ViewError); !ok {
		t.Fatalf("%T", err)
	}
	_ = ve
	_, err = s.View("custom", "weird", ViewParams{}, nil)
	errIs(t, err, `Cannot find search "weird" in "custom"`)
	_, err = s.View("custom", "missing", ViewParams{}, nil)
	errIs(t, err, `Cannot find search "missing" in "custom"`)
	jsonEq(t, viewIDs(t, s, "custom", "byType", ViewParams{}, nil), `["hm.0.dev.ch"]`)
	jsonEq(t, viewIDs(t, s, "custom", "byName", ViewParams{}, nil), `["D"]`)
}

func TestViewDepth(t *testing.T) {
	s := viewStore(t)
	rows, err := s.View("system", "state", ViewParams{StartKey: "hm.0.dev.ch", EndKey: "hm.0.dev.ch.\u9999", Depth: 1}, nil)
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

	rows, _ = s.View("system", "state", ViewParams{StartKey: "hm.", EndKey: "hm.\u9999", Depth: 1}, nil)
	got = nil
	for _, r := range rows {
		var v map[string]any
		_ = json.Unmarshal(r.Value, &v)
		got = append(got, r.ID+"="+jsonStr(v["hasChildren"]))
	}
	jsonEq(t, got, `["hm.0.dev=5","hm.0.dev.ch=5","hm.0.dev.ch.x=2","hm.0.dev.ch.x.y=1","hm.0.ｆ=null","hm.1.s=null"]`)
}

func jsonStr(v any) string { b, _ := json.Marshal(v); return string(b) }
