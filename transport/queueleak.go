package transport

import (
	"reflect"
	"runtime"
	"unsafe"

	"github.com/zishang520/socket.io/v3/pkg/queue"
)

// zishang520/socket.io v3.0.2 gives every socket.io socket and every
// Engine.IO transport a task queue (pkg/queue) with a finalizer, and the
// queue points into itself (its sync.Cond locks the queue's own mutex). Go
// never frees an object with a finalizer that is reachable from itself, so
// every closed session leaked its queues for good: ≈ 9.5 KiB each, ≈ 19 KiB
// per WebSocket session (185 MB after 10,000 connect/disconnect cycles).
// Once the library has closed a queue, its finalizer has nothing left to do;
// clearing it lets the collector free the queue. The fields are unexported,
// hence reflection; TestClosedSessionsAreFreed fails when a library update
// renames them or stops leaking (then this file can go).

var queueType = reflect.TypeFor[*queue.Queue]()

// releaseQueue clears the finalizer of the *queue.Queue in the unexported
// field of the struct obj points to (through interfaces). It reports whether
// it found one.
func releaseQueue(obj any, field string) bool {
	q := libraryQueue(obj, field)
	if q == nil {
		return false
	}
	runtime.SetFinalizer(q, nil)
	return true
}

// libraryQueue returns the *queue.Queue in the unexported field of the
// struct obj points to, or nil.
func libraryQueue(obj any, field string) *queue.Queue {
	f := structField(obj, field)
	if !f.IsValid() || f.Type() != queueType {
		return nil
	}
	return *(**queue.Queue)(unsafe.Pointer(f.UnsafeAddr()))
}

// structField returns the addressable field of the struct obj points to
// (through interfaces), or an invalid Value.
func structField(obj any, field string) reflect.Value {
	v := reflect.ValueOf(obj)
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	f := v.FieldByName(field)
	if !f.IsValid() || !f.CanAddr() {
		return reflect.Value{}
	}
	return f
}
