package sandbox_test

import (
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
	"github.com/gongshu/gongshu/internal/sandbox"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// lastEntry is the newest audit entry.
func (f *fixture) lastEntry() audit.Entry {
	f.t.Helper()
	es, err := f.log.List(f.ctx, audit.Filter{Limit: 1})
	if err != nil || len(es) == 0 {
		f.t.Fatalf("last audit entry: %v", err)
	}
	return es[0]
}

func (f *fixture) submissions() int {
	f.t.Helper()
	es, err := f.log.List(f.ctx, audit.Filter{Limit: 10000})
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Action == sandbox.ActionSubmit {
			n++
		}
	}
	return n
}

// R12.1, R15.2, R15.3: every adversarial query is refused through Submit
// with its expected code, and each submission is one audit entry.
func TestAdversarialCorpusRefused(t *testing.T) {
	eachSetup(t, sandbox.Options{}, func(t *testing.T, f *fixture) {
		before := f.submissions()
		qs := corpus(t, "adversarial.txt", true)
		for _, e := range qs {
			j := f.submit(e.sql, sandbox.Real)
			if j.Status != sandbox.Refused || j.Reason == nil || j.Reason.Code != e.code {
				t.Errorf("line %d: %s: %s %+v, want refused %s", e.line, e.sql, j.Status, j.Reason, e.code)
			}
			if len(j.Rows) != 0 {
				t.Errorf("line %d: rows with a refusal", e.line)
			}
		}
		if got := f.submissions() - before; got != len(qs) {
			t.Fatalf("%d audit entries for %d submissions", got, len(qs))
		}
		if e := f.lastEntry(); e.Outcome != audit.Refused || e.Details["sql"] == nil || e.Details["decision"] == nil {
			t.Fatalf("audit entry %+v", e)
		}
	})
}

