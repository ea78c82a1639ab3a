package grant_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/i18n"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// R19.2: an authorization appears on the portal when it comes into force,
// changes when it is suspended or ends, and is listed in the agency's
// yearly disclosure with its resource, registration status, mode, fee
// cap, operator, term and disclosure date.
func TestDisclosure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		signed, _ := f.agreementIn(grant.AgreementSigned)
		if ds, err := f.svc.Disclosures(f.ctx, "", f.clock()); err != nil || len(ds) != 0 {
			t.Fatalf("before any activation: %v, %v", ds, err)
		}
		if _, err := f.svc.DisclosureOf(f.ctx, signed.ID, f.clock()); keyOf(err) != "grant.agreement_not_found" {
			t.Errorf("a signed agreement is not disclosed yet: %v", err)
		}
		a, _ := f.agreementIn(grant.AgreementActive)
		ds, err := f.svc.Disclosures(f.ctx, "360100", f.clock())
		if err != nil || len(ds) != 1 {
			t.Fatalf("after activation: %v, %v", ds, err)
		}
		d := ds[0]
		if d.AgreementID != a.ID || d.OperatorName != a.OperatorName || d.OperatorCreditCode == "" || d.Mode != grant.ModeScenario ||
			len(d.Scope) != 1 || d.Scope[0].Name != "社会保险参保缴费信息" || d.State != grant.AgreementActive ||
			d.TermEnd.Format("2006-01-02") != "2028-12-31" || d.DisclosedAt.IsZero() {
			t.Errorf("disclosure = %+v", d)
		}
		if ds, _ := f.svc.Disclosures(f.ctx, "360700", f.clock()); len(ds) != 0 {
			t.Errorf("Ganzhou's portal shows Nanchang's authorization")
		}
		must[grant.Agreement](t)(f.svc.SuspendAgreement(f.ctx, f.ncAgency, a.ID, "违规调用数据"))
		d = must[grant.Disclosure](t)(f.svc.DisclosureOf(f.ctx, a.ID, f.clock()))
		if d.State != grant.AgreementSuspended || d.ChangedAt == nil || d.StateReason != "违规调用数据" {
			t.Errorf("after suspension: %+v", d)
		}
		// Past its end the public sees it expired, sweep or not.
		must[grant.Agreement](t)(f.svc.ResumeAgreement(f.ctx, f.ncAgency, a.ID, "整改完成"))
		if d := must[grant.Disclosure](t)(f.svc.DisclosureOf(f.ctx, a.ID, date("2029-06-01"))); d.State != grant.AgreementExpired {
			t.Errorf("after the term: %s", d.State)
		}

		y := must[grant.YearlyDisclosure](t)(f.svc.Yearly(f.ctx, f.ncAgency.OrgID, 2026))
		if y.AgencyName != "南昌市大数据中心" || y.DueBy.Format("2006-01-02") != "2027-03-31" || len(y.Rows) != 1 {
			t.Fatalf("yearly = %+v", y)
		}
		r := y.Rows[0]
		if r.ResourceCode != "1360100202500001" || r.RegistrationStatus != "registered" || r.Mode != grant.ModeScenario ||
			len(r.FeeCaps) != 1 || r.FeeCaps[0].CapFen != 50 || r.OperatorName != a.OperatorName || r.State != grant.AgreementActive {
			t.Errorf("row = %+v", r)
		}
		if y := must[grant.YearlyDisclosure](t)(f.svc.Yearly(f.ctx, f.ncAgency.OrgID, 2025)); len(y.Rows) != 0 {
			t.Errorf("2025 lists an authorization disclosed in 2026: %+v", y.Rows)
		}
		if y := must[grant.YearlyDisclosure](t)(f.svc.Yearly(f.ctx, f.ncAgency.OrgID, 2030)); len(y.Rows) != 0 {
			t.Errorf("2030 lists an authorization that ended in 2028: %+v", y.Rows)
		}

		cat, err := i18n.Load()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := grant.WriteYearlyCSV(&buf, y, func(k string) string { return cat.T(i18n.ZH, k, nil) }); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(buf.Bytes(), []byte("\ufeff")) {
			t.Error("the file needs a byte-order mark")
		}
		recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\ufeff"))).ReadAll()
		if err != nil || len(recs) != 2 {
			t.Fatalf("csv = %v, %v", recs, err)
		}
		want := []string{"南昌市大数据中心", "360100", "", id64(a.ID), "1360100202500001", "社会保险参保缴费信息", "registered",
			"依场景授权", "按次 ≤ 0.50", a.OperatorName, recs[1][10], "2026-01-01", "2028-12-31", recs[1][13], "履行中"}
		if recs[0][0] != "实施机构" || strings.Join(recs[1], "|") != strings.Join(want, "|") {
			t.Errorf("csv:\n%v\n%v\nwant %v", recs[0], recs[1], want)
		}
		if recs[1][10] == "" || recs[1][13] == "" {
			t.Errorf("operator credit code or disclosure date missing: %v", recs[1])
		}
	})
}

// Every message key the package uses exists in both catalogs, including
// the enumerations rendered through computed keys.
func TestMessagesExist(t *testing.T) {
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.go")
	key := regexp.MustCompile(`"@?(grant\.[a-z_]+(?:\.[a-z_0-9]+)*)"`)
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			k := m[1]
			n++
			if !cat.Has(k) {
				t.Errorf("%s uses %q, missing from a catalog", name, k)
			}
		}
	}
	if n < 60 {
		t.Fatalf("found only %d keys: the scan is broken", n)
	}
	var computed []string
	for _, s := range grant.AgreementStates {
		computed = append(computed, "grant.state."+string(s))
	}
	for _, s := range []grant.PlanState{grant.PlanDraft, grant.PlanSubmitted, grant.PlanDecided, grant.PlanRejected, grant.PlanSuperseded} {
		computed = append(computed, "grant.state."+string(s))
	}
	for _, s := range []grant.SelectionState{grant.SelectionOpen, grant.SelectionConcluded, grant.SelectionFailed} {
		computed = append(computed, "grant.state."+string(s))
	}
	for _, s := range grant.AgreementSteps {
		computed = append(computed, "grant.step."+s)
	}
	for _, s := range []string{"draft", "revise", "update", "submit", "withdraw", "file_filing", "acknowledge_filing", "return_filing",
		"open", "add_candidate", "check", "evaluate", "conclude", "handover"} {
		computed = append(computed, "grant.step."+s)
	}
	for _, m := range grant.Modes {
		computed = append(computed, "grant.mode."+string(m))
	}
	for _, m := range grant.Methods {
		computed = append(computed, "grant.method."+string(m))
	}
	for _, q := range grant.Qualifications {
		computed = append(computed, "grant.qualification."+string(q))
	}
	for _, p := range grant.Prohibitions {
		computed = append(computed, p.Key())
	}
	for _, h := range grant.HandoverItems {
		computed = append(computed, "grant.handover."+h)
	}
	for _, u := range grant.Units {
		computed = append(computed, "grant.unit."+string(u))
	}
	for _, fs := range []string{"none", "filed", "acknowledged", "returned"} {
		computed = append(computed, "grant.filing."+fs)
	}
	computed = append(computed, grant.CSVColumns...)
	computed = append(computed, "grant.object.plan", "grant.object.agreement", "grant.object.selection", "grant.side.agency", "grant.side.operator")
	for _, k := range computed {
		if !cat.Has(k) {
			t.Errorf("computed key %q missing from a catalog", k)
		}
	}
}
