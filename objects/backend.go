package objects

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/brokerd/brokerd/acl"
)

// Building blocks for Store implementations outside this package (the Redis
// store): they run the same write, view and index rules as BoltStore, so
// both backends answer alike. Each is a thin wrapper over the code BoltStore
// uses itself.

// Parsed is what the indexes need of one stored object.
type Parsed struct {
	Meta    *Meta
	Custom  json.RawMessage // common.custom of a state with a truthy one
	Name    json.RawMessage // raw common.name of an enum
	Members []string        // common.members of an enum
}

// ParseStored indexes the stored JSON raw of id without decoding it fully.
func ParseStored(id string, raw []byte) (*Parsed, error) {
	e, err := parseEntry(id, raw)
	if err != nil {
		return nil, err
	}
	return &Parsed{Meta: e.meta, Custom: e.custom, Name: e.name, Members: e.members}, nil
}

func (p *Parsed) entry(raw []byte) *entry {
	if p == nil {
		return nil
	}
	return &entry{raw: raw, meta: p.Meta, custom: p.Custom, name: p.Name, members: p.Members}
}

// ParseDefaultACL reads common.defaultNewAcl of a stored system.config.
func ParseDefaultACL(raw []byte) *DefaultACL { return parseDefaultACL(raw) }

// CheckID is the id check of reads and deletes (writes use ValidateID).
func CheckID(id string) error { return checkIDBasic(id) }

// Allowed is the per-object check of datamodel.md 4.5 step B.
func Allowed(sub *acl.Subject, m *Meta, op int) bool { return objectAllowed(sub, m, op) }

// PrepareSet computes what setObject(id, obj) stores when old (nil: none) is
// the stored JSON and def the defaultNewAcl: the object and its encoding.
func PrepareSet(id string, obj Object, old json.RawMessage, def *DefaultACL, o WriteOptions) (Object, json.RawMessage, error) {
	if err := ValidateID(id); err != nil {
		return nil, nil, err
	}
	if err := ValidateObject(obj); err != nil {
		return nil, nil, err
	}
	n := deepCopy(obj).(map[string]any)
	n["_id"] = id
	fillEnvelope(n, o)
	return prepareWrite(id, n, old, def, o, true)
}

// PrepareExtend is PrepareSet for extendObject(id, patch).
func PrepareExtend(id string, patch Object, old json.RawMessage, def *DefaultACL, o WriteOptions) (Object, json.RawMessage, error) {
	if err := ValidateID(id); err != nil {
		return nil, nil, err
	}
	if patch == nil {
		return nil, nil, ErrNullObject
	}
	p := deepCopy(patch).(map[string]any)
	fillEnvelope(p, o)
	p["_id"] = id
	merged := map[string]any{}
	if old != nil {
		var err error
		if merged, err = decode(old); err != nil {
			return nil, nil, err
		}
	}
	return prepareWrite(id, p, old, def, o, false, merged)
}

// prepareWrite runs checkWrite and prepare as BoltStore.Set / extend do;
// for extend, merged (the decoded old object) receives the patch n.
func prepareWrite(id string, n Object, old json.RawMessage, def *DefaultACL, o WriteOptions, isSet bool, merged ...Object) (Object, json.RawMessage, error) {
	s := &BoltStore{defACL: def}
	var oldEntry *entry
	var oldObj Object
	if old != nil {
		var err error
		if oldEntry, err = parseEntry(id, old); err != nil {
			return nil, nil, err
		}
		if oldObj, err = decode(old); err != nil {
			return nil, nil, err
		}
	}
	if err := s.checkWrite(oldEntry, n, o.Subject); err != nil {
		return nil, nil, err
	}
	if !isSet {
		merge(merged[0], n, "")
		n = merged[0]
		if err := ValidateObject(n); err != nil {
			return nil, nil, err
		}
	}
	if err := s.prepare(n, oldObj, o, isSet); err != nil {
		return nil, nil, err
	}
	raw, err := encodeJSON(n)
	if err != nil {
		return nil, nil, err
	}
	return n, raw, nil
}

// DecodeSetArg is SetJSON's argument check: anything but a JSON object is
// ErrNullObject / ErrNoObject.
func DecodeSetArg(raw json.RawMessage) (Object, error) {
	t := strings.TrimSpace(string(raw))
	if t == "" || t == "null" {
		return nil, ErrNullObject
	}
	if t[0] != '{' {
		return nil, ErrNoObject
	}
	obj, err := decode([]byte(t))
	if err != nil {
		return nil, ErrNoObject
	}
	return obj, nil
}

