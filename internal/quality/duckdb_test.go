package quality

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestUniqueBitmapMatchesDistinct checks the DuckDB bitmap form of a unique
// rule on integer keys (negative keys, NULLs, keys repeated up to four
// times, spread over several 4,096-key blocks) against count(DISTINCT) and
// the plain grouped duplicate search.
func TestUniqueBitmapMatchesDistinct(t *testing.T) {
	d := openDuck(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var rows [][]string
	for i := 0; i < 5000; i++ {
		k := fmt.Sprint(rng.IntN(30000) - 10000)
		if rng.IntN(50) == 0 {
			k = "NULL"
		}
		for n := 1 + rng.IntN(4)/3*rng.IntN(4); n > 0; n-- {
			rows = append(rows, []string{k})
		}
	}
	createTable(t, d, "keys", []string{"k BIGINT"}, rows)
	rs := Rules{Key: "k", Rules: []Rule{{ID: "u", Type: Unique, Columns: []string{"k"}}}}
	p, err := compile(ctx, d, rs, "keys", Env{})
	if err != nil {
		t.Fatal(err)
	}
	if p.rules[0].keys == nil {
		t.Fatal("unique rule on an integer key did not use the bitmap")
	}
	rep, err := Check(ctx, d, rs, Target{Table: "keys"}, Env{})
	if err != nil {
		t.Fatal(err)
	}
	var checked, distinct int64
	if err := d.DB.QueryRow(`SELECT count(k), count(DISTINCT k) FROM keys`).Scan(&checked, &distinct); err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Checked != checked || r.Failed != checked-distinct {
		t.Fatalf("checked %d failed %d, want %d %d", r.Checked, r.Failed, checked, checked-distinct)
	}
	var want []Sample
	q := `SELECT CAST(k AS TEXT), count(*) FROM keys WHERE k IS NOT NULL GROUP BY k HAVING count(*) > 1 ORDER BY 2 DESC, 1 LIMIT 20`
	err = d.Query(ctx, q, func(scan func(...any) error) error {
		var s Sample
		if err := scan(&s.Key, &s.Count); err != nil {
			return err
		}
		s.RuleID, s.Value = "u", s.Key
		want = append(want, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Key < want[j].Key })
	if fmt.Sprint(rep.Samples) != fmt.Sprint(want) {
		t.Fatalf("samples\n%v\nwant\n%v", rep.Samples, want)
	}
}
