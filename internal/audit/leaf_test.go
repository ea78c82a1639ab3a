package audit_test

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// The leaf encoding is pinned by a golden file: a change to it would make
// every existing log unverifiable, so it must show up in review.
func TestLeafEncodingGolden(t *testing.T) {
	e := audit.Entry{ID: 42, At: time.Date(2026, 1, 13, 9, 30, 0, 123456789, time.UTC),
		Actor: audit.Actor{UserID: 7, Login: "op.ganshu", OrgID: 3}, Action: "token.create", ObjectType: "api_token",
		ObjectID: "9", Outcome: audit.OK, RequestID: "r1", RemoteAddr: "10.0.0.8"}
	leaf := audit.LeafBytes(e, `{"name":"夜间导出"}`)
	got := hex.EncodeToString(leaf) + "\n" +
		hex.EncodeToString(audit.SM3.Hasher().HashLeaf(leaf)) + "\n" +
		hex.EncodeToString(audit.SHA256.Hasher().HashLeaf(leaf)) + "\n"
	golden := filepath.Join("testdata", "leaf_v1.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Fatalf("leaf encoding changed:\n got %s\nwant %s", got, want)
	}
	// Nanoseconds beyond the microsecond do not reach the leaf.
	e.At = e.At.Truncate(time.Microsecond)
	if string(audit.LeafBytes(e, `{"name":"夜间导出"}`)) != string(leaf) {
		t.Error("sub-microsecond time changed the leaf")
	}
}

// The same entries give the same tree on SQLite and PostgreSQL.
func TestSameRootOnBothStores(t *testing.T) {
	if storetest.PostgresURL(t) == "" {
		t.Skip("GONGSHU_TEST_POSTGRES not set")
	}
	var roots [][]byte
	for _, db := range []*store.DB{storetest.SQLite(t), storetest.Postgres(t)} {
		t0 := time.Date(2026, 3, 1, 0, 0, 0, 987654321, time.UTC)
		i := 0
		log := audit.New(db, func() time.Time { i++; return t0.Add(time.Duration(i) * time.Millisecond) })
		tree, err := audit.OpenTree(context.Background(), db, log, audit.TreeConfig{KeyDir: t.TempDir(), Origin: "x/y"})
		if err != nil {
			t.Fatal(err)
		}
		f := &logFixture{db: db, log: log, tree: tree}
		f.appendN(t, 25)
		roots = append(roots, f.integrate(t).Root)
	}
	if hex.EncodeToString(roots[0]) != hex.EncodeToString(roots[1]) {
		t.Fatalf("roots differ: sqlite %x, postgres %x", roots[0], roots[1])
	}
}
