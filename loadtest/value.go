package loadtest

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// EncodeValue builds the state value a writer sends: "<writer>:<seq>:<unixnano>".
// The send time travels in the value, so the subscriber that receives the
// stateChange computes the latency against the same clock.
func EncodeValue(writer int, seq uint64, unixNano int64) string {
	b := make([]byte, 0, 40)
	b = strconv.AppendInt(b, int64(writer), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, unixNano, 10)
	return string(b)
}

// DecodeValue parses a value made by EncodeValue without allocating.
func DecodeValue(v []byte) (writer int, seq uint64, unixNano int64, ok bool) {
	w, rest, ok1 := cutUint(v)
	if !ok1 || len(rest) == 0 || rest[0] != ':' {
		return 0, 0, 0, false
	}
	s, rest, ok2 := cutUint(rest[1:])
	if !ok2 || len(rest) == 0 || rest[0] != ':' {
		return 0, 0, 0, false
	}
	ns, rest, ok3 := cutUint(rest[1:])
	if !ok3 || len(rest) != 0 || w > 1<<31 || ns > 1<<63-1 {
		return 0, 0, 0, false
	}
	return int(w), s, int64(ns), true
}

// cutUint reads leading decimal digits (at least one, at most 19).
func cutUint(b []byte) (uint64, []byte, bool) {
	var n uint64
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if i == 19 {
			return 0, nil, false
		}
		n = n*10 + uint64(b[i]-'0')
		i++
	}
	return n, b[i:], i > 0
}

var valKey = []byte(`"val"`)

// StateChangeValue extracts the id and the string value of a stateChange
// event's raw arguments (`"id"`, `{"val":"…",…}`). It scans the bytes instead
// of decoding them because subscribers handle hundreds of thousands of events
// a second; ids or values with escapes fall back to encoding/json.
func StateChangeValue(rawID, rawState []byte) (id, val []byte, ok bool) {
	id, ok = plainJSONString(rawID)
	if !ok {
		var s string
		if json.Unmarshal(rawID, &s) != nil {
			return nil, nil, false
		}
		id = []byte(s)
	}
	// The value string never contains `"val"`, and ack/from/user come after
	// val or are plain identifiers, so the first occurrence is the key.
	i := bytes.Index(rawState, valKey)
	if i < 0 {
		return id, nil, false
	}
	rest := bytes.TrimLeft(rawState[i+len(valKey):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return id, nil, false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return id, nil, false // null, number, … : not one of ours
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return id, nil, false
	}
	val = rest[1 : 1+end]
	if bytes.IndexByte(val, '\\') >= 0 {
		return id, nil, false
	}
	return id, val, true
}

// plainJSONString returns the contents of a JSON string without escapes.
func plainJSONString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') >= 0 || bytes.IndexByte(s, '"') >= 0 {
		return nil, false
	}
	return s, true
}
