package sandbox_test

import (
	"context"
	"os"
	"testing"

	"github.com/gongshu/gongshu/internal/policy"
	"github.com/gongshu/gongshu/internal/sandbox"
)

func BenchmarkRewrite(b *testing.B) {
	cat := policy.Catalog{Schema: "main", Tables: []policy.Table{{Name: "events", Relation: "bench_events_v1", Resource: "BENCH", Unit: "person_id",
		Rule:    policy.Rule{Kind: policy.RuleAggregation, K: 10},
		Columns: []policy.Column{{Name: "person_id", Role: policy.Join}, {Name: "district", Role: policy.Group}, {Name: "amount", Role: policy.Aggregate}}}}}
	for b.Loop() {
		if _, d := policy.Rewrite("SELECT district, count(*) AS n, sum(amount) AS total FROM events GROUP BY district", cat, policy.Options{}); !d.Allowed {
			b.Fatal(d.Code)
		}
	}
}

// BenchmarkEnforcedVsDirect prints the figures of `gongshu bench sandbox`
// on 1M rows (the command's default is 10M).
func BenchmarkEnforcedVsDirect(b *testing.B) {
	for b.Loop() {
		if err := sandbox.Bench(context.Background(), b.TempDir(), 1_000_000, "", 0, os.Stdout); err != nil {
			b.Fatal(err)
		}
	}
}
