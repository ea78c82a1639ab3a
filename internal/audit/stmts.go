package audit

import (
	"context"
	"strings"
	"sync"

	"github.com/gongshu/gongshu/internal/store"
)

// stmtCache keeps the log's multi-row INSERTs prepared, by their text.
// Parsing a statement of dozens or hundreds of placeholders costs about as
// much as running it, and both happen under the store's single write lock,
// which every writer of a new entry waits for. Only statements of a fixed
// number of rows are cached, so the cache stays small.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*store.Stmt
}

func (c *stmtCache) get(ctx context.Context, db *store.DB, query string) (*store.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	st, err := db.Prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*store.Stmt{}
	}
	c.m[query] = st
	return st, nil
}

// multiRow is prefix followed by rows tuples of width placeholders.
func multiRow(prefix string, width, rows int) string {
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	var q strings.Builder
	q.Grow(len(prefix) + rows*(len(tuple)+2))
	q.WriteString(prefix)
	for i := 0; i < rows; i++ {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(tuple)
	}
	return q.String()
}

// insertChunk is how many rows one INSERT of insertRows carries.
const insertChunk = 500

// insertRows inserts rows (all of the same width) in tx with multi-row
// INSERTs of up to insertChunk rows: one statement to run instead of one
// per row, and for full chunks one prepared once.
func (l *Log) insertRows(ctx context.Context, tx *store.Tx, prefix string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	for start := 0; start < len(rows); start += insertChunk {
		part := rows[start:min(start+insertChunk, len(rows))]
		args := make([]any, 0, width*len(part))
		for _, r := range part {
			args = append(args, r...)
		}
		query := multiRow(prefix, width, len(part))
		if len(part) < insertChunk {
			if _, err := tx.Exec(ctx, query, args...); err != nil {
				return err
			}
			continue
		}
		st, err := l.stmts.get(ctx, l.db, query)
		if err != nil {
			return err
		}
		if _, err := tx.ExecStmt(ctx, st, args...); err != nil {
			return err
		}
	}
	return nil
}
