package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/transparency-dev/merkle/compact"
)

// CheckpointFile is the file in the data directory where the platform
// keeps the latest checkpoint it signed, outside the SQL store: whoever
// rolls the store back (deleting the last entries, leaves and checkpoints
// with the triggers dropped) must also find and roll back this file, and
// the witnesses hold the same checkpoint out of their reach.
const CheckpointFile = "audit-checkpoint"

// ErrNoLog is returned by OpenTree with MustExist when the store holds no
// audit log: the --data or --db given does not hold a platform.
var ErrNoLog = errors.New("audit: the store holds no audit log")

// ErrNoSigner is returned by Integrate on a tree opened to verify only,
// without the signing key.
var ErrNoSigner = errors.New("audit: this process holds no signing key: it can check the log, not extend it")

// RollbackError reports a store whose tree is behind, or not consistent
// with, the checkpoint kept outside it. The platform refuses to start, and
// a running one stops signing and refuses writes, until the store is
// restored: it is not an alarm an administrator can acknowledge.
type RollbackError struct {
	Path      string     // where the checkpoint was kept
	Kept      Checkpoint // the kept checkpoint
	StoreSize uint64     // the tree size the store holds
	// Forked: the store reaches the kept size but its tree there has
	// another root (StoreRoot): the log was rewritten, not cut short.
	Forked    bool
	StoreRoot []byte
}

func (e *RollbackError) Error() string {
	if e.Forked && e.Kept.Root == nil {
		return fmt.Sprintf("audit: the store's log does not extend the tree of size %d that the %s cosigned (its root there is now %x): the log was rewritten (a fork); restore the store, writes are refused",
			e.Kept.Size, e.Path, e.StoreRoot)
	}
	if e.Forked {
		return fmt.Sprintf("audit: the store's log is not the log of the checkpoint kept in %s: at size %d its root is %x, the checkpoint's %x (the log was rewritten: a fork); restore the store, writes are refused",
			e.Path, e.Kept.Size, e.StoreRoot, e.Kept.Root)
	}
	return fmt.Sprintf("audit: the store's log holds %d entries, behind the checkpoint of size %d kept in %s (entries were removed: a rollback); restore the store, writes are refused",
		e.StoreSize, e.Kept.Size, e.Path)
}

// finding is the error as a finding of the check.
func (e *RollbackError) finding() Finding {
	if e.Forked {
		return Finding{Problem: ProblemStoreForked, LeafIndex: 0, LeafCount: int64(e.Kept.Size), Size: e.Kept.Size, Digest: hex.EncodeToString(e.StoreRoot)}
	}
	return Finding{Problem: ProblemStoreBehind, LeafIndex: int64(e.StoreSize), LeafCount: int64(e.Kept.Size - e.StoreSize),
		Size: e.Kept.Size, Digest: hex.EncodeToString(e.Kept.Root)}
}

// readKept reads and verifies the kept checkpoint; nil when there is none.
func (t *Tree) readKept() (*Checkpoint, error) {
	if t.keptPath == "" {
		return nil, nil
	}
	b, err := os.ReadFile(t.keptPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read the kept checkpoint: %w", err)
	}
	cp, err := ParseCheckpoint(b, t.verifier)
	if err != nil {
		return nil, fmt.Errorf("audit: the checkpoint kept in %s does not verify with the log's key (%v): it was altered or belongs to another log; find out which before moving it away", t.keptPath, err)
	}
	if cp.Origin != t.origin {
		return nil, fmt.Errorf("audit: the checkpoint kept in %s is of log %q, not %q", t.keptPath, cp.Origin, t.origin)
	}
	return &cp, nil
}

// checkKept checks that a stored tree of the given size extends the kept
// checkpoint.
func (t *Tree) checkKept(ctx context.Context, size uint64) *RollbackError {
	k := t.kept
	if k == nil || k.Size == 0 {
		return nil
	}
	if size < k.Size {
		return &RollbackError{Path: t.keptPath, Kept: *k, StoreSize: size}
	}
	root, err := t.rootAt(ctx, k.Size)
	if err != nil || !bytes.Equal(root, k.Root) {
		return &RollbackError{Path: t.keptPath, Kept: *k, StoreSize: size, Forked: true, StoreRoot: root}
	}
	return nil
}

// rootAt is the root of the stored tree at a size, computed as the
// integrator and the proofs see it: from the stored nodes of the complete
// subtrees, and the leaves below the lowest stored level.
func (t *Tree) rootAt(ctx context.Context, size uint64) ([]byte, error) {
	if size == 0 {
		return t.hasher.EmptyRoot(), nil
	}
	hashes, err := t.nodeHashes(ctx, t.db, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	rng, err := t.factory.NewRange(0, size, hashes)
	if err != nil {
		return nil, err
	}
	return rng.GetRootHash(nil)
}

// keepSigned writes the last checkpoint this process signed to the kept
// file, unless the file already holds one as large (another process, such
// as `audit check` beside a running server, may have kept a newer one).
func (t *Tree) keepSigned() error {
	cp := t.signed
	t.signed = nil
	if cp == nil || t.keptPath == "" || (t.kept != nil && t.kept.Size >= cp.Size) {
		return nil
	}
	if cur, err := t.readKept(); err == nil && cur != nil && cur.Size >= cp.Size {
		t.kept = cur
		return nil
	}
	if err := writeFileAtomic(t.keptPath, []byte(cp.Note), 0o644); err != nil {
		return fmt.Errorf("audit: keep checkpoint %d: %w", cp.Size, err)
	}
	t.kept = cp
	return nil
}

// Kept returns the checkpoint kept outside the store, if any.
func (t *Tree) Kept() *Checkpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.kept == nil {
		return nil
	}
	k := *t.kept
	return &k
}

// sealRollback records the rollback as an alarm (once) and stops writes.
func (t *Tree) sealRollback(ctx context.Context) {
	if t.rollback == nil {
		return
	}
	if a := t.log.sealed.Load(); a != nil && a.rollback {
		return
	}
	a := Alarm{Problem: t.rollback.finding().Problem, LeafIndex: t.rollback.finding().LeafIndex, rollback: true}
	if recorded, err := t.raise(ctx, newFindingSet(t.rollback.finding())); err == nil && recorded != nil {
		a = *recorded
		a.rollback = true
	}
	t.log.sealed.Store(&a)
}

// writeFileAtomic replaces path with data: written to a temporary file in
// the same directory, synced, renamed over path, and the directory synced,
// so a crash leaves the old file or the new one, never a part of either.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
