package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// exec runs statements that must succeed (tampering, once the guards are down).
func exec(t *testing.T, db *store.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// leafOf is the leaf index of an entry.
func (f *logFixture) leafOf(t *testing.T, entryID int64) uint64 {
	t.Helper()
	idx, err := f.tree.LeafIndex(context.Background(), entryID)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// forgeLeaf changes an entry and rewrites its leaf hash to match, as an
// insider who knows the leaf encoding would; with relink it also rewrites
// the chain links from that leaf to the end.
func (f *logFixture) forgeLeaf(t *testing.T, entryID int64, reason string, relink bool) {
	t.Helper()
	ctx := context.Background()
	exec(t, f.db, "UPDATE audit_entries SET reason = ? WHERE id = ?", reason, entryID)
	idx := f.leafOf(t, entryID)
	e, _, err := f.tree.Leaf(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	var details string
	if err := f.db.QueryRow(ctx, "SELECT details FROM audit_entries WHERE id = ?", entryID).Scan(&details); err != nil {
		t.Fatal(err)
	}
	h := f.tree.Suite().Hasher().HashLeaf(audit.LeafBytes(e, details))
	exec(t, f.db, "UPDATE audit_leaves SET hash = ? WHERE leaf_index = ?", h, int64(idx))
	if !relink {
		return
	}
	var prev []byte
	if idx > 0 {
		if err := f.db.QueryRow(ctx, "SELECT chain FROM audit_leaves WHERE leaf_index = ?", int64(idx)-1).Scan(&prev); err != nil {
			t.Fatal(err)
		}
	}
	leaves := f.leafHashes(t)
	for i := idx; i < uint64(len(leaves)); i++ {
		prev = audit.ChainLink(f.tree.Suite(), prev, leaves[i])
		exec(t, f.db, "UPDATE audit_leaves SET chain = ? WHERE leaf_index = ?", prev, int64(i))
	}
}

func (f *logFixture) check(t *testing.T) audit.CheckResult {
	t.Helper()
	res, err := f.tree.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type named struct {
	problem string
	entry   int64
}

func namedFindings(fs []audit.Finding) []named {
	var out []named
	for _, f := range fs {
		out = append(out, named{f.Problem, f.EntryID})
	}
	return out
}

func (f *logFixture) acknowledge(t *testing.T, a *audit.Alarm) {
	t.Helper()
	admin := audit.Actor{UserID: 1, Login: "root", OrgID: 1}
	if err := f.tree.Acknowledge(context.Background(), admin, a.ID, "已核实：测试篡改，已报告数据主管部门"); err != nil {
		t.Fatal(err)
	}
}

func (f *logFixture) write(ctx context.Context) error {
	return f.log.Do(ctx, audit.Entry{Actor: audit.System, Action: "x.y", ObjectType: "x"}, func(*store.Tx, *audit.Entry) error { return nil })
}

// R12.2 (issue 17, finding 1): several edits made at once are all named,
// each with its entry, including an entry changed together with its leaf
// hash; the alarm covers exactly them.
func TestEveryTamperNamed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		f.appendN(t, 40)
		f.integrate(t)
		if res := f.check(t); res.Total != 0 || res.Alarm != nil || res.Entries != 40 {
			t.Fatalf("clean log: %+v", res)
		}
		disableGuards(t, db)
		exec(t, db, "UPDATE audit_entries SET reason = 'nothing to see' WHERE id IN (3, 10)")
		exec(t, db, "DELETE FROM audit_entries WHERE id = 20")
		f.forgeLeaf(t, 25, "rewritten with its leaf", false)
		exec(t, db, "INSERT INTO audit_entries (id, at, actor_login, action, object_type, object_id, outcome) VALUES (-1, ?, 'ghost', 'x', 'y', 'z', 'ok')",
			time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
		res := f.check(t)
		want := []named{{audit.ProblemEntryChanged, 3}, {audit.ProblemEntryChanged, 10}, {audit.ProblemEntryMissing, 20},
			{audit.ProblemLeafChanged, 25}, {audit.ProblemEntryInserted, -1}}
		if got := namedFindings(res.Findings); fmt.Sprint(got) != fmt.Sprint(want) || res.Total != int64(len(want)) {
			t.Fatalf("findings %v (total %d), want %v", got, res.Total, want)
		}
		a := res.Alarm
		if a == nil || a.Total != int64(len(want)) || fmt.Sprint(namedFindings(a.Findings)) != fmt.Sprint(want) || a.EntryID != 3 {
			t.Fatalf("alarm %+v", a)
		}
		if f.log.Sealed() == nil || !apperr.IsCode(f.write(ctx), apperr.Unavailable) {
			t.Fatal("log not sealed")
		}
		// The leaf changed with its entry is named with its leaf.
		for _, x := range res.Findings {
			if x.Problem == audit.ProblemLeafChanged && (x.LeafIndex != int64(f.leafOf(t, 25)) || x.LeafCount != 1) {
				t.Errorf("leaf finding %+v", x)
			}
		}
	})
}

// R12.2 (issue 17, finding 1): an acknowledged alarm covers exactly its
// findings and checking goes on past them: a later edit, anywhere, and a
// further edit of an entry already acknowledged, each raise a new alarm
// and stop writes again.
func TestEditAfterAcknowledgedAlarm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		f.appendN(t, 40)
		f.integrate(t)
		disableGuards(t, db)
		exec(t, db, "UPDATE audit_entries SET reason = 'first edit' WHERE id = 7")
		first := f.check(t).Alarm
		if first == nil || first.Total != 1 || first.EntryID != 7 {
			t.Fatalf("first alarm %+v", first)
		}
		f.acknowledge(t, first)
		if res := f.check(t); res.Alarm == nil || res.Alarm.ID != first.ID || f.log.Sealed() != nil {
			t.Fatalf("the acknowledged finding sealed again: %+v sealed=%v", res.Alarm, f.log.Sealed())
		}
		// Writes go on, and are integrated past the acknowledged finding.
		f.appendN(t, 20)
		f.integrate(t)
		if res := f.check(t); res.Total != 1 || res.Alarm.ID != first.ID || f.log.Sealed() != nil {
			t.Fatalf("after more writes: %+v", res)
		}

		steps := []struct {
			name   string
			tamper func()
			want   named
		}{
			{"another entry", func() { exec(t, db, "UPDATE audit_entries SET reason = 'later edit' WHERE id = 30") },
				named{audit.ProblemEntryChanged, 30}},
			{"an entry and its leaf", func() { f.forgeLeaf(t, 45, "rewritten with its leaf", false) },
				named{audit.ProblemLeafChanged, 45}},
			{"the acknowledged entry again", func() { exec(t, db, "UPDATE audit_entries SET reason = 'second edit' WHERE id = 7") },
				named{audit.ProblemEntryChanged, 7}},
		}
		seen := map[int64]bool{first.ID: true}
		for _, s := range steps {
			s.tamper()
			res := f.check(t)
			a := res.Alarm
			if a == nil || seen[a.ID] || a.Total != 1 || fmt.Sprint(namedFindings(a.Findings)) != fmt.Sprint([]named{s.want}) {
				t.Fatalf("%s: alarm %+v, want a new alarm naming only %v", s.name, a, s.want)
			}
			seen[a.ID] = true
			if !apperr.IsCode(f.write(ctx), apperr.Unavailable) {
				t.Fatalf("%s: writes not refused", s.name)
			}
			f.acknowledge(t, a)
			if err := f.write(ctx); err != nil {
				t.Fatalf("%s: write after acknowledgement: %v", s.name, err)
			}
		}
	})
}

