package audit_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// truncate removes the entries from entry n+1 on and the tree above n
// leaves, as an insider with the triggers dropped would to roll the log
// back to size n.
func truncate(t *testing.T, db *store.DB, n int64) {
	t.Helper()
	disableGuards(t, db)
	exec(t, db, "DELETE FROM audit_entries WHERE id > ?", n)
	exec(t, db, "DELETE FROM audit_leaves WHERE leaf_index >= ?", n)
	exec(t, db, "DELETE FROM audit_checkpoints WHERE size > ?", n)
	for level := 4; level <= 16; level += 4 {
		exec(t, db, "DELETE FROM audit_nodes WHERE level = ? AND (idx + 1) * ? > ?", level, int64(1)<<level, n)
	}
	exec(t, db, "DELETE FROM audit_postings WHERE last_id > ?", n)
}

// R12.2 (issue 17, findings 2, 6): the log rolled back in the store, with
// the triggers dropped, is refused at the next start: the checkpoint kept
// outside the store is ahead of it. The refusal is recorded, writes are
// refused, and it cannot be acknowledged away.
func TestTruncationRefusedAtStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		f := openTree(t, db, audit.SM3, audit.KeySM2, dir)
		for i := 0; i < 3; i++ {
			f.appendN(t, 10)
			f.integrate(t)
		}
		if k := f.tree.Kept(); k == nil || k.Size != 30 {
			t.Fatalf("kept %+v", k)
		}
		truncate(t, db, 20)
		g := openTree(t, db, "", "", dir) // the next start
		var rb *audit.RollbackError
		if _, err := g.tree.Integrate(ctx); !errors.As(err, &rb) {
			t.Fatalf("integrated over a rollback: %v", err)
		}
		res, err := g.tree.Check(ctx)
		if !errors.As(err, &rb) || rb.Forked || rb.StoreSize != 20 || rb.Kept.Size != 30 || !strings.Contains(err.Error(), "rollback") {
			t.Fatalf("check: %v", err)
		}
		if res.Alarm == nil || res.Alarm.Problem != audit.ProblemStoreBehind || res.Findings[0].Problem != audit.ProblemStoreBehind {
			t.Fatalf("alarm %+v findings %+v", res.Alarm, res.Findings)
		}
		if !apperr.IsCode(g.write(ctx), apperr.Unavailable) {
			t.Error("writes accepted over a rollback")
		}
		admin := audit.Actor{UserID: 1, Login: "root", OrgID: 1}
		if err := g.tree.Acknowledge(ctx, admin, res.Alarm.ID, "已核实：我们删除了最后的记录"); !apperr.IsCode(err, apperr.Conflict) {
			t.Errorf("rollback acknowledged: %v", err)
		}
	})
}

// A rollback while the server runs (another process cuts the store) is
// found at the next integration: the tree stops signing and seals the log.
func TestTruncationWhileRunning(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		f.appendN(t, 30)
		f.integrate(t)
		truncate(t, db, 20)
		f.appendN(t, 15)
		var rb *audit.RollbackError
		if _, err := f.tree.Integrate(ctx); !errors.As(err, &rb) {
			t.Fatalf("integrate: %v", err)
		}
		if a := f.log.Sealed(); a == nil || !a.Rollback() {
			t.Fatalf("not sealed: %+v", a)
		}
	})
}

// The kept checkpoint is written atomically, readable, and a kept
// checkpoint that does not verify refuses the start.
func TestKeptCheckpointFile(t *testing.T) {
	db := storetest.SQLite(t)
	dir := t.TempDir()
	f := openTree(t, db, audit.SM3, audit.KeySM2, dir)
	f.appendN(t, 5)
	cp := f.integrate(t)
	path := filepath.Join(dir, audit.CheckpointFile)
	b, err := os.ReadFile(path)
	if err != nil || string(b) != cp.Note {
		t.Fatalf("kept %q, %v; want %q", b, err, cp.Note)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".audit-checkpoint*"))
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte("\n5\n"), []byte("\n9\n"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.OpenTree(context.Background(), db, audit.New(db, nil), audit.TreeConfig{KeyDir: dir}); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("altered kept checkpoint: %v", err)
	}
}

