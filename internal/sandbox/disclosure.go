package sandbox

import (
	"math"

	"github.com/gongshu/gongshu/internal/policy"
)

// Disclosure states how a released result was protected, so that the
// operator, the agency and a reviewer read every number with its
// guarantee (R15.2): the rule and its threshold, how many values were
// withheld as NULL, and under differential privacy the contribution
// bounds, the ε and δ spent and the noise each number carries.
type Disclosure struct {
	Rule policy.RuleKind `json:"rule"`
	// K is the fewest distinct units any released number rests on
	// (aggregation), or the floor on a released group (DP).
	K int `json:"k,omitempty"`
	// Threshold says how the threshold was settled: "rows" (proven by the
	// version's unit statistics) or "distinct units" (counted).
	Threshold string `json:"threshold,omitempty"`
	// Suppressed counts the values released as NULL because fewer than K
	// units contributed to them or a condition removed too few.
	Suppressed int `json:"suppressed"`
	// Under DP: the budget this query spent and the bounds applied.
	Epsilon          float64 `json:"epsilon,omitempty"`
	Delta            float64 `json:"delta,omitempty"`
	MaxGroupsPerUnit int64   `json:"max_groups_per_unit,omitempty"`
	MaxRowsPerGroup  int64   `json:"max_rows_per_group,omitempty"`
	// PartitionThreshold is the noisy unit count a group needed to be
	// released at all (partition selection).
	PartitionThreshold int64         `json:"partition_threshold,omitempty"`
	Noise              []ColumnNoise `json:"noise,omitempty"`
}

// ColumnNoise is the noise one released column carries.
type ColumnNoise struct {
	Column string `json:"column"`
	// Kind is count, sum or avg (avg is a noisy sum over a noisy count).
	Kind        string  `json:"kind"`
	Sensitivity int64   `json:"sensitivity"`
	Epsilon     float64 `json:"epsilon"`
	// Scale is the discrete Laplace scale b = sensitivity/ε; Interval95
	// is the half-width that holds the noise 95% of the time (b·ln 20).
	Scale      float64 `json:"scale"`
	Interval95 float64 `json:"interval95"`
	// Lower and Upper clamp one unit's sum in a group (sum and avg).
	Lower *int64 `json:"lower,omitempty"`
	Upper *int64 `json:"upper,omitempty"`
}

// disclose describes plan's protection of rows (the operator's columns).
func disclose(p policy.Plan, columns []string, rows [][]any, threshold string) *Disclosure {
	d := &Disclosure{Rule: p.Analysis, K: p.K, Threshold: threshold}
	for _, r := range rows {
		for i := 0; i < p.Columns && i < len(r) && i < len(p.Aggregated); i++ {
			if p.Aggregated[i] && r[i] == nil {
				d.Suppressed++
			}
		}
	}
	np := p.Noise
	if np == nil {
		return d
	}
	d.Epsilon, _ = np.Epsilon.Float64()
	d.Delta, _ = np.Delta.Float64()
	d.MaxGroupsPerUnit, d.MaxRowsPerGroup = np.MaxGroupsPerUnit, np.MaxRowsPerGroup
	if tau, err := partitionThreshold(np); err == nil {
		d.PartitionThreshold = tau
	}
	for _, c := range np.Columns {
		eps, _ := c.Epsilon.Float64()
		n := ColumnNoise{Kind: c.Kind, Sensitivity: c.Sensitivity, Epsilon: eps}
		if c.Output < len(columns) {
			n.Column = columns[c.Output]
		}
		if eps > 0 {
			n.Scale = float64(c.Sensitivity) / eps
			n.Interval95 = n.Scale * math.Log(20)
		}
		if c.Kind == "sum" || c.Kind == "avg" {
			lo, hi := c.Lower, c.Upper
			n.Lower, n.Upper = &lo, &hi
		}
		d.Noise = append(d.Noise, n)
	}
	return d
}
