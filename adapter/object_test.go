package adapter

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestObjectRoundTrip(t *testing.T) {
	in := `{"_id":"haa.0.x","type":"state","common":{"name":"X","type":"number","min":0},"native":{},"acl":{"owner":"system.user.admin","object":1636},"from":"system.adapter.haa.0","user":"system.user.admin","ts":1700000000000,"enums":{"enum.rooms.k":"K"}}`
	var o Object
	if err := json.Unmarshal([]byte(in), &o); err != nil {
		t.Fatal(err)
	}
	if o.ID != "haa.0.x" || o.Type != "state" || o.Common["name"] != "X" || o.TS != 1700000000000 || o.From != "system.adapter.haa.0" {
		t.Fatalf("decoded %+v", o)
	}
	if got := o.ExtraKeys(); !reflect.DeepEqual(got, []string{"acl", "enums"}) {
		t.Fatalf("extra %v", got)
	}
	out, _ := json.Marshal(o)
	var a, b map[string]any
	json.Unmarshal([]byte(in), &a)
	json.Unmarshal(out, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip\n in %s\nout %s", in, out)
	}
}

func TestObjectOddShapesKept(t *testing.T) {
	in := `{"type":"meta","common":"legacy","native":null}`
	var o Object
	if err := json.Unmarshal([]byte(in), &o); err != nil {
		t.Fatal(err)
	}
	if o.Common != nil || string(o.Extra["common"]) != `"legacy"` {
		t.Fatalf("odd common: %+v", o)
	}
	out, _ := json.Marshal(o)
	if string(out) != `{"common":"legacy","type":"meta"}` {
		t.Fatalf("written %s", out)
	}
	if err := json.Unmarshal([]byte(`null`), &o); err == nil {
		t.Fatal("null object accepted")
	}
}

func TestObjectPatchOmitsUnset(t *testing.T) {
	b, _ := json.Marshal(Object{Common: map[string]any{"name": "new"}})
	if string(b) != `{"common":{"name":"new"}}` {
		t.Fatalf("patch %s", b)
	}
}

func TestNormalizeOwn(t *testing.T) {
	if _, err := normalizeOwn("haa.0.x", Object{}); err == nil {
		t.Fatal("missing type accepted")
	}
	common := map[string]any{"role": "switch"}
	o, err := normalizeOwn("haa.0.x", Object{Type: "state", Common: common})
	if err != nil {
		t.Fatal(err)
	}
	if o.Common["name"] != "haa.0.x" || o.Native == nil || o.Common["role"] != "switch" {
		t.Fatalf("normalized %+v", o)
	}
	if _, ok := common["name"]; ok {
		t.Fatal("caller's common map modified")
	}
	o, _ = normalizeOwn("haa.0.x", Object{Type: "state", Common: map[string]any{"name": "Kept"}})
	if o.Common["name"] != "Kept" {
		t.Fatal("name overwritten")
	}
}
