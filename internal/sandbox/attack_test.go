package sandbox_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/i18n"
	"github.com/gongshu/gongshu/internal/sandbox"
)

// attackClass is one of the ten attack classes of issue 14.
type attackClass string

const (
	classTracker      attackClass = "tracker"           // 1. one-query tracker
	classOrderStat    attackClass = "order_statistic"   // 2. min, max and friends
	classDifferencing attackClass = "differencing"      // 3. pairs that differ by one unit
	classComplement   attackClass = "complement"        // 4. total minus released groups
	classLiteralKey   attackClass = "literal_key"       // 5. joins to literal keys
	classFailure      attackClass = "failure_oracle"    // 6. errors, timeouts, holds, refunds
	classHalt         attackClass = "halt_oracle"       // 7. the fusion-risk halt
	classNameCapture  attackClass = "name_capture"      // 8. names the rewrite uses
	classNonFinite    attackClass = "non_finite"        // 9. infinity and NaN
	classControl      attackClass = "control_character" // 10. NUL, control characters, placeholders
)

var attackClasses = []attackClass{classTracker, classOrderStat, classDifferencing, classComplement, classLiteralKey,
	classFailure, classHalt, classNameCapture, classNonFinite, classControl}

// attack is one case of testdata/attacks.txt.
type attack struct {
	line   int
	class  attackClass
	name   string
	target string            // oracle SQL, run straight on the engine
	absent map[string]string // placeholders of a target that does not exist
	sql    string
	sql2   string
}

func (a attack) String() string { return fmt.Sprintf("%s/%s (line %d)", a.class, a.name, a.line) }

// attacks reads the adversarial corpus.
func attacks(t testing.TB) []attack {
	t.Helper()
	fh, err := os.Open("testdata/attacks.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	known := map[attackClass]bool{}
	for _, c := range attackClasses {
		known[c] = true
	}
	var out []attack
	var cur *attack
	var last *string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			last = nil
			continue
		}
		if strings.HasPrefix(l, " ") {
			if last == nil {
				t.Fatalf("attacks.txt:%d: continuation without a line to continue", n)
			}
			*last += " " + strings.TrimSpace(l)
			continue
		}
		key, rest, _ := strings.Cut(l, " ")
		if key == "case" {
			class, name, _ := strings.Cut(rest, " ")
			if !known[attackClass(class)] || name == "" {
				t.Fatalf("attacks.txt:%d: bad case line %q", n, l)
			}
			out = append(out, attack{line: n, class: attackClass(class), name: name})
			cur, last = &out[len(out)-1], nil
			continue
		}
		if cur == nil {
			t.Fatalf("attacks.txt:%d: %q outside a case", n, l)
		}
		switch key {
		case "target":
			cur.target, last = rest, &cur.target
		case "attack":
			cur.sql, last = rest, &cur.sql
		case "attack2":
			cur.sql2, last = rest, &cur.sql2
		case "absent":
			cur.absent, last = map[string]string{}, nil
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("attacks.txt:%d: bad absent value %q", n, kv)
				}
				cur.absent[k] = v
			}
		default:
			t.Fatalf("attacks.txt:%d: unknown key %q", n, key)
		}
	}
	for _, a := range out {
		if a.sql == "" && a.sql2 == "" {
			t.Fatalf("%s: no attack", a)
		}
	}
	return out
}

// unescape decodes \xNN and \uNNNN in an attack's text, so that the corpus
// can hold NUL bytes and control characters as plain text.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		if s[i] == '\\' && i+5 < len(s) && s[i+1] == 'u' {
			if v, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil {
				b.WriteRune(rune(v))
				i += 5
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func hasControl(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f) {
			return true
		}
	}
	return false
}

// param prints an oracle value the way an operator would type it.
func param(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.UTC().Format(time.DateOnly)
	}
	return fmt.Sprint(v)
}

var placeholderRE = regexp.MustCompile(`\{[A-Za-z_][A-Za-z0-9_]*\}`)

