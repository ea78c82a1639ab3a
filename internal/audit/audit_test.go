package audit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

func fixedClock() func() time.Time {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	return func() time.Time { return t0 }
}

func countOrgs(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), "SELECT COUNT(*) FROM organizations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func insertOrg(ctx context.Context, tx *store.Tx, e *audit.Entry, name string) error {
	id, err := tx.InsertID(ctx, `INSERT INTO organizations (type, name, region_code, created_at) VALUES ('authority', ?, '360000', ?)`,
		name, time.Now().UTC())
	if err != nil {
		return err
	}
	e.ObjectID = fmt.Sprint(id)
	return nil
}

// R12.2: a change and its audit entry commit together; a refused change
// leaves only its audit entry.
func TestDoCommitsEntryWithChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := audit.WithRequest(context.Background(), "req-1", "127.0.0.1")
		log := audit.New(db, fixedClock())
		actor := audit.Actor{UserID: 7, Login: "alice", OrgID: 3}

		err := log.Do(ctx, audit.Entry{Actor: actor, Action: "org.create", ObjectType: "organization"},
			func(tx *store.Tx, e *audit.Entry) error {
				e.Set("name", "甲")
				return insertOrg(ctx, tx, e, "甲")
			})
		if err != nil {
			t.Fatal(err)
		}
		refusal := apperr.New(apperr.Invalid, "identity.region_unknown", "code", "369999").OnField("region")
		err = log.Do(ctx, audit.Entry{Actor: actor, Action: "org.create", ObjectType: "organization"},
			func(tx *store.Tx, e *audit.Entry) error {
				if err := insertOrg(ctx, tx, e, "乙"); err != nil {
					return err
				}
				return refusal // after the insert: the insert must roll back
			})
		if !errors.Is(err, refusal) {
			t.Fatalf("err = %v, want the refusal", err)
		}
		if n := countOrgs(t, db); n != 1 {
			t.Fatalf("organizations = %d, want 1 (the refused one rolled back)", n)
		}
		entries, err := log.List(ctx, audit.Filter{Action: "org.create"})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Fatalf("entries = %d, want 2", len(entries))
		}
		refused, ok := entries[0], entries[1]
		if ok.Outcome != audit.OK || ok.ObjectID == "" || ok.Details["name"] != "甲" || ok.RequestID != "req-1" || ok.Actor != actor {
			t.Errorf("ok entry = %+v", ok)
		}
		if refused.Outcome != audit.Refused || refused.Reason != "identity.region_unknown" ||
			refused.Details["arg.code"] != "369999" || refused.Details["field"] != "region" {
			t.Errorf("refused entry = %+v", refused)
		}
		if !ok.At.Equal(fixedClock()()) {
			t.Errorf("at = %v", ok.At)
		}
	})
}

func TestInternalFailureIsAuditedAsFailed(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	log := audit.New(db, nil)
	boom := errors.New("disk on fire")
	err := log.Do(ctx, audit.Entry{Actor: audit.System, Action: "x.y", ObjectType: "x"},
		func(*store.Tx, *audit.Entry) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	es, _ := log.List(ctx, audit.Filter{})
	if len(es) != 1 || es[0].Outcome != audit.Failed || es[0].Details["error"] != "disk on fire" {
		t.Fatalf("entries = %+v", es)
	}
}

func TestRefusalSurvivesCancelledContext(t *testing.T) {
	db := storetest.SQLite(t)
	log := audit.New(db, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = log.Refuse(ctx, audit.Entry{Actor: audit.Anonymous(""), Action: "session.login", ObjectType: "user"},
		apperr.New(apperr.Unauthenticated, "identity.login_failed"))
	n, err := log.Count(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
	}
}

func TestAppendRejectsIncompleteEntry(t *testing.T) {
	db := storetest.SQLite(t)
	log := audit.New(db, nil)
	err := db.InTx(context.Background(), func(tx *store.Tx) error {
		_, err := log.Append(context.Background(), tx, audit.Entry{Action: "a", ObjectType: "b", Outcome: audit.OK})
		return err
	})
	if err == nil {
		t.Fatal("entry without an actor was accepted")
	}
}

func TestListFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		i := 0
		log := audit.New(db, func() time.Time { i++; return t0.Add(time.Duration(i) * time.Hour) })
		for k := 0; k < 6; k++ {
			a := audit.Actor{UserID: int64(k%2 + 1), Login: fmt.Sprint("u", k%2), OrgID: int64(k%3 + 1)}
			_ = log.Do(ctx, audit.Entry{Actor: a, Action: fmt.Sprint("act.", k%2), ObjectType: "thing", ObjectID: fmt.Sprint(k)},
				func(*store.Tx, *audit.Entry) error { return nil })
		}
		cases := []struct {
			name string
			f    audit.Filter
			want int
		}{
			{"all", audit.Filter{}, 6},
			{"actor", audit.Filter{ActorUserID: 1}, 3},
			{"org", audit.Filter{OrgID: 3}, 2},
			{"action", audit.Filter{Action: "act.1"}, 3},
			{"object", audit.Filter{ObjectType: "thing", ObjectID: "4"}, 1},
			{"outcome", audit.Filter{Outcome: audit.Refused}, 0},
			{"from", audit.Filter{From: t0.Add(4 * time.Hour)}, 3},
			{"to", audit.Filter{To: t0.Add(3 * time.Hour)}, 2},
			{"limit", audit.Filter{Limit: 4}, 4},
		}
		for _, c := range cases {
			got, err := log.List(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.want {
				t.Errorf("%s: %d entries, want %d", c.name, len(got), c.want)
			}
		}
		page, _ := log.List(ctx, audit.Filter{Limit: 2})
		next, _ := log.List(ctx, audit.Filter{Limit: 10, BeforeID: page[1].ID})
		if len(next) != 4 || next[0].ID >= page[1].ID {
			t.Errorf("paging: %d entries after id %d", len(next), page[1].ID)
		}
	})
}

