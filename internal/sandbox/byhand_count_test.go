package sandbox_test

import (
	"fmt"
	"sort"
)

// byhand_count_test.go: the counting half of byHand (byhand_test.go).

// counts holds a counting query's rows: column 0 the group key, then the
// unit columns, then flag columns (1 or 0).
type counts struct {
	rows  [][]any
	units int
	k     int64
	where []int
}

func on(row []any, i int) bool {
	n, _ := toInt64(row[i])
	return n == 1
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		return int64(x), true
	}
	return 0, false
}

// distinct counts, per group key, the distinct units of every unit column
// among the rows that pass pred.
func (c counts) distinct(pred func(row []any) bool) map[string][]int64 {
	sets := map[string][]map[string]bool{}
	for _, row := range c.rows {
		if !pred(row) {
			continue
		}
		key := fmt.Sprint(row[0])
		if sets[key] == nil {
			sets[key] = make([]map[string]bool, c.units)
			for i := range sets[key] {
				sets[key][i] = map[string]bool{}
			}
		}
		for i := 0; i < c.units; i++ {
			if u := row[1+i]; u != nil {
				sets[key][i][fmt.Sprint(u)] = true
			}
		}
	}
	out := map[string][]int64{}
	for k, s := range sets {
		for _, m := range s {
			out[k] = append(out[k], int64(len(m)))
		}
	}
	return out
}

func all(row []any, idx []int, except int) bool {
	for _, i := range idx {
		if i != except && !on(row, i) {
			return false
		}
	}
	return true
}

// below: some unit column has fewer than k units (0 included).
func (c counts) below(n []int64) bool {
	if len(n) == 0 {
		return true
	}
	for _, x := range n {
		if x < c.k {
			return true
		}
	}
	return false
}

// thin: some unit column has 1..k-1 units.
func (c counts) thin(n []int64) bool {
	for _, x := range n {
		if x > 0 && x < c.k {
			return true
		}
	}
	return false
}

// decide returns the released group keys and, per aggregate, the groups
// where its value is released.
func (c counts) decide(layouts []aggLayout, grouped bool, tied *bool, loose bool) (map[string]bool, []map[string]bool) {
	pass := func(row []any) bool { return all(row, c.where, -1) }
	groups := c.distinct(pass)
	withheld := map[string]bool{}
	for g, n := range groups {
		if c.below(n) {
			withheld[g] = true
		}
	}
	for _, w := range c.where {
		removed := c.distinct(func(row []any) bool { return all(row, c.where, w) && !on(row, w) })
		for g := range groups {
			if c.thin(removed[g]) {
				withheld[g] = true
			}
		}
	}
	spared := map[string]bool{}
	if grouped {
		for {
			var total []int64
			for i := 0; i < c.units; i++ {
				set := map[string]bool{}
				for _, row := range c.rows {
					if pass(row) && withheld[fmt.Sprint(row[0])] && row[1+i] != nil {
						set[fmt.Sprint(row[1+i])] = true
					}
				}
				total = append(total, int64(len(set)))
			}
			if !c.thin(total) {
				break
			}
			var cand []string
			for g := range groups {
				if !withheld[g] {
					cand = append(cand, g)
				}
			}
			if len(cand) == 0 {
				break
			}
			sort.Slice(cand, func(i, j int) bool {
				a, b := groups[cand[i]][0], groups[cand[j]][0]
				if a != b {
					return a < b
				}
				return cand[i] < cand[j]
			})
			if len(cand) > 1 && groups[cand[0]][0] == groups[cand[1]][0] {
				*tied = true
				for _, g := range cand {
					if groups[g][0] == groups[cand[0]][0] {
						spared[g] = loose
					}
				}
			}
			withheld[cand[0]] = true
		}
	}
	kept := map[string]bool{}
	for g := range groups {
		if !withheld[g] || spared[g] {
			kept[g] = true
		}
	}
	values := make([]map[string]bool, len(layouts))
	for ai, l := range layouts {
		bad := map[string]bool{}
		for _, cl := range l.cells {
			cl := cl
			n := c.distinct(func(row []any) bool {
				return pass(row) && all(row, l.filter, -1) && all(row, cl.own, -1) && all(row, cl.other, -1) &&
					(cl.nonNull < 0 || on(row, cl.nonNull))
			})
			for g := range kept {
				if c.below(n[g]) {
					bad[g] = true
				}
			}
			for _, o := range cl.own {
				removed := c.distinct(func(row []any) bool {
					return pass(row) && all(row, l.filter, -1) && all(row, cl.own, o) && all(row, cl.other, -1) && !on(row, o)
				})
				for g := range kept {
					if c.thin(removed[g]) {
						bad[g] = true
					}
				}
			}
		}
		for _, fi := range l.filter {
			removed := c.distinct(func(row []any) bool { return pass(row) && all(row, l.filter, fi) && !on(row, fi) })
			for g := range kept {
				if c.thin(removed[g]) {
					bad[g] = true
				}
			}
		}
		values[ai] = map[string]bool{}
		for g := range kept {
			if !bad[g] {
				values[ai][g] = true
			}
		}
	}
	return kept, values
}