// R12.2 (issue 17, finding 2): a verifier that kept a checkpoint proves
// the log extends it; a rollback and a fork are named.
func TestVerifySince(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		f := openTree(t, db, audit.SM3, audit.KeySM2, dir)
		f.appendN(t, 20)
		f.integrate(t)
		f.appendN(t, 5)
		kept := f.integrate(t)
		f.appendN(t, 15)
		f.integrate(t)
		v, _ := audit.NewVerifier(f.tree.VerifierKey())
		keptCP, err := audit.ParseCheckpoint([]byte(kept.Note), v)
		if err != nil {
			t.Fatal(err)
		}
		export := func(since uint64) *bytes.Buffer {
			t.Helper()
			var buf bytes.Buffer
			if _, err := f.tree.Export(ctx, &buf, audit.ExportFilter{Since: since}); err != nil {
				t.Fatal(err)
			}
			return &buf
		}
		rep, err := audit.VerifyBundle(export(25), f.tree.VerifierKey(), audit.VerifyOptions{Since: &keptCP})
		if err != nil || rep.Since != 25 || rep.Size != 40 || !rep.Complete {
			t.Fatalf("consistent: %+v %v", rep, err)
		}
		if _, err := audit.VerifyBundle(export(0), f.tree.VerifierKey(), audit.VerifyOptions{Since: &keptCP}); err == nil || !strings.Contains(err.Error(), "--since 25") {
			t.Errorf("no proof: %v", err)
		}
		// Rolled back to 20 (kept file gone too), then grown again: a fork.
		truncate(t, db, 20)
		if err := os.Remove(filepath.Join(dir, audit.CheckpointFile)); err != nil {
			t.Fatal(err)
		}
		g := openTree(t, db, "", "", dir)
		var buf bytes.Buffer
		if _, err := g.tree.Export(ctx, &buf, audit.ExportFilter{}); err != nil {
			t.Fatal(err)
		}
		var ce *audit.ConsistencyError
		if _, err := audit.VerifyBundle(&buf, g.tree.VerifierKey(), audit.VerifyOptions{Since: &keptCP}); !errors.As(err, &ce) || !ce.Rollback || !strings.Contains(err.Error(), "ROLLBACK") {
			t.Fatalf("rollback: %v", err)
		}
		g.appendN(t, 12)
		g.integrate(t)
		buf.Reset()
		if _, err := g.tree.Export(ctx, &buf, audit.ExportFilter{Since: 25}); err != nil {
			t.Fatal(err)
		}
		if _, err := audit.VerifyBundle(&buf, g.tree.VerifierKey(), audit.VerifyOptions{Since: &keptCP}); !errors.As(err, &ce) || ce.Rollback || !strings.Contains(err.Error(), "FORK") {
			t.Fatalf("fork: %v", err)
		}
	})
}

// R12.2 (issue 17, finding 7): a bundle with an entry twice or out of
// order is refused, and an unfiltered one must hold every entry.
func TestBundleRefusesDuplicates(t *testing.T) {
	ctx := context.Background()
	f := openTree(t, storetest.SQLite(t), audit.SM3, audit.KeySM2, t.TempDir())
	f.appendN(t, 6)
	var buf bytes.Buffer
	if _, err := f.tree.Export(ctx, &buf, audit.ExportFilter{}); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	lines := strings.Split(good, "\n")
	// lines: header, 6 entries (with commas), "]}", "".
	dup := strings.Join(append(append(append([]string{}, lines[:3]...), lines[2]), lines[3:]...), "\n")
	swapped := strings.Join(append(append(append([]string{}, lines[:2]...), lines[3], lines[2]), lines[4:]...), "\n")
	missing := strings.Join(append(append([]string{}, lines[:2]...), lines[3:]...), "\n")
	for name, c := range map[string]struct{ bundle, want string }{
		"duplicate":    {dup, "appears twice"},
		"out of order": {swapped, "out of order"},
		"missing":      {missing, "entries are missing"},
	} {
		if _, err := audit.VerifyBundle(strings.NewReader(c.bundle), f.tree.VerifierKey(), audit.VerifyOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	buf.Reset()
	if _, err := f.tree.Export(ctx, &buf, audit.ExportFilter{OrgID: 2}); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyBundle(&buf, f.tree.VerifierKey(), audit.VerifyOptions{})
	if err != nil || rep.Complete || rep.Filter == nil || rep.Filter.OrgID != 2 {
		t.Fatalf("filtered: %+v %v", rep, err)
	}
}

// R12.2 (issue 17, finding 3): the signing key can live apart from the
// data directory, and a key file its group or others may read is refused.
func TestKeyFileApart(t *testing.T) {
	db := storetest.SQLite(t)
	data, keys := t.TempDir(), t.TempDir()
	keyFile := filepath.Join(keys, "audit.key")
	cfg := audit.TreeConfig{KeyDir: data, KeyFile: keyFile, Origin: "test.gongshu/audit"}
	tree, err := audit.OpenTree(context.Background(), db, audit.New(db, nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, audit.KeyFile)); !os.IsNotExist(err) {
		t.Errorf("a key was written into the data directory: %v", err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v", fi, err)
	}
	if _, err := audit.OpenTree(context.Background(), db, audit.New(db, nil), cfg); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604} {
		if err := os.Chmod(keyFile, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := audit.OpenTree(context.Background(), db, audit.New(db, nil), cfg); err == nil || !strings.Contains(err.Error(), "group or others") {
			t.Errorf("mode %v accepted: %v", mode, err)
		}
	}
	_ = tree
}