// Concurrent writers each get their entry, none lost or duplicated (run with -race).
func TestConcurrentAppends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log := audit.New(db, nil)
		const workers, each = 8, 15
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					err := log.Do(ctx, audit.Entry{Actor: audit.System, Action: "load", ObjectType: "w", ObjectID: fmt.Sprint(w, "-", i)},
						func(*store.Tx, *audit.Entry) error { return nil })
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		n, err := log.Count(ctx)
		if err != nil || n != workers*each {
			t.Fatalf("count = %d, %v; want %d", n, err, workers*each)
		}
	})
}

// Record shares commits among concurrent writers, and every writer's entry
// is there when its call returns (run with -race).
func TestRecordGroupCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log := audit.New(db, nil)
		const writers, each = 16, 25
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					id := fmt.Sprint(w, "-", i)
					if err := log.Record(ctx, audit.Entry{Actor: audit.System, Action: "data.access", ObjectType: "w", ObjectID: id, Outcome: audit.OK}); err != nil {
						t.Error(err)
						return
					}
					var n int
					if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM audit_entries WHERE object_id = ?", id).Scan(&n); err != nil || n != 1 {
						t.Errorf("entry %s not committed when Record returned: %d %v", id, n, err)
					}
				}
			}()
		}
		wg.Wait()
		if n, _ := log.Count(ctx); n != writers*each {
			t.Fatalf("count = %d, want %d", n, writers*each)
		}
		if err := log.Record(ctx, audit.Entry{Actor: audit.System, Action: "x"}); err == nil {
			t.Error("incomplete entry accepted")
		}
	})
}

// R16.2: when an agreement ends the operator's log is kept at least three
// years; the retention can be extended, never shortened.
func TestRetention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log := audit.New(db, nil)
		agency := audit.Actor{UserID: 1, Login: "agency", OrgID: 2}
		ended := time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
		if _, err := log.SetRetention(ctx, agency, 9, "JX-2026-001", ended, 2); !apperr.IsCode(err, apperr.Invalid) {
			t.Fatalf("two years accepted: %v", err)
		}
		got, err := log.SetRetention(ctx, agency, 9, "JX-2026-001", ended, 3)
		if err != nil || got.Format("2006-01-02") != "2029-06-30" {
			t.Fatalf("retention %v %v", got, err)
		}
		got, err = log.SetRetention(ctx, agency, 9, "JX-2026-002", ended, 5)
		if err != nil || got.Format("2006-01-02") != "2031-06-30" {
			t.Fatalf("extended retention %v %v", got, err)
		}
		// A later, shorter setting does not shorten it.
		got, err = log.SetRetention(ctx, agency, 9, "JX-2027-003", ended.AddDate(1, 0, 0), 3)
		if err != nil || got.Format("2006-01-02") != "2031-06-30" {
			t.Fatalf("shortened: %v %v", got, err)
		}
		all, err := log.Retentions(ctx)
		if err != nil || all[9].Format("2006-01-02") != "2031-06-30" {
			t.Fatalf("retentions %v %v", all, err)
		}
		es, _ := log.List(ctx, audit.Filter{Action: "audit.retention.set"})
		if len(es) != 4 || es[3].Outcome != audit.Refused {
			t.Errorf("retention entries %+v", es)
		}
	})
}
