package sandbox_test

import (
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/policy"
	"github.com/gongshu/gongshu/internal/sandbox"
)

// R15.2: data on natural persons (privacy unit: a resident identity
// number) is under differential privacy unless a reason for a threshold
// rule is recorded; a released result states its bounds, ε and noise, and
// a job read back keeps them and renders its reason whole.
func TestPersonLevelDataDefaultsToDP(t *testing.T) {
	eachSetup(t, sandbox.Options{}, func(t *testing.T, f *fixture) {
		spec := specs()[0] // social_insurance, unit person_id tagged resident_id
		rp := spec.policy
		rp.ThresholdException = "  "
		err := f.svc.SetPolicy(f.ctx, f.ncAgency, spec.id, rp)
		if !apperr.IsCode(err, apperr.Invalid) {
			t.Fatalf("threshold rule without a reason: %v", err)
		}
		if e := f.lastEntry(); e.Action != sandbox.ActionSetPolicy || e.Outcome != audit.Refused {
			t.Errorf("refusal not audited: %+v", e)
		}
		rp.Rule, rp.ThresholdException = "", ""
		if err := f.svc.SetPolicy(f.ctx, f.ncAgency, spec.id, rp); err != nil {
			t.Fatal(err)
		}
		ws, err := f.svc.Workspace(f.ctx, f.op, f.ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ws.Resources {
			if r.ID == spec.id && r.Rule != policy.RuleDP {
				t.Fatalf("person-level resource under %s by default", r.Rule)
			}
		}
		j := f.submit("SELECT district, count(*) AS n FROM social_insurance GROUP BY district", sandbox.Real)
		if j.Status != sandbox.Released || j.Privacy == nil {
			t.Fatalf("DP count: %s %+v", j.Status, j.Reason)
		}
		pv := j.Privacy
		if pv.Rule != policy.RuleDP || pv.Epsilon <= 0 || pv.MaxGroupsPerUnit < 1 || len(pv.Noise) != 1 ||
			pv.Noise[0].Column != "n" || pv.Noise[0].Scale <= 0 || pv.Noise[0].Interval95 <= pv.Noise[0].Scale {
			t.Errorf("disclosure %+v", pv)
		}
		// Bounded by the version's most rows of one person (at most 6 here).
		if pv.MaxGroupsPerUnit > 6 {
			t.Errorf("groups per person bounded at %d, the version has at most 6 rows a person", pv.MaxGroupsPerUnit)
		}
		back, err := f.svc.Job(f.ctx, f.op, j.ID)
		if err != nil || back.Privacy == nil || back.Privacy.Epsilon != pv.Epsilon {
			t.Errorf("job read back: %v %+v", err, back.Privacy)
		}
		// A refused job read back renders its message with its arguments.
		r := f.submit("SELECT district, count(*) FROM nowhere GROUP BY district", sandbox.Real)
		if r.Status != sandbox.Refused || r.Reason == nil {
			t.Fatalf("refusal: %+v", r)
		}
		back, err = f.svc.Job(f.ctx, f.op, r.ID)
		if err != nil || back.Reason == nil || back.Reason.Args["table"] != "nowhere" {
			t.Errorf("refusal read back without its arguments: %v %+v", err, back.Reason)
		}
		if strings.Contains(policy.Message(policy.Code(back.Reason.Code), back.Reason.Args), "{") {
			t.Errorf("unfilled placeholder in %+v", back.Reason)
		}
	})
}

// R12.1 (issue 15, finding 12): a mock run reads generated rows, but the
// engine's settings, catalogs and files stay out of reach.
func TestMockKeepsTheEngineOutOfReach(t *testing.T) {
	eachSetup(t, sandbox.Options{}, func(t *testing.T, f *fixture) {
		for _, q := range []string{
			"SELECT * FROM duckdb_settings()",
			"SELECT name, value FROM duckdb_settings() WHERE name = 'temp_directory'",
			"SELECT current_setting('memory_limit')",
			"SELECT * FROM read_csv('/etc/passwd')",
			"SELECT count(*) FROM information_schema.tables",
			"SELECT count(*) FROM duckdb_tables()",
			"SELECT version()",
			"SELECT count(*) FROM pg_catalog.pg_class",
		} {
			j := f.submit(q, sandbox.Mock)
			if j.Status != sandbox.Refused || j.Reason == nil {
				t.Errorf("%s: %s %+v", q, j.Status, j.Reason)
			}
		}
		if j := f.submit("SELECT district, count(*) FROM social_insurance GROUP BY district", sandbox.Mock); j.Status != sandbox.Released {
			t.Errorf("mock aggregate: %s %+v", j.Status, j.Reason)
		}
	})
}
