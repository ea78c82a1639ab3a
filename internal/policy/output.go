package policy

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/gongshu/gongshu/internal/pii"
)

// CheckOutput is the last gate before a result leaves the domain (R12.1):
// it re-verifies the distinct-unit threshold of every row (the rewrite put
// it in HAVING; this catches an engine or rewrite that did not honour it),
// the row cap, and scans the operator's columns for direct identifiers:
// resident ID numbers with a valid GB 11643 check digit, mobile numbers,
// and person names in columns derived from name columns. It returns the
// operator's columns only. Under DP, call it after adding noise.
func CheckOutput(p Plan, columns []string, rows [][]any) ([][]any, Decision) {
	width := p.Columns
	for _, i := range p.UnitCounts {
		width = max(width, i+1)
	}
	if p.Noise != nil {
		width = max(width, p.Noise.PartitionColumn+1)
		for _, c := range p.Noise.Columns {
			width = max(width, c.Count+1)
		}
	}
	if len(columns) < width || len(columns) < p.Columns {
		return nil, outRefusal(CodeOutputShape, fmt.Sprintf("result has %d columns, the plan needs %d", len(columns), width))
	}
	if p.RowCap > 0 && len(rows) > p.RowCap {
		return nil, outRefusal(CodeRowCap, fmt.Sprintf("%d rows above the cap of %d", len(rows), p.RowCap), "max", strconv.Itoa(p.RowCap))
	}
	out := make([][]any, 0, len(rows))
	for ri, row := range rows {
		if len(row) != len(columns) {
			return nil, outRefusal(CodeOutputShape, fmt.Sprintf("row %d has %d values for %d columns", ri, len(row), len(columns)))
		}
		for _, i := range p.UnitCounts {
			n, ok := asInt(row[i])
			if !ok || (p.K > 0 && n < int64(p.K)) {
				return nil, outRefusal(CodeSmallGroup, fmt.Sprintf("row %d covers %v units, below k=%d", ri, row[i], p.K),
					"k", strconv.Itoa(p.K))
			}
		}
		for ci := 0; ci < p.Columns; ci++ {
			aggregated := ci < len(p.Aggregated) && p.Aggregated[ci]
			names := ci < len(p.Names) && p.Names[ci]
			if kind := identifierIn(row[ci], aggregated, names); kind != "" {
				return nil, outRefusal(CodeIdentifier, fmt.Sprintf("row %d column %s holds a %s", ri, columns[ci], kind),
					"kind", kind, "column", columns[ci])
			}
		}
		out = append(out, row[:p.Columns:p.Columns])
	}
	d := Decision{Allowed: true, Code: CodeOK, Key: "policy.ok", Message: Message(CodeOK, nil), Location: -1,
		Args: map[string]string{}, Analysis: p.Analysis, K: p.K, Rule: "output check"}
	return out, d
}

func outRefusal(code Code, rule string, args ...string) Decision {
	return refuse(code, -1, rule, args...).decision()
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint64:
		return int64(x), x <= 1<<62
	case float64:
		return int64(x), x == float64(int64(x))
	case *big.Int:
		return x.Int64(), x.IsInt64()
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	case []byte:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// identifierIn names the kind of direct identifier v contains, or "".
// Numbers computed by aggregates are not scanned: a sum may happen to have
// eleven digits starting with 13 without being anyone's phone number.
func identifierIn(v any, aggregated, names bool) string {
	var s string
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		s = x
	case []byte:
		s = string(x)
	case fmt.Stringer:
		s = x.String()
	case int64, int, int32, uint64, float64:
		if aggregated {
			return ""
		}
		s = fmt.Sprint(x)
	default:
		s = fmt.Sprint(x)
	}
	if kind := scanDigits(s); kind != "" {
		return kind
	}
	if pii.IsMobile(strings.TrimSpace(s)) {
		return "mobile number"
	}
	if names && pii.IsPersonName(strings.TrimSpace(s)) {
		return "person name"
	}
	return ""
}

// scanDigits looks at every maximal run of digits (an ID number may end in
// X) for a resident ID number or a mobile number, so that an identifier
// glued into a longer text is still found.
func scanDigits(s string) string {
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		run := s[i:j]
		if j < len(s) && (s[j] == 'X' || s[j] == 'x') && len(run) == 17 {
			run = s[i : j+1]
		}
		if len(run) == 18 && pii.ResidentIDValid(run) {
			return "resident ID number"
		}
		if len(run) == 11 && pii.IsMobile(run) {
			return "mobile number"
		}
		if len(run) == 13 && strings.HasPrefix(run, "86") && pii.IsMobile(run) {
			return "mobile number"
		}
		i = j
	}
	return ""
}
