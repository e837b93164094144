package states

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the client JSON of s to b. The output is byte-for-byte
// what encoding/json produces for State (same field order and escaping), only
// faster for the usual primitive values; map and slice values fall back to
// encoding/json. A NaN or infinite val is written as null, like JSON.stringify.
func AppendJSON(b []byte, s *State) []byte {
	b = append(b, `{"val":`...)
	b = appendVal(b, s.Val)
	if s.Ack {
		b = append(b, `,"ack":true`...)
	} else {
		b = append(b, `,"ack":false`...)
	}
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, s.TS, 10)
	b = append(b, `,"q":`...)
	b = strconv.AppendInt(b, int64(s.Q), 10)
	if s.From != "" {
		b = append(b, `,"from":`...)
		b = appendString(b, s.From)
	}
	if s.User != "" {
		b = append(b, `,"user":`...)
		b = appendString(b, s.User)
	}
	b = append(b, `,"lc":`...)
	b = strconv.AppendInt(b, s.LC, 10)
	if s.C != "" {
		b = append(b, `,"c":`...)
		b = appendString(b, s.C)
	}
	if s.Expire {
		b = append(b, `,"expire":true`...)
	}
	return append(b, '}')
}

// appendDisk appends the persisted form: the client JSON plus the expiry
// deadline, which clients never see.
func appendDisk(b []byte, s *State) []byte {
	b = AppendJSON(b, s)
	if s.ExpireAt != 0 {
		b = b[:len(b)-1]
		b = append(b, `,"expireAt":`...)
		b = strconv.AppendInt(b, s.ExpireAt, 10)
		b = append(b, '}')
	}
	return b
}

func appendVal(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		return appendFloat(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	}
	if typeOf(v) == "number" {
		if n, ok := v.(json.Number); ok && n != "" {
			if _, err := strconv.ParseFloat(string(n), 64); err == nil {
				return append(b, n...)
			}
		}
		return appendFloat(b, toFloat(v))
	}
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

// appendFloat formats like encoding/json (which matches ES6 number output).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		// Fast path for whole numbers; -0 prints as "0" like JSON.stringify.
		return strconv.AppendInt(b, int64(f), 10)
	}
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		fmtc = 'e'
	}
	b = strconv.AppendFloat(b, f, fmtc, -1, 64)
	if fmtc == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// safe marks ASCII bytes that need no escaping (encoding/json's htmlSafeSet).
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString quotes s exactly like encoding/json with HTML escaping.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
