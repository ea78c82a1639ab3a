package quality

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // the DuckDB domain of the tests
	"github.com/gongshu/gongshu/internal/store/storetest"
	"github.com/jackc/pgx/v5/pgxpool"
)

// testDomain is a domain a test can also write to.
type testDomain interface {
	Domain
	exec(ctx context.Context, q string) error
}

type duckTest struct{ SQLDomain }

func (d duckTest) exec(ctx context.Context, q string) error {
	_, err := d.DB.ExecContext(ctx, q)
	return err
}

type pgTest struct{ PGDomain }

func (d pgTest) exec(ctx context.Context, q string) error {
	_, err := d.Pool.Exec(ctx, q)
	return err
}

// eachDomain runs fn on a DuckDB domain, and on a PostgreSQL-wire domain
// (a fresh schema) when GONGSHU_TEST_POSTGRES is set.
func eachDomain(t *testing.T, fn func(t *testing.T, d testDomain)) {
	t.Helper()
	t.Run("duckdb", func(t *testing.T) { fn(t, openDuck(t)) })
	if os.Getenv(storetest.EnvPostgres) == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) { fn(t, openPG(t)) })
}

func openDuck(tb testing.TB) duckTest {
	tb.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return duckTest{SQLDomain{DB: db}}
}

func openPG(tb testing.TB) pgTest {
	tb.Helper()
	u := storetest.PostgresURL(tb)
	pu, err := url.Parse(u)
	if err != nil {
		tb.Fatal(err)
	}
	schema := pu.Query().Get("search_path")
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pgTest{PGDomain{Pool: pool, Schema: schema}}
}

// createTable makes a table from column definitions ("name TYPE") and
// rows of SQL literals, the same way on both engines.
func createTable(t testing.TB, d testDomain, name string, cols []string, rows [][]string) {
	t.Helper()
	ctx := context.Background()
	if err := d.exec(ctx, "CREATE TABLE "+d.Table(name)+" ("+strings.Join(cols, ", ")+")"); err != nil {
		t.Fatal(err)
	}
	for start := 0; start < len(rows); start += 500 {
		end := min(start+500, len(rows))
		vals := make([]string, 0, end-start)
		for _, r := range rows[start:end] {
			vals = append(vals, "("+strings.Join(r, ", ")+")")
		}
		if err := d.exec(ctx, "INSERT INTO "+d.Table(name)+" VALUES "+strings.Join(vals, ", ")); err != nil {
			t.Fatalf("insert into %s: %v", name, err)
		}
	}
}

// lit is a SQL literal for a test value; "<null>" is NULL.
func lit(v string) string {
	if v == "<null>" {
		return "NULL"
	}
	return quoteLiteral(v)
}

func intLit(i int) string { return fmt.Sprint(i) }
