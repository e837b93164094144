// Package states is the state store: current values that change often, kept
// in memory and persisted with group commit.
package states

import "encoding/json"

// State is one state value (datamodel.md 3.1). Expire is true while an expiry
// timer runs (the in-memory backend marker), ExpireAt its deadline in ms.
//
// A State is immutable once a store returned or published it: every write
// builds a new *State, so stores hand out the stored pointer without copying.
// Callers must never modify a State they got from a store (nor its Val when
// that is a map or slice); copy it first.
type State struct {
	Val    any    `json:"val"`
	Ack    bool   `json:"ack"`
	TS     int64  `json:"ts"`
	Q      int    `json:"q"`
	From   string `json:"from,omitempty"`
	User   string `json:"user,omitempty"`
	LC     int64  `json:"lc"`
	C      string `json:"c,omitempty"`
	Expire bool   `json:"expire,omitempty"`
	// ExpireAt is persisted but never sent to clients.
	ExpireAt int64 `json:"-"`
}

// Write is a setState request after argument validation: nil pointers mean
// "not given" so that the store applies the defaults of datamodel.md 3.3.
type Write struct {
	Val    any
	HasVal bool
	Ack    *bool
	TS     *int64
	Q      *int
	From   string
	User   string
	LC     *int64
	C      *string
	Expire *int64 // seconds
	// ExpireMS is the expiry in milliseconds; when set it wins over Expire.
	// ParseWrite sets both so that fractional seconds (0.5) survive.
	ExpireMS *int64
}

// Change is published for every committed write, in commit order. State is
// nil for a deletion or expiry. JSON is the encoded state, shared by all
// subscribers (encode once).
type Change struct {
	ID    string
	State *State
	JSON  json.RawMessage
}

// Store is the state store contract.
type Store interface {
	Get(id string) (*State, bool)
	// GetMany returns the states of ids in order (nil for missing).
	GetMany(ids []string) []*State
	// Set applies w and returns once the write is durable.
	Set(id string, w Write) (*State, error)
	// SetAsync applies w in memory, in call order, and returns a wait
	// function that blocks until the write is durable.
	SetAsync(id string, w Write) (*State, func() error, error)
	Delete(id string) error
	// Range calls fn for every state whose id matches (used by CLI/backup).
	All(fn func(id string, s *State) bool)
	Watch(fn func(Change))
	Len() int
}
