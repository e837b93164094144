package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxRetries bounds optimistic transactions that lose against other writers.
const maxRetries = 50

// watchTxn runs fn as an optimistic transaction on the watched keys of all
// writes of the object and file stores: fn reads under WATCH and queues its
// MULTI, and is run again while another writer changed a watched key. It
// then waits (at most wait) until f delivered the stream entry fn returned,
// so that the caller's listeners and caches see its own write. An error of
// fn that did not come from Redis (see rerr) ends it at once and is returned
// as is; Redis errors are ErrUnavailable. ok is false when every attempt lost.
func watchTxn(rdb *redis.Client, f *feed, wait time.Duration, watch []string, fn func(context.Context, *redis.Tx) (streamID, error)) (ok bool, err error) {
	ctx := context.Background()
	for attempt := 0; attempt < maxRetries; attempt++ {
		var xid streamID
		var userErr error
		err := rdb.Watch(ctx, func(tx *redis.Tx) error {
			var err error
			xid, err = fn(ctx, tx)
			if err != nil && !isRedisErr(err) {
				userErr = err
				return nil
			}
			return err
		}, watch...)
		if userErr != nil {
			return true, userErr
		}
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return true, unavailable(err)
		}
		if xid != (streamID{}) {
			f.waitFor(xid, wait)
		}
		return true, nil
	}
	return false, nil
}

// redisErr marks errors that came from Redis inside a transaction function.
type redisErr struct{ err error }

func (e *redisErr) Error() string { return e.err.Error() }
func (e *redisErr) Unwrap() error { return e.err }

func isRedisErr(err error) bool {
	var r *redisErr
	return errors.As(err, &r) || errors.Is(err, redis.TxFailedErr)
}

func rerr(err error) error {
	if err == nil {
		return nil
	}
	return &redisErr{err}
}

// getter is the read side of one operation: the client or a WATCHing tx.
type getter interface {
	Get(ctx context.Context, key string) *redis.StringCmd
}

// getRaw reads the value of key, nil when missing; a Redis error is marked
// with rerr.
func getRaw(ctx context.Context, r getter, key string) (json.RawMessage, error) {
	b, err := r.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, rerr(err)
	}
	return b, nil
}
