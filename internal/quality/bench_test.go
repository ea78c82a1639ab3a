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
