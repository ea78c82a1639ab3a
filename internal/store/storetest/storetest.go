// Package storetest gives tests a migrated control-plane database: a fresh
// SQLite file always, and a fresh schema on the PostgreSQL server named by
// GONGSHU_TEST_POSTGRES when that variable is set (CI always sets it; a
// server that cannot be reached then fails the test rather than skipping).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/gongshu/gongshu/internal/store"
)

// EnvPostgres names the variable holding a PostgreSQL URL for tests.
const EnvPostgres = "GONGSHU_TEST_POSTGRES"

// SQLite opens a migrated SQLite database in a temporary directory.
func SQLite(tb testing.TB) *store.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(tb.TempDir(), store.FileName))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}

// PostgresURL creates a new schema on the server named by
// GONGSHU_TEST_POSTGRES, dropped when the test ends, and returns a URL whose
// connections use it. It returns "" when the variable is unset.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		return ""
	}
	ctx := context.Background()
	admin, err := store.Open(ctx, "", base)
	if err != nil {
		tb.Fatalf("%s is set but the server cannot be used: %v", EnvPostgres, err)
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create test schema: %v", err)
	}
	tb.Cleanup(func() {
		a, err := store.Open(context.Background(), "", base)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres opens a migrated database in a fresh schema (see PostgresURL).
// It returns nil when GONGSHU_TEST_POSTGRES is unset.
func Postgres(tb testing.TB) *store.DB {
	tb.Helper()
	u := PostgresURL(tb)
	if u == "" {
		return nil
	}
	ctx := context.Background()
	db, err := store.Open(ctx, "", u)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}

// Each runs fn as a subtest on SQLite, and on PostgreSQL when configured.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	if os.Getenv(EnvPostgres) != "" {
		t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
	}
}
