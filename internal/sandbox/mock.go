package sandbox

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
	"github.com/gongshu/gongshu/internal/policy"
	"github.com/gongshu/gongshu/internal/supply"
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// runMock runs the operator's query on mock tables: anything one SELECT
// may do, on data that was never real.
func (s *Service) runMock(ctx context.Context, w Workspace, job *Job) error {
	rs, err := s.scope(ctx, w)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, r := range rs {
		if r.relation == "" {
			continue
		}
		mt := "m_" + r.relation
		if !s.mock.Has(mt) {
			if err := s.makeMock(ctx, r, mt); err != nil {
				return err
			}
		}
		names[r.Table] = mt
		job.Resources = append(job.Resources, r.Code)
	}
	// Mock rows are generated, but the engine is real: its settings,
	// catalogs and files stay out of reach.
	if d := policy.CheckMock(job.SQL); !d.Allowed {
		job.Status, job.Reason = Refused, refusalOf(d)
		return nil
	}
	tree, err := pg.Parse(job.SQL)
	if err != nil || len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
		return apperr.New(apperr.Invalid, KeyMockSelectOnly)
	}
	job.Fingerprint, _ = pg.Fingerprint(job.SQL)
	ctes := map[string]bool{}
	walk(tree.ProtoReflect(), func(m protoreflect.Message) {
		if c, ok := m.Interface().(*pg.CommonTableExpr); ok {
			ctes[c.Ctename] = true
		}
	})
	walk(tree.ProtoReflect(), func(m protoreflect.Message) {
		rv, ok := m.Interface().(*pg.RangeVar)
		if !ok || ctes[rv.Relname] || rv.Catalogname != "" || (rv.Schemaname != "" && rv.Schemaname != "main") {
			return
		}
		if mt, ok := names[rv.Relname]; ok {
			if rv.Alias == nil {
				rv.Alias = &pg.Alias{Aliasname: rv.Relname}
			}
			rv.Relname, rv.Schemaname = mt, ""
		}
	})
	q, err := pg.Deparse(tree)
	if err != nil {
		return apperr.New(apperr.Invalid, KeyMockSelectOnly).Wrap(err)
	}
	res, err := s.mock.Run(ctx, q, engine.Limits{Timeout: 10 * time.Second, MaxRows: 1000})
	if err != nil {
		// The mock database holds nothing real: its error text may be shown.
		return apperr.New(apperr.Invalid, "sandbox.mock_error", "detail", strings.TrimPrefix(err.Error(), "run query: ")).Wrap(err)
	}
	job.Status, job.Rule = Released, "mock data"
	job.Columns, job.Rows = res.Columns, res.Rows
	job.ResultHash = resultHash(res.Columns, res.Rows)
	return nil
}

// walk calls fn on every message of a parse tree.
func walk(m protoreflect.Message, fn func(protoreflect.Message)) {
	fn(m)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walk(l.Get(i).Message(), fn)
			}
		case fd.IsMap():
		default:
			walk(v.Message(), fn)
		}
		return true
	})
}

// makeMock generates a resource's mock table.
func (s *Service) makeMock(ctx context.Context, r Resource, table string) error {
	profiles, err := s.supply.Profiles(ctx, r.versionID)
	if err != nil {
		return err
	}
	tags, err := s.supply.Tags(ctx, r.ID)
	if err != nil {
		return err
	}
	cols, rows := MockRows(r, profiles, tags, s.opt.MockRows, s.opt.RareCount)
	return s.mock.Create(ctx, table, cols, rows)
}

// MockRows generates n fake rows with the resource's schema: identifiers
// in valid formats (ID numbers with correct check digits, credit codes,
// mobile numbers, names) that belong to nobody; other columns drawn from
// the profile's top values with categories seen fewer than rare times
// left out, or uniformly within the profile's range. It is deterministic
// for a version, so the operator's mock results are stable.
func MockRows(r Resource, profiles []supply.ColumnProfile, tags []supply.ColumnTag, n, rare int) ([]engine.Column, [][]any) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d", r.ID, r.Version)
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x9e3779b97f4a7c15))
	prof := map[string]supply.ColumnProfile{}
	for _, p := range profiles {
		prof[p.Name] = p
	}
	det := map[string]string{}
	tag := map[string]pii.Tag{}
	for _, t := range tags {
		det[t.Column], tag[t.Column] = t.Detector, t.Tag
	}
	cols := make([]engine.Column, len(r.Columns))
	gens := make([]func() any, len(r.Columns))
	// A pool of fake units, so that units repeat across rows as real ones do.
	units := make([]string, max(n/3, 1))
	for i := range units {
		units[i] = fakeResidentID(rng)
	}
	for i, c := range r.Columns {
		cols[i] = engine.Column{Name: c.Name, Type: c.Type}
		p := prof[c.Name]
		d := det[c.Name]
		switch {
		case d == pii.DetResidentID || (c.Name == r.Unit && d == ""):
			if c.Name == r.Unit {
				gens[i] = func() any { return units[rng.IntN(len(units))] }
			} else {
				gens[i] = func() any { return fakeResidentID(rng) }
			}
		case d == pii.DetCreditCode:
			pool := make([]string, len(units))
			for k := range pool {
				pool[k] = fakeCreditCode(rng)
			}
			gens[i] = func() any { return pool[rng.IntN(len(pool))] }
		case d == pii.DetMobile:
			gens[i] = func() any { return fakeMobile(rng) }
		case d == pii.DetPersonName:
			gens[i] = func() any { return fakeName(rng) }
		case tag[c.Name] == pii.DirectIdentifier:
			gens[i] = func() any { return "X" + strconv.Itoa(100000+rng.IntN(900000)) }
		default:
			gens[i] = fromProfile(rng, c.Type, p, rare)
		}
	}
	rows := make([][]any, n)
	for k := range rows {
		row := make([]any, len(gens))
		for i, g := range gens {
			row[i] = g()
		}
		rows[k] = row
	}
	return cols, rows
}

