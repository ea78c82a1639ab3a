package engine

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/store/storetest"
	"github.com/jackc/pgx/v5"
)

// eachEngine runs fn on a DuckDB domain, and on a PostgreSQL-wire domain
// when GONGSHU_TEST_POSTGRES is set.
func eachEngine(t *testing.T, fn func(t *testing.T, e *Engine)) {
	t.Helper()
	t.Run("duckdb", func(t *testing.T) { fn(t, openDuck(t)) })
	if os.Getenv(storetest.EnvPostgres) == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		u := storetest.PostgresURL(t)
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		q := pu.Query()
		q.Set("domain_schema", q.Get("search_path"))
		pu.RawQuery = q.Encode()
		e, err := Open(context.Background(), t.TempDir(), pu.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		fn(t, e)
	})
}

func openDuck(t *testing.T) *Engine {
	t.Helper()
	e, err := Open(context.Background(), t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func tables(t *testing.T, e *Engine) []string {
	t.Helper()
	names, err := e.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestLoadFormats(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		parquet := filepath.Join(t.TempDir(), "people.parquet")
		if _, err := e.scratch.ExecContext(ctx, "COPY (SELECT * FROM read_csv('testdata/people.csv')) TO "+quoteLiteral(parquet)+" (FORMAT parquet)"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			table   string
			src     Source
			rows    int64
			columns int
			types   map[string]string // column -> type prefix, lower-cased
		}{
			{"r1_v1", Source{Format: CSV, Path: "testdata/people.csv"}, 4, 6,
				map[string]string{"birth_date": "date", "salary": "d"}},
			{"r1_v2", Source{Format: CSV, Path: "testdata/people.csv", Types: map[string]string{"id_card": "VARCHAR"}}, 4, 6,
				map[string]string{"id_card": ""}},
			{"r2_v1", Source{Format: XLSX, Path: "testdata/enterprises.xlsx", Sheet: "企业"}, 3, 4,
				map[string]string{"employees": ""}},
			{"r3_v1", Source{Format: Parquet, Path: parquet}, 4, 6, map[string]string{"birth_date": "date"}},
		}
		for _, tt := range tests {
			t.Run(tt.table, func(t *testing.T) {
				var calls int
				res, err := e.Load(ctx, tt.table, tt.src, func(b, r int64) { calls++ })
				if err != nil {
					t.Fatal(err)
				}
				if res.Rows != tt.rows || len(res.Schema.Columns) != tt.columns {
					t.Fatalf("rows %d columns %d, want %d %d (%+v)", res.Rows, len(res.Schema.Columns), tt.rows, tt.columns, res.Schema)
				}
				if len(res.SHA256) != 64 || res.Bytes == 0 || calls == 0 {
					t.Errorf("hash %q bytes %d progress calls %d", res.SHA256, res.Bytes, calls)
				}
				for _, c := range res.Schema.Columns {
					if want, ok := tt.types[c.Name]; ok && !strings.HasPrefix(strings.ToLower(c.Type), want) {
						t.Errorf("column %s type %s, want prefix %q", c.Name, c.Type, want)
					}
				}
			})
		}
		// Versions are immutable: loading into an existing table is refused.
		if _, err := e.Load(ctx, "r1_v1", Source{Format: CSV, Path: "testdata/people.csv"}, nil); !errors.Is(err, ErrExists) {
			t.Fatalf("reload: %v, want ErrExists", err)
		}
	})
}

func TestFailedLoadLeavesNothing(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		before := tables(t, e)
		if _, err := e.Load(ctx, "r9_v1", Source{Format: CSV, Path: "testdata/malformed.csv"}, nil); err == nil {
			t.Fatal("malformed CSV loaded")
		}
		if _, err := e.Load(ctx, "r9_v2", Source{Format: CSV, Path: "testdata/missing.csv"}, nil); err == nil {
			t.Fatal("missing file loaded")
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := e.Load(cctx, "r9_v3", Source{Format: CSV, Path: "testdata/people.csv"}, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled load: %v", err)
		}
		if after := tables(t, e); len(after) != len(before) {
			t.Fatalf("tables %v after failed loads, want %v", after, before)
		}
	})
}

