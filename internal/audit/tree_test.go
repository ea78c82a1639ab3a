package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

type logFixture struct {
	db   *store.DB
	log  *audit.Log
	tree *audit.Tree
	dir  string
}

func openTree(t *testing.T, db *store.DB, suite audit.Suite, key audit.KeyType, dir string) *logFixture {
	t.Helper()
	log := audit.New(db, nil)
	tree, err := audit.OpenTree(context.Background(), db, log, audit.TreeConfig{Suite: suite, KeyType: key, KeyDir: dir, Origin: "test.gongshu/audit"})
	if err != nil {
		t.Fatal(err)
	}
	return &logFixture{db, log, tree, dir}
}

// appendN writes n entries with varied content, each in its own transaction.
func (f *logFixture) appendN(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		e := audit.Entry{Actor: audit.Actor{UserID: int64(i%3 + 1), Login: fmt.Sprint("user", i%3), OrgID: int64(i%2 + 1)},
			Action: "thing.do", ObjectType: "thing", ObjectID: fmt.Sprint(i)}
		e.Set("n", i)
		e.Set("名称", "数据资源")
		if err := f.log.Do(ctx, e, func(*store.Tx, *audit.Entry) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *logFixture) integrate(t *testing.T) audit.Checkpoint {
	t.Helper()
	if _, err := f.tree.Integrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	cp, err := f.tree.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// leafHashes reads the stored leaf hashes in order.
func (f *logFixture) leafHashes(t *testing.T) [][]byte {
	t.Helper()
	rows, err := f.db.Query(context.Background(), "SELECT hash FROM audit_leaves ORDER BY leaf_index")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	return out
}

// tlogOracle builds the tree with x/mod's sumdb/tlog, an independent
// RFC 6962 implementation (SHA-256).
type tlogOracle struct{ stored []tlog.Hash }

func (o *tlogOracle) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = o.stored[x]
	}
	return out, nil
}

func newOracle(t *testing.T, leafHashes [][]byte) *tlogOracle {
	t.Helper()
	o := &tlogOracle{}
	for n, lh := range leafHashes {
		var h tlog.Hash
		copy(h[:], lh)
		// StoredHashesForRecordHash adds the record hash and the interior hashes it completes.
		hs, err := tlog.StoredHashesForRecordHash(int64(n), h, o)
		if err != nil {
			t.Fatal(err)
		}
		o.stored = append(o.stored, hs...)
	}
	return o
}