// The check's output is bounded, its count is not.
func TestManyFindingsBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		f.appendN(t, 300)
		f.integrate(t)
		disableGuards(t, db)
		exec(t, db, "UPDATE audit_entries SET reason = 'all of them'")
		res := f.check(t)
		if res.Total != 300 || len(res.Findings) != audit.ShownFindings || res.Alarm == nil ||
			res.Alarm.Total != 300 || len(res.Alarm.Findings) != audit.ShownFindings {
			t.Fatalf("total %d, %d shown, alarm %+v", res.Total, len(res.Findings), res.Alarm)
		}
	})
}

// A rewrite that keeps leaves, links and entries consistent is still
// found, and named as narrowly as the stored nodes and earlier
// checkpoints allow. Since the stored tree no longer reproduces the
// checkpoint kept outside the store, it is also a fork: refused.
func TestRewriteNamedAsRange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		for i := 0; i < 4; i++ { // checkpoints at 10, 20, 30, 40
			f.appendN(t, 10)
			f.integrate(t)
		}
		disableGuards(t, db)
		// Leaves 35.. have no stored node above them yet: only the
		// checkpoints narrow the rewrite down, to the leaves 30-39.
		f.forgeLeaf(t, 36, "rewritten, links and all", true)
		res, err := f.tree.Check(ctx)
		var rb *audit.RollbackError
		if !errors.As(err, &rb) || !rb.Forked || rb.Kept.Size != 40 {
			t.Fatalf("tail rewrite: %v", err)
		}
		got := map[string]audit.Finding{}
		for _, x := range res.Findings {
			got[x.Problem] = x
		}
		if r := got[audit.ProblemRootMismatch]; res.Total != 2 || r.LeafIndex != 30 || r.LeafCount != 10 || r.Size != 40 ||
			got[audit.ProblemStoreForked].Size != 40 {
			t.Fatalf("tail rewrite: %+v", res.Findings)
		}
		if a := f.log.Sealed(); a == nil || !a.Rollback() {
			t.Fatalf("sealed by %+v", a)
		}
		// A fork is not acknowledged away.
		admin := audit.Actor{UserID: 1, Login: "root", OrgID: 1}
		if err := f.tree.Acknowledge(ctx, admin, res.Alarm.ID, "已核实：测试篡改，已报告数据主管部门"); !apperr.IsCode(err, apperr.Conflict) {
			t.Fatalf("acknowledged a fork: %v", err)
		}
		if _, err := f.tree.Integrate(ctx); !errors.As(err, &rb) {
			t.Fatalf("integrated over a fork: %v", err)
		}
	})
}

