package policy_test

import (
	"fmt"

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
	fmt.Println(plan.SQL)
	// Output:
	// false group_by_unit
	// true 10
	// SELECT district, sum(amount), count(DISTINCT social_insurance.person_id) AS __gs_units_0 FROM social_insurance GROUP BY district HAVING count(DISTINCT social_insurance.person_id) >= 10
}
