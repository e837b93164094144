package objects

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/btree"
)

// Sentinel is the "end of prefix" key of ioBroker ranges ("\u9999").
const Sentinel = "\u9999"

// viewSpec says how a view selects and shapes rows.
type viewSpec struct {
	typ    string // object type; "" with custom = the custom index
	custom bool   // select states with common.custom
	byName bool   // row id = common.name
	value  int    // valueObject, valueCustom, valueStats
}

const (
	valueObject = iota
	valueCustom
	valueStats
)

// SystemViews are the views of _design/system answered natively.
var SystemViews = []string{"host", "adapter", "instance", "instanceStats", "meta", "device", "channel",
	"state", "folder", "enum", "script", "chart", "group", "user", "config", "custom", "custom-full",
	"schedule", "design"}

func systemView(search string) (viewSpec, bool) {
	switch search {
	case "host", "adapter", "instance", "meta", "device", "channel", "state", "folder", "enum",
		"script", "chart", "schedule", "design":
		return viewSpec{typ: search}, true
	case "group", "user", "config":
		return viewSpec{typ: search, byName: true}, true
	case "instanceStats":
		return viewSpec{typ: "instance", value: valueStats}, true
	case "custom":
		return viewSpec{custom: true, value: valueCustom}, true
	case "custom-full":
		return viewSpec{custom: true}, true
	}
	return viewSpec{}, false
}

var (
	reMapType = regexp.MustCompile(`doc\.type\s*===?\s*['"]([A-Za-z0-9_.-]+)['"]`)
	reMapEmit = regexp.MustCompile(`emit\s*\(\s*doc\.(_id|common\.name)\s*,\s*doc\s*\)`)
)

// designView understands a stored view whose map is
// "if (doc.type === '<t>') emit(doc._id | doc.common.name, doc)".
func designView(raw []byte, search string) (viewSpec, bool) {
	var d struct {
		Views map[string]struct {
			Map string `json:"map"`
		} `json:"views"`
	}
	if json.Unmarshal(raw, &d) != nil {
		return viewSpec{}, false
	}
	v, ok := d.Views[search]
	if !ok {
		return viewSpec{}, false
	}
	t := reMapType.FindStringSubmatch(v.Map)
	em := reMapEmit.FindStringSubmatch(v.Map)
	if t == nil || em == nil {
		return viewSpec{}, false
	}
	return viewSpec{typ: t[1], byName: em[1] == "common.name"}, true
}

// keyRange is a resolved startkey/endkey pair (datamodel.md 6.2).
type keyRange struct {
	start, end string
	all        bool   // no upper bound (wildcard at the start of endkey)
	glob       string // extra filter from a \u9999 inside endkey
}

func resolveRange(startKey, endKey string) keyRange {
	r := keyRange{start: startKey, end: endKey}
	if r.end == "" {
		r.end = Sentinel
	}
	if r.start == r.end {
		r.end += "\x00"
	}
	if i := strings.Index(r.end, Sentinel); i >= 0 && i+len(Sentinel) < len(r.end) {
		r.glob = strings.ReplaceAll(r.end, Sentinel, "*")
		if i == 0 {
			r.all = true
		}
	}
	return r
}

func (r keyRange) visit(tr *btree.BTreeG[*entry], fn func(*entry) bool) {
	if tr == nil {
		return
	}
	f := fn
	if r.glob != "" {
		f = func(e *entry) bool {
			if !globMatch(r.glob, e.meta.ID) {
				return true
			}
			return fn(e)
		}
	}
	if r.all {
		tr.Ascend(f)
		return
	}
	ascend(tr, r.start, r.end, f)
}

