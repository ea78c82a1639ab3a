package sandbox_test

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/policy"
	"github.com/gongshu/gongshu/internal/sandbox"
	"github.com/gongshu/gongshu/internal/supply"
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

type entry struct {
	line int
	code string
	sql  string
}

func corpus(t testing.TB, name string, withCode bool) []entry {
	t.Helper()
	fh, err := os.Open("../policy/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []entry
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		e := entry{line: n, sql: l}
		if withCode {
			e.code, e.sql, _ = strings.Cut(l, "\t")
		}
		out = append(out, e)
	}
	return out
}

// canon turns rows into sorted comparable strings, floats to 6 digits.
func canon(rows [][]any) []string {
	var out []string
	for _, r := range rows {
		var parts []string
		for _, v := range r {
			switch x := v.(type) {
			case float64:
				parts = append(parts, fmt.Sprintf("%.6g", x))
			case int64:
				parts = append(parts, fmt.Sprintf("%.6g", float64(x)))
			case time.Time:
				parts = append(parts, x.UTC().Format(time.DateOnly))
			case nil:
				parts = append(parts, "NULL")
			default:
				s := fmt.Sprint(x)
				if len(s) >= 10 && s[4] == '-' && s[7] == '-' {
					s = s[:10]
				}
				parts = append(parts, s)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	sort.Strings(out)
	return out
}

// R12.1, R15.3: every legitimate query runs through Submit on real loaded
// tables and gives the same answer as the query run straight on the engine
// with the groups of fewer than k distinct units removed by hand; and the
// invariant holds on every real result: no group below k, no protected
// column's raw value.
func TestLegitimateCorpusMatchesEngine(t *testing.T) {
	eachSetup(t, sandbox.Options{}, func(t *testing.T, f *fixture) {
		n := 0
		for _, e := range corpus(t, "legitimate.txt", false) {
			j := f.submit(e.sql, sandbox.Real)
			if j.Status == sandbox.Held {
				var err error
				j, err = f.svc.Approve(f.ctx, f.ncAgency, j.ID, "checked")
				if err != nil {
					t.Fatal(err)
				}
				j, err = f.svc.Job(f.ctx, f.op, j.ID)
				if err != nil {
					t.Fatal(err)
				}
				j.Rows = jsonRows(j.Rows)
			}
			if j.Status != sandbox.Released {
				t.Errorf("line %d: %s: %s %+v", e.line, e.sql, j.Status, j.Reason)
				continue
			}
			want := f.byHand(e.sql)
			got := canon(j.Rows)
			if strings.Contains(strings.ToUpper(e.sql), " LIMIT ") {
				// LIMIT applies after the threshold: the released rows are
				// some of the groups that pass.
				set := map[string]bool{}
				for _, w := range want {
					set[w] = true
				}
				for _, g := range got {
					if !set[g] {
						t.Errorf("line %d: row %s not among the by-hand groups", e.line, g)
					}
				}
			} else if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("line %d: %s\n got %d rows %v\nwant %d rows %v", e.line, e.sql, len(got), head(got), len(want), head(want))
			}
			for _, r := range j.Rows {
				for _, v := range r {
					if f.world.protected[fmt.Sprint(v)] {
						t.Errorf("line %d: protected value %v released", e.line, v)
					}
				}
			}
			n++
		}
		if n < 40 {
			t.Fatalf("only %d legitimate queries ran", n)
		}
	})
}

func head(xs []string) []string {
	if len(xs) > 5 {
		return xs[:5]
	}
	return xs
}

// jsonRows turns stored JSON numbers back into int64 or float64.
func jsonRows(rows [][]any) [][]any {
	for _, r := range rows {
		for i, v := range r {
			if n, ok := v.(interface {
				Int64() (int64, error)
				Float64() (float64, error)
			}); ok {
				if x, err := n.Int64(); err == nil {
					r[i] = x
				} else if fl, err := n.Float64(); err == nil {
					r[i] = fl
				}
			}
		}
	}
	return rows
}

// byHand runs the operator's query straight on the engine, and again
// with the distinct units of each group counted beside it (the policy's
// rewrite at k=2, which keeps every group a second unit shares), then
// drops by hand the groups below the workspace's k. The by-hand groups
// must be among the direct query's own rows.
func (f *fixture) byHand(q string) []string {
	f.t.Helper()
	ws, err := f.svc.Workspace(f.ctx, f.op, f.ws.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	cat := policy.Catalog{Schema: "main"}
	k := 0
	for _, r := range ws.Resources {
		t := policy.Table{Name: r.Table, Relation: supply.TableName(r.ID, 1), Resource: r.Code, Unit: r.Unit,
			Rule: policy.Rule{Kind: r.Rule, K: 2, RowCap: r.RowCap}}
		for _, c := range r.Columns {
			t.Columns = append(t.Columns, policy.Column{Name: c.Name, Role: c.Role, Aggregates: c.Aggregates})
		}
		cat.Tables = append(cat.Tables, t)
	}
	plan, d := policy.Rewrite(q, cat, policy.Options{})
	if !d.Allowed {
		f.t.Fatalf("%s: %s", q, d.Code)
	}
	for _, r := range ws.Resources {
		for _, tn := range d.Tables {
			if tn == r.Table && r.Rule != policy.RuleList {
				k = max(k, r.K)
			}
		}
	}
	r, err := engine.NewRunner(f.ctx, f.eng, engine.RunnerOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	probe, err := r.Run(f.ctx, plan.SQL, nil, engine.Limits{})
	if err != nil {
		f.t.Fatalf("probe %s: %v", plan.SQL, err)
	}
	var rows [][]any
	for _, row := range probe.Rows {
		ok := true
		for _, i := range plan.UnitCounts {
			if n, _ := row[i].(int64); n < int64(k) {
				ok = false
			}
		}
		if ok {
			rows = append(rows, row[:plan.Columns])
		}
	}
	if plan.Analysis == policy.RuleList || strings.Contains(strings.ToUpper(q), "LIMIT") {
		return canon(rows)
	}
	// The same groups exist in the query run as written, unchanged.
	direct, err := renameTables(q, f.relations())
	if err != nil {
		f.t.Fatal(err)
	}
	dres, err := r.Run(f.ctx, direct, nil, engine.Limits{})
	if err != nil {
		f.t.Fatalf("direct %s: %v", direct, err)
	}
	all := map[string]bool{}
	for _, c := range canon(dres.Rows) {
		all[c] = true
	}
	for _, c := range canon(rows) {
		if !all[c] {
			f.t.Errorf("%s: by-hand group %s is not in the direct result", q, c)
		}
	}
	return canon(rows)
}

// relations maps the workspace's table names to the engine's relations.
func (f *fixture) relations() map[string]string {
	f.t.Helper()
	ws, err := f.svc.Workspace(f.ctx, f.op, f.ws.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range ws.Resources {
		out[r.Table] = supply.TableName(r.ID, 1)
	}
	return out
}

// renameTables points the query's table names at their relations, the
// names kept as aliases, by parsing (never by text substitution).
func renameTables(q string, rel map[string]string) (string, error) {
	tree, err := pg.Parse(q)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", q, err)
	}
	var visit func(m protoreflect.Message)
	visit = func(m protoreflect.Message) {
		if rv, ok := m.Interface().(*pg.RangeVar); ok {
			if r, ok := rel[rv.Relname]; ok {
				if rv.Alias == nil {
					rv.Alias = &pg.Alias{Aliasname: rv.Relname}
				}
				rv.Relname, rv.Schemaname = r, ""
			}
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
				return true
			}
			if fd.IsList() {
				for i := 0; i < v.List().Len(); i++ {
					visit(v.List().Get(i).Message())
				}
				return true
			}
			visit(v.Message())
			return true
		})
	}
	visit(tree.ProtoReflect())
	out, err := pg.Deparse(tree)
	if err != nil {
		return "", fmt.Errorf("deparse %q: %w", q, err)
	}
	return out, nil
}
