package audit

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/gongshu/gongshu/internal/store"
)

// groupCommit batches entries that change nothing else (refusals, data
// accesses) from concurrent writers into shared transactions: one commit,
// and so one disk sync, for the whole batch. Each writer still returns only
// after its own entry is durable. No goroutine runs in the background: the
// first writer to find no batch in flight leads, committing what queues
// behind it until the queue is empty.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*pendingEntry
	leading bool
}

// stmtRows is the largest batch inserted by one prepared statement (the
// log keeps one for each size up to it); larger batches are inserted in
// chunks of it.
const stmtRows = 32

type pendingEntry struct {
	args []any // the entry's column values
	done chan error
}

// maxBatch bounds one group commit, so a flood cannot build one huge transaction.
const maxBatch = 2048

// Record appends e in a transaction of its own, shared with concurrent
// Record calls, and returns once it is committed.
func (l *Log) Record(ctx context.Context, e Entry) error {
	args, err := l.row(ctx, &e)
	if err != nil {
		return err
	}
	p := &pendingEntry{args: args, done: make(chan error, 1)}
	g := &l.group
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if g.leading {
		g.mu.Unlock()
		return <-p.done
	}
	g.leading = true
	for {
		// Let writers that were just released by the previous commit queue
		// up behind this one while the queue still grows, so batches grow
		// with the number of writers (16 writers: about 15 entries a sync).
		for grown := true; grown && len(g.queue) < maxBatch; {
			before := len(g.queue)
			g.mu.Unlock()
			runtime.Gosched()
			g.mu.Lock()
			grown = len(g.queue) > before
		}
		n := min(len(g.queue), maxBatch)
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		// The batch commits even if the leader's own caller gave up:
		// other writers are waiting on it.
		wctx := context.WithoutCancel(ctx)
		err := l.commitBatch(wctx, batch)
		for _, q := range batch {
			q.done <- err
		}
		if err == nil {
			l.notify()
		}
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.leading = false
			g.mu.Unlock()
			return <-p.done
		}
	}
}

// commitBatch writes a batch in queue order, in one transaction. On
// SQLite a batch of up to stmtRows entries is one prepared INSERT run on
// its own (autocommit): with BEGIN and COMMIT it would take three
// statements under the write lock, and the lock is what the next batch
// waits for. (PostgreSQL needs the order lock first, so a transaction.)
func (l *Log) commitBatch(ctx context.Context, batch []*pendingEntry) error {
	if l.db.Dialect() == store.SQLite && len(batch) <= stmtRows {
		st, args, err := l.batchStmt(ctx, batch)
		if err != nil {
			return err
		}
		if _, err := l.db.ExecAlone(ctx, st, args...); err != nil {
			return fmt.Errorf("audit: append %d entries: %w", len(batch), err)
		}
		return nil
	}
	return l.db.InTx(ctx, func(tx *store.Tx) error {
		if err := orderLock(ctx, tx); err != nil {
			return err
		}
		for len(batch) > 0 {
			part := batch[:min(len(batch), stmtRows)]
			batch = batch[len(part):]
			st, args, err := l.batchStmt(ctx, part)
			if err != nil {
				return err
			}
			if _, err := tx.ExecStmt(ctx, st, args...); err != nil {
				return fmt.Errorf("audit: append %d entries: %w", len(part), err)
			}
		}
		return nil
	})
}

// batchStmt returns the prepared INSERT of len(part) rows (at most
// stmtRows) and its arguments.
func (l *Log) batchStmt(ctx context.Context, part []*pendingEntry) (*store.Stmt, []any, error) {
	st, err := l.stmts.get(ctx, l.db, multiRow(insertEntries, entryColumnCount, len(part)))
	if err != nil {
		return nil, nil, fmt.Errorf("audit: prepare append of %d entries: %w", len(part), err)
	}
	args := make([]any, 0, len(part)*entryColumnCount)
	for _, p := range part {
		args = append(args, p.args...)
	}
	return st, args, nil
}