// RemoveMembers drops the deleted ids from an enum's common.members as
// Delete does (from and ts updated); ok is false when nothing changed.
func RemoveMembers(raw json.RawMessage, deleted map[string]bool, from string) (json.RawMessage, bool, error) {
	obj, err := decode(raw)
	if err != nil {
		return nil, false, err
	}
	common := mapOf(obj["common"])
	ms, _ := common["members"].([]any)
	kept := make([]any, 0, len(ms))
	for _, m := range ms {
		if str, ok := m.(string); ok && deleted[str] {
			continue
		}
		kept = append(kept, m)
	}
	if len(kept) == len(ms) {
		return nil, false, nil
	}
	common["members"] = kept
	if from != "" {
		obj["from"] = from
	}
	obj["ts"] = time.Now().UnixMilli()
	out, err := encodeJSON(obj)
	return out, err == nil, err
}

// DefaultsToWrite returns the default objects InitDefaults writes given
// whether each id exists already, encoded, in id order.
func DefaultsToWrite(hostname, adminPasswordHash string, exists func(id string) bool) ([]string, []json.RawMessage, error) {
	from := "system.host." + hostname + ".cli"
	now := time.Now().UnixMilli()
	objs := DefaultObjects(hostname, adminPasswordHash)
	ids := make([]string, 0, len(objs))
	for id := range objs {
		if id == "_design/system" || !exists(id) {
			ids = append(ids, id)
		}
	}
	sortIDs(ids)
	raws := make([]json.RawMessage, len(ids))
	for i, id := range ids {
		n := objs[id]
		if err := ValidateObject(n); err != nil {
			return nil, nil, err
		}
		n["_id"] = id
		if n["from"] == nil {
			n["from"] = from
		}
		n["ts"] = now
		raw, err := encodeJSON(n)
		if err != nil {
			return nil, nil, err
		}
		raws[i] = raw
	}
	return ids, raws, nil
}

// ViewQuery is a resolved getObjectView(design, search, params): which index
// to read (Type, or Custom) and how to shape rows.
type ViewQuery struct {
	Type   string
	Custom bool
	spec   viewSpec
	r      keyRange
	p      ViewParams
}

// ResolveView resolves design/search against the stored design document
// (nil when missing) as BoltStore.View does.
func ResolveView(design, search string, designRaw json.RawMessage, p ViewParams) (*ViewQuery, error) {
	if designRaw == nil {
		return nil, &ViewError{Msg: `Cannot find view "` + design + `"`}
	}
	spec, ok := viewSpec{}, false
	if design == "system" {
		spec, ok = systemView(search)
	}
	if !ok {
		spec, ok = designView(designRaw, search)
	}
	if !ok {
		return nil, &ViewError{Msg: `Cannot find search "` + search + `" in "` + design + `"`}
	}
	return &ViewQuery{Type: spec.typ, Custom: spec.custom, spec: spec, r: resolveRange(p.StartKey, p.EndKey), p: p}, nil
}

// Bounds returns the inclusive id range to read from the index; all means
// the whole index (a wildcard at the start of endkey).
func (q *ViewQuery) Bounds() (start, end string, all bool) { return q.r.start, q.r.end, q.r.all }

// Match reports whether id belongs to the range (bounds and glob filter).
func (q *ViewQuery) Match(id string) bool {
	if q.r.glob != "" && !globMatch(q.r.glob, id) {
		return false
	}
	if q.r.all {
		return true
	}
	return CompareUTF16(id, q.r.start) >= 0 && CompareUTF16(id, q.r.end) <= 0
}

// Rows shapes the rows of the matched objects, given in id order, and
// applies the stats reduction and depth folding.
func (q *ViewQuery) Rows(objs []*Parsed, raws []json.RawMessage) []Row {
	if q.spec.value == valueStats {
		maxN, found := 0, false
		for _, p := range objs {
			id := p.Meta.ID
			n, err := strconv.Atoi(id[strings.LastIndexByte(id, '.')+1:])
			if err == nil && (!found || n > maxN) {
				maxN, found = n, true
			}
		}
		if !found {
			return []Row{}
		}
		return []Row{{ID: "_stats", Value: json.RawMessage(`{"max":` + strconv.Itoa(maxN) + `}`)}}
	}
	rows := make([]Row, 0, len(objs))
	oids := make([]string, 0, len(objs))
	for i, p := range objs {
		row := Row{ID: p.Meta.ID, Value: raws[i]}
		if q.spec.byName {
			row.ID = p.Meta.Name
		}
		if q.spec.value == valueCustom {
			row.Value = p.Custom
		}
		rows = append(rows, row)
		oids = append(oids, p.Meta.ID)
	}
	if q.p.Depth > 0 && q.spec.value == valueObject {
		rows = applyDepth(rows, oids, q.p.StartKey, q.p.Depth)
	}
	return rows
}

// SortIDs sorts ids in UTF-16 order.
func SortIDs(ids []string) { sortIDs(ids) }
