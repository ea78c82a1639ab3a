package grant_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
	"github.com/gongshu/gongshu/internal/workday"
)

// R12.1, R15.3, R16: the scope check, one case per reason it gives.
func TestAuthorize(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		type setupFn func() (operator int64, at time.Time)
		in := func(st grant.AgreementState) setupFn {
			return func() (int64, time.Time) {
				_, op := f.agreementIn(st)
				return op.OrgID, f.clock()
			}
		}
		cases := []struct {
			name     string
			setup    setupFn
			resource int64
			purpose  string
			key      string
		}{
			{"active, in scope, allowed purpose", in(grant.AgreementActive), resGeneral, "普惠金融", ""},
			{"no purpose stated", in(grant.AgreementActive), resGeneral, " ", grant.KeyPurposeRequired},
			{"no agreement at all", func() (int64, time.Time) { return f.operator().OrgID, f.day("2026-02-01") }, resGeneral, "普惠金融", grant.KeyNoAgreement},
			{"resource outside the scope (R15.3)", in(grant.AgreementActive), resImportant, "普惠金融", grant.KeyNotInScope},
			{"purpose outside the scenarios (R15.3)", in(grant.AgreementActive), resGeneral, "精准营销", grant.KeyPurposeNotAllowed},
			{"draft gives nothing (R11.1)", in(grant.AgreementDraft), resGeneral, "普惠金融", grant.KeyNoAgreement},
			{"decided gives nothing (R11.1)", in(grant.AgreementDecided), resGeneral, "普惠金融", grant.KeyNoAgreement},
			{"signed, not yet in force", func() (int64, time.Time) {
				_, op := f.agreementIn(grant.AgreementSigned)
				return op.OrgID, f.day("2026-01-05")
			}, resGeneral, "普惠金融", grant.KeyNotActive},
			{"suspended (R16.1)", in(grant.AgreementSuspended), resGeneral, "普惠金融", grant.KeySuspended},
			{"terminated (R16.2)", in(grant.AgreementTerminated), resGeneral, "普惠金融", grant.KeyTerminated},
			{"expired, marked by the sweep", in(grant.AgreementExpired), resGeneral, "普惠金融", grant.KeyExpired},
			{"past the term, before any sweep", func() (int64, time.Time) {
				_, op := f.agreementIn(grant.AgreementActive)
				return op.OrgID, f.day("2029-01-01")
			}, resGeneral, "普惠金融", grant.KeyExpired},
			{"asked about a day before the term", func() (int64, time.Time) {
				_, op := f.agreementIn(grant.AgreementActive)
				return op.OrgID, date("2025-12-31")
			}, resGeneral, "普惠金融", grant.KeyNotStarted},
			{"excluded after the agreement, named (R5.2)", func() (int64, time.Time) {
				_, op := f.agreementIn(grant.AgreementActive)
				f.ex.set(resGeneral, "负面清单：2026年第1批")
				return op.OrgID, f.clock()
			}, resGeneral, "普惠金融", grant.KeyExcluded},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				defer f.ex.unset(resGeneral)
				op, at := c.setup()
				err := f.svc.Authorize(f.ctx, op, c.resource, c.purpose, at)
				if keyOf(err) != c.key {
					t.Fatalf("Authorize = %v, want %q", err, c.key)
				}
				if err != nil && !apperr.IsCode(err, apperr.Forbidden) {
					t.Errorf("refusal code = %s", apperr.CodeOf(err))
				}
				if c.key == grant.KeyExcluded {
					if ae, _ := asApp(err); ae.Args["reason"] != "负面清单：2026年第1批" || ae.Args["name"] != "社会保险参保缴费信息" {
						t.Errorf("exclusion not named: %v", ae.Args)
					}
				}
			})
		}
		// A second, active agreement covering the resource wins over a suspended one.
		t.Run("one active agreement is enough", func(t *testing.T) {
			a, op := f.agreementIn(grant.AgreementActive)
			pl := f.planIn(grant.PlanDecided)
			sel := f.selected(pl, op)
			b := must[grant.Agreement](t)(f.svc.DraftAgreement(f.ctx, f.ncAgency, f.agreementForm(pl, sel, op)))
			must[grant.Agreement](t)(f.svc.DecideAgreement(f.ctx, f.ncAgency, b.ID, f.agencyDecision()))
			must[grant.Agreement](t)(f.svc.SignAgreement(f.ctx, f.ncAgency, b.ID, "张主任", nil))
			must[grant.Agreement](t)(f.svc.SignAgreement(f.ctx, op, b.ID, "李总经理", grant.Prohibitions))
			f.day("2026-01-06")
			must[grant.Agreement](t)(f.svc.ActivateAgreement(f.ctx, f.ncAgency, b.ID))
			must[grant.Agreement](t)(f.svc.SuspendAgreement(f.ctx, f.ncAgency, a.ID, "违规调用"))
			if err := f.svc.Authorize(f.ctx, op.OrgID, resGeneral, "普惠金融", f.clock()); err != nil {
				t.Errorf("with another agreement in force: %v", err)
			}
		})
	})
}

