// Package groupcommit serialises writes of all stores into shared bbolt
// transactions so that many concurrent writers pay for one fsync.
//
// Batch window: none is added. A batch is everything submitted while the
// previous commit was running (capped at MaxBatch), so an idle broker commits
// a single write at once and a busy one amortises each fsync over all writers
// that arrived during it. Every op's Done runs after the commit, in submission
// order, which is what makes the stores' change feeds commit-ordered.
//
// Failed commits: when bbolt refuses a commit before it wrote the meta page
// (disk full, read-only file, I/O error on a data page) it rolls the
// transaction back and the database stays usable, so the committer goes on
// and later writes succeed once space returns. When the commit failed after
// the meta page was written (fdatasync of the meta page failed), the file and
// bbolt's in-memory view hold a transaction its writers were told failed;
// the committer then refuses every further write with ErrBroken until the
// database is reopened (brokerd restarted), instead of building on it.
package groupcommit

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxBatch bounds the ops per transaction so one commit cannot grow without limit.
const MaxBatch = 4096

// ErrClosed is returned for ops submitted after Close.
var ErrClosed = errors.New("DB closed")

// ErrBroken wraps the error of every op refused because an earlier commit
// failed after its data had reached the file.
var ErrBroken = errors.New("database needs a restart")

// Op is one store write.
type Op struct {
	// Apply performs the write inside the batch transaction. It must only
	// write; validation belongs before Submit.
	Apply func(tx *bolt.Tx) error
	// Done runs after the transaction committed (err == nil) or failed, in
	// submission order, on the committer goroutine. Keep it short: publish,
	// or revert in-memory state on error.
	Done func(err error)
}

// Stats describes recent batches, for metrics.
type Stats struct {
	Batches  uint64
	Ops      uint64
	LastSize int
	LastTime time.Duration
}

// Committer owns the write side of one bbolt database.
type Committer struct {
	db      *bolt.DB
	mu      sync.Mutex
	cond    *sync.Cond
	pending []*pendingOp
	closed  bool
	done    chan struct{}
	stats   Stats
	// broken, once set (by the committer goroutine), fails every later op.
	broken error
	// update is db.Update; tests replace it to inject failures.
	update func(func(*bolt.Tx) error) error
	// observer, when set, sees every batch (metrics).
	observer atomic.Pointer[func(size int, d time.Duration, err error)]
}

type pendingOp struct {
	op  Op
	err error
	wg  chan struct{}
}

// New starts the committer goroutine for db.
func New(db *bolt.DB) *Committer { return newCommitter(db, db.Update) }

func newCommitter(db *bolt.DB, update func(func(*bolt.Tx) error) error) *Committer {
	c := &Committer{db: db, done: make(chan struct{}), update: update}
	c.cond = sync.NewCond(&c.mu)
	go c.loop()
	return c
}

// DB returns the underlying database for read transactions.
func (c *Committer) DB() *bolt.DB { return c.db }

// Enqueue adds op to the next batch and returns a wait function that blocks
// until it is durable (or failed). Callers that must order their in-memory
// updates with the commit order call Enqueue under their own lock and wait
// after releasing it.
func (c *Committer) Enqueue(op Op) (wait func() error) {
	p := &pendingOp{op: op, wg: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		if op.Done != nil {
			op.Done(ErrClosed)
		}
		return func() error { return ErrClosed }
	}
	c.pending = append(c.pending, p)
	c.cond.Signal()
	c.mu.Unlock()
	return func() error { <-p.wg; return p.err }
}

// SetObserver registers fn to see the size, duration and error of every
// batch; it may be called at any time.
func (c *Committer) SetObserver(fn func(size int, d time.Duration, err error)) {
	c.observer.Store(&fn)
}

// Submit enqueues op and waits until it is durable.
func (c *Committer) Submit(op Op) error { return c.Enqueue(op)() }

// Err returns the error that stopped all writes (see ErrBroken), or nil.
func (c *Committer) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken
}

// Stats returns a snapshot of the batch counters.
func (c *Committer) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Close commits what is pending, stops the goroutine and refuses new ops.
func (c *Committer) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.done
		return
	}
	c.closed = true
	c.cond.Signal()
	c.mu.Unlock()
	<-c.done
}

func (c *Committer) loop() {
	defer close(c.done)
	for {
		c.mu.Lock()
		for len(c.pending) == 0 && !c.closed {
			c.cond.Wait()
		}
		if len(c.pending) == 0 && c.closed {
			c.mu.Unlock()
			return
		}
		n := len(c.pending)
		if n > MaxBatch {
			n = MaxBatch
		}
		batch := make([]*pendingOp, n)
		copy(batch, c.pending)
		rest := copy(c.pending, c.pending[n:])
		for i := rest; i < len(c.pending); i++ {
			c.pending[i] = nil
		}
		c.pending = c.pending[:rest]
		c.mu.Unlock()

		start := time.Now()
		err := c.run(batch)
		d := time.Since(start)
		c.mu.Lock()
		c.stats.Batches++
		c.stats.Ops += uint64(len(batch))
		c.stats.LastSize = len(batch)
		c.stats.LastTime = d
		c.mu.Unlock()
		if obs := c.observer.Load(); obs != nil {
			(*obs)(len(batch), d, err)
		}
		for _, p := range batch {
			if p.op.Done != nil {
				p.op.Done(p.err)
			}
			close(p.wg)
		}
	}
}

// run commits the batch in one transaction. If one op's Apply fails, the
// batch is retried op by op so that only the failing op reports an error.
func (c *Committer) run(batch []*pendingOp) error {
	c.mu.Lock()
	broken := c.broken
	c.mu.Unlock()
	if broken != nil {
		for _, p := range batch {
			p.err = broken
		}
		return broken
	}
	err := c.commit(func(tx *bolt.Tx) error {
		for _, p := range batch {
			if err := p.op.Apply(tx); err != nil {
				return errApply{err}
			}
		}
		return nil
	})
	if err == nil {
		return nil
	}
	var ae errApply
	if !errors.As(err, &ae) || len(batch) == 1 {
		// The commit itself failed (disk full, read-only): every op failed.
		if errors.As(err, &ae) {
			err = ae.err
		}
		for _, p := range batch {
			p.err = err
		}
		return err
	}
	for _, p := range batch {
		if broken := c.Err(); broken != nil {
			p.err = broken
			continue
		}
		p.err = c.commit(p.op.Apply)
	}
	return err
}

// commit runs fn in one write transaction. When the commit fails, it checks
// whether the transaction became visible anyway (meta page written, its sync
// failed); if so the database is marked broken.
func (c *Committer) commit(fn func(*bolt.Tx) error) error {
	var txid int
	applied := false
	err := c.update(func(tx *bolt.Tx) error {
		txid = tx.ID()
		if err := fn(tx); err != nil {
			return err
		}
		applied = true
		return nil
	})
	if err == nil || !applied {
		return err
	}
	var seen int
	if verr := c.db.View(func(tx *bolt.Tx) error { seen = tx.ID(); return nil }); verr != nil || seen >= txid {
		broken := fmt.Errorf("%w: a commit to %s failed after its data was written (%v); restart brokerd to reload the database", ErrBroken, c.db.Path(), err)
		c.mu.Lock()
		c.broken = broken
		c.mu.Unlock()
		return broken
	}
	return err
}

type errApply struct{ err error }

func (e errApply) Error() string { return e.err.Error() }
