package quality

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the benchmark's own DuckDB domain
)

// benchDistricts are the district names of the benchmark resource and its
// referenced code table.
var benchDistricts = []string{"东湖区", "西湖区", "青云谱区", "青山湖区", "新建区", "红谷滩区", "南昌县", "进贤县", "安义县"}

// BenchRules is the rule set the benchmark runs: every rule type, over the
// columns of a realistic resource of payments to persons and enterprises.
func BenchRules() Rules {
	num := func(s string) *Bound { b := Bound(s); return &b }
	return Rules{Key: "record_id", Rules: []Rule{
		{Type: NotNull, Column: "id_card"},
		{Type: NotNull, Column: "mobile"},
		{Type: Unique, Columns: []string{"record_id"}},
		{Type: Format, Column: "id_card", Format: IDCard},
		{Type: Format, Column: "credit_code", Format: CreditCode},
		{Type: Format, Column: "mobile", Format: Mobile},
		{Type: Format, Column: "reported", Format: Date, Layout: "2006-01-02"},
		{Type: Range, Column: "amount", Min: num("0"), Max: num("9000")},
		{Type: Allowed, Column: "district", Values: benchDistricts},
		{Type: Reference, Column: "district", Resource: 2, RefColumn: "name"},
		{Type: Freshness, Column: "paid_on", MaxAgeDays: 400},
		{Type: Freshness, ID: "freshness:load"},
	}}
}

// Bench generates a resource of rows rows inside a DuckDB file in dir (with
// SQL range(), not timed: ID numbers and credit codes with their check
// characters, mobiles, dates, amounts, districts, and a few defects of each
// kind), then times one full scan of every column the rules touch and the
// whole quality check (fused aggregate and samples) on the same table, each
// three times, and prints the best of each and their ratio to w. The target
// is a ratio under 2.
func Bench(ctx context.Context, dir string, rows int, w io.Writer) error {
	db, err := sql.Open("duckdb", filepath.Join(dir, "quality-bench.duckdb"))
	if err != nil {
		return fmt.Errorf("bench: open duckdb: %w", err)
	}
	defer db.Close()
	d := SQLDomain{DB: db}
	t0 := time.Now()
	for _, q := range benchSetup(rows) {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("bench: generate: %w\n%s", err, q)
		}
	}
	fmt.Fprintf(w, "generated %d rows in DuckDB in %s (not timed)\n", rows, time.Since(t0).Round(time.Millisecond))

	scan := "SELECT count(*), sum(record_id), sum(length(id_card)), sum(length(credit_code)), sum(length(mobile)), " +
		"sum(length(reported)), sum(amount), sum(length(district)), max(paid_on) FROM bench"
	var best [2]time.Duration
	var rep Report
	rs := BenchRules()
	env := Env{RefTables: map[int64]string{2: "bench_districts"}, Now: time.Now()}
	target := Target{Table: "bench", Version: 1, LoadedAt: time.Now()}
	for round := 0; round < 3; round++ {
		t1 := time.Now()
		err := d.Query(ctx, scan, func(sc func(...any) error) error {
			vals := make([]any, 9)
			ptrs := make([]any, 9)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			return sc(ptrs...)
		})
		if err != nil {
			return fmt.Errorf("bench: scan: %w", err)
		}
		if e := time.Since(t1); round == 0 || e < best[0] {
			best[0] = e
		}
		t2 := time.Now()
		rep, err = Check(ctx, d, rs, target, env)
		if err != nil {
			return fmt.Errorf("bench: quality check: %w", err)
		}
		if e := time.Since(t2); round == 0 || e < best[1] {
			best[1] = e
		}
	}
	failed := 0
	for _, r := range rep.Results {
		if r.Failed > 0 {
			failed++
		}
	}
	fmt.Fprintf(w, "full scan of the rules' %d columns:   %8s  %.1f M rows/s\n", 8, best[0].Round(time.Millisecond),
		float64(rows)/1e6/best[0].Seconds())
	fmt.Fprintf(w, "quality check, %d rules fused:        %8s  %.1f M rows/s  (%d statements, %d rules failed, %d samples, score %.1f)\n",
		len(rs.Rules), best[1].Round(time.Millisecond), float64(rows)/1e6/best[1].Seconds(), rep.Scans, failed, len(rep.Samples), rep.Score)
	fmt.Fprintf(w, "ratio quality/scan:                  %8.2f  (target < 2.00)\n", best[1].Seconds()/best[0].Seconds())
	return nil
}

