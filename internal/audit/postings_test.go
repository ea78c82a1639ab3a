package audit_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// A filtered listing read through the lookup index gives exactly what a
// scan of all entries gives, page by page, whether the entries are
// integrated in many batches, in one, or not yet; and an index lost (or
// left behind by the migration that introduced it) is rebuilt at start.
func TestListIndexMatchesScan(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log := audit.New(db, nil)
		keys := t.TempDir()
		tree, err := audit.OpenTree(ctx, db, log, audit.TreeConfig{KeyDir: keys})
		if err != nil {
			t.Fatal(err)
		}
		var all []audit.Entry
		add := func(n int) {
			for i := 0; i < n; i++ {
				k := len(all)
				e := audit.Entry{Actor: audit.Actor{UserID: int64(k%5 + 1), Login: fmt.Sprint("u", k%5), OrgID: int64(k%3 + 1)},
					Action: fmt.Sprint("act.", k%4), ObjectType: "thing", ObjectID: fmt.Sprint(k % 7), Outcome: audit.OK}
				if k%6 == 0 {
					e.Outcome = audit.Refused
				}
				if err := log.Record(ctx, e); err != nil {
					t.Fatal(err)
				}
				all = append(all, e)
			}
		}
		// Postings of several sizes, then a tail the integrator has not reached.
		for _, n := range []int{1, 2, 40, 3, 90} {
			add(n)
			if _, err := tree.Integrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		add(25)
		scan, err := log.List(ctx, audit.Filter{Limit: 1000})
		if err != nil || len(scan) != len(all) {
			t.Fatalf("scan: %d entries, %v", len(scan), err)
		}
		filters := map[string]audit.Filter{
			"org":            {OrgID: 2},
			"user":           {ActorUserID: 4},
			"action":         {Action: "act.3"},
			"object":         {ObjectType: "thing", ObjectID: "5"},
			"org+action":     {OrgID: 1, Action: "act.2"},
			"user+refused":   {ActorUserID: 1, Outcome: audit.Refused},
			"org+nothing":    {OrgID: 3, Action: "act.none"},
			"unknown object": {ObjectType: "thing", ObjectID: "99"},
		}
		check := func(t *testing.T) {
			t.Helper()
			for name, f := range filters {
				var want []int64
				for _, e := range scan {
					if matches(e, f) {
						want = append(want, e.ID)
					}
				}
				for _, limit := range []int{1, 7, 1000} {
					var got []int64
					f := f
					f.Limit = limit
					for {
						page, err := log.List(ctx, f)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						for _, e := range page {
							got = append(got, e.ID)
						}
						if len(page) < limit {
							break
						}
						f.BeforeID = page[len(page)-1].ID
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s, pages of %d: got %v, want %v", name, limit, got, want)
					}
				}
			}
		}
		check(t)
		// Integrate the tail: same answers.
		if _, err := tree.Integrate(ctx); err != nil {
			t.Fatal(err)
		}
		check(t)
		// Lose the index (the table is append-only: with its guard dropped):
		// the next start rebuilds it.
		disableGuards(t, db)
		if _, err := db.Exec(ctx, "DELETE FROM audit_postings"); err != nil {
			t.Fatal(err)
		}
		if _, err := audit.OpenTree(ctx, db, log, audit.TreeConfig{KeyDir: keys}); err != nil {
			t.Fatal(err)
		}
		check(t)
	})
}

func matches(e audit.Entry, f audit.Filter) bool {
	return (f.OrgID == 0 || e.Actor.OrgID == f.OrgID) &&
		(f.ActorUserID == 0 || e.Actor.UserID == f.ActorUserID) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.ObjectID == "" || e.ObjectType == f.ObjectType && e.ObjectID == f.ObjectID) &&
		(f.Outcome == "" || e.Outcome == f.Outcome)
}