// R16.1: suspension takes effect at once: running work bound to the
// agreement is cancelled with a readable cause, subscribers are told, the
// Revoker ran in the suspension's transaction, and the next access is
// refused.
func TestSuspensionStopsWork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		a, op := f.agreementIn(grant.AgreementActive)
		if err := f.svc.Authorize(f.ctx, op.OrgID, resGeneral, "普惠金融", f.clock()); err != nil {
			t.Fatal(err)
		}
		work, cancel, err := f.svc.Work(f.ctx, op.OrgID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		stops, unsubscribe := f.svc.Signals().Subscribe(a.ID)
		defer unsubscribe()
		if _, _, err := f.svc.Work(f.ctx, f.operator().OrgID, a.ID); keyOf(err) != grant.KeyNoAgreement {
			t.Errorf("another operator's work under the agreement: %v", err)
		}
		if _, err := f.svc.SuspendAgreement(f.ctx, f.ncAgency, a.ID, "发现数据外泄风险"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-work.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("suspension did not cancel the running work")
		}
		st, ok := grant.StopOf(work)
		if !ok || st.State != grant.AgreementSuspended || st.Reason != "发现数据外泄风险" {
			t.Errorf("cause = %v", context.Cause(work))
		}
		if ae, ok := apperr.As(context.Cause(work)); !ok || ae.Key != "grant.agreement_stopped" {
			t.Errorf("cause is not a readable refusal: %v", context.Cause(work))
		}
		select {
		case s := <-stops:
			if s.AgreementID != a.ID {
				t.Errorf("stop = %+v", s)
			}
		default:
			t.Error("subscriber not told")
		}
		if f.rev.count(a.ID) != 1 {
			t.Errorf("revocations = %d", f.rev.count(a.ID))
		}
		err = f.svc.Authorize(f.ctx, op.OrgID, resGeneral, "普惠金融", f.clock())
		if ae, _ := asApp(err); ae.Key != grant.KeySuspended || ae.Args["reason"] != "发现数据外泄风险" {
			t.Errorf("next access after suspension: %v", err)
		}
		if _, _, err := f.svc.Work(f.ctx, op.OrgID, a.ID); keyOf(err) != grant.KeySuspended {
			t.Errorf("new work under a suspended agreement: %v", err)
		}
		if f.svc.Signals().Waiting(a.ID) != 0 {
			t.Errorf("%d still waiting after the stop", f.svc.Signals().Waiting(a.ID))
		}
		// Resumed, access comes back; nothing revoked comes back by itself.
		must[grant.Agreement](t)(f.svc.ResumeAgreement(f.ctx, f.ncAgency, a.ID, "整改完成，恢复履行"))
		if err := f.svc.Authorize(f.ctx, op.OrgID, resGeneral, "普惠金融", f.clock()); err != nil {
			t.Errorf("after resumption: %v", err)
		}
		// A Revoker that fails leaves the agreement as it was (no half-done suspension).
		failing := grant.New(db, f.log, region.Default(), workday.Default(), f.clock, fakeResources{}, nil, failRevoker{}, nil, grant.Options{})
		if _, err := failing.SuspendAgreement(f.ctx, f.ncAgency, a.ID, "测试撤销失败"); err == nil {
			t.Fatal("suspension with a failing revoker succeeded")
		}
		if got := must[grant.Agreement](t)(f.svc.Agreement(f.ctx, f.ncAgency, a.ID)); got.State != grant.AgreementActive {
			t.Errorf("state after failed revocation: %s", got.State)
		}
	})
}

type failRevoker struct{}

func (failRevoker) RevokeAgreement(context.Context, *store.Tx, int64, int64) error {
	return context.DeadlineExceeded
}

// Signals under concurrent binding, cancelling and publishing (run with -race).
func TestSignalsConcurrent(t *testing.T) {
	s := grant.NewSignals()
	// Each worker runs a fixed number of rounds while one goroutine keeps
	// publishing. Workers used to run until the publisher had finished, and
	// a publish costs one call per waiting context, so a slow publish let
	// more contexts (each with a goroutine waiting on it) pile up for the
	// next: with nothing to bound it, this is the likely way grant.test
	// grew to 24 GB and was killed in one CI run on a loaded machine.
	const agreements, workers, rounds = 8, 32, 400
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				ctx, cancel := s.Context(context.Background(), int64(i%agreements))
				if i%3 == 0 {
					cancel()
				} else {
					go func() { <-ctx.Done(); cancel() }()
				}
				ch, unsub := s.Subscribe(int64(w % agreements))
				select {
				case <-ch:
				default:
				}
				unsub()
			}
		}(w)
	}
	stop, published := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		defer func() { published <- n }()
		for ; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			s.Publish(grant.Stop{AgreementID: int64(n % agreements), State: grant.AgreementSuspended, Reason: "test"})
		}
	}()
	wg.Wait()
	close(stop)
	if n := <-published; n == 0 {
		t.Log("the publisher did not get to run before the workers finished")
	}
	// Every context is either cancelled by a stop or released by its cancel.
	for id := int64(0); id < agreements; id++ {
		s.Publish(grant.Stop{AgreementID: id, State: grant.AgreementTerminated})
	}
	deadline := time.Now().Add(5 * time.Second)
	for id := int64(0); id < agreements; id++ {
		for s.Waiting(id) != 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := s.Waiting(id); n != 0 {
			t.Errorf("agreement %d: %d left waiting", id, n)
		}
	}
	// A context bound after a stop waits for the next one; cancel releases it.
	ctx, cancel := s.Context(context.Background(), 99)
	if s.Waiting(99) != 1 || ctx.Err() != nil {
		t.Fatal("bound context not waiting")
	}
	cancel()
	for s.Waiting(99) != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if s.Waiting(99) != 0 {
		t.Error("cancel did not release the context")
	}
	if _, ok := grant.StopOf(ctx); ok {
		t.Error("a context cancelled by its owner has no stop")
	}
}
