package auth

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

const vector = "pbkdf2$10000$a308d6f4ab58d050bd479847dcd0221b67273d7f65f2b84c40db196448915c5714b9b8859ef71b5641c57986c4f2166ab424fa6ee57b0b6564a9e071f2145ec9fb2b8cf29c7ee48c507addc505e780cfac3c1f8194cac820ea7319cb325f90e83d8d0a127669794eea8f25341284d355697aff20e8804e2f8cff771a3fd6c6ea32bf63006dd85c9522c26e4211b4b632a39654abcf8d6184870deb5de16b90c1583fd7fcd0c34489dcf75cb394066ef107bf84e216e6df999c30c98f574d03518dfc2d049463fc8a9584f06e54c4d1e38db52d7cef2e45a061982cddbbdf779e75ce4504789c6e5f272658399320c837aa6493105ddf6121fba8f4a2e7581474$0123456789abcdef0123456789abcdef"

func TestHashVector(t *testing.T) {
	got, err := hashWith("iobroker", "0123456789abcdef0123456789abcdef", 10000)
	must(t, err)
	if got != vector {
		t.Fatalf("hash mismatch:\n got %s\nwant %s", got, vector)
	}
	ok, err := CheckPassword(vector, "iobroker")
	if err != nil || !ok {
		t.Fatalf("CheckPassword(vector, iobroker) = %v, %v", ok, err)
	}
	ok, err = CheckPassword(vector, "ioBroker")
	if err != nil || ok {
		t.Fatalf("CheckPassword(vector, ioBroker) = %v, %v; want false", ok, err)
	}
}

func TestHashPasswordFormat(t *testing.T) {
	productionHashing(t)
	h, err := HashPassword("secret")
	must(t, err)
	if !regexp.MustCompile(`^pbkdf2\$10000\$[0-9a-f]{512}\$[0-9a-f]{32}$`).MatchString(h) {
		t.Fatalf("bad format %q", h)
	}
	h2, _ := HashPassword("secret")
	if h == h2 {
		t.Fatal("two hashes of the same password share a salt")
	}
	if ok, err := CheckPassword(h, "secret"); !ok || err != nil {
		t.Fatalf("round trip = %v, %v", ok, err)
	}
}

func TestCheckPasswordHonoursIterations(t *testing.T) {
	h, err := hashWith("pw", "abcd", 1000)
	must(t, err)
	if !strings.HasPrefix(h, "pbkdf2$1000$") {
		t.Fatal(h)
	}
	if ok, err := CheckPassword(h, "pw"); !ok || err != nil {
		t.Fatalf("= %v, %v", ok, err)
	}
}

func TestCheckPasswordErrors(t *testing.T) {
	for _, tc := range []struct {
		hash string
		err  error
	}{
		{"", nil},
		{"pbkdf2$10000$abc", ErrHashFormat},
		{"pbkdf2$10000$$salt", ErrHashFormat},
		{"pbkdf2$10000$abc$", ErrHashFormat},
		{"a$b$c$d$e", ErrHashFormat},
		{"bcrypt$10$abc$salt", ErrHashUnknown},
		{"pbkdf2$x$abc$salt", ErrHashFormat},
		{"pbkdf2$0$abc$salt", ErrHashFormat},
	} {
		ok, err := CheckPassword(tc.hash, "pw")
		if ok || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("CheckPassword(%q) = %v, %v; want false, %v", tc.hash, ok, err, tc.err)
		}
	}
	if ErrHashFormat.Error() != "Hash not formatted correctly" || ErrHashUnknown.Error() != "Unknown" {
		t.Fatal("error texts changed")
	}
}

func TestNames(t *testing.T) {
	for name, want := range map[string]string{
		"admin":              "system.user.admin",
		"Admin":              "system.user.admin",
		"John Doe":           "system.user.john_doe",
		"a.b":                "system.user.a_b",
		"x*?y":               "system.user.x_y",
		"Über":               "system.user.über",
		"system.user.keep.x": "system.user.keep.x",
		"tab\there":          "system.user.tab_here",
	} {
		if got := UserID(name); got != want {
			t.Errorf("UserID(%q) = %q, want %q", name, got, want)
		}
	}
	if GroupID("My Group") != "system.group.my_group" || GroupID("system.group.user") != "system.group.user" {
		t.Fatal("GroupID")
	}
	for name, ok := range map[string]bool{"john doe": true, "a-b@c+d$e§f=g?h!i&j#k": true, "Ärger": true,
		"иван": true, "a/b": false, "": false, "a_b": false, "a<b": false} {
		if validAccountName(name, false) != ok {
			t.Errorf("validAccountName(%q) != %v", name, ok)
		}
	}
	if !validAccountName("a_b", true) {
		t.Error("groups allow _")
	}
}