// R12.2: the SHA-256 tree, its inclusion and consistency proofs agree with
// the independent oracle, and verify with it.
func TestTreeMatchesTlogOracle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := openTree(t, db, audit.SHA256, audit.KeyEd25519, t.TempDir())
		f.appendN(t, 37)
		cp37 := f.integrate(t)
		f.appendN(t, 40)
		cp77 := f.integrate(t)
		// Past 256 leaves, so that proofs use stored nodes above level 0
		// and nodes recomputed between the stored levels.
		f.appendN(t, 300)
		cp := f.integrate(t)
		if cp37.Size != 37 || cp77.Size != 77 || cp.Size != 377 {
			t.Fatalf("sizes %d, %d, %d", cp37.Size, cp77.Size, cp.Size)
		}
		leaves := f.leafHashes(t)
		o := newOracle(t, leaves)
		for _, size := range []int64{1, 2, 3, 7, 8, 37, 64, 77, 255, 256, 300, 377} {
			th, err := tlog.TreeHash(size, o)
			if err != nil {
				t.Fatal(err)
			}
			if size == 77 && !bytes.Equal(th[:], cp77.Root) {
				t.Fatalf("root differs from the oracle's at 77")
			}
			if size == 377 && !bytes.Equal(th[:], cp.Root) {
				t.Fatalf("root differs from the oracle's at 377")
			}
			if size == 37 && !bytes.Equal(th[:], cp37.Root) {
				t.Fatalf("root differs from the oracle's at 37")
			}
			for _, idx := range []int64{0, size / 3, size / 2, size - 1} {
				ours, err := f.tree.InclusionProof(ctx, uint64(idx), uint64(size))
				if size > int64(cp.Size) {
					continue
				}
				if err != nil {
					t.Fatalf("inclusion %d/%d: %v", idx, size, err)
				}
				var rp tlog.RecordProof
				for _, h := range ours {
					var x tlog.Hash
					copy(x[:], h)
					rp = append(rp, x)
				}
				var lh tlog.Hash
				copy(lh[:], leaves[idx])
				if err := tlog.CheckRecord(rp, size, th, idx, lh); err != nil {
					t.Errorf("oracle rejects our inclusion proof %d/%d: %v", idx, size, err)
				}
				theirs, err := tlog.ProveRecord(size, idx, o)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(theirs) != fmt.Sprint(rp) {
					t.Errorf("inclusion %d/%d differs from the oracle's", idx, size)
				}
			}
			if size == 377 {
				continue
			}
			ours, err := f.tree.ConsistencyProof(ctx, uint64(size), 377)
			if err != nil {
				t.Fatal(err)
			}
			var tp tlog.TreeProof
			for _, h := range ours {
				var x tlog.Hash
				copy(x[:], h)
				tp = append(tp, x)
			}
			var root tlog.Hash
			copy(root[:], cp.Root)
			if err := tlog.CheckTree(tp, 377, root, size, th); err != nil {
				t.Errorf("oracle rejects our consistency proof %d→377: %v", size, err)
			}
		}
	})
}

// Both suites: proofs verify with the RFC 6962 verifier over our hasher.
func TestProofsVerifyBothSuites(t *testing.T) {
	for _, suite := range []audit.Suite{audit.SM3, audit.SHA256} {
		t.Run(string(suite), func(t *testing.T) {
			ctx := context.Background()
			f := openTree(t, storetest.SQLite(t), suite, audit.KeySM2, t.TempDir())
			f.appendN(t, 21)
			cp21 := f.integrate(t)
			f.appendN(t, 12)
			cp := f.integrate(t)
			h := suite.Hasher()
			for i := uint64(0); i < cp.Size; i++ {
				e, lh, err := f.tree.Leaf(ctx, i)
				if err != nil {
					t.Fatal(err)
				}
				if e.ObjectID == "" {
					t.Fatalf("leaf %d has no entry", i)
				}
				p, err := f.tree.InclusionProof(ctx, i, cp.Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyInclusion(h, i, cp.Size, lh, p, cp.Root); err != nil {
					t.Errorf("inclusion of %d: %v", i, err)
				}
			}
			p, err := f.tree.ConsistencyProof(ctx, cp21.Size, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(h, cp21.Size, cp.Size, p, cp21.Root, cp.Root); err != nil {
				t.Errorf("consistency: %v", err)
			}
			if suite == audit.SM3 && bytes.Equal(cp.Root, openTree(t, storetest.SQLite(t), audit.SHA256, audit.KeySM2, t.TempDir()).integrate(t).Root) {
				t.Error("SM3 and SHA-256 gave the same root")
			}
			// Sizes the log has not signed are refused with a reason.
			if _, err := f.tree.InclusionProof(ctx, 0, cp.Size+1); !apperr.IsCode(err, apperr.Invalid) {
				t.Errorf("proof beyond the checkpoint: %v", err)
			}
			if _, err := f.tree.ConsistencyProof(ctx, 30, 20); !apperr.IsCode(err, apperr.Invalid) {
				t.Errorf("backwards consistency: %v", err)
			}
		})
	}
}

// The checkpoint is a signed note that verifies with the published key and
// not with another; SM2 and Ed25519 both.
func TestCheckpointSignatures(t *testing.T) {
	for _, kt := range []audit.KeyType{audit.KeySM2, audit.KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			dir := t.TempDir()
			f := openTree(t, storetest.SQLite(t), audit.SM3, kt, dir)
			f.appendN(t, 5)
			cp := f.integrate(t)
			v, err := audit.NewVerifier(f.tree.VerifierKey())
			if err != nil {
				t.Fatal(err)
			}
			got, err := audit.ParseCheckpoint([]byte(cp.Note), v)
			if err != nil || got.Size != 5 || !bytes.Equal(got.Root, cp.Root) || got.Origin != "test.gongshu/audit" {
				t.Fatalf("parse: %+v %v", got, err)
			}
			if !strings.HasPrefix(cp.Note, "test.gongshu/audit\n5\n") {
				t.Errorf("note body %q", cp.Note)
			}
			other := openTree(t, storetest.SQLite(t), audit.SM3, kt, t.TempDir())
			ov, _ := audit.NewVerifier(other.tree.VerifierKey())
			if _, err := audit.ParseCheckpoint([]byte(cp.Note), ov); err == nil {
				t.Error("checkpoint verified with another log's key")
			}
			tampered := strings.Replace(cp.Note, "\n5\n", "\n6\n", 1)
			if _, err := audit.ParseCheckpoint([]byte(tampered), v); err == nil {
				t.Error("altered checkpoint verified")
			}
			fi, err := os.Stat(filepath.Join(dir, audit.KeyFile))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key file: %v %v", fi, err)
			}
			// Reopening uses the same key; another key is refused.
			again := openTree(t, f.db, "", "", dir)
			if again.tree.VerifierKey() != f.tree.VerifierKey() {
				t.Error("key changed on reopen")
			}
			if _, err := audit.OpenTree(context.Background(), f.db, audit.New(f.db, nil), audit.TreeConfig{KeyDir: t.TempDir()}); err == nil {
				t.Error("opened the log with a different signing key")
			}
			if err := os.Chmod(filepath.Join(dir, audit.KeyFile), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := audit.OpenTree(context.Background(), f.db, audit.New(f.db, nil), audit.TreeConfig{KeyDir: dir}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("world-readable key accepted: %v", err)
			}
		})
	}
}