// View answers getObjectView from the in-memory indexes: only the ids of the
// view's type inside the range are visited. allow (nil = all) filters rows
// in the same pass. Rows are sorted by object id; values share the stored JSON.
func (s *BoltStore) View(design, search string, p ViewParams, allow func(*Meta) bool) ([]Row, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.m["_design/"+design]
	if d == nil {
		return nil, &ViewError{Msg: `Cannot find view "` + design + `"`}
	}
	spec, ok := viewSpec{}, false
	if design == "system" {
		spec, ok = systemView(search)
	}
	if !ok {
		spec, ok = designView(d.raw, search)
	}
	if !ok {
		return nil, &ViewError{Msg: `Cannot find search "` + search + `" in "` + design + `"`}
	}
	tr := s.custom
	if !spec.custom {
		tr = s.byType[spec.typ]
	}
	r := resolveRange(p.StartKey, p.EndKey)

	if spec.value == valueStats {
		maxN, found := 0, false
		r.visit(tr, func(e *entry) bool {
			if allow != nil && !allow(e.meta) {
				return true
			}
			id := e.meta.ID
			n, err := strconv.Atoi(id[strings.LastIndexByte(id, '.')+1:])
			if err == nil && (!found || n > maxN) {
				maxN, found = n, true
			}
			return true
		})
		if !found {
			return []Row{}, nil
		}
		return []Row{{ID: "_stats", Value: json.RawMessage(`{"max":` + strconv.Itoa(maxN) + `}`)}}, nil
	}

	var rows []Row
	if tr != nil && r.start == "" && !r.all && r.glob == "" && r.end == Sentinel {
		rows = make([]Row, 0, tr.Len())
	}
	var oids []string // object ids, only needed for depth
	depth := p.Depth > 0 && spec.value == valueObject
	r.visit(tr, func(e *entry) bool {
		if allow != nil && !allow(e.meta) {
			return true
		}
		row := Row{ID: e.meta.ID, Value: e.raw}
		if spec.byName {
			row.ID = e.meta.Name
		}
		if spec.value == valueCustom {
			row.Value = e.custom
		}
		rows = append(rows, row)
		if depth {
			oids = append(oids, e.meta.ID)
		}
		return true
	})
	if rows == nil {
		rows = []Row{}
	}
	if depth {
		rows = applyDepth(rows, oids, p.StartKey, p.Depth)
	}
	return rows, nil
}

// applyDepth folds rows deeper than depth levels below startkey into
// synthetic folder rows (protocol.md 7.1).
func applyDepth(rows []Row, oids []string, startKey string, depth int) []Row {
	base := startKey
	if base != "" && !strings.HasSuffix(base, ".") {
		base += "."
	}
	self := strings.TrimSuffix(startKey, ".")
	baseDots := strings.Count(base, ".")
	type item struct {
		oid string
		row Row
	}
	var out []item
	hidden := map[string]int{}
	var prefixes []string
	for i, row := range rows {
		id := oids[i]
		if startKey != "" && id != self && id != startKey && !strings.HasPrefix(id, base) {
			continue
		}
		dots := strings.Count(id, ".")
		if id == self || id == startKey || dots-baseDots <= depth {
			out = append(out, item{id, row})
			continue
		}
		m := 0
		for j := 0; j < len(id); j++ {
			if id[j] != '.' {
				continue
			}
			// id[:j] holds m dots; its level is m-baseDots.
			if m-baseDots >= depth && m <= dots-1 {
				pre := id[:j]
				if hidden[pre] == 0 {
					prefixes = append(prefixes, pre)
				}
				hidden[pre]++
			}
			m++
		}
	}
	for _, pre := range prefixes {
		v, _ := json.Marshal(map[string]any{"_id": pre, "common": map[string]any{}, "native": map[string]any{},
			"type": "folder", "virtual": true, "hasChildren": hidden[pre]})
		out = append(out, item{pre, Row{ID: pre, Value: v}})
	}
	slices.SortStableFunc(out, func(a, b item) int { return CompareUTF16(a.oid, b.oid) })
	res := make([]Row, len(out))
	for i, it := range out {
		res[i] = it.row
	}
	return res
}
