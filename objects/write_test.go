package objects

import (
	"errors"
	"strings"
	"testing"

	"github.com/brokerd/brokerd/acl"
)

func TestSetValidationErrors(t *testing.T) {
	s := newStore(t)
	cases := []struct{ name, js, err string }{
		{"missing type", `{"common":{}}`, "mandatory property type missing!"},
		{"empty type", `{"type":""}`, "mandatory property type missing!"},
		{"null type", `{"type":null}`, "mandatory property type missing!"},
		{"unknown type", `{"type":"foo"}`, `Invalid type "foo": property "type" must be one of ` + strings.Join(Types, ", ")},
		{"number type", `{"type":5}`, `Invalid type 5: property "type" must be one of ` + strings.Join(Types, ", ")},
		{"common string", `{"type":"state","common":"x"}`, `property "common" must be an object`},
		{"common null", `{"type":"state","common":null}`, `property "common" must be an object`},
		{"state common.type", `{"type":"state","common":{"type":"text"}}`, `Invalid common.type "text": must be one of ` + strings.Join(StateValueTypes, ", ")},
		{"state common.type number", `{"type":"state","common":{"type":1}}`, `Invalid common.type 1: must be one of ` + strings.Join(StateValueTypes, ", ")},
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
			_, err := s.Set("test.0.x", obj(t, c.js), WriteOptions{})
			errIs(t, err, c.err)
			var ve *ValidationError
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
		if _, err := s.Set("test.0.ok", obj(t, js), WriteOptions{}); err != nil {
			t.Errorf("%s: %v", js, err)
		}
	}
}

func TestSetBadArguments(t *testing.T) {
	s := newStore(t)
	_, err := s.Set("a.0.b", nil, WriteOptions{})
	errIs(t, err, "null object")
	for js, want := range map[string]string{"null": "null object", "": "null object", "5": "no object",
		`"x"`: "no object", `[1]`: "no object", `true`: "no object"} {
		_, err := s.SetJSON("a.0.b", []byte(js), WriteOptions{})
		errIs(t, err, want)
	}
	_, err = s.Set("a*b", obj(t, `{"type":"state"}`), WriteOptions{})
	errIs(t, err, "Invalid ID: a*b")
	var ie *IDError
	if !errors.As(err, &ie) || ie.ID != "a*b" {
		t.Fatalf("want *IDError, got %T", err)
	}
	_, err = s.Set("", obj(t, `{"type":"state"}`), WriteOptions{})
	if !errors.Is(err, ErrEmptyID) {
		t.Fatal(err)
	}
	_, err = s.Extend("a.", obj(t, `{"type":"state"}`), WriteOptions{})
	errIs(t, err, `The id "a." is invalid. Ids are not allowed to end in "."`)
	_, err = s.Extend("a.0.b", nil, WriteOptions{})
	errIs(t, err, "null object")
	errIs(t, s.Delete("a?", WriteOptions{}), "Invalid ID: a?")
	if o, err := s.SetJSON("a.0.b", []byte(` {"type":"state"} `), WriteOptions{}); err != nil || o["_id"] != "a.0.b" {
		t.Fatal(o, err)
	}
}