// A crash between committing entries and integrating them loses nothing:
// the next start catches up, and the state rebuilt from the stored nodes
// gives the same roots as one uninterrupted run.
func TestCatchUpAfterRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		dir := t.TempDir()
		f := openTree(t, db, audit.SM3, audit.KeySM2, dir)
		f.appendN(t, 13)
		f.integrate(t)
		f.appendN(t, 9) // committed, not integrated: the process "crashes" here
		g := openTree(t, db, "", "", dir)
		cp := g.integrate(t)
		if cp.Size != 22 {
			t.Fatalf("size after catch-up %d", cp.Size)
		}
		res, err := g.tree.Check(context.Background())
		if err != nil || res.Alarm != nil || res.Entries != 22 {
			t.Fatalf("check after catch-up: %+v %v", res, err)
		}
	})
}

// disableGuards drops the append-only triggers of every audit table, as an
// insider with the database's owner rights can.
func disableGuards(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	var stmts []string
	if db.Dialect() == store.Postgres {
		for _, table := range []string{"audit_entries", "audit_leaves", "audit_nodes", "audit_checkpoints", "audit_log",
			"audit_alarms", "audit_alarm_findings", "audit_cosigners", "audit_cosignatures", "audit_postings", "audit_retention"} {
			stmts = append(stmts, "ALTER TABLE "+table+" DISABLE TRIGGER USER")
		}
	} else {
		rows, err := db.Query(ctx, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'audit%'")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			stmts = append(stmts, "DROP TRIGGER "+name)
		}
		rows.Close()
	}
	for _, s := range stmts {
		if _, err := db.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
}

// R12.2: a row altered, deleted, reordered or slipped in directly in the
// database is found and named; the log then refuses writes until an
// administrator acknowledges, and that acknowledgement is audited.
func TestTamperingDetected(t *testing.T) {
	cases := []struct {
		name    string
		tamper  string
		problem string
		entry   int64
	}{
		{"altered", "UPDATE audit_entries SET reason = 'nothing to see' WHERE id = 7", audit.ProblemEntryChanged, 7},
		{"deleted", "DELETE FROM audit_entries WHERE id = 9", audit.ProblemEntryMissing, 9},
		{"reordered", "UPDATE audit_entries SET object_id = CASE id WHEN 4 THEN '5' ELSE '4' END WHERE id IN (4, 5)", audit.ProblemEntryChanged, 4},
		{"back-dated insert", "INSERT INTO audit_entries (id, at, actor_login, action, object_type, object_id, outcome) VALUES (-1, '2020-01-01 00:00:00+00:00', 'ghost', 'x', 'y', 'z', 'ok')", audit.ProblemEntryInserted, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
				f.appendN(t, 12)
				f.integrate(t)
				if res, err := f.tree.Check(ctx); err != nil || res.Alarm != nil {
					t.Fatalf("clean log: %+v %v", res, err)
				}
				disableGuards(t, db)
				if _, err := db.Exec(ctx, c.tamper); err != nil {
					t.Fatal(err)
				}
				res, err := f.tree.Check(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if res.Alarm == nil || res.Alarm.Problem != c.problem || res.Alarm.EntryID != c.entry {
					t.Fatalf("alarm = %+v, want %s at entry %d", res.Alarm, c.problem, c.entry)
				}
				if f.log.Sealed() == nil {
					t.Fatal("log not sealed")
				}
				err = f.log.Do(ctx, audit.Entry{Actor: audit.System, Action: "x.y", ObjectType: "x"}, func(*store.Tx, *audit.Entry) error { return nil })
				if !apperr.IsCode(err, apperr.Unavailable) {
					t.Fatalf("write while sealed: %v", err)
				}
				admin := audit.Actor{UserID: 1, Login: "root", OrgID: 1}
				if err := f.tree.Acknowledge(ctx, admin, res.Alarm.ID, "short"); !apperr.IsCode(err, apperr.Invalid) {
					t.Errorf("acknowledgement without a statement: %v", err)
				}
				if err := f.tree.Acknowledge(ctx, admin, res.Alarm.ID, "已核实：测试篡改，已报告数据主管部门"); err != nil {
					t.Fatal(err)
				}
				if f.log.Sealed() != nil {
					t.Fatal("still sealed after acknowledgement")
				}
				es, _ := f.log.List(ctx, audit.Filter{Action: audit.ActionAcknowledge, Outcome: audit.OK})
				if len(es) != 1 || es[0].Actor.Login != "root" {
					t.Errorf("acknowledgement entries %+v", es)
				}
				// The same finding at the next start is known and acknowledged: no new seal.
				res2, err := f.tree.Check(ctx)
				if err != nil || res2.Alarm == nil || res2.Alarm.ID != res.Alarm.ID || f.log.Sealed() != nil {
					t.Errorf("second check: %+v %v sealed=%v", res2.Alarm, err, f.log.Sealed())
				}
			})
		})
	}
}

