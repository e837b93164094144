package adapter

import "testing"

func TestParseInstance(t *testing.T) {
	for _, tc := range []struct {
		in        string
		name, num string
		ok        bool
	}{
		{"haa.0", "haa", "0", true},
		{"hm-rpc.12", "hm-rpc", "12", true},
		{"my_adapter.3", "my_adapter", "3", true},
		{"haa", "", "", false},
		{"haa.", "", "", false},
		{"haa.x", "", "", false},
		{"haa.0.x", "", "", false},
		{"0_userdata.0", "", "", false},
		{".0", "", "", false},
		{"h a.0", "", "", false},
	} {
		name, num, ok := ParseInstance(tc.in)
		if name != tc.name || num != tc.num || ok != tc.ok {
			t.Errorf("ParseInstance(%q) = %q, %q, %v; want %q, %q, %v", tc.in, name, num, ok, tc.name, tc.num, tc.ok)
		}
	}
}

func TestResolveID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "haa.0"},
		{"lamp1", "haa.0.lamp1"},
		{"lamp1.on", "haa.0.lamp1.on"},
		{"info.connection", "haa.0.info.connection"},
		{"*", "haa.0.*"},
		{"lamp1.*", "haa.0.lamp1.*"},
		{"haa.0", "haa.0"},
		{"haa.0.lamp1", "haa.0.lamp1"},
		{"haa.0.*", "haa.0.*"},
		{"haa.1.lamp1", "haa.1.lamp1"},       // another instance of the same adapter
		{"hue.0.light.on", "hue.0.light.on"}, // another adapter
		{"hm-rpc.12.ABC", "hm-rpc.12.ABC"},
		{"system.adapter.haa.0.alive", "system.adapter.haa.0.alive"},
		{"0_userdata.0.x", "0_userdata.0.x"},
		{"alias.0.light", "alias.0.light"},
		{"enum.rooms.kitchen", "enum.rooms.kitchen"},
		{"script.js.x", "script.js.x"},
		{"_design/system", "_design/system"},
		{"room.1.temp", "room.1.temp"}, // "room.1" looks like a namespace: the documented trap
		{"1.2", "haa.0.1.2"},           // adapter names start with a letter
		{"hue.*", "haa.0.hue.*"},
		{"system", "haa.0.system"},     // no trailing dot: not the system. prefix
		{"haa.01x", "haa.0.haa.01x"},   // second segment not all digits
		{"systemx.0", "systemx.0"},     // namespace-shaped
		{"lamp.0.on", "lamp.0.on"},     // namespace-shaped
		{"Lamp.0.on", "Lamp.0.on"},     // upper case allowed
		{"a b.0.on", "haa.0.a b.0.on"}, // space is no adapter-name character
	} {
		if got := resolveID("haa.0", tc.in); got != tc.want {
			t.Errorf("resolveID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if tc := "room.1.temp"; IsAbsolute(tc) != true {
		t.Errorf("IsAbsolute(%q) = false", tc)
	}
}

func TestCheckID(t *testing.T) {
	for _, bad := range []string{"", "a.b.", "a.*", "a?b", "a[1]"} {
		if checkID(bad) == nil {
			t.Errorf("checkID(%q) = nil", bad)
		}
	}
	for _, good := range []string{"a", "haa.0.lamp1.on", "0_userdata.0.x y/z"} {
		if err := checkID(good); err != nil {
			t.Errorf("checkID(%q) = %v", good, err)
		}
	}
}

func TestAdapterIDHelpers(t *testing.T) {
	a, err := New(Options{URL: "http://127.0.0.1:1", Instance: "lamp.0"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID("lamp1.on") != "lamp.0.lamp1.on" || a.RelID("lamp.0.lamp1.on") != "lamp1.on" || a.RelID("hue.0.x") != "hue.0.x" {
		t.Fatalf("ID/RelID: %q %q", a.ID("lamp1.on"), a.RelID("lamp.0.lamp1.on"))
	}
	if a.Namespace() != "lamp.0" {
		t.Fatal(a.Namespace())
	}
}

func TestNewValidates(t *testing.T) {
	for _, o := range []Options{
		{URL: "http://x:1", Instance: "haa"},
		{URL: "http://x:1", Instance: ""},
		{URL: "ftp://x:1", Instance: "haa.0"},
		{URL: "", Instance: "haa.0"},
		{URL: "http://x:1", Instance: "haa.0", EIO: 5},
		{URL: "http://x:1", Instance: "haa.0", Token: "t", User: "u"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
