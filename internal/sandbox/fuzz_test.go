package sandbox_test

import (
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/sandbox"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// FuzzEnforcedResults runs whatever the fuzzer writes through Submit on
// real data (DuckDB) and checks every released result, not the rewrite:
// no protected raw value appears in it, whole or inside a text, and under
// the aggregation rule every released row is a group the engine itself
// releases too (byHand: at least k units per group and per value, the
// complement check, secondary suppression). R12.1, R15.2.
func FuzzEnforcedResults(f *testing.F) {
	for _, name := range []string{"legitimate.txt", "adversarial.txt"} {
		for _, e := range corpus(f, name, name == "adversarial.txt") {
			f.Add(e.sql)
		}
	}
	fx := setup(f, storetest.SQLite(f), "", sandbox.Options{})
	f.Fuzz(func(t *testing.T, sql string) {
		fx.t = t
		j, err := fx.svc.Submit(fx.ctx, fx.op, fx.ws.ID, sql, sandbox.Real)
		if err != nil {
			// A query the engine cannot run (a bad cast, a timeout) is
			// refused with a reason; anything else is a bug.
			if apperr.IsCode(err, apperr.Invalid) {
				return
			}
			t.Fatalf("%q: %v", sql, err)
		}
		if j.Status == sandbox.Refused {
			if j.Reason == nil || j.Reason.Code == "" {
				t.Fatalf("%q: refused without a reason", sql)
			}
			return
		}
		rows := j.Rows
		if j.Status == sandbox.Held {
			a, err := fx.svc.Approve(fx.ctx, fx.ncAgency, j.ID, "fuzz")
			if err != nil {
				t.Fatal(err)
			}
			if a, err = fx.svc.Job(fx.ctx, fx.op, a.ID); err != nil {
				t.Fatal(err)
			}
			rows = jsonRows(a.Rows)
		}
		for _, r := range rows {
			for _, v := range r {
				if what := fx.world.leaks(v); what != "" {
					t.Fatalf("%q released the protected value %s", sql, what)
				}
			}
		}
		if !strings.HasPrefix(j.Rule, "aggregation") {
			return
		}
		want, _, err := fx.byHand(sql)
		if err != nil {
			// A shape byHand does not compute (it covers the corpus's).
			return
		}
		groups := map[string]bool{}
		for _, g := range want {
			groups[g] = true
		}
		for _, g := range canon(rows) {
			if !groups[g] {
				t.Fatalf("%q released %s, not a row byHand releases", sql, g)
			}
		}
	})
}

// leaks names the protected value v is or contains: the whole value, or
// an 18-character identifier (ID number, credit code) or an 11-digit
// mobile number inside a longer text.
func (w world) leaks(v any) string {
	s, ok := v.(string)
	if !ok {
		return ""
	}
	if w.protected[s] {
		return s
	}
	for _, n := range []int{18, 11} {
		for i := 0; i+n <= len(s); i++ {
			if w.protected[s[i:i+n]] {
				return s[i : i+n]
			}
		}
	}
	return ""
}
