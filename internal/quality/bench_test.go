package quality

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestBenchSmall keeps the benchmark working on a small table; timings are
// logged, never asserted. GONGSHU_QUALITY_BENCH_ROWS sets the size (the
// figure in the report is from 10,000,000).
func TestBenchSmall(t *testing.T) {
	rows := 200_000
	if s := os.Getenv("GONGSHU_QUALITY_BENCH_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	var out bytes.Buffer
	if err := Bench(context.Background(), t.TempDir(), rows, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ratio") {
		t.Fatalf("output %s", out.String())
	}
	t.Log("\n" + out.String())
}

// benchDomain builds the benchmark table once per benchmark.
func benchDomain(b *testing.B, rows int) SQLDomain {
	b.Helper()
	d := openDuck(b)
	for _, q := range benchSetup(rows) {
		if _, err := d.DB.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	return d.SQLDomain
}

// BenchmarkCheck times the fused quality check of 1M rows; its baseline,
// BenchmarkScan, is one aggregate scan of the same columns.
func BenchmarkCheck(b *testing.B) {
	d := benchDomain(b, 1_000_000)
	env := Env{RefTables: map[int64]string{2: "bench_districts"}}
	for b.Loop() {
		if _, err := Check(context.Background(), d, BenchRules(), Target{Table: "bench"}, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScan(b *testing.B) {
	d := benchDomain(b, 1_000_000)
	for b.Loop() {
		var n any
		if err := d.DB.QueryRow("SELECT count(*) + sum(record_id) + sum(length(id_card)) + sum(length(credit_code)) + sum(length(mobile)) + " +
			"sum(length(reported)) + sum(amount) + sum(length(district)) FROM bench").Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
}
