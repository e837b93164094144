package transport

import (
	"reflect"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/queue"
	"github.com/zishang520/socket.io/v3/pkg/utils"
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
// field of the struct obj points to (through interfaces) and returns the
// queue, nil when there is none.
func releaseQueue(obj any, field string) *queue.Queue {
	f := structField(obj, field)
	if !f.IsValid() || f.Type() != queueType {
		return nil
	}
	q := *(**queue.Queue)(unsafe.Pointer(f.UnsafeAddr()))
	if q != nil {
		runtime.SetFinalizer(q, nil)
	}
	return q
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

// A third leak of the same version: utils.SetTimeout starts a goroutine
// that waits for its timer or a stop signal, and Stop sends that signal
// without waiting. The socket.io client's connect timeout is set and, for
// EIO3 (which joins "/" at once), stopped within microseconds, often before
// that goroutine waits: it then waits for good and holds the whole session
// (≈ 29 KiB; 270 of 300 quickly closed polling sessions). For an accepted
// socket the connect timeout has no job left, so the stop signal is sent
// again, this time waiting for the goroutine (or giving up after
// timerStopWait when it has already ended).

const timerStopWait = 2 * time.Second

var timerPtrType = reflect.TypeFor[atomic.Pointer[utils.Timer]]()

// connectTimer is the socket.io client's connect timeout of sock (nil when
// gone or not found).
func connectTimer(sock *socket.Socket) *utils.Timer {
	f := structField(sock.Client(), "connectTimeout")
	if !f.IsValid() || f.Type() != timerPtrType {
		return nil
	}
	return (*atomic.Pointer[utils.Timer])(unsafe.Pointer(f.UnsafeAddr())).Load()
}

// stopTimer ends t's goroutine, waiting up to timerStopWait for it.
func stopTimer(t *utils.Timer) {
	f := structField(t, "stopCh")
	if !f.IsValid() || f.Type() != reflect.TypeFor[chan struct{}]() {
		return
	}
	stop := *(*chan struct{})(unsafe.Pointer(f.UnsafeAddr()))
	go func() {
		w := time.NewTimer(timerStopWait)
		defer w.Stop()
		select {
		case stop <- struct{}{}:
		case <-w.C:
		}
	}()
}
