package policy_test

import (
	"fmt"
	"strings"

	"github.com/gongshu/gongshu/internal/policy"
)

func Example() {
	cat := policy.Catalog{Tables: []policy.Table{{
		Name: "social_insurance", Resource: "JX-HRSS-0001", Unit: "person_id",
		Rule: policy.Rule{Kind: policy.RuleAggregation, K: 10},
		Columns: []policy.Column{
			{Name: "person_id", Role: policy.Filter, Identifier: true},
			{Name: "district", Role: policy.Group},
			{Name: "amount", Role: policy.Aggregate},
		},
	}}}
	d := policy.Validate("SELECT person_id, amount FROM social_insurance", cat)
	fmt.Println(d.Allowed, d.Code)
	plan, d := policy.Rewrite("SELECT district, sum(amount) FROM social_insurance GROUP BY district", cat, policy.Options{})
	fmt.Println(d.Allowed, d.K)
	// Each number is kept only when the units that contribute to it reach
	// k, and each group only when it covers k units.
	fmt.Println(strings.Contains(plan.SQL, `CASE WHEN count(DISTINCT "social_insurance"."person_id") FILTER (WHERE (social_insurance.amount) IS NOT NULL) >= 10 THEN sum(social_insurance.amount) END`))
	fmt.Println(strings.Contains(plan.SQL, `count(DISTINCT "social_insurance"."person_id") >= 10 AS __gs_pass`))
	// Output:
	// false group_by_unit
	// true 10
	// true
	// true
}
