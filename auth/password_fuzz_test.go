package auth

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func FuzzCheckPassword(f *testing.F) {
	for _, s := range []string{"", vector, "pbkdf2$10$ab$cd", "pbkdf2$$$", "x$1$a$b", "pbkdf2$-1$a$b", "pbkdf2$1$a$b$c"} {
		f.Add(s, "iobroker")
	}
	f.Fuzz(func(t *testing.T, hash, pw string) {
		if p := strings.Split(hash, "$"); len(p) == 4 {
			if n, err := strconv.Atoi(p[1]); err == nil && n > 20000 {
				t.Skip("too slow to fuzz")
			}
		}
		ok, err := CheckPassword(hash, pw)
		if err != nil && !errors.Is(err, ErrHashFormat) && !errors.Is(err, ErrHashUnknown) {
			t.Fatalf("unexpected error %v", err)
		}
		if ok && err != nil {
			t.Fatal("ok with error")
		}
	})
}
