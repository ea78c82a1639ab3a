package sandbox

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/policy"
)

// benchQuery is the enforced aggregate of the benchmark.
const benchQuery = "SELECT district, count(*) AS n, sum(amount) AS total FROM events GROUP BY district"

// Bench measures, on a generated resource of rows rows in a DuckDB domain
// in dir (and in a PostgreSQL domain of pgRows rows when pgURL is set):
// the median of parse+check+rewrite, and the enforced aggregate (rewrite,
// hardened run, output check) against the same aggregate run straight on
// the engine, and against that aggregate with the distinct-unit count the
// threshold needs, so the cost of the threshold and of the machinery show
// apart. It prints the figures and their ratios.
func Bench(ctx context.Context, dir string, rows int, pgURL string, pgRows int, w io.Writer) error {
	cat := policy.Catalog{Schema: "main", Tables: []policy.Table{{Name: "events", Relation: "bench_events_v1", Resource: "BENCH", Unit: "person_id",
		Rule: policy.Rule{Kind: policy.RuleAggregation, K: 10},
		Columns: []policy.Column{{Name: "person_id", Role: policy.Join, Identifier: true}, {Name: "district", Role: policy.Group},
			{Name: "amount", Role: policy.Aggregate}}}}}
	const n = 2000
	times := make([]time.Duration, n)
	for i := range times {
		start := time.Now()
		if _, d := policy.Rewrite(benchQuery, cat, policy.Options{}); !d.Allowed {
			return fmt.Errorf("bench: %s", d.Code)
		}
		times[i] = time.Since(start)
	}
	fmt.Fprintf(w, "parse+check+rewrite: median %s over %d runs (target < 1ms)\n", median(times), n)
	if err := benchEngine(ctx, dir, "", rows, cat, w); err != nil {
		return err
	}
	if pgURL != "" {
		return benchEngine(ctx, dir, pgURL, pgRows, cat, w)
	}
	return nil
}

func benchEngine(ctx context.Context, dir, dsn string, rows int, cat policy.Catalog, w io.Writer) error {
	e, err := engine.Open(ctx, dir, dsn)
	if err != nil {
		return err
	}
	defer e.Close()
	table := cat.Tables[0].Relation
	series := fmt.Sprintf("range(%d) AS t(i)", rows)
	if e.Kind() == engine.Postgres {
		series = fmt.Sprintf("generate_series(0, %d) AS i", rows-1)
	}
	start := time.Now()
	none := func(func(...any) error) error { return nil }
	if err := e.Query(ctx, "DROP TABLE IF EXISTS "+e.Qualified(table), none); err != nil {
		return err
	}
	if err := e.Query(ctx, "CREATE TABLE "+e.Qualified(table)+" AS SELECT 'P' || (i % "+fmt.Sprint(max(rows/5, 1))+
		") AS person_id, '3601' || lpad(CAST((i * 7) % 10 AS VARCHAR), 2, '0') AS district, CAST((i * 31) % 5000 AS BIGINT) AS amount FROM "+series, none); err != nil {
		return fmt.Errorf("bench: generate: %w", err)
	}
	if e.Kind() == engine.Postgres {
		if err := e.Query(ctx, "ANALYZE "+e.Qualified(table), none); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "%s: generated %d rows in %s\n", e.Kind(), rows, time.Since(start).Round(time.Millisecond))
	r, err := engine.NewRunner(ctx, e, engine.RunnerOptions{})
	if err != nil {
		return err
	}
	defer r.Close()
	direct := "SELECT district, count(*) AS n, sum(amount) AS total FROM " + e.Qualified(table) + " GROUP BY district"
	withUnits := "SELECT district, count(*) AS n, sum(amount) AS total, count(DISTINCT person_id) AS u FROM " + e.Qualified(table) + " GROUP BY district HAVING count(DISTINCT person_id) >= 10"
	runDirect := func(q string) func() error {
		return func() error { return e.Query(ctx, q, func(scan func(...any) error) error { return nil }) }
	}
	enforced := func() error {
		p, d := policy.Rewrite(benchQuery, cat, policy.Options{})
		if !d.Allowed {
			return fmt.Errorf("bench: %s", d.Code)
		}
		res, err := r.Run(ctx, p.SQL, []string{table}, engine.Limits{Timeout: 10 * time.Minute})
		if err != nil {
			return err
		}
		if _, od := policy.CheckOutput(p, res.Columns, res.Rows); !od.Allowed {
			return fmt.Errorf("bench: output %s", od.Code)
		}
		return nil
	}
	const runs = 7
	md, err := timeIt(runs, runDirect(direct))
	if err != nil {
		return err
	}
	mu, err := timeIt(runs, runDirect(withUnits))
	if err != nil {
		return err
	}
	me, err := timeIt(runs, enforced)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: direct aggregate %s; direct with distinct-unit threshold %s; enforced %s\n", e.Kind(), md, mu, me)
	fmt.Fprintf(w, "%s: enforced/direct = %.2fx (target <= 1.25x); enforced/direct-with-threshold = %.2fx; threshold cost = %.2fx\n",
		e.Kind(), float64(me)/float64(md), float64(me)/float64(mu), float64(mu)/float64(md))
	return nil
}

func timeIt(n int, fn func() error) (time.Duration, error) {
	if err := fn(); err != nil { // warm the cache
		return 0, err
	}
	ts := make([]time.Duration, n)
	for i := range ts {
		start := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		ts[i] = time.Since(start)
	}
	return median(ts), nil
}

func median(ts []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ts...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