// A checkpoint signed by someone else is refused by the check.
func TestForgedCheckpointDetected(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		f.appendN(t, 3)
		cp := f.integrate(t)
		skey, _, err := note.GenerateKey(nil, "test.gongshu/audit")
		if err != nil {
			t.Fatal(err)
		}
		signer, _ := note.NewSigner(skey)
		forged, err := note.Sign(&note.Note{Text: audit.CheckpointBody("test.gongshu/audit", 4, cp.Root)}, signer)
		if err != nil {
			t.Fatal(err)
		}
		f.appendN(t, 1)
		if _, err := db.Exec(ctx, "INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)",
			4, cp.Root, string(forged), time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		res, err := f.tree.Check(ctx)
		if err != nil || res.Alarm == nil || res.Alarm.Problem != audit.ProblemBadCheckpoint {
			t.Fatalf("forged checkpoint: %+v %v", res.Alarm, err)
		}
	})
}

// Run integrates entries committed by concurrent writers (run with -race).
func TestRunIntegratesConcurrentWriters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.tree.Run(ctx, 50*time.Millisecond); close(done) }()
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					_ = f.log.Do(ctx, audit.Entry{Actor: audit.System, Action: "w", ObjectType: "w", ObjectID: fmt.Sprint(w, i)},
						func(*store.Tx, *audit.Entry) error { return nil })
				}
			}()
		}
		wg.Wait()
		deadline := time.Now().Add(20 * time.Second)
		for f.tree.Size() < 160 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		if f.tree.Size() != 160 {
			t.Fatalf("integrated %d of 160", f.tree.Size())
		}
		res, err := f.tree.Check(context.Background())
		if err != nil || res.Alarm != nil {
			t.Fatalf("check: %+v %v", res, err)
		}
	})
}

