package objects

import (
	"strings"
	"time"

	"github.com/brokerd/brokerd/acl"
)

// Delete removes id; a missing object is success. Objects with
// common.dontDelete are refused with ErrNotDeletable. The id is removed from
// every enum's common.members (those enums publish their change too).
func (s *BoltStore) Delete(id string, o WriteOptions) error {
	_, err := s.deleteObjects(id, false, o)
	return err
}

// DeleteRecursive deletes id and every `id.*` object that is not dontDelete
// (a dontDelete id itself is refused). It returns the metas of the deleted
// objects so the caller can delete the state values of deleted state objects.
// If the subject may not write one of them, nothing is deleted.
func (s *BoltStore) DeleteRecursive(id string, o WriteOptions) ([]*Meta, error) {
	return s.deleteObjects(id, true, o)
}

// DeleteObject is Delete returning the deleted meta (nil when missing).
func (s *BoltStore) DeleteObject(id string, o WriteOptions) (*Meta, error) {
	ms, err := s.deleteObjects(id, false, o)
	if len(ms) == 0 {
		return nil, err
	}
	return ms[0], err
}

func (s *BoltStore) deleteObjects(id string, recursive bool, o WriteOptions) ([]*Meta, error) {
	if err := checkIDBasic(id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	var targets []*entry
	if e := s.m[id]; e != nil {
		if e.meta.DontDelete {
			s.mu.Unlock()
			return nil, ErrNotDeletable
		}
		targets = append(targets, e)
	}
	if recursive {
		prefix := id + "."
		s.all.AscendGreaterOrEqual(&entry{meta: &Meta{ID: prefix}}, func(e *entry) bool {
			if !strings.HasPrefix(e.meta.ID, prefix) {
				return false
			}
			if !e.meta.DontDelete {
				targets = append(targets, e)
			}
			return true
		})
	}
	for _, e := range targets {
		if !objectAllowed(o.Subject, e.meta, acl.Write) {
			s.mu.Unlock()
			return nil, ErrPermission
		}
	}
	if len(targets) == 0 {
		s.mu.Unlock()
		return nil, nil
	}
	waits := make([]func() error, 0, len(targets)+1)
	deleted := make(map[string]bool, len(targets))
	metas := make([]*Meta, 0, len(targets))
	for _, e := range targets {
		s.remove(e.meta.ID)
		waits = append(waits, s.commit(e.meta.ID, e, nil))
		deleted[e.meta.ID] = true
		metas = append(metas, e.meta)
	}
	waits = append(waits, s.cleanEnums(deleted, o)...)
	s.mu.Unlock()
	var first error
	for _, w := range waits {
		if err := w(); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return metas, nil
}

// cleanEnums removes deleted ids from every enum's members. Caller holds mu.
func (s *BoltStore) cleanEnums(deleted map[string]bool, o WriteOptions) []func() error {
	var waits []func() error
	var ids []string
	for eid, e := range s.enums {
		for _, m := range e.members {
			if deleted[m] {
				ids = append(ids, eid)
				break
			}
		}
	}
	sortIDs(ids)
	for _, eid := range ids {
		old := s.m[eid]
		obj, err := decode(old.raw)
		if err != nil {
			continue
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
		common["members"] = kept
		if o.From != "" {
			obj["from"] = o.From
		}
		obj["ts"] = time.Now().UnixMilli()
		if w, err := s.store(eid, old, obj); err == nil {
			waits = append(waits, w)
		}
	}
	return waits
}