func TestInferAndProfile(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		schema, preview, err := e.Infer(ctx, Source{Format: CSV, Path: "testdata/people.csv"}, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(schema.Names(), ","); got != "id_card,name,birth_date,gender,district,salary" {
			t.Fatalf("names %s", got)
		}
		if len(preview) != 2 || preview[0][1] != "张三" {
			t.Fatalf("preview %v", preview)
		}
		if len(tables(t, e)) != 0 {
			t.Fatal("Infer created a table")
		}
		if _, err := e.Load(ctx, "r1_v1", Source{Format: CSV, Path: "testdata/people.csv"}, nil); err != nil {
			t.Fatal(err)
		}
		prof, err := e.Profile(ctx, "r1_v1", map[string]bool{"id_card": true, "name": true})
		if err != nil {
			t.Fatal(err)
		}
		by := map[string]ColumnProfile{}
		for _, p := range prof {
			by[p.Name] = p
		}
		if p := by["birth_date"]; p.Min != "1978-06-15" || p.Max != "2000-02-29" || p.Rows != 4 || p.Nulls != 0 {
			t.Errorf("birth_date profile %+v", p)
		}
		if p := by["gender"]; len(p.Top) != 2 || p.Top[0].Count != 2 {
			t.Errorf("gender top %+v", p.Top)
		}
		if p := by["district"]; len(p.Top) != 1 || p.Top[0].Value != "东湖区" {
			t.Errorf("district top %+v", p.Top)
		}
		for _, c := range []string{"id_card", "name"} {
			if by[c].Top != nil || by[c].Distinct < 3 {
				t.Errorf("%s: values must not be profiled, got %+v", c, by[c])
			}
		}
		sample, err := e.Sample(ctx, "r1_v1", 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(sample["name"]) != 3 || sample["birth_date"][0] != "1990-03-07" {
			t.Fatalf("sample %v", sample)
		}
	})
}

// TestPostgresSource loads a department's PostgreSQL table into the domain.
func TestPostgresSource(t *testing.T) {
	u := storetest.PostgresURL(t)
	if u == "" {
		t.Skip("GONGSHU_TEST_POSTGRES not set")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := conn.Config().RuntimeParams["search_path"]
	for _, q := range []string{
		"CREATE TABLE src_people (id bigint, name text, amount numeric(12,2), born date)",
		"INSERT INTO src_people VALUES (1, '张三', 10.50, '1990-03-07'), (2, '李四', NULL, '1985-12-31')",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	eachEngine(t, func(t *testing.T, e *Engine) {
		src := Source{Format: PGTable, URL: u, Table: schema + ".src_people"}
		s, preview, err := e.Infer(ctx, src, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Columns) != 4 || len(preview) != 2 {
			t.Fatalf("infer %+v %v", s, preview)
		}
		res, err := e.Load(ctx, "r5_v1", src, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != 2 || len(res.SHA256) != 64 {
			t.Fatalf("result %+v", res)
		}
		prof, err := e.Profile(ctx, "r5_v1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if prof[2].Nulls != 1 || prof[3].Min != "1985-12-31" {
			t.Fatalf("profile %+v", prof)
		}
	})
}

// TestCancelMidLoad cancels a load while DuckDB reads the file: no table,
// staging or final, may remain.
func TestCancelMidLoad(t *testing.T) {
	e := openDuck(t)
	path := filepath.Join(t.TempDir(), "big.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("id,amount,label\n")
	for i := 0; i < 1_500_000; i++ {
		b.WriteString("12345678,9876.54,some label text here\n")
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = e.Load(ctx, "r1_v1", Source{Format: CSV, Path: path}, func(bytes, rows int64) { cancel() })
	if err == nil {
		t.Skip("the load finished before the cancellation reached it")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if names := tables(t, e); len(names) != 0 {
		t.Fatalf("tables %v after a cancelled load", names)
	}
}

// TestOpenDropsStaging: a staging table left by a crash is gone on the
// next Open.
func TestOpenDropsStaging(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e, err := Open(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.exec(ctx, `CREATE TABLE "stg_r1_v1_abc" (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e, err = Open(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if names := tables(t, e); len(names) != 0 {
		t.Fatalf("tables %v", names)
	}
}
