package adapter

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Quality codes for State.Q (datamodel.md 3.5).
const (
	QualityGood                 = 0x00
	QualityBad                  = 0x01
	QualityConnectionProblem    = 0x02
	QualityInstanceNotConnected = 0x12
	QualityInitialValue         = 0x20
	QualityDeviceNotConnected   = 0x42
	QualitySensorNotConnected   = 0x82
)

// State is a state value as stored by the broker (datamodel.md 3.1).
//
// Val holds what JSON decoding gives: nil, bool, float64, string (and, for
// values that are not ioBroker-conformant, []any or map[string]any); use the
// Bool, Float and String helpers rather than type switches.
//
// On a write, zero TS and LC are left for the server to fill (now, and now
// when the value changed), empty From is filled with "system.adapter.<instance>",
// User is always set by the server, and Expire > 0 makes the value disappear
// after that many seconds.
type State struct {
	Val  any
	Ack  bool
	TS   int64 // ms since epoch of the last write
	LC   int64 // ms since epoch of the last value change
	Q    int   // quality, 0 = good
	From string
	User string
	C    string // comment
	// Expire is the time to live in seconds when writing. Read back, a
	// state with a running timer has Expiring set instead (the server only
	// reports `expire: true`).
	Expire   int
	Expiring bool
}

type stateWire struct {
	Val    any     `json:"val"`
	Ack    bool    `json:"ack"`
	TS     float64 `json:"ts,omitempty"`
	LC     float64 `json:"lc,omitempty"`
	Q      float64 `json:"q"`
	From   string  `json:"from,omitempty"`
	User   string  `json:"user,omitempty"`
	C      string  `json:"c,omitempty"`
	Expire any     `json:"expire,omitempty"`
}

// MarshalJSON writes the wire form accepted by setState: unset TS, LC,
// From, User, C and Expire are omitted.
func (s State) MarshalJSON() ([]byte, error) {
	w := stateWire{Val: s.Val, Ack: s.Ack, TS: float64(s.TS), LC: float64(s.LC), Q: float64(s.Q), From: s.From, User: s.User, C: s.C}
	if s.Expire > 0 {
		w.Expire = s.Expire
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a state as the server sends it (numbers may be
// fractional on the wire; `expire: true` marks a running timer).
func (s *State) UnmarshalJSON(b []byte) error {
	var w stateWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = State{Val: w.Val, Ack: w.Ack, TS: int64(w.TS), LC: int64(w.LC), Q: int(w.Q), From: w.From, User: w.User, C: w.C}
	switch e := w.Expire.(type) {
	case bool:
		s.Expiring = e
	case float64:
		s.Expire, s.Expiring = int(e), e > 0
	}
	return nil
}

// Bool interprets the value as a boolean the way ioBroker converts alias
// values: nil, false, 0 and the strings "", "0", "false", "off" and "aus"
// (any case) are false; every other value is true. A nil *State is false.
func (s *State) Bool() bool {
	if s == nil {
		return false
	}
	switch v := s.Val.(type) {
	case nil:
		return false
	case bool:
		return v
	case float64:
		return v != 0 && !math.IsNaN(v)
	case int:
		return v != 0
	case int64:
		return v != 0
	case json.Number:
		f, err := v.Float64()
		return err != nil || f != 0
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "", "0", "false", "off", "aus":
			return false
		}
		return true
	}
	return true
}

// Float interprets the value as a number: numbers as they are, booleans as
// 1/0, strings parsed as decimal floats (surrounding space ignored). ok is
// false for nil, unparsable strings and other types (a nil *State too).
func (s *State) Float() (f float64, ok bool) {
	if s == nil {
		return 0, false
	}
	switch v := s.Val.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil
	}
	return 0, false
}

// String returns the value as text: strings as they are, nil as "", numbers
// in the shortest form that round-trips ("21.5", "100"), booleans as
// "true"/"false", anything else as JSON. A nil *State gives "".
func (s *State) String() string {
	if s == nil {
		return ""
	}
	switch v := s.Val.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case json.Number:
		return v.String()
	}
	b, err := json.Marshal(s.Val)
	if err != nil {
		return ""
	}
	return string(b)
}
