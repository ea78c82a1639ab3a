package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadCSV loads a small CSV into table.
func loadCSV(t *testing.T, e *Engine, table, body string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), table+".csv")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(context.Background(), table, Source{Path: p, Format: CSV}, nil); err != nil {
		t.Fatal(err)
	}
}

func newRunner(t *testing.T, e *Engine) *Runner {
	t.Helper()
	r, err := NewRunner(context.Background(), e, RunnerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// R12.1: operator queries run in a hardened, read-only handle; R17.1.
func TestRunHardened(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine) {
		ctx := context.Background()
		loadCSV(t, e, "t_a", "district,amount\n360102,10\n360102,20\n360103,5\n")
		r := newRunner(t, e)
		res, err := r.Run(ctx, "SELECT district, sum(amount) AS s, count(*) AS n FROM t_a GROUP BY district ORDER BY district", []string{"t_a"}, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 2 || res.Columns[1] != "s" {
			t.Fatalf("result %+v", res)
		}
		if s, ok := res.Rows[0][1].(int64); !ok || s != 30 {
			t.Fatalf("sum %T %v, want int64 30", res.Rows[0][1], res.Rows[0][1])
		}
		// A table loaded after the handle opened is found.
		loadCSV(t, e, "t_b", "x\n1\n2\n")
		res, err = r.Run(ctx, "SELECT count(*) FROM t_b", []string{"t_b"}, Limits{})
		if err != nil || res.Rows[0][0] != int64(2) {
			t.Fatalf("new table: %v %+v", err, res)
		}
		// Writes and settings fail even though the policy would refuse them first.
		bad := []string{
			"CREATE TABLE z AS SELECT 1",
			"DELETE FROM t_a",
		}
		if e.Kind() == DuckDB {
			bad = append(bad, "SELECT * FROM read_csv('/etc/passwd')", "SET enable_external_access = true",
				"SET lock_configuration = false", "INSTALL httpfs", "COPY t_a TO '/tmp/gs_leak.csv'")
		} else {
			bad = append(bad, "SELECT pg_read_file('/etc/passwd')")
		}
		for _, q := range bad {
			if _, err := r.Run(ctx, q, nil, Limits{}); err == nil {
				t.Errorf("%s: ran", q)
			}
		}
		if _, err := os.Stat("/tmp/gs_leak.csv"); err == nil {
			t.Error("COPY wrote a file")
		}
		// Row cap: never a silently truncated result.
		if _, err := r.Run(ctx, "SELECT amount FROM t_a", []string{"t_a"}, Limits{MaxRows: 2}); !errors.Is(err, ErrTooManyRows) {
			t.Errorf("row cap: %v", err)
		}
	})
}

// slowQuery runs for minutes on either engine unless stopped.
const slowQuery = "SELECT count(*) FROM (SELECT a.x * b.x AS y FROM generate_series(1, 200000000) AS a(x) CROSS JOIN generate_series(1, 100) AS b(x)) s WHERE y % 7 = 3"

// R16.2: cancelling the context stops a running query at once.
func TestRunCancel(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine) {
		r := newRunner(t, e)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := r.Run(ctx, slowQuery, nil, Limits{Timeout: time.Minute})
			done <- err
		}()
		time.Sleep(300 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err == nil || !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled query: %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("stopped after %s", d)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("query not stopped")
		}
		// Timeout.
		_, err := r.Run(context.Background(), slowQuery, nil, Limits{Timeout: 300 * time.Millisecond})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("timeout: %v", err)
		}
		// The handle still works afterwards.
		if _, err := r.Run(context.Background(), "SELECT 1", nil, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMock(t *testing.T) {
	ctx := context.Background()
	m, err := OpenMock(ctx, RunnerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Create(ctx, "m_1", []Column{{Name: "d", Type: "VARCHAR"}, {Name: "n", Type: "BIGINT"}}, [][]any{{"a", "1"}, {"b", "2"}}); err != nil {
		t.Fatal(err)
	}
	res, err := m.Run(ctx, "SELECT sum(n) FROM m_1", Limits{})
	if err != nil || res.Rows[0][0] != int64(3) {
		t.Fatalf("%v %+v", err, res)
	}
	if _, err := m.Run(ctx, "SELECT * FROM read_csv('/etc/passwd')", Limits{}); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("external access: %v", err)
	}
}

// A load that holds a write transaction keeps the domain from being
// checkpointed; queries on loaded tables still run during it (a table
// appears whole, and the read-only handle sees what was committed), and
// a table the handle cannot see yet is refused with ErrBusy, not a
// failure, until the load is done.
func TestRunWhileLoading(t *testing.T) {
	ctx := context.Background()
	e := openDuck(t)
	loadCSV(t, e, "t_a", "x\n1\n2\n")
	r := newRunner(t, e)
	if _, err := r.Run(ctx, "SELECT count(*) FROM t_a", []string{"t_a"}, Limits{}); err != nil {
		t.Fatal(err)
	}
	loadCSV(t, e, "t_new", "x\n1\n2\n3\n")
	// Another load's open write transaction.
	conn, err := e.duck.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE t_loading AS SELECT range AS x FROM range(1000)"); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Run(ctx, "SELECT count(*) FROM t_new", []string{"t_new"}, Limits{}); err != nil || res.Rows[0][0] != int64(3) {
		t.Fatalf("a loaded table during another load: %v %+v", err, res)
	}
	if _, err := r.Run(ctx, "SELECT count(*) FROM t_loading", []string{"t_loading"}, Limits{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("the table being loaded: %v, want ErrBusy", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Run(ctx, "SELECT count(*) FROM t_loading", []string{"t_loading"}, Limits{}); err != nil || res.Rows[0][0] != int64(1000) {
		t.Fatalf("after the load: %v %+v", err, res)
	}
}