// A stored node changed: the leaves under it are named.
func TestNodeRewriteNamed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		f.appendN(t, 40)
		f.integrate(t)
		disableGuards(t, db)
		exec(t, db, "UPDATE audit_nodes SET hash = ? WHERE level = 4 AND idx = 1", make([]byte, 32))
		// The stored tree no longer gives the kept root: a fork as well.
		res, err := f.tree.Check(context.Background())
		if rb := new(audit.RollbackError); !errors.As(err, &rb) || !rb.Forked {
			t.Fatalf("node rewrite: %v", err)
		}
		var sub *audit.Finding
		for i, x := range res.Findings {
			if x.Problem == audit.ProblemSubtreeChanged {
				sub = &res.Findings[i]
			}
		}
		if sub == nil || sub.LeafIndex != 16 || sub.LeafCount != 16 || res.Alarm == nil || f.log.Sealed() == nil {
			t.Fatalf("node rewrite: %+v", res.Findings)
		}
	})
}

// R12.2 (issue 17, finding 8): every audit table refuses UPDATE and DELETE
// (an alarm only gains its acknowledgement, once), on both engines.
func TestAuditTablesAppendOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		f.appendN(t, 20)
		f.integrate(t)
		if _, err := f.tree.AddCosigner(ctx, audit.System, mustVerifierKey(t, "w.example/a"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.log.SetRetention(ctx, audit.System, 9, "JX-1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 3); err != nil {
			t.Fatal(err)
		}
		exec(t, db, "INSERT INTO audit_alarms (detected_at, entry_id, leaf_index, problem) VALUES (?, 1, 0, 'entry_changed')", time.Now().UTC())
		exec(t, db, "INSERT INTO audit_alarm_findings (alarm_id, seq, problem, leaf_index, leaf_count, entry_id, size, digest) VALUES (1, 0, 'entry_changed', 0, 1, 1, 0, '')")
		exec(t, db, "INSERT INTO audit_cosignatures (size, cosigner_id, signature, created_at) VALUES (20, 1, 'x', ?)", time.Now().UTC())
		refused := []string{
			"UPDATE audit_entries SET reason = 'x'", "DELETE FROM audit_entries",
			"UPDATE audit_leaves SET hash = hash", "DELETE FROM audit_leaves",
			"UPDATE audit_nodes SET hash = hash", "DELETE FROM audit_nodes",
			"UPDATE audit_checkpoints SET note = note", "DELETE FROM audit_checkpoints",
			"UPDATE audit_log SET suite = suite", "DELETE FROM audit_log",
			"UPDATE audit_alarms SET problem = 'order_changed'", "DELETE FROM audit_alarms",
			"UPDATE audit_alarm_findings SET digest = 'x'", "DELETE FROM audit_alarm_findings",
			"UPDATE audit_cosigners SET name = name", "DELETE FROM audit_cosigners",
			"UPDATE audit_cosignatures SET signature = signature", "DELETE FROM audit_cosignatures",
			"UPDATE audit_retention SET retain_until = '2099-01-01'", "DELETE FROM audit_retention",
			"UPDATE audit_postings SET ids = ids", "DELETE FROM audit_postings",
			// An acknowledgement that also changes the finding.
			"UPDATE audit_alarms SET acknowledged_by = 'x', acknowledged_at = CURRENT_TIMESTAMP, acknowledgement = 'y', entry_id = 2",
		}
		if db.Dialect() == store.Postgres {
			for _, table := range []string{"audit_leaves", "audit_nodes", "audit_checkpoints", "audit_log", "audit_alarms",
				"audit_alarm_findings", "audit_cosigners", "audit_cosignatures", "audit_retention", "audit_postings"} {
				refused = append(refused, "TRUNCATE "+table+" CASCADE")
			}
		}
		for _, q := range refused {
			if _, err := db.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") && !strings.Contains(err.Error(), "fixed") {
				t.Errorf("%s: %v", q, err)
			}
		}
		// The acknowledgement itself is allowed, once.
		ack := "UPDATE audit_alarms SET acknowledged_by = 'root', acknowledged_at = ?, acknowledgement = 'seen and reported' WHERE id = 1"
		if _, err := db.Exec(ctx, ack, time.Now().UTC()); err != nil {
			t.Fatalf("acknowledgement refused: %v", err)
		}
		if _, err := db.Exec(ctx, ack, time.Now().UTC()); err == nil {
			t.Error("second acknowledgement accepted")
		}
	})
}

func mustVerifierKey(t *testing.T, name string) string {
	t.Helper()
	_, vkey, err := note.GenerateKey(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}
