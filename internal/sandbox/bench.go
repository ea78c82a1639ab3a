package sandbox

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"sort"
	"time"

	"github.com/gongshu/gongshu/internal/dp"
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
	lim := engine.Limits{Timeout: 10 * time.Minute}
	enforced := func(cat policy.Catalog) func() error {
		return func() error {
			p, d := policy.Rewrite(benchQuery, cat, policy.Options{})
			if !d.Allowed {
				return fmt.Errorf("bench: %s", d.Code)
			}
			res, _, err := runThreshold(ctx, r, p, []string{table}, lim)
			if err != nil {
				return err
			}
			if _, od := policy.CheckOutput(p, res.Columns, res.Rows); !od.Allowed {
				return fmt.Errorf("bench: output %s", od.Code)
			}
			return nil
		}
	}
	// The unit statistics are measured once per data version (the first
	// aggregate on it pays for them), and then serve every query.
	start = time.Now()
	stats, err := MeasureUnitRows(ctx, r, table, "person_id", lim)
	if err != nil {
		return err
	}
	measured := time.Since(start)
	withStats := cat
	withStats.Tables = append([]policy.Table(nil), cat.Tables...)
	withStats.Tables[0].UnitRows = &stats
	// The measurement of a version also finds its columns without NULL.
	nulls, err := r.Run(ctx, "SELECT count(*) - count(person_id), count(*) - count(district), count(*) - count(amount) FROM "+table, []string{table}, lim)
	if err != nil {
		return err
	}
	withStats.Tables[0].Columns = append([]policy.Column(nil), cat.Tables[0].Columns...)
	for i := range withStats.Tables[0].Columns {
		n, _ := toInt(nulls.Rows[0][i])
		withStats.Tables[0].Columns[i].NotNull = n == 0
	}
	// Each pair alternates its two queries run by run, so that a change
	// in the machine's pace while it runs weighs on both alike.
	const runs = 7
	md, me, err := timePair(runs, runDirect(direct), enforced(withStats))
	if err != nil {
		return err
	}
	mu, mx, err := timePair(runs, runDirect(withUnits), enforced(cat))
	if err != nil {
		return err
	}
	// Differential privacy: the same aggregate under the DP rule, with
	// per-person bounding in the engine and noise drawn here.
	dpCat := withStats
	dpCat.Tables = append([]policy.Table(nil), withStats.Tables...)
	// The sandbox's default bound on groups a person reaches: the most
	// rows a person has in the version (at most 12).
	dpCat.Tables[0].Rule = policy.Rule{Kind: policy.RuleDP, K: 10, MaxGroupsPerUnit: int(min(stats.Max, 12)), MaxRowsPerGroup: 1}
	dpCat.Tables[0].Columns = append([]policy.Column(nil), withStats.Tables[0].Columns...)
	// The measurement of a version also finds the least and greatest
	// amounts; when they lie within the clamping bounds, no row is clamped.
	span, err := r.Run(ctx, "SELECT CAST(min(amount) AS DOUBLE PRECISION), CAST(max(amount) AS DOUBLE PRECISION) FROM "+table, []string{table}, lim)
	if err != nil {
		return err
	}
	for i := range dpCat.Tables[0].Columns {
		if c := &dpCat.Tables[0].Columns[i]; c.Name == "amount" {
			c.Lower, c.Upper = 0, 5000
			lo, _ := span.Rows[0][0].(float64)
			hi, _ := span.Rows[0][1].(float64)
			c.WithinBounds = lo >= 0 && hi <= 5000
		}
	}
	smp := dp.NewSampler(rand.Reader)
	dpOpt := policy.Options{Epsilon: big.NewRat(1, 2), Delta: big.NewRat(1, 1000000)}
	enforcedDP := func() error {
		p, d := policy.Rewrite(benchQuery, dpCat, dpOpt)
		if !d.Allowed {
			return fmt.Errorf("bench: DP %s", d.Code)
		}
		res, err := r.Run(ctx, p.SQL, []string{table}, lim)
		if err != nil {
			return err
		}
		rows, err := noiseRows(smp, p, res.Rows)
		if err != nil {
			return err
		}
		if _, od := policy.CheckOutput(p, res.Columns, rows); !od.Allowed {
			return fmt.Errorf("bench: DP output %s", od.Code)
		}
		return nil
	}
	mdd, mdp, err := timePair(runs, runDirect(direct), enforcedDP)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: unit statistics (at most %d rows per unit, %d without one) measured once in %s\n",
		e.Kind(), stats.Max, stats.Null, measured.Round(time.Millisecond))
	fmt.Fprintf(w, "%s: direct aggregate %s; direct with distinct-unit threshold %s; enforced, distinct units counted %s; enforced, settled by rows %s\n",
		e.Kind(), md, mu, mx, me)
	fmt.Fprintf(w, "%s: enforced/direct = %.2fx (target <= 1.25x); counting distinct units instead: %.2fx (%.2fx of the direct query with the same threshold)\n",
		e.Kind(), float64(me)/float64(md), float64(mx)/float64(md), float64(mx)/float64(mu))
	fmt.Fprintf(w, "%s: differential privacy: direct %s, enforced (bounded per person, noised) %s: %.2fx (target <= 2x)\n",
		e.Kind(), mdd, mdp, float64(mdp)/float64(mdd))
	return nil
}

// timePair runs a and b once each to warm the caches, then n times each,
// alternately, and returns the median of each.
func timePair(n int, a, b func() error) (time.Duration, time.Duration, error) {
	fns := [2]func() error{a, b}
	var ts [2][]time.Duration
	for round := -1; round < n; round++ {
		for i, fn := range fns {
			start := time.Now()
			if err := fn(); err != nil {
				return 0, 0, err
			}
			if round >= 0 {
				ts[i] = append(ts[i], time.Since(start))
			}
		}
	}
	return median(ts[0]), median(ts[1]), nil
}

func median(ts []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ts...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