// fromProfile draws from the frequent values, or within the range.
func fromProfile(rng *rand.Rand, typ string, p supply.ColumnProfile, rare int) func() any {
	var vals []string
	var weights []int64
	var total int64
	for _, v := range p.Top {
		if v.Count < int64(rare) {
			continue
		}
		vals, weights = append(vals, v.Value), append(weights, v.Count)
		total += v.Count
	}
	if total > 0 {
		return func() any {
			x := rng.Int64N(total)
			for i, w := range weights {
				if x < w {
					return vals[i]
				}
				x -= w
			}
			return vals[len(vals)-1]
		}
	}
	u := strings.ToUpper(typ)
	switch {
	case strings.Contains(u, "INT"), strings.HasPrefix(u, "DOUBLE"), strings.HasPrefix(u, "DECIMAL"), strings.HasPrefix(u, "NUMERIC"), strings.HasPrefix(u, "FLOAT"):
		lo, err1 := strconv.ParseFloat(p.Min, 64)
		hi, err2 := strconv.ParseFloat(p.Max, 64)
		if err1 != nil || err2 != nil || hi < lo {
			lo, hi = 0, 1000
		}
		integer := strings.Contains(u, "INT")
		return func() any {
			v := lo + rng.Float64()*(hi-lo)
			if integer {
				return strconv.FormatInt(int64(v), 10)
			}
			return strconv.FormatFloat(v, 'f', 2, 64)
		}
	case u == "DATE", strings.HasPrefix(u, "TIMESTAMP"):
		lo, err1 := time.Parse(time.DateOnly, firstN(p.Min, 10))
		hi, err2 := time.Parse(time.DateOnly, firstN(p.Max, 10))
		if err1 != nil || err2 != nil || hi.Before(lo) {
			lo, hi = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
		}
		days := int(hi.Sub(lo).Hours()/24) + 1
		return func() any { return lo.AddDate(0, 0, rng.IntN(days)).Format(time.DateOnly) }
	case strings.HasPrefix(u, "BOOL"):
		return func() any { return strconv.FormatBool(rng.IntN(2) == 0) }
	}
	return func() any { return "示例" + strconv.Itoa(1+rng.IntN(20)) }
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// fakeResidentID is an 18-digit resident ID number with a valid check
// digit, in a Jiangxi region, born 1950-2005, whose sequence code starts
// with 9 (rarely issued), so it looks real and is nobody's.
func fakeResidentID(rng *rand.Rand) string {
	regions := []string{"360102", "360103", "360104", "360111", "360121", "360202", "360302", "360402", "360502", "360702"}
	born := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(55*365))
	first := fmt.Sprintf("%s%s9%02d", regions[rng.IntN(len(regions))], born.Format("20060102"), rng.IntN(100))
	return first + string(pii.ResidentCheckDigit(first))
}

// fakeCreditCode is a unified social credit code with a valid check
// character (GB 32100).
func fakeCreditCode(rng *rand.Rand) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	var b strings.Builder
	for range 8 {
		b.WriteByte(alphabet[rng.IntN(len(alphabet))])
	}
	return identity.MakeCreditCode('9', '1', "360100", b.String())
}

// fakeMobile is a mobile number in a valid range.
func fakeMobile(rng *rand.Rand) string {
	prefixes := []string{"135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182", "187", "188"}
	return prefixes[rng.IntN(len(prefixes))] + fmt.Sprintf("%08d", rng.IntN(100000000))
}

func fakeName(rng *rand.Rand) string {
	family := []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
	given := []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华")
	n := 1 + rng.IntN(2)
	out := []rune{family[rng.IntN(len(family))]}
	for range n {
		out = append(out, given[rng.IntN(len(given))])
	}
	return string(out)
}
