package search

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/store/storetest"
)

// BenchmarkSearch seeds 100,000 generated resources on SQLite and reports,
// per query kind, the index's p50/p95 beside a LIKE scan over a plain table
// of the same documents (the baseline), and their ratio.
func BenchmarkSearch(b *testing.B) {
	ctx := context.Background()
	db := storetest.SQLite(b)
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	if _, err := db.Exec(ctx, `CREATE TABLE search_bench_like (id BIGINT PRIMARY KEY, name TEXT, description TEXT,
		cols TEXT, domain TEXT, public INTEGER, updated_at BIGINT)`); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := Seed(ctx, db, n, true); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d documents in %s", n, time.Since(t0))
	rd := NewReader(db)
	if err := rd.Warm(ctx); err != nil {
		b.Fatal(err)
	}
	for _, bq := range BenchQueries {
		b.Run(bq.Label, func(b *testing.B) {
			var ds []time.Duration
			for b.Loop() {
				s := time.Now()
				if _, err := rd.Search(ctx, bq.Query); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(s))
			}
			var like []time.Duration
			for range 3 {
				s := time.Now()
				if _, err := likeSearch(ctx, db, bq.Like, bq.Query.Filters); err != nil {
					b.Fatal(err)
				}
				like = append(like, time.Since(s))
			}
			p50, p95 := Percentiles(ds)
			l50, _ := Percentiles(like)
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
			b.ReportMetric(float64(l50.Microseconds())/1000, "like-p50-ms")
			b.ReportMetric(float64(l50)/float64(max(p50, 1)), "like/index")
		})
	}
}

// TestBenchSmall runs the CLI's measurement on a small catalog so Bench
// stays working; it asserts nothing about timing.
func TestBenchSmall(t *testing.T) {
	db := storetest.SQLite(t)
	if err := Bench(context.Background(), db, 2000, os.Stdout); err != nil {
		t.Fatal(err)
	}
}
