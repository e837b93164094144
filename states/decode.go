package states

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf8"
)

var errSlowPath = errors.New("not the fast format")

// decoder parses persisted states at start-up. It reads the flat form that
// appendDisk writes; anything else (object or array values, escaped strings,
// unknown keys) goes through encoding/json. from/user are interned: thousands
// of states share a handful of writers.
type decoder struct {
	intern map[string]string
}

func (d *decoder) decode(v []byte) (*State, error) {
	if st, err := d.fast(v); err == nil {
		return st, nil
	}
	return decodeDisk(v)
}

func (d *decoder) str(b []byte) string {
	if d.intern == nil {
		d.intern = map[string]string{}
	}
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	if len(d.intern) > 4096 {
		return string(b)
	}
	s := string(b)
	d.intern[s] = s
	return s
}

func (d *decoder) fast(v []byte) (*State, error) {
	st := &State{}
	if len(v) < 2 || v[0] != '{' || v[len(v)-1] != '}' {
		return nil, errSlowPath
	}
	p := v[1 : len(v)-1]
	for len(p) > 0 {
		if p[0] != '"' {
			return nil, errSlowPath
		}
		end := bytes.IndexByte(p[1:], '"')
		if end < 0 || len(p) < end+3 || p[end+2] != ':' {
			return nil, errSlowPath
		}
		key := p[1 : end+1]
		p = p[end+3:]
		var tok []byte
		var err error
		if tok, p, err = token(p); err != nil {
			return nil, err
		}
		switch string(key) {
		case "val":
			st.Val, err = scalar(tok)
		case "ack":
			st.Ack, err = boolean(tok)
		case "expire":
			st.Expire, err = boolean(tok)
		case "ts":
			st.TS, err = strconv.ParseInt(string(tok), 10, 64)
		case "lc":
			st.LC, err = strconv.ParseInt(string(tok), 10, 64)
		case "expireAt":
			st.ExpireAt, err = strconv.ParseInt(string(tok), 10, 64)
		case "q":
			var q int64
			q, err = strconv.ParseInt(string(tok), 10, 64)
			st.Q = int(q)
		case "from", "user", "c":
			var b []byte
			if b, err = plainString(tok); err == nil {
				switch key[0] {
				case 'f':
					st.From = d.str(b)
				case 'u':
					st.User = d.str(b)
				default:
					st.C = string(b)
				}
			}
		default:
			return nil, errSlowPath
		}
		if err != nil {
			return nil, errSlowPath
		}
		if len(p) > 0 {
			if p[0] != ',' {
				return nil, errSlowPath
			}
			p = p[1:]
		}
	}
	if st.ExpireAt != 0 {
		st.Expire = true
	}
	return st, nil
}

// token splits off one scalar value: up to the next ',' outside a string.
func token(p []byte) (tok, rest []byte, err error) {
	if len(p) == 0 {
		return nil, nil, errSlowPath
	}
	switch p[0] {
	case '{', '[':
		return nil, nil, errSlowPath
	case '"':
		end := bytes.IndexByte(p[1:], '"')
		if end < 0 {
			return nil, nil, errSlowPath
		}
		return p[:end+2], p[end+2:], nil
	}
	i := bytes.IndexByte(p, ',')
	if i < 0 {
		i = len(p)
	}
	return p[:i], p[i:], nil
}

// plainString returns the content of a quoted string without escapes.
func plainString(tok []byte) ([]byte, error) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return nil, errSlowPath
	}
	b := tok[1 : len(tok)-1]
	for _, c := range b {
		if c == '\\' || c < 0x20 {
			return nil, errSlowPath
		}
	}
	if !utf8.Valid(b) {
		return nil, errSlowPath
	}
	return b, nil
}

func boolean(tok []byte) (bool, error) {
	switch string(tok) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errSlowPath
}

func scalar(tok []byte) (any, error) {
	switch {
	case len(tok) == 0:
		return nil, errSlowPath
	case tok[0] == '"':
		b, err := plainString(tok)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	case string(tok) == "null":
		return nil, nil
	case string(tok) == "true":
		return true, nil
	case string(tok) == "false":
		return false, nil
	}
	for _, c := range tok {
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			return nil, errSlowPath // keeps ParseFloat's "Inf", "0x1p3" out
		}
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return nil, errSlowPath
	}
	return f, nil
}