func TestSetEnvelope(t *testing.T) {
	s := newStore(t)
	in := obj(t, `{"_id":"wrong","type":"state","common":{"name":"x"}}`)
	o, err := s.Set("a.0.b", in, WriteOptions{User: "system.user.bob", From: "system.adapter.web.0"})
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

func TestSetPreserveRules(t *testing.T) {
	s := newStore(t)
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

func TestSetKeepsOldACL(t *testing.T) {
	s := newStore(t)
	mustSet(t, s, "a.0.x", `{"type":"state","acl":{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1604,"state":1636}}`)
	mustSet(t, s, "a.0.x", `{"type":"state","common":{}}`)
	jsonEq(t, mustGet(t, s, "a.0.x")["acl"], `{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1604,"state":1636}`)
	_, m, _ := s.GetRaw("a.0.x")
	if m.ACL == nil || m.ACL.Owner != "system.user.bob" || m.ACL.State != 1636 {
		t.Fatalf("meta acl %+v", m.ACL)
	}
}

func setDefaultACL(t *testing.T, s *BoltStore) {
	t.Helper()
	mustSet(t, s, "system.config", `{"type":"config","common":{"name":"cfg","defaultNewAcl":
		{"owner":"system.user.admin","ownerGroup":"system.group.administrator","object":1636,"state":1636,"file":1632}}}`)
}

func TestDefaultNewACL(t *testing.T) {
	s := newStore(t)
	if s.DefaultNewACL() != nil {
		t.Fatal("fresh store has a defaultNewAcl")
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
	got, err := s.Set("a.0.bob", obj(t, `{"type":"state"}`), WriteOptions{Subject: bob})
	if err != nil {
		t.Fatal(err)
	}
	jsonEq(t, got["acl"], `{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1636,"state":1636}`)

	// An acl without ownerGroup gets the primary group.
	got, err = s.Set("a.0.bob2", obj(t, `{"type":"state","acl":{"owner":"system.user.bob","object":1604}}`), WriteOptions{Subject: bob})
	if err != nil {
		t.Fatal(err)
	}
	jsonEq(t, got["acl"], `{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1604}`)

	// Extend of an existing acl-less object: defaults, owner not changed to the caller.
	s.mu.Lock()
	e, _ := parseEntry("a.0.noacl", []byte(`{"_id":"a.0.noacl","type":"state"}`))
	s.install(e)
	s.mu.Unlock()
	got, err = s.Extend("a.0.noacl", obj(t, `{"common":{"x":1}}`), WriteOptions{Subject: bob})
	if err != nil {
		t.Fatal(err)
	}
	jsonEq(t, got["acl"], `{"owner":"system.user.admin","ownerGroup":"system.group.administrator","object":1636,"state":1636}`)
	// Extend that creates behaves like setObject.
	got, err = s.Extend("a.0.new", obj(t, `{"type":"state"}`), WriteOptions{Subject: bob})
	if err != nil {
		t.Fatal(err)
	}
	jsonEq(t, got["acl"], `{"owner":"system.user.bob","ownerGroup":"system.group.user","object":1636,"state":1636}`)
}

func TestExtendMerge(t *testing.T) {
	s := newStore(t)
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
			if _, err := s.Extend("a.0.x", obj(t, c.patch), WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			jsonEq(t, at(mustGet(t, s, "a.0.x"), c.path...), c.want)
		})
	}
	if got := mustGet(t, s, "a.0.x"); got["type"] != "state" || got["_id"] != "a.0.x" {
		t.Fatalf("envelope lost %v", got)
	}
	// Extend validates the merged result.
	_, err := s.Extend("a.0.x", obj(t, `{"type":"bogus"}`), WriteOptions{})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "type" {
		t.Fatalf("err %v", err)
	}
	_, err = s.Extend("a.0.x", obj(t, `{"common":{"type":"text"}}`), WriteOptions{})
	if !errors.As(err, &ve) || ve.Field != "common.type" {
		t.Fatalf("err %v", err)
	}
	// Extend of a missing object creates it; a patch without type is refused.
	if _, err := s.Extend("a.0.new", obj(t, `{"type":"channel","common":{"name":"n"}}`), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if mustGet(t, s, "a.0.new")["type"] != "channel" {
		t.Fatal("not created")
	}
	_, err = s.Extend("a.0.none", obj(t, `{"common":{}}`), WriteOptions{})
	errIs(t, err, "mandatory property type missing!")
	// Extend refreshes ts when the patch has none.
	mustSet(t, s, "a.0.ts", `{"type":"state","ts":1}`)
	if _, err := s.Extend("a.0.ts", obj(t, `{"common":{}}`), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if mustGet(t, s, "a.0.ts")["ts"] == 1.0 {
		t.Fatal("ts not refreshed")
	}
}

func TestNonEdit(t *testing.T) {
	s := newStore(t)
	mustSet(t, s, "v.0.x", `{"type":"state","common":{"name":"n","min":0},"nonEdit":{"password":"secret","common":{"min":0}}}`)
	got := mustGet(t, s, "v.0.x")
	if has(got, "nonEdit", "password") || at(got, "nonEdit", "passHash") != NonEditHash("secret") {
		t.Fatalf("nonEdit stored %v", got["nonEdit"])
	}
	// A write without the password cannot change protected values.
	mustSet(t, s, "v.0.x", `{"type":"state","common":{"name":"n2","min":5}}`)
	got = mustGet(t, s, "v.0.x")
	if at(got, "common", "min") != 0.0 || at(got, "common", "name") != "n2" || at(got, "nonEdit", "passHash") == nil {
		t.Fatalf("protected %v", got)
	}
	// Changing nonEdit needs the password.
	_, err := s.Set("v.0.x", obj(t, `{"type":"state","nonEdit":{"common":{"min":1}}}`), WriteOptions{})
	errIs(t, err, "Invalid password for update of vendor information")
	_, err = s.Set("v.0.x", obj(t, `{"type":"state","nonEdit":{"password":"wrong","common":{"min":1}}}`), WriteOptions{})
	errIs(t, err, "Invalid password for update of vendor information")
	if _, err := s.Set("v.0.x", obj(t, `{"type":"state","common":{"min":1},"nonEdit":{"password":"secret","common":{"min":1}}}`), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if at(mustGet(t, s, "v.0.x"), "common", "min") != 1.0 {
		t.Fatal("password holder could not change")
	}
}