// benchSetup is the SQL that builds the benchmark's tables. Defects are
// sprinkled at fixed rates from a hash of the row number, so every run
// builds the same table.
func benchSetup(rows int) []string {
	quoted := make([]string, len(benchDistricts))
	for i, s := range benchDistricts {
		quoted[i] = quoteLiteral(s)
	}
	list := "[" + strings.Join(quoted, ", ") + "]"
	// digit sums for the check characters, over a 17-character body b.
	idSum := make([]string, 17)
	for i := 0; i < 17; i++ {
		idSum[i] = fmt.Sprintf("%d * CAST(substr(b, %d, 1) AS INTEGER)", idCardWeights[i], i+1)
	}
	orgSum := make([]string, 8)
	for i := 0; i < 8; i++ {
		orgSum[i] = fmt.Sprintf("%d * (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(o, %d, 1)) - 1)", orgWeights[i], i+1)
	}
	ccSum := make([]string, 17)
	for i := 0; i < 17; i++ {
		ccSum[i] = fmt.Sprintf("%d * (strpos('%s', substr(c17, %d, 1)) - 1)", creditWeights[i], creditCharset, i+1)
	}
	body8 := make([]string, 8)
	for k := 0; k < 8; k++ {
		body8[k] = fmt.Sprintf("substr('%s', CAST((h >> %d) %% 31 AS INTEGER) + 1, 1)", creditCharset, 5*k+3)
	}
	return []string{
		"DROP TABLE IF EXISTS bench",
		"DROP TABLE IF EXISTS bench_districts",
		"CREATE TABLE bench_districts AS SELECT unnest(" + list + ") AS name",
		fmt.Sprintf(`CREATE TABLE bench AS
WITH g AS (
  SELECT i, hash(i) AS h,
    ['360102', '360103', '360104', '360111', '360112', '360113', '360121', '360123', '360124'][CAST(hash(i) %% 9 AS INTEGER) + 1] || strftime(DATE '1940-01-01' + CAST((hash(i) >> 8) %% 25000 AS INTEGER), '%%Y%%m%%d')
      || lpad(CAST((hash(i) >> 24) %% 1000 AS VARCHAR), 3, '0') AS b,
    %s AS o
  FROM range(%d) r(i)
), g2 AS (
  SELECT *, '91360102' || o || substr('0X987654321', CAST((%s) %% 11 AS INTEGER) + 1, 1) AS c17 FROM g
)
SELECT
  CASE WHEN i %% 100000 = 7 THEN i - 1 ELSE i END AS record_id,
  CASE WHEN (h >> 40) %% 1000 = 1 THEN NULL
       WHEN (h >> 40) %% 1000 = 2 THEN b || '0'
       ELSE b || substr('10X98765432', CAST((%s) %% 11 AS INTEGER) + 1, 1) END AS id_card,
  CASE WHEN (h >> 42) %% 1000 = 3 THEN c17 || '0'
       ELSE c17 || substr('%s', CAST((31 - (%s) %% 31) %% 31 AS INTEGER) + 1, 1) END AS credit_code,
  CASE WHEN (h >> 44) %% 200 = 4 THEN NULL
       WHEN (h >> 44) %% 1000 = 5 THEN '1' || CAST(3 + (h >> 12) %% 7 AS VARCHAR) || lpad(CAST((h >> 20) %% 100000000 AS VARCHAR), 8, '0')
       ELSE '1' || CAST(3 + (h >> 12) %% 7 AS VARCHAR) || lpad(CAST((h >> 20) %% 1000000000 AS VARCHAR), 9, '0') END AS mobile,
  CASE WHEN (h >> 46) %% 1000 = 6 THEN '2025-02-30'
       ELSE strftime(DATE '2025-01-01' + CAST((h >> 30) %% 365 AS INTEGER), '%%Y-%%m-%%d') END AS reported,
  CAST(((h >> 16) %% 950000) / 100.0 AS DECIMAL(12, 2)) AS amount,
  CASE WHEN (h >> 48) %% 1000 = 7 THEN '未知区' ELSE %s[CAST((h >> 4) %% 9 AS INTEGER) + 1] END AS district,
  DATE '2025-01-01' + CAST((h >> 30) %% 365 AS INTEGER) AS paid_on
FROM g2`, strings.Join(body8, " || "), rows, strings.Join(orgSum, " + "), strings.Join(idSum, " + "),
			creditCharset, strings.Join(ccSum, " + "), list),
		"CHECKPOINT",
	}
}
