package audit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// BenchmarkAppend compares a durable audited append (Record, with group
// commit) with the same row inserted into a bare table in a transaction of
// its own, both with 16 concurrent writers on SQLite.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	for _, mode := range []string{"bare", "audited"} {
		b.Run(mode, func(b *testing.B) {
			db := storetest.SQLite(b)
			log := audit.New(db, nil)
			if _, err := db.Exec(ctx, `CREATE TABLE bare (id INTEGER PRIMARY KEY, at TEXT, actor_login TEXT, action TEXT,
				object_type TEXT, object_id TEXT, outcome TEXT, details TEXT)`); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8) // 16 writers on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					var err error
					if mode == "bare" {
						err = db.InTx(ctx, func(tx *store.Tx) error {
							_, err := tx.Exec(ctx, "INSERT INTO bare (at, actor_login, action, object_type, object_id, outcome, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
								"2026-01-01T00:00:00.000000Z", "bench", "x.y", "thing", fmt.Sprint(i), "ok", "{}")
							return err
						})
					} else {
						err = log.Record(ctx, audit.Entry{Actor: audit.System, Action: "x.y", ObjectType: "thing", ObjectID: fmt.Sprint(i), Outcome: audit.OK})
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkInclusionProof times proofs in a tree of 100,000 entries.
func BenchmarkInclusionProof(b *testing.B) {
	ctx := context.Background()
	db := storetest.SQLite(b)
	log := audit.New(db, nil)
	tree, err := audit.OpenTree(ctx, db, log, audit.TreeConfig{KeyDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	err = db.InTx(ctx, func(tx *store.Tx) error {
		for i := 0; i < n; i++ {
			if _, err := log.Append(ctx, tx, audit.Entry{Actor: audit.System, Action: "x", ObjectType: "y", Outcome: audit.OK}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tree.Integrate(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := tree.InclusionProof(ctx, uint64(i*7919%n), n); err != nil {
			b.Fatal(err)
		}
	}
}
