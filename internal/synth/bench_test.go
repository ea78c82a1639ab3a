package synth

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"testing"
	"time"
)

// BenchmarkWriteCSV reports generated rows per second for each dataset and
// its cost relative to a baseline that writes the same number of constant
// rows (a real row of that dataset, repeated) through the same csv.Writer
// to io.Discard: the ratio is the price of generation over plain CSV
// encoding, measured in the same process.
func BenchmarkWriteCSV(b *testing.B) {
	const scale = 0.01
	for _, d := range Catalog(scale) {
		b.Run(d.Name, func(b *testing.B) {
			var first bytes.Buffer
			small := dataset(b, d.Name, testScale)
			if err := WriteCSV(context.Background(), &first, small, 1, nil); err != nil {
				b.Fatal(err)
			}
			recs, err := csv.NewReader(&first).ReadAll()
			if err != nil || len(recs) < 2 {
				b.Fatalf("sample row: %v", err)
			}
			row := recs[1]
			var gen, base time.Duration
			for b.Loop() {
				t0 := time.Now()
				cw := csv.NewWriter(io.Discard)
				for range d.Rows + 1 {
					_ = cw.Write(row)
				}
				cw.Flush()
				t1 := time.Now()
				if err := WriteCSV(context.Background(), io.Discard, d, 1, nil); err != nil {
					b.Fatal(err)
				}
				base, gen = base+t1.Sub(t0), gen+time.Since(t1)
			}
			rows := float64(d.Rows) * float64(b.N)
			b.ReportMetric(rows/gen.Seconds(), "rows/s")
			b.ReportMetric(rows/base.Seconds(), "baseline_rows/s")
			b.ReportMetric(gen.Seconds()/base.Seconds(), "x_baseline")
		})
	}
}
