package transport

import (
	"strings"
	"testing"

	"github.com/brokerd/brokerd/objects"
)

// TestWSObjectsSnapshot: the objects stream starts like the states stream,
// with snapshot message(s) of what matches the pattern, filtered by the same
// read rule as the changes that follow.
func TestWSObjectsSnapshot(t *testing.T) {
	e := newAPIEnv(t)
	channel := func() objects.Object {
		return objects.Object{"type": "channel", "common": map[string]any{"name": "c"}, "native": map[string]any{}}
	}
	e.setObject("test.0.ch", channel())
	e.setObject("test.0.opener", stateObj(nil)) // in the range of test.*.open, not matching it
	e.setObject("test.1.open", stateObj(nil))

	for _, c := range []struct {
		user, pattern string
		want, hidden  []string
	}{
		// test.0.secret's acl keeps it from the reader (object 0x600, owner admin).
		{"reader", "test.0.*", []string{"test.0.open", "test.0.ch", "test.0.opener"}, []string{"test.0.secret", "test.1.open", "vis.0"}},
		{"admin", "test.0.*", []string{"test.0.open", "test.0.secret"}, []string{"test.1.open"}},
		{"reader", "test.*.open", []string{"test.0.open", "test.1.open"}, []string{"test.0.opener", "test.0.ch"}},
		{"reader", "test.0.ch,vis.0", []string{"test.0.ch", "vis.0"}, []string{"test.0.open"}},
		{"reader", "nothing.*", nil, []string{"test.0.open"}},
	} {
		r := e.dial(c.user, "/api/v1/ws/objects?pattern="+c.pattern)
		m := r.next()
		objs, ok := m["objects"].(map[string]any)
		if m["type"] != "snapshot" || m["last"] != true || !ok || m["states"] != nil || m["error"] != nil {
			t.Errorf("%s %s: snapshot %v", c.user, c.pattern, m)
			continue
		}
		for _, id := range c.want {
			if o, _ := objs[id].(map[string]any); o == nil || o["type"] == nil {
				t.Errorf("%s %s: %s missing from the snapshot (%d objects)", c.user, c.pattern, id, len(objs))
			}
		}
		for _, id := range c.hidden {
			if _, ok := objs[id]; ok {
				t.Errorf("%s %s: %s in the snapshot", c.user, c.pattern, id)
			}
		}
		if c.want == nil && len(objs) != 0 {
			t.Errorf("%s %s: snapshot %v, want none", c.user, c.pattern, objs)
		}
		r.c.CloseNow()
	}

	// Changes follow the snapshot, filtered by the same rule.
	r := e.dial("reader", "/api/v1/ws/objects?pattern=test.0.*")
	if m := r.next(); m["type"] != "snapshot" || m["last"] != true {
		t.Fatalf("snapshot: %v", m)
	}
	e.setObject("test.0.secret", stateObj(map[string]any{"owner": "system.user.admin", "ownerGroup": "system.group.administrator", "object": 0x600}))
	e.setObject("test.0.ch", channel())
	if m := r.next(); m["type"] != "objectChange" || m["id"] != "test.0.ch" {
		t.Fatalf("change after the snapshot: %v", m)
	}
}

func TestWSObjectsSnapshotChunks(t *testing.T) {
	defer func(n int) { snapshotChunk = n }(snapshotChunk)
	snapshotChunk = 4
	e := newAPIEnv(t)
	n := 2*snapshotChunk + 3
	for i := 0; i < n; i++ {
		e.setObject("bulk.0.s"+strings.Repeat("0", 3-len(itoa(i)))+itoa(i), stateObj(nil))
	}
	r := e.dial("reader", "/api/v1/ws/objects?pattern=bulk.*")
	seen := map[string]bool{}
	msgs := 0
	for {
		msgs++
		m := r.next()
		objs, _ := m["objects"].(map[string]any)
		if m["type"] != "snapshot" || len(objs) == 0 || len(objs) > snapshotChunk {
			t.Fatalf("message %d: %v", msgs, m)
		}
		for id := range objs {
			seen[id] = true
		}
		if m["last"] == true {
			break
		}
	}
	if len(seen) != n || msgs != 3 {
		t.Fatalf("snapshot had %d objects in %d messages, want %d in 3", len(seen), msgs, n)
	}
}