// R16.2: suspending the agreement cancels a running query and refuses
// the next one.
func TestSuspensionCancelsRunningQuery(t *testing.T) {
	eachSetup(t, sandbox.Options{}, func(t *testing.T, f *fixture) {
		slow := "SELECT count(*) FROM slow_events a JOIN slow_events b ON a.k = b.k JOIN slow_events c ON b.k = c.k"
		done := make(chan sandbox.Job, 1)
		start := time.Now()
		go func() {
			j, err := f.svc.Submit(f.ctx, f.op, f.ws.ID, slow, sandbox.Real)
			if err != nil {
				t.Error(err)
			}
			done <- j
		}()
		time.Sleep(700 * time.Millisecond)
		if _, err := f.grant.SuspendAgreement(f.ctx, f.ncAgency, f.agreement.ID, "数据安全检查发现违规"); err != nil {
			t.Fatal(err)
		}
		select {
		case j := <-done:
			if j.Status != sandbox.Refused || j.Reason == nil || j.Reason.Code != "stopped" {
				t.Fatalf("running query: %s %+v", j.Status, j.Reason)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Fatalf("stopped after %s", d)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the running query was not cancelled")
		}
		j := f.submit("SELECT district, count(*) FROM social_insurance GROUP BY district", sandbox.Real)
		if j.Status != sandbox.Refused || j.Reason.Key != "grant.authz.suspended" {
			t.Fatalf("next query: %s %+v", j.Status, j.Reason)
		}
	})
}

// The ε ledger refuses a query that would exceed the agreement's budget,
// before it runs; the preview shows the cost.
func TestBudgetLedger(t *testing.T) {
	opt := sandbox.Options{Budget: big.NewRat(1, 1), QueryEpsilon: big.NewRat(1, 2)}
	eachSetup(t, opt, func(t *testing.T, f *fixture) {
		q := "SELECT district, count(*) AS n, sum(cost) AS total FROM medical_visits GROUP BY district"
		pv, err := f.svc.Validate(f.ctx, f.op, f.ws.ID, q)
		if err != nil || !pv.Allowed || pv.Epsilon != 0.5 || pv.Remaining != 1 || pv.WouldExceed {
			t.Fatalf("preview %+v %v", pv, err)
		}
		for i := 0; i < 2; i++ {
			j := f.submit(q, sandbox.Real)
			if j.Status != sandbox.Released || j.EpsilonSpent != 0.5 {
				t.Fatalf("query %d: %s %+v eps %v", i, j.Status, j.Reason, j.EpsilonSpent)
			}
			if len(j.Rows) == 0 || len(j.Columns) != 3 {
				t.Fatalf("DP result %v %v", j.Columns, j.Rows)
			}
		}
		pv, _ = f.svc.Validate(f.ctx, f.op, f.ws.ID, q)
		if !pv.WouldExceed {
			t.Fatalf("preview after spending: %+v", pv)
		}
		j := f.submit(q, sandbox.Real)
		if j.Status != sandbox.Refused || j.Reason.Code != "budget_exceeded" || j.EpsilonSpent != 0 {
			t.Fatalf("over budget: %s %+v", j.Status, j.Reason)
		}
		b, _ := f.svc.Budget(f.ctx, f.agreement.ID)
		if b.Spent != 1 || b.Remaining != 0 {
			t.Fatalf("budget %+v", b)
		}
		l, _ := f.svc.Ledger(f.ctx, f.agreement.ID)
		if len(l) != 2 || l[0].JobID == 0 {
			t.Fatalf("ledger %+v", l)
		}
	})
}

// R15.6: a join of several departments whose output groups are small
// halts the workspace; only the agency resumes it, with a reason.
func TestFusionRiskHaltsWorkspace(t *testing.T) {
	eachSetup(t, sandbox.Options{}, func(t *testing.T, f *fixture) {
		q := "SELECT si.birth_year, e.district, count(*) FROM social_insurance si JOIN enterprise e ON si.employer_code = e.credit_code GROUP BY si.birth_year, e.district"
		j := f.submit(q, sandbox.Real)
		if j.Status != sandbox.Refused || j.Reason.Code != "fusion_risk" {
			t.Fatalf("fusion: %s %+v", j.Status, j.Reason)
		}
		w, _ := f.svc.Workspace(f.ctx, f.op, f.ws.ID)
		if w.State != sandbox.StateHalted || w.HaltedReason == "" {
			t.Fatalf("workspace %+v", w)
		}
		j = f.submit("SELECT district, count(*) FROM social_insurance GROUP BY district", sandbox.Real)
		if j.Status != sandbox.Refused || j.Reason.Code != "halted" {
			t.Fatalf("while halted: %s %+v", j.Status, j.Reason)
		}
		if _, err := f.svc.Resume(f.ctx, f.op, f.ws.ID, "我们已整改"); err == nil {
			t.Fatal("the operator resumed its own workspace")
		}
		if _, err := f.svc.Resume(f.ctx, f.ncAgency, f.ws.ID, ""); err == nil {
			t.Fatal("resumed without a reason")
		}
		w, err := f.svc.Resume(f.ctx, f.ncAgency, f.ws.ID, "经评估，调整查询后风险可控")
		if err != nil || w.State != sandbox.StateActive {
			t.Fatalf("resume: %v %+v", err, w)
		}
		es, _ := f.log.List(f.ctx, audit.Filter{Limit: 50})
		seen := map[string]bool{}
		for _, e := range es {
			seen[e.Action+"/"+string(e.Outcome)] = true
		}
		for _, want := range []string{sandbox.ActionHalt + "/ok", sandbox.ActionResume + "/ok", sandbox.ActionResume + "/refused"} {
			if !seen[want] {
				t.Errorf("no audit entry %s", want)
			}
		}
		if j := f.submit("SELECT district, count(*) FROM social_insurance GROUP BY district", sandbox.Real); j.Status != sandbox.Released {
			t.Fatalf("after resume: %s %+v", j.Status, j.Reason)
		}
	})
}

// R12.1: results held for review are released only by the agency, with a
// signed manifest, or rejected with a reason; both audited.
func TestReviewApproveReject(t *testing.T) {
	eachSetup(t, sandbox.Options{}, func(t *testing.T, f *fixture) {
		q := "SELECT district, district_name, population FROM district_info"
		j := f.submit(q, sandbox.Real)
		if j.Status != sandbox.Held || len(j.Rows) != 0 {
			t.Fatalf("list query: %s rows %d", j.Status, len(j.Rows))
		}
		queue, err := f.svc.ReviewQueue(f.ctx, f.ncAgency)
		if err != nil || len(queue) != 1 || len(queue[0].Rows) != 10 {
			t.Fatalf("queue %v %+v", err, queue)
		}
		if _, err := f.svc.Approve(f.ctx, f.op, j.ID, ""); err == nil {
			t.Fatal("the operator approved its own result")
		}
		a, err := f.svc.Approve(f.ctx, f.ncAgency, j.ID, "公开数据，同意")
		if err != nil || a.Status != sandbox.Released || a.Manifest == nil {
			t.Fatalf("approve: %v %+v", err, a)
		}
		if !sandbox.VerifyManifest(f.svc.PublicKey(), *a.Manifest, a.Signature) {
			t.Fatal("manifest signature does not verify")
		}
		m := *a.Manifest
		m.ResultHash = strings.Repeat("0", 64)
		if sandbox.VerifyManifest(f.svc.PublicKey(), m, a.Signature) {
			t.Fatal("a changed manifest verifies")
		}
		got, _ := f.svc.Job(f.ctx, f.op, j.ID)
		if len(got.Rows) != 10 || got.Recipient == "" {
			t.Fatalf("released job %+v", got)
		}
		j2 := f.submit("SELECT district_name FROM district_info WHERE population > 100000", sandbox.Real)
		if _, err := f.svc.Reject(f.ctx, f.ncAgency, j2.ID, ""); err == nil {
			t.Fatal("rejected without a reason")
		}
		r, err := f.svc.Reject(f.ctx, f.ncAgency, j2.ID, "超出申请用途")
		if err != nil || r.Status != sandbox.Rejected {
			t.Fatalf("reject: %v %+v", err, r)
		}
		got, _ = f.svc.Job(f.ctx, f.op, j2.ID)
		if len(got.Rows) != 0 || got.ReviewReason != "超出申请用途" {
			t.Fatalf("rejected job %+v", got)
		}
		// An automatically released aggregate carries its manifest too.
		rel := f.submit("SELECT district, count(*) FROM social_insurance GROUP BY district", sandbox.Real)
		if rel.Status != sandbox.Released || !sandbox.VerifyManifest(f.svc.PublicKey(), *rel.Manifest, rel.Signature) {
			t.Fatalf("released %+v", rel)
		}
		hist, _ := f.svc.Jobs(f.ctx, f.op, f.ws.ID, 10)
		if len(hist) != 3 {
			t.Fatalf("history %d", len(hist))
		}
	})
}

// R12.1: mock data has the schema and formats, no real value, and runs
// any single SELECT; nothing else runs.
func TestMockData(t *testing.T) {
	eachSetup(t, sandbox.Options{}, func(t *testing.T, f *fixture) {
		j := f.submit("SELECT person_id, name, phone, district FROM social_insurance LIMIT 50", sandbox.Mock)
		if j.Status != sandbox.Released || len(j.Rows) != 50 {
			t.Fatalf("mock: %s %+v", j.Status, j.Reason)
		}
		for _, r := range j.Rows {
			id, name, phone, d := r[0].(string), r[1].(string), r[2].(string), r[3]
			if !pii.ResidentIDValid(id) || !pii.IsMobile(phone) || !pii.IsPersonName(name) {
				t.Errorf("mock formats: %v", r)
			}
			// Names repeat among millions of people; ID and mobile numbers
			// must not be anyone's of the real table.
			for _, v := range []string{id, phone} {
				if f.world.protected[v] {
					t.Errorf("real value %v in mock data", v)
				}
			}
			if d != "360102" {
				t.Errorf("district %v: rare or unprofiled category in mock data", d)
			}
		}
		for _, q := range []string{"DROP TABLE social_insurance", "SELECT 1; SELECT 2", "COPY social_insurance TO '/tmp/x.csv'"} {
			if j := f.submit(q, sandbox.Mock); j.Status != sandbox.Refused {
				t.Errorf("%s: %s", q, j.Status)
			}
		}
		if j := f.submit("SELECT * FROM read_csv('/etc/passwd')", sandbox.Mock); j.Status != sandbox.Refused {
			t.Errorf("read_csv on mock: %s", j.Status)
		}
	})
}

// Concurrency: parallel submissions and reviews are safe (-race).
func TestConcurrentSubmissions(t *testing.T) {
	opt := sandbox.Options{Budget: big.NewRat(1, 1), QueryEpsilon: big.NewRat(1, 4)}
	f := setup(t, storetest.SQLite(t), "", opt)
	var wg sync.WaitGroup
	var mu sync.Mutex
	spent := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			q := "SELECT district, count(*) FROM social_insurance GROUP BY district"
			if i%2 == 0 {
				q = "SELECT district, count(*) AS n FROM medical_visits GROUP BY district"
			}
			j, err := f.svc.Submit(f.ctx, f.op, f.ws.ID, q, sandbox.Real)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			if j.EpsilonSpent > 0 {
				spent++
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	b, _ := f.svc.Budget(f.ctx, f.agreement.ID)
	if spent != 4 || b.Spent != 1 {
		t.Fatalf("spent %d queries, budget %+v", spent, b)
	}
	_ = identity.RoleAgency
}
