package audit

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/gongshu/gongshu/internal/store"
)

// The lookup index: for each key ("org:12", "obj:organization:5" …), the
// IDs of the integrated entries filed under it. The integrator writes one
// posting row per key and batch, its IDs delta-encoded in one blob, so a
// batch of thousands of entries under a few hundred keys costs a few
// hundred rows rather than four per entry: the rows are written under the
// store's single write lock, which the writers of new entries wait for.
// The index is derived data: the tree, not the index, is what a check
// verifies, and the index can be rebuilt from the entries.

// posting is one row of the index.
type posting struct {
	key  string
	last int64 // the largest ID in ids
	ids  []byte
}

// buildPostings groups the keys of entries (in ascending ID order) into
// one posting per key, sorted by key so that each B-tree page is visited
// once per batch.
func buildPostings(keyed map[string][]int64) []posting {
	out := make([]posting, 0, len(keyed))
	for k, ids := range keyed {
		out = append(out, posting{key: k, last: ids[len(ids)-1], ids: encodeIDs(ids)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// encodeIDs writes ascending IDs as the first ID then the gaps, each an
// unsigned varint.
func encodeIDs(ids []int64) []byte {
	b := make([]byte, 0, 2*len(ids)+8)
	prev := int64(0)
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id-prev))
		prev = id
	}
	return b
}

var errBadPosting = errors.New("audit: malformed posting")

// decodeIDs reverses encodeIDs.
func decodeIDs(b []byte) ([]int64, error) {
	var ids []int64
	prev := int64(0)
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 || (len(ids) > 0 && d == 0) {
			return nil, errBadPosting
		}
		prev += int64(d)
		ids = append(ids, prev)
		b = b[n:]
	}
	return ids, nil
}

func (l *Log) insertPostings(ctx context.Context, tx *store.Tx, ps []posting) error {
	rows := make([][]any, len(ps))
	for i, p := range ps {
		rows[i] = []any{p.key, p.last, p.ids}
	}
	return l.insertRows(ctx, tx, "INSERT INTO audit_postings (key, last_id, ids) VALUES ", rows)
}

// postingIDs walks the IDs filed under key below before, newest first,
// page by page, calling fn with each page (descending) until fn returns
// false or the key is exhausted.
func (l *Log) postingIDs(ctx context.Context, key string, before int64, fn func(ids []int64) (bool, error)) error {
	// Postings do not overlap, so only the first posting at or above
	// before can hold IDs on both sides of it.
	var first []byte
	err := l.db.QueryRow(ctx, "SELECT ids FROM audit_postings WHERE key = ? AND last_id >= ? ORDER BY last_id LIMIT 1", key, before).Scan(&first)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit: lookup %s: %w", key, err)
	}
	if first != nil {
		ids, err := decodeIDs(first)
		if err != nil {
			return fmt.Errorf("audit: lookup %s: %w", key, err)
		}
		i := sort.Search(len(ids), func(i int) bool { return ids[i] >= before })
		if i > 0 {
			if more, err := fn(reversed(ids[:i])); err != nil || !more {
				return err
			}
		}
	}
	const page = 32
	for cursor := before; ; {
		rows, err := l.db.Query(ctx, "SELECT last_id, ids FROM audit_postings WHERE key = ? AND last_id < ? ORDER BY last_id DESC LIMIT ?", key, cursor, page)
		if err != nil {
			return fmt.Errorf("audit: lookup %s: %w", key, err)
		}
		var blobs [][]byte
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&cursor, &b); err != nil {
				rows.Close()
				return fmt.Errorf("audit: lookup %s: %w", key, err)
			}
			blobs = append(blobs, b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("audit: lookup %s: %w", key, err)
		}
		var ids []int64
		for _, b := range blobs {
			part, err := decodeIDs(b)
			if err != nil {
				return fmt.Errorf("audit: lookup %s: %w", key, err)
			}
			ids = append(ids, reversed(part)...)
		}
		if len(ids) > 0 {
			if more, err := fn(ids); err != nil || !more {
				return err
			}
		}
		if len(blobs) < page {
			return nil
		}
	}
}

func reversed(ids []int64) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = id
	}
	return out
}

// rebuildPostings fills an empty index from the integrated entries: once,
// after the migration that replaced the per-entry key rows.
func (t *Tree) rebuildPostings(ctx context.Context) error {
	if t.lastEntry == 0 {
		return nil
	}
	var found int
	if err := t.db.QueryRow(ctx, "SELECT 1 FROM audit_postings LIMIT 1").Scan(&found); err == nil {
		return nil
	}
	return t.db.InTx(ctx, func(tx *store.Tx) error {
		if tx.Dialect() == store.Postgres {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7261002)"); err != nil {
				return err
			}
		}
		var any int
		err := tx.QueryRow(ctx, "SELECT 1 FROM audit_postings LIMIT 1").Scan(&any)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("audit: read the lookup index: %w", err)
		}
		for after := int64(0); ; {
			rows, err := tx.Query(ctx, "SELECT "+entryColumns+" FROM audit_entries WHERE id > ? AND id <= ? ORDER BY id LIMIT "+strconv.Itoa(batchSize), after, t.lastEntry)
			if err != nil {
				return fmt.Errorf("audit: rebuild the lookup index: %w", err)
			}
			keyed := map[string][]int64{}
			n := 0
			for rows.Next() {
				e, _, err := scanLeafEntry(rows)
				if err != nil {
					rows.Close()
					return fmt.Errorf("audit: rebuild the lookup index: %w", err)
				}
				for _, k := range lookupKeys(e) {
					keyed[k] = append(keyed[k], e.ID)
				}
				after, n = e.ID, n+1
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("audit: rebuild the lookup index: %w", err)
			}
			if err := t.log.insertPostings(ctx, tx, buildPostings(keyed)); err != nil {
				return fmt.Errorf("audit: rebuild the lookup index: %w", err)
			}
			if n < batchSize {
				return nil
			}
		}
	})
}
