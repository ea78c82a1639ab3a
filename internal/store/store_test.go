package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second migrate applied %v, want nothing", applied)
		}
		v, err := db.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ms, _ := store.Migrations(db.Dialect())
		if v != len(ms) {
			t.Fatalf("version %d, want %d", v, len(ms))
		}
	})
}

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	lite, err := store.Migrations(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := store.Migrations(store.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) != len(pg) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].Name != pg[i].Name {
			t.Errorf("migration %d: sqlite %q, postgres %q", i+1, lite[i].Name, pg[i].Name)
		}
		if strings.Contains(lite[i].SQL, "{{") || strings.Contains(pg[i].SQL, "{{") {
			t.Errorf("migration %d keeps an unreplaced token", i+1)
		}
	}
}

// R12.2: the audit table refuses UPDATE and DELETE in the database itself.
func TestAuditEntriesAppendOnlyInDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO audit_entries (at, actor_login, action, object_type, object_id, outcome)
				VALUES (?, 'system', 'test', 'test', '1', 'ok')`, time.Now().UTC())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{
			"UPDATE audit_entries SET outcome = 'refused'",
			"DELETE FROM audit_entries",
		} {
			if _, err := db.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want append-only refusal", stmt, err)
			}
		}
		var n int
		if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM audit_entries WHERE outcome = 'ok'").Scan(&n); err != nil || n != 1 {
			t.Fatalf("entries after refused changes: %d, %v", n, err)
		}
	})
}

// Migration 0013 rebuilds SQLite's audit_leaves keyed by the rowid: a log
// written before it keeps every leaf, and the table stays append-only.
func TestAuditLeavesRowidMigrationKeepsLeaves(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	// Put the table back as 0004 and 0005 made it, with leaves in it, and
	// the migration as not yet applied.
	for _, stmt := range []string{
		"DROP TABLE audit_leaves",
		"CREATE TABLE audit_leaves (leaf_index BIGINT PRIMARY KEY, entry_id BIGINT NOT NULL, hash BLOB NOT NULL)",
		"CREATE UNIQUE INDEX audit_leaves_entry ON audit_leaves (entry_id)",
		"INSERT INTO audit_leaves VALUES (0, 7, x'aa'), (1, 9, x'bb'), (2, 10, x'cc')",
		"DELETE FROM schema_migrations WHERE version = 13",
	} {
		if _, err := db.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	applied, err := db.Migrate(ctx)
	if err != nil || len(applied) != 1 || applied[0] != 13 {
		t.Fatalf("applied %v, %v; want [13]", applied, err)
	}
	var got []string
	rows, err := db.Query(ctx, "SELECT leaf_index, entry_id, hex(hash) FROM audit_leaves ORDER BY leaf_index")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var idx, entry int64
		var hash string
		if err := rows.Scan(&idx, &entry, &hash); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%d:%s", idx, entry, hash))
	}
	rows.Close()
	if strings.Join(got, " ") != "0:7:AA 1:9:BB 2:10:CC" {
		t.Fatalf("leaves after migration: %v", got)
	}
	var pkType string
	if err := db.QueryRow(ctx, "SELECT type FROM pragma_table_info('audit_leaves') WHERE pk = 1").Scan(&pkType); err != nil || pkType != "INTEGER" {
		t.Fatalf("leaf_index type %q, %v; want INTEGER (the rowid)", pkType, err)
	}
	for _, stmt := range []string{
		"UPDATE audit_leaves SET hash = x'00'",
		"DELETE FROM audit_leaves",
	} {
		if _, err := db.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want append-only refusal", stmt, err)
		}
	}
	if _, err := db.Exec(ctx, "INSERT INTO audit_leaves VALUES (3, 9, x'dd')"); err == nil {
		t.Error("a second leaf for entry 9 was accepted: the unique index on entry_id is gone")
	}
}

func TestInTxRollsBackOnError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.InsertID(ctx, `INSERT INTO organizations (type, name, region_code, created_at) VALUES (?, ?, ?, ?)`,
				"authority", "x", "360000", time.Now().UTC()); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		var n int
		if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM organizations").Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows after rollback: %d, %v", n, err)
		}
	})
}

// InTxLazy skips the disk sync of its own commit only: the connection it
// used goes back to the pool durable (synchronous=FULL), and a failing fn
// rolls back as in InTx.
func TestInTxLazy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := func(tx *store.Tx, name string) error {
			_, err := tx.InsertID(ctx, `INSERT INTO organizations (type, name, region_code, created_at) VALUES (?, ?, ?, ?)`,
				"authority", name, "360000", time.Now().UTC())
			return err
		}
		boom := errors.New("boom")
		if err := db.InTxLazy(ctx, func(tx *store.Tx) error {
			if err := insert(tx, "rolled back"); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if err := db.InTxLazy(ctx, func(tx *store.Tx) error {
			if db.Dialect() == store.SQLite {
				var level int
				if err := tx.QueryRow(ctx, "PRAGMA synchronous").Scan(&level); err != nil || level != 1 {
					t.Errorf("synchronous inside = %d, %v; want 1 (NORMAL)", level, err)
				}
			}
			return insert(tx, "kept")
		}); err != nil {
			t.Fatal(err)
		}
		var names []string
		rows, err := db.Query(ctx, "SELECT name FROM organizations")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		rows.Close()
		if strings.Join(names, ",") != "kept" {
			t.Fatalf("rows = %v, want [kept]", names)
		}
		if db.Dialect() == store.SQLite {
			// The pool hands out the connection returned last first: the
			// lazy one.
			var level int
			if err := db.QueryRow(ctx, "PRAGMA synchronous").Scan(&level); err != nil || level != 2 {
				t.Fatalf("synchronous after = %d, %v; want 2 (FULL)", level, err)
			}
		}
	})
}

// ExecAlone commits a prepared statement on its own.
func TestExecAlone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st, err := db.Prepare(ctx, `INSERT INTO organizations (type, name, region_code, created_at) VALUES (?, ?, ?, ?), (?, ?, ?, ?)`)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		now := time.Now().UTC()
		if _, err := db.ExecAlone(ctx, st, "authority", "a", "360000", now, "agency", "b", "360000", now); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM organizations").Scan(&n); err != nil || n != 2 {
			t.Fatalf("rows = %d, %v", n, err)
		}
	})
}

func TestTimesRoundTripInUTC(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 1, 13, 9, 30, 15, 123456000, time.UTC)
		var id int64
		err := db.InTx(ctx, func(tx *store.Tx) (err error) {
			id, err = tx.InsertID(ctx, `INSERT INTO organizations (type, name, region_code, created_at) VALUES (?, ?, ?, ?)`,
				"authority", "t", "360000", at)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var got time.Time
		if err := db.QueryRow(ctx, "SELECT created_at FROM organizations WHERE id = ?", id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(at) {
			t.Fatalf("created_at = %v, want %v", got, at)
		}
	})
}

func TestRebindLeavesLiteralsAlone(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	var s string
	if err := db.QueryRow(ctx, "SELECT 'a?b' || ?", "c").Scan(&s); err != nil || s != "a?bc" {
		t.Fatalf("got %q, %v", s, err)
	}
}

func TestOpenRefusesUnknownURL(t *testing.T) {
	_, err := store.Open(context.Background(), t.TempDir(), "mysql://u:secret@h/db")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v, want a refusal that hides the password", err)
	}
}

// A store that recorded a migration number under another name (one
// withdrawn before release) is refused with a reason, not skipped.
func TestMigrationRecordedUnderAnotherName(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	if _, err := db.Exec(ctx, "UPDATE schema_migrations SET name = 'withdrawn' WHERE version = (SELECT MAX(version) FROM schema_migrations)"); err == nil {
		if _, err := db.Migrate(ctx); !errors.Is(err, store.ErrMigrationMismatch) {
			t.Fatalf("migrate over a renamed record: %v", err)
		}
	} else {
		t.Fatal(err)
	}
}
