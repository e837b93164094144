package redisstore

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// bulkSize bounds one SCAN step, MGET or index batch, so that a large
// database is read in steps that do not block Redis for long.
const bulkSize = 1000

// indexOnce builds one of brokerd's indexes for a database written by
// ioBroker: unless the key flag exists, it SCANs the keys prefix…suffix,
// hands the parts between prefix and suffix to add in batches of at most
// bulkSize, and sets flag. It is the only SCAN a store ever does.
func indexOnce(ctx context.Context, rdb *redis.Client, flag, prefix, suffix string, add func(names []string) error) error {
	n, err := rdb.Exists(ctx, flag).Result()
	if err != nil {
		return unavailable(err)
	}
	if n == 1 {
		return nil
	}
	it := rdb.Scan(ctx, 0, escapeGlob(prefix)+"*"+escapeGlob(suffix), bulkSize).Iterator()
	batch := make([]string, 0, bulkSize)
	for it.Next(ctx) {
		batch = append(batch, strings.TrimSuffix(strings.TrimPrefix(it.Val(), prefix), suffix))
		if len(batch) == bulkSize {
			if err := add(batch); err != nil {
				return unavailable(err)
			}
			batch = batch[:0]
		}
	}
	if err := it.Err(); err != nil {
		return unavailable(err)
	}
	if len(batch) > 0 {
		if err := add(batch); err != nil {
			return unavailable(err)
		}
	}
	return unavailable(rdb.Set(ctx, flag, "1", 0).Err())
}

// escapeGlob escapes the glob characters of a SCAN MATCH prefix.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// mgetter is what mgetEach reads through: the client or a WATCHing tx.
type mgetter interface {
	MGet(ctx context.Context, keys ...string) *redis.SliceCmd
}

// mgetEach reads the keys of names (key names each one) with one MGET per
// chunk of size and hands each chunk's values (nil for a missing key) with
// the index of its first name to fn. An MGET error is marked with rerr; an
// error of fn is returned as is.
func mgetEach(ctx context.Context, r mgetter, names []string, size int, key func(string) string, fn func(lo int, vals []any) error) error {
	for lo := 0; lo < len(names); lo += size {
		part := names[lo:min(lo+size, len(names))]
		ks := make([]string, len(part))
		for i, n := range part {
			ks[i] = key(n)
		}
		vals, err := r.MGet(ctx, ks...).Result()
		if err != nil {
			return rerr(err)
		}
		if err := fn(lo, vals); err != nil {
			return err
		}
	}
	return nil
}
