// Package objects is the object store: metadata documents (state, channel,
// device, enum, instance, user, group, config, meta …) keyed by id, with
// validation, ioBroker write semantics, range listing and the _design/system
// views answered from in-memory indexes.
package objects

import (
	"encoding/json"

	"github.com/brokerd/brokerd/acl"
)

// Object is a decoded object document.
type Object = map[string]any

// Meta is what the store indexes about an object without decoding it.
type Meta struct {
	ID         string
	Type       string
	Name       string      // common.name as a view key (string, .en, or JSON text)
	ACL        *acl.Object // nil when the object has no acl
	HasCommon  bool
	HasCustom  bool // state object with a truthy common.custom
	DontDelete bool
}

// WriteOptions say who writes. A nil Subject means an internal write (admin).
type WriteOptions struct {
	User    string // fills "user" when missing
	From    string // fills "from" when missing
	Subject *acl.Subject
}

// Change is published for every committed write, in commit order.
// Object is the stored JSON, nil when the object was deleted.
type Change struct {
	ID     string
	Object json.RawMessage
	Meta   *Meta // of the new object, or of the deleted one
}

// Row is one getObjectView row.
type Row struct {
	ID    string          `json:"id"`
	Value json.RawMessage `json:"value"`
}

// ViewParams are getObjectView parameters (protocol.md 7.1).
type ViewParams struct {
	StartKey string
	EndKey   string // "" means "\u9999"
	Depth    int
}

// Store is the object store contract; the bbolt implementation lives in this
// package, a Redis one can implement the same interface.
type Store interface {
	// Get returns a deep copy of the object, or nil when missing.
	Get(id string) (Object, error)
	// GetRaw returns the stored JSON and its meta without decoding.
	GetRaw(id string) (json.RawMessage, *Meta, bool)
	// Set replaces an object (datamodel.md 1.5 setObject). Returns the stored object.
	Set(id string, obj Object, o WriteOptions) (Object, error)
	// Extend deep-merges patch into the object, creating it when missing.
	Extend(id string, patch Object, o WriteOptions) (Object, error)
	// Delete removes an object; a missing one is not an error.
	Delete(id string, o WriteOptions) error
	// DeleteObject is Delete returning the deleted object's meta (nil when missing).
	DeleteObject(id string, o WriteOptions) (*Meta, error)
	// DeleteRecursive deletes id and its `id.*` subtree (all or nothing for
	// permissions) and returns the metas of the deleted objects.
	DeleteRecursive(id string, o WriteOptions) ([]*Meta, error)
	// Range calls fn for ids in [start, end] (UTF-16 order, inclusive) in
	// order until fn returns false.
	Range(start, end string, fn func(id string, m *Meta, raw json.RawMessage) bool)
	// View answers getObjectView; allow (may be nil) filters rows in the same pass.
	View(design, search string, p ViewParams, allow func(*Meta) bool) ([]Row, error)
	// Watch registers fn for every committed change; fn must not block.
	Watch(fn func(Change))
	// Len returns the number of objects.
	Len() int
}
