package audit

import (
	"context"
	"fmt"
	"runtime"
	"strings"
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
		err := l.db.InTx(wctx, func(tx *store.Tx) error { return insertBatch(wctx, tx, batch) })
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

// insertBatch writes a batch with one multi-row INSERT, in queue order.
func insertBatch(ctx context.Context, tx *store.Tx, batch []*pendingEntry) error {
	if err := orderLock(ctx, tx); err != nil {
		return err
	}
	var q strings.Builder
	q.WriteString(insertEntries)
	args := make([]any, 0, len(batch)*12)
	for i, p := range batch {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(entryPlaceholders)
		args = append(args, p.args...)
	}
	if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("audit: append %d entries: %w", len(batch), err)
	}
	return nil
}
