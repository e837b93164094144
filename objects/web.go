package objects

import (
	"encoding/json"
	"strings"
)

// webTypes are the object types of the non-admin getObjects answer.
var webTypes = []string{"state", "channel", "device", "enum"}

// parentIDs returns id, its parent and grandparent (last one/two segments cut).
func parentIDs(id string) [3]string {
	out := [3]string{id}
	cur := id
	for i := 1; i < 3; i++ {
		k := strings.LastIndexByte(cur, '.')
		if k < 0 {
			break
		}
		cur = cur[:k]
		out[i] = cur
	}
	return out
}

// EachObjectWeb calls fn for the objects of protocol.md 8.1 (non-admin
// getObjects without a list): all state, channel, device and enum objects
// plus system.config, each as stored JSON with an added "enums" map
// {enumId: enum common.name} — rooms only for states, every category for
// channels, devices and enums. Membership counts the id, its parent or its
// grandparent. allow (nil = all) filters objects. fn runs under the read lock.
func (s *BoltStore) EachObjectWeb(allow func(*Meta) bool, fn func(id string, raw json.RawMessage)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	memberOf := map[string][]*entry{}
	for _, e := range s.enums {
		for _, m := range e.members {
			memberOf[m] = append(memberOf[m], e)
		}
	}
	for _, l := range memberOf {
		if len(l) > 1 {
			sortEntries(l)
		}
	}
	var buf []byte
	emit := func(e *entry, withEnums, roomsOnly bool) {
		if allow != nil && !allow(e.meta) {
			return
		}
		if !withEnums {
			fn(e.meta.ID, e.raw)
			return
		}
		buf = appendWithEnums(buf[:0], e, memberOf, roomsOnly)
		out := make(json.RawMessage, len(buf))
		copy(out, buf)
		fn(e.meta.ID, out)
	}
	for _, t := range webTypes {
		if tr := s.byType[t]; tr != nil {
			tr.Ascend(func(e *entry) bool {
				emit(e, true, t == "state")
				return true
			})
		}
	}
	if e := s.m["system.config"]; e != nil {
		emit(e, false, false)
	}
}

func sortEntries(l []*entry) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && CompareUTF16(l[j].meta.ID, l[j-1].meta.ID) < 0; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

// appendWithEnums appends e's JSON with `"enums":{…}` added as last member.
func appendWithEnums(buf []byte, e *entry, memberOf map[string][]*entry, roomsOnly bool) []byte {
	raw := e.raw
	end := len(raw) - 1
	for end > 0 && raw[end] != '}' {
		end--
	}
	buf = append(buf, raw[:end]...)
	if strings.TrimSpace(string(raw[1:end])) != "" {
		buf = append(buf, ',')
	}
	buf = append(buf, `"enums":{`...)
	n := 0
	seen := map[string]bool{}
	for _, id := range parentIDs(e.meta.ID) {
		if id == "" {
			continue
		}
		for _, en := range memberOf[id] {
			if seen[en.meta.ID] || roomsOnly && !strings.HasPrefix(en.meta.ID, "enum.rooms.") {
				continue
			}
			seen[en.meta.ID] = true
			if n > 0 {
				buf = append(buf, ',')
			}
			n++
			k, _ := json.Marshal(en.meta.ID)
			buf = append(buf, k...)
			buf = append(buf, ':')
			if len(en.name) > 0 {
				buf = append(buf, en.name...)
			} else {
				buf = append(buf, "null"...)
			}
		}
	}
	return append(buf, "}}"...)
}

// AppendObjectsWeb appends the EachObjectWeb result as one JSON object
// {id: object, …} to buf.
func (s *BoltStore) AppendObjectsWeb(buf []byte, allow func(*Meta) bool) []byte {
	buf = append(buf, '{')
	first := true
	s.EachObjectWeb(allow, func(id string, raw json.RawMessage) {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		k, _ := json.Marshal(id)
		buf = append(buf, k...)
		buf = append(buf, ':')
		buf = append(buf, raw...)
	})
	return append(buf, '}')
}