// R12.2, R16.2: an export verifies offline with only the public key; a
// changed entry, a wrong key or a cut proof fails and is named.
func TestExportVerifyOffline(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		f.appendN(t, 600) // more than one export page
		var buf bytes.Buffer
		n, err := f.tree.Export(ctx, &buf, audit.ExportFilter{})
		if err != nil || n != 600 {
			t.Fatalf("export: %d %v", n, err)
		}
		rep, err := audit.VerifyBundle(bytes.NewReader(buf.Bytes()), f.tree.VerifierKey(), audit.VerifyOptions{})
		if err != nil || rep.Verified != 600 || rep.Size != 600 {
			t.Fatalf("verify: %+v %v", rep, err)
		}
		// Only one organisation's entries.
		buf.Reset()
		if n, err := f.tree.Export(ctx, &buf, audit.ExportFilter{OrgID: 2}); err != nil || n != 300 {
			t.Fatalf("org export: %d %v", n, err)
		}
		if _, err := audit.VerifyBundle(bytes.NewReader(buf.Bytes()), f.tree.VerifierKey(), audit.VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
		good := buf.String()
		for name, bad := range map[string]string{
			"changed entry": strings.Replace(good, `"thing.do"`, `"thing.undo"`, 1),
			"changed time":  strings.Replace(good, `"at":"20`, `"at":"19`, 1),
		} {
			_, err := audit.VerifyBundle(strings.NewReader(bad), f.tree.VerifierKey(), audit.VerifyOptions{})
			if err == nil || !strings.Contains(err.Error(), "does not verify") {
				t.Errorf("%s: %v", name, err)
			}
		}
		other := openTree(t, storetest.SQLite(t), audit.SM3, audit.KeySM2, t.TempDir())
		if _, err := audit.VerifyBundle(strings.NewReader(good), other.tree.VerifierKey(), audit.VerifyOptions{}); err == nil {
			t.Error("verified with another log's key")
		}
	})
}