func fill(sql string, params map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(sql, func(m string) string {
		if v, ok := params[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// directRunner runs SQL straight on the engine, outside the sandbox: the
// tests' own oracle.
func (f *fixture) directRunner() *engine.Runner {
	f.t.Helper()
	if f.direct == nil {
		r, err := engine.NewRunner(f.ctx, f.eng, engine.RunnerOptions{})
		if err != nil {
			f.t.Fatal(err)
		}
		f.direct = r
		f.t.Cleanup(func() { r.Close() })
	}
	return f.direct
}

// runDirect runs q, written with the workspace's table names, straight on
// the engine.
func (f *fixture) runDirect(q string) (engine.Result, error) {
	f.t.Helper()
	sql, err := renameTables(q, f.relations())
	if err != nil {
		return engine.Result{}, err
	}
	return f.directRunner().Run(f.ctx, sql, nil, engine.Limits{MaxRows: 1 << 20, Timeout: 5 * time.Minute})
}

// oracle runs a case's target query and returns its first row by column.
func (f *fixture) oracle(q string) (map[string]any, error) {
	res, err := f.runDirect(q)
	if err != nil {
		return nil, err
	}
	if len(res.Rows) == 0 {
		return nil, fmt.Errorf("the oracle found no target")
	}
	out := map[string]any{}
	for i, c := range res.Columns {
		out[c] = res.Rows[0][i]
	}
	return out, nil
}

// outcome is what the operator learns from one submission.
type outcome struct {
	sql     string
	status  string
	code    string
	message string
	eps     float64
	cols    []string
	rows    [][]any
	err     error
}

func (o outcome) released() bool { return o.err == nil && o.status == sandbox.Released }

// signature is everything a failure, hold or halt can tell the operator:
// the status, reason, message and ε spent, and the released rows unless
// they carry DP noise (an attack whose only dependence on the data is the
// target must release the same rows whether the target exists or not).
func (o outcome) signature() string {
	if o.err != nil {
		return "platform error"
	}
	s := fmt.Sprintf("%s/%s/ε=%g/%s", o.status, o.code, o.eps, o.message)
	if o.eps == 0 {
		s += fmt.Sprintf("/rows=%v", canon(o.rows))
	}
	return s
}

func (o outcome) String() string {
	if o.err != nil {
		return "platform error: " + o.err.Error()
	}
	s := o.status
	if o.code != "" {
		s += " " + o.code
	}
	if o.released() {
		s += fmt.Sprintf(" %d rows", len(o.rows))
		if len(o.rows) > 0 && len(o.rows) <= 3 {
			s += fmt.Sprintf(" %v", o.rows)
		}
	}
	return s
}

// problemKind sorts a case's failures for the verdict table.
type problemKind int

const (
	problemLeak        problemKind = iota // the secret or an oracle's answer came out
	problemPlatform                       // a platform error (HTTP 500)
	problemPlaceholder                    // a refusal shows an unfilled placeholder
	problemReason                         // refused, but not for the reason required
)

// attackRun holds what one case's submissions need.
type attackRun struct {
	f   *fixture
	cat *i18n.Catalog
	// keepHalted leaves a halted workspace halted until the case ends, so
	// that its second query meets the halt.
	keepHalted bool
	// problems are the case's failures of a requirement, by kind.
	problems []string
	kinds    map[problemKind]bool
}

func (r *attackRun) problem(format string, args ...any) { r.problemOf(problemLeak, format, args...) }

func (r *attackRun) problemOf(k problemKind, format string, args ...any) {
	if r.kinds == nil {
		r.kinds = map[problemKind]bool{}
	}
	r.kinds[k] = true
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// submit runs sql as the operator and checks what every submission must
// satisfy, whatever the class: no platform error (R15.2: a value must not
// turn into a 500), no unfilled placeholder in the refusal as the API
// renders it, now and when the job is read back, and no non-finite number
// in a released result. A workspace the submission halted is resumed by the
// agency, so that the next case starts from an active workspace.
func (r *attackRun) submit(sql string) outcome {
	f := r.f
	o := outcome{sql: sql}
	j, err := f.svc.Submit(f.ctx, f.op, f.ws.ID, sql, sandbox.Real)
	if err != nil {
		o.err = err
		r.problemOf(problemPlatform, "platform error (500) for %q: %v", clip(sql), err)
		if !r.keepHalted {
			r.resume()
		}
		return o
	}
	o.status, o.eps, o.cols, o.rows = j.Status, j.EpsilonSpent, j.Columns, j.Rows
	if j.Reason != nil {
		o.code = j.Reason.Code
		o.message = r.cat.T("en", j.Reason.Key, j.Reason.Args)
		r.checkPlaceholders("response", j.Reason)
	}
	if j.Status != sandbox.Released && j.ID != 0 {
		// GET /api/v1/jobs/{id} shows the refusal as read back.
		back, err := f.svc.Job(f.ctx, f.op, j.ID)
		if err != nil {
			r.problem("job %d read back: %v", j.ID, err)
		} else if back.Reason != nil {
			r.checkPlaceholders("read back", back.Reason)
		}
	}
	for _, row := range o.rows {
		for _, v := range row {
			if x, ok := number(v); ok && (math.IsInf(x, 0) || math.IsNaN(x)) {
				r.problem("non-finite value %v released", v)
			}
		}
	}
	if !r.keepHalted {
		r.resume()
	}
	return o
}

// checkPlaceholders renders a reason as the web layer does, in both
// languages; no {name} may remain (issue 14, item 10).
func (r *attackRun) checkPlaceholders(where string, rs *sandbox.Reason) {
	for _, lang := range []string{"en", "zh-CN"} {
		if m := r.cat.T(lang, rs.Key, rs.Args); placeholderRE.MatchString(m) {
			r.problemOf(problemPlaceholder, "%s refusal %s (%s) has an unfilled placeholder: %q", where, rs.Code, lang, m)
		}
	}
	if placeholderRE.MatchString(rs.Message) {
		r.problemOf(problemPlaceholder, "%s refusal %s message has an unfilled placeholder: %q", where, rs.Code, rs.Message)
	}
}

func (r *attackRun) resume() {
	f := r.f
	w, err := f.svc.Workspace(f.ctx, f.op, f.ws.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	if w.State == sandbox.StateHalted {
		if _, err := f.svc.Resume(f.ctx, f.ncAgency, f.ws.ID, "对抗测试：评估后恢复"); err != nil {
			f.t.Fatal(err)
		}
	}
}

func clip(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

// number reads a released value as a number: numbers, and text that is one.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// numbersIn lists every number a row shows, including the numbers of a
// comma-separated list in a text (string_agg and the like).
func numbersIn(row []any) []float64 {
	var out []float64
	for _, v := range row {
		if x, ok := number(v); ok {
			out = append(out, x)
			continue
		}
		if s, ok := v.(string); ok && strings.Contains(s, ",") {
			for _, p := range strings.Split(strings.Trim(s, "[]{}"), ",") {
				if x, err := strconv.ParseFloat(strings.TrimSpace(p), 64); err == nil {
					out = append(out, x)
				}
			}
		}
	}
	return out
}

func same(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

// reveals says whether a released result shows the secret: any number of
// any row, or with a key, a number of the row that names the key.
func reveals(o outcome, secret float64, key string) bool {
	if !o.released() {
		return false
	}
	for _, row := range o.rows {
		if key != "" {
			named := false
			for _, v := range row {
				named = named || fmt.Sprint(v) == key
			}
			if !named {
				continue
			}
		}
		for _, x := range numbersIn(row) {
			if same(x, secret) {
				return true
			}
		}
	}
	return false
}

// rowKey is a row's non-numeric values: the group it belongs to.
func rowKey(row []any) string {
	var parts []string
	for _, v := range row {
		if _, ok := number(v); !ok {
			parts = append(parts, fmt.Sprint(v))
		}
	}
	return strings.Join(parts, "|")
}

// differences lists the differences a differencing attacker computes:
// between the same column of the rows of one group in the two results, and
// between the numeric columns of one row (a pair inside one query).
func differences(a, b outcome) []float64 {
	var out []float64
	for _, o := range []outcome{a, b} {
		if !o.released() {
			continue
		}
		for _, row := range o.rows {
			xs := numbersIn(row)
			for i := range xs {
				for j := range xs {
					if i != j {
						out = append(out, xs[i]-xs[j])
					}
				}
			}
		}
	}
	if !a.released() || !b.released() {
		return out
	}
	for _, ra := range a.rows {
		for _, rb := range b.rows {
			if rowKey(ra) != rowKey(rb) || len(ra) != len(rb) {
				continue
			}
			for c := range ra {
				x, okx := number(ra[c])
				y, oky := number(rb[c])
				if okx && oky {
					out = append(out, x-y, y-x)
				}
			}
		}
	}
	return out
}

// complementTotals are the totals an attacker reads next to a grouped
// result: every number of the separate total query, and in the grouped
// result the values of TOTAL rows, of a column named total, and v / share.
func complementTotals(total, grouped outcome) []float64 {
	var out []float64
	if total.released() {
		for _, row := range total.rows {
			out = append(out, numbersIn(row)...)
		}
	}
	if !grouped.released() {
		return out
	}
	vi, ti, si := colIndex(grouped.cols, "v"), colIndex(grouped.cols, "total"), colIndex(grouped.cols, "share")
	for _, row := range grouped.rows {
		if fmt.Sprint(row[0]) == "TOTAL" {
			out = append(out, numbersIn(row)...)
			continue
		}
		if ti >= 0 {
			if x, ok := number(row[ti]); ok {
				out = append(out, x)
			}
		}
		if si >= 0 && vi >= 0 {
			v, okv := number(row[vi])
			s, oks := number(row[si])
			if okv && oks && s != 0 {
				out = append(out, v/s)
			}
		}
	}
	return out
}

// releasedGroups sums the v column of a grouped result's released groups.
func releasedGroups(grouped outcome) (float64, bool) {
	if !grouped.released() {
		return 0, false
	}
	vi := colIndex(grouped.cols, "v")
	if vi < 0 {
		return 0, false
	}
	sum := 0.0
	for _, row := range grouped.rows {
		if fmt.Sprint(row[0]) == "TOTAL" {
			continue
		}
		if x, ok := number(row[vi]); ok {
			sum += x
		}
	}
	return sum, true
}

func colIndex(cols []string, name string) int {
	for i, c := range cols {
		if c == name {
			return i
		}
	}
	return -1
}

// verdict of one case.
const (
	verdictRefused  = "refused"  // every submission refused or held
	verdictReleased = "released" // something released, without the secret
	verdictLeaked   = "leaked"   // the secret or an oracle's answer came out, or a platform error
)

// dpRepeats is how many times a differencing pair on a DP table runs: the
// attacker averages nothing away in so few runs, and noise that is there
// makes the difference vary between runs.
const dpRepeats = 4

// R12.1, R15.2, R15.6: every case of the adversarial corpus
// (testdata/attacks.txt), submitted as the operator on real data, is
// refused or released without the target's secret, judged against the
// engine's own exact answer:
//   - tracker, order statistic, literal key, name capture: the target's value
//     is not among the released numbers (R15.2);
//   - differencing: the two results are not both released with values whose
//     difference is the target's value; on DP tables the difference varies
//     between runs (it carries noise);
//   - complement: the total minus the released groups is not a suppressed
//     group's value;
//   - failure, halt and non-finite oracles: the outcome (status, reason,
//     message, ε spent) against a target that exists equals the outcome
//     against one that does not (R15.6 for the halt);
//   - control characters: refused with code control_character;
//     placeholders: refused, the message filled;
//   - always: no platform error, no unfilled placeholder, no non-finite value.
//
// The log ends with a table of the verdicts by class: refused, released
// without the secret, leaked (or failed with a platform error); and, of
// those, the cases with a platform error, with an unfilled placeholder, and
// refused for another reason than the one required.
func TestAttackCorpus(t *testing.T) {
	cases := attacks(t)
	perClass := map[attackClass]int{}
	for _, a := range cases {
		perClass[a.class]++
	}
	for _, c := range attackClasses {
		if perClass[c] < 10 {
			t.Errorf("class %s has %d cases, want at least 10", c, perClass[c])
		}
	}
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	opt := sandbox.Options{Budget: big.NewRat(100000, 1), Limits: engine.Limits{Timeout: 4 * time.Second}}
	eachSetup(t, opt, func(t *testing.T, f *fixture) {
		tally := map[attackClass]map[string]int{}
		for _, c := range attackClasses {
			tally[c] = map[string]int{}
		}
		for _, a := range cases {
			r := &attackRun{f: f, cat: cat, keepHalted: a.class == classControl}
			verdict := r.run(a)
			r.keepHalted = false
			r.resume()
			if len(r.problems) > 0 {
				t.Errorf("%s: %s", a, strings.Join(r.problems, "; "))
			}
			if r.kinds[problemLeak] || r.kinds[problemPlatform] {
				verdict = verdictLeaked
			}
			t.Logf("%s: %s", a, verdict)
			tally[a.class][verdict]++
			if r.kinds[problemPlatform] {
				tally[a.class]["500"]++
			}
			if r.kinds[problemPlaceholder] {
				tally[a.class]["placeholder"]++
			}
			if r.kinds[problemReason] {
				tally[a.class]["reason"]++
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%-18s %5s %8s %8s %6s %4s %11s %10s\n", "class", "cases", "refused", "released", "leaked", "500",
			"placeholder", "wrong code")
		for _, c := range attackClasses {
			m := tally[c]
			fmt.Fprintf(&b, "%-18s %5d %8d %8d %6d %4d %11d %10d\n", c, perClass[c], m[verdictRefused], m[verdictReleased],
				m[verdictLeaked], m["500"], m["placeholder"], m["reason"])
		}
		t.Logf("attack corpus verdicts:\n%s", b.String())
	})
}

// run submits one case and judges it; problems are recorded on r.
func (r *attackRun) run(a attack) string {
	f := r.f
	params := map[string]string{}
	var secret float64
	hasSecret := false
	key := ""
	if a.target != "" {
		row, err := f.oracle(a.target)
		if err != nil {
			r.problem("oracle: %v", err)
			return verdictLeaked
		}
		for k, v := range row {
			params[k] = param(v)
		}
		if v, ok := row["secret"]; ok {
			secret, hasSecret = number(v)
		}
		if v, ok := row["secret_key"]; ok {
			key = fmt.Sprint(v)
		}
	}
	sql, sql2 := unescape(fill(a.sql, params)), unescape(fill(a.sql2, params))
	var outs []outcome
	run := func(q string) outcome {
		if q == "" {
			return outcome{status: "not submitted"}
		}
		o := r.submit(q)
		outs = append(outs, o)
		return o
	}
	o1, o2 := run(sql), run(sql2)
	dp := o1.eps > 0 || o2.eps > 0
	if hasSecret && !dp {
		for _, o := range outs {
			if reveals(o, secret, key) {
				r.problem("the secret %v was released: %s", param(secret), o)
			}
		}
	}
	switch a.class {
	case classDifferencing:
		r.differencing(a, sql, sql2, o1, o2, secret, dp)
	case classComplement:
		if !dp && hasSecret {
			if sum, ok := releasedGroups(o2); ok {
				for _, total := range complementTotals(o1, o2) {
					if secret > 0 && same(total-sum, secret) {
						r.problem("total %v minus the released groups %v gives the suppressed %v", total, sum, param(secret))
						break
					}
				}
			}
		}
	case classFailure, classHalt, classNonFinite:
		if a.absent == nil {
			r.problem("no absent target")
			break
		}
		other := map[string]string{}
		for k, v := range params {
			other[k] = v
		}
		for k, v := range a.absent {
			other[k] = fill(v, params)
		}
		p1, p2 := r.submit(unescape(fill(a.sql, other))), outcome{}
		if a.sql2 != "" {
			p2 = r.submit(unescape(fill(a.sql2, other)))
		}
		if o1.signature() != p1.signature() || (a.sql2 != "" && o2.signature() != p2.signature()) {
			r.problem("the outcome depends on the target: exists → %s; absent → %s", o1.signature(), p1.signature())
		}
		outs = append(outs, p1)
	case classControl:
		for _, o := range outs {
			switch {
			case o.err != nil:
			case hasControl(o.sql) && o.status != sandbox.Refused:
				r.problem("control character not refused: %s", o)
			case hasControl(o.sql) && o.code != "control_character":
				r.problemOf(problemReason, "control character refused as %s, not control_character", o.code)
			case o.status != sandbox.Refused:
				r.problem("not refused: %s", o)
			}
		}
	}
	for _, o := range outs {
		if o.released() {
			return verdictReleased
		}
	}
	return verdictRefused
}

// differencing judges a pair; on DP tables it runs the pair again and
// requires the difference to vary from run to run and to miss the secret.
func (r *attackRun) differencing(a attack, sql, sql2 string, o1, o2 outcome, secret float64, dp bool) {
	if !dp {
		for _, d := range differences(o1, o2) {
			if secret != 0 && same(d, secret) {
				r.problem("the pair's difference is the secret %v: %s | %s", param(secret), o1, o2)
				return
			}
		}
		return
	}
	// DP: collect, per run, the differences of the one number each side
	// releases (a DP pair here is two totals), and require noise.
	var diffs []float64
	exact := 0
	for i := 0; i < dpRepeats; i++ {
		if i > 0 {
			o1, o2 = r.submit(sql), r.submit(sql2)
		}
		if !o1.released() || !o2.released() || len(o1.rows) != 1 || len(o2.rows) != 1 {
			return
		}
		x, okx := number(o1.rows[0][len(o1.rows[0])-1])
		y, oky := number(o2.rows[0][len(o2.rows[0])-1])
		if !okx || !oky {
			return
		}
		diffs = append(diffs, x-y)
		if math.Abs(x-y-secret) < 0.5 {
			exact++
		}
	}
	sort.Float64s(diffs)
	if exact == len(diffs) || diffs[0] == diffs[len(diffs)-1] {
		r.problem("DP pair without noise: differences %v, secret %v", diffs, param(secret))
	}
}
