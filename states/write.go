package states

import (
	"encoding/json"
	"reflect"
	"unicode/utf8"
)

// SecondsBefore is the ts threshold of datamodel.md 3.3: smaller numbers
// (before 2000-01-01) are taken as seconds.
const SecondsBefore = 946681200000

// MaxComment is the longest comment kept, in UTF-16 code units.
const MaxComment = 512

// NewState applies w to the previous state (nil when there is none) at
// time now (ms), following datamodel.md 3.3. It never modifies prev.
func NewState(prev *State, w Write, now int64) *State {
	s := &State{From: w.From, User: w.User}
	switch {
	case w.HasVal:
		s.Val = normalizeNumber(w.Val)
	case prev != nil:
		s.Val = prev.Val
	}
	if w.Ack != nil {
		s.Ack = *w.Ack
	}
	s.TS = now
	if w.TS != nil {
		s.TS = *w.TS
		if s.TS < SecondsBefore {
			s.TS *= 1000
		}
	}
	if w.Q != nil {
		s.Q = *w.Q
	}
	if w.C != nil {
		s.C = truncateUTF16(*w.C, MaxComment)
	}
	switch {
	case w.LC != nil:
		s.LC = *w.LC
	case prev == nil || prev.LC == 0 || !valEqual(prev.Val, s.Val):
		s.LC = s.TS
	default:
		s.LC = prev.LC
	}
	if ms := w.expireMS(); ms > 0 {
		s.Expire = true
		s.ExpireAt = now + ms
	}
	return s
}

// expireMS is the requested time to live; zero or negative means none (a
// falsy expire in JS; a negative one we do not treat as "expire at once").
func (w Write) expireMS() int64 {
	switch {
	case w.ExpireMS != nil:
		return *w.ExpireMS
	case w.Expire != nil && *w.Expire < 1<<40:
		return *w.Expire * 1000
	case w.Expire != nil:
		return 1 << 50
	}
	return 0
}

// truncateUTF16 cuts s to at most n UTF-16 code units (JS substr). A
// surrogate pair that would be split is dropped whole, as Go strings cannot
// hold half of one.
func truncateUTF16(s string, n int) string {
	if len(s) <= n {
		return s // n bytes are at most n code units
	}
	units := 0
	for i, r := range s {
		u := 1
		if r >= 0x10000 && r != utf8.RuneError {
			u = 2
		}
		if units+u > n {
			return s[:i]
		}
		units += u
	}
	return s
}

// valEqual is the deep equality of isDeepStrictEqual for JSON values; all Go
// number types compare by value.
func valEqual(a, b any) bool {
	ta, tb := typeOf(a), typeOf(b)
	if ta == "number" || tb == "number" {
		return ta == tb && toFloat(a) == toFloat(b)
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.RawMessage:
		y, ok := b.(json.RawMessage)
		return ok && string(x) == string(y)
	}
	return reflect.DeepEqual(a, b)
}