// A cosigner (the data authority, say) adds its signature to a checkpoint;
// the published checkpoint then verifies with either key. A signature by an
// unregistered key, or over another text, is refused.
func TestCosignatures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		f.appendN(t, 4)
		cp := f.integrate(t)
		skey, vkey, err := note.GenerateKey(nil, "authority.jiangxi/witness")
		if err != nil {
			t.Fatal(err)
		}
		admin := audit.Actor{UserID: 1, Login: "root", OrgID: 1}
		if _, err := f.tree.AddCosigner(ctx, admin, "garbage", 0); !apperr.IsCode(err, apperr.Invalid) {
			t.Errorf("bad key: %v", err)
		}
		if _, err := f.tree.AddCosigner(ctx, admin, vkey, 2); err != nil {
			t.Fatal(err)
		}
		if _, err := f.tree.AddCosigner(ctx, admin, vkey, 2); !apperr.IsCode(err, apperr.Conflict) {
			t.Errorf("same cosigner twice: %v", err)
		}
		cosigned, err := audit.CosignNote(cp.Note, skey)
		if err != nil {
			t.Fatal(err)
		}
		n, err := f.tree.Cosign(ctx, admin, cosigned)
		if err != nil || n != 1 {
			t.Fatalf("cosign: %d %v", n, err)
		}
		latest, err := f.tree.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wv, _ := note.NewVerifier(vkey)
		lv, _ := audit.NewVerifier(f.tree.VerifierKey())
		if _, err := audit.ParseCheckpoint([]byte(latest.Note), wv); err != nil {
			t.Errorf("published checkpoint does not verify with the cosigner's key: %v", err)
		}
		if _, err := audit.ParseCheckpoint([]byte(latest.Note), lv); err != nil {
			t.Errorf("published checkpoint does not verify with the log's key: %v", err)
		}
		// An unregistered cosigner's signature is refused.
		other, _, _ := note.GenerateKey(nil, "someone/else")
		stranger, _ := audit.CosignNote(cp.Note, other)
		if _, err := f.tree.Cosign(ctx, admin, stranger); !apperr.IsCode(err, apperr.Invalid) {
			t.Errorf("unregistered cosigner: %v", err)
		}
		// A cosignature over a text the log never signed is refused.
		forged, _ := note.Sign(&note.Note{Text: audit.CheckpointBody("test.gongshu/audit", 4, make([]byte, 32))}, mustSigner(t, skey))
		if _, err := f.tree.Cosign(ctx, admin, string(forged)); !apperr.IsCode(err, apperr.Invalid) {
			t.Errorf("cosignature of another text: %v", err)
		}
	})
}

func mustSigner(t *testing.T, skey string) note.Signer {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Filtered listings give the same answer whether entries are integrated
// (found through their lookup keys) or still in the tail, and across both.
func TestListAcrossIntegration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := openTree(t, db, audit.SM3, audit.KeySM2, t.TempDir())
		f.appendN(t, 30)
		f.integrate(t)
		f.appendN(t, 12) // not integrated
		all, err := f.log.List(ctx, audit.Filter{Limit: 1000})
		if err != nil || len(all) != 42 {
			t.Fatalf("all: %d %v", len(all), err)
		}
		filters := []struct {
			name  string
			f     audit.Filter
			match func(e audit.Entry) bool
		}{
			{"org", audit.Filter{OrgID: 2}, func(e audit.Entry) bool { return e.Actor.OrgID == 2 }},
			{"user", audit.Filter{ActorUserID: 3}, func(e audit.Entry) bool { return e.Actor.UserID == 3 }},
			{"action", audit.Filter{Action: "thing.do"}, func(e audit.Entry) bool { return e.Action == "thing.do" }},
			{"object", audit.Filter{ObjectType: "thing", ObjectID: "7"}, func(e audit.Entry) bool { return e.ObjectID == "7" }},
			{"type", audit.Filter{ObjectType: "thing"}, func(e audit.Entry) bool { return e.ObjectType == "thing" }},
			{"org and user", audit.Filter{OrgID: 1, ActorUserID: 2}, func(e audit.Entry) bool { return e.Actor.OrgID == 1 && e.Actor.UserID == 2 }},
			{"org, paged", audit.Filter{OrgID: 1, BeforeID: 35}, func(e audit.Entry) bool { return e.Actor.OrgID == 1 && e.ID < 35 }},
		}
		for _, c := range filters {
			var want []int64
			for _, e := range all {
				if c.match(e) {
					want = append(want, e.ID)
				}
			}
			c.f.Limit = 1000
			got, err := f.log.List(ctx, c.f)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var ids []int64
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(want) || len(want) == 0 {
				t.Errorf("%s: got %v, want %v", c.name, ids, want)
			}
		}
		limited, _ := f.log.List(ctx, audit.Filter{OrgID: 1, Limit: 5})
		if len(limited) != 5 || limited[0].ID < limited[4].ID {
			t.Errorf("limit: %d entries, newest first = %v", len(limited), limited[0].ID > limited[4].ID)
		}
	})
}
