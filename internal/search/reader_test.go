package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// readerQueries exercise text, facets, paging and private documents.
var readerQueries = []Query{
	{},
	{Text: "社保"},
	{Text: "企业 信用"},
	{Text: "公积金 缴存", Limit: 5, Offset: 3},
	{Text: "交通", Filters: map[string][]string{"region": {"360100", "360700"}}},
	{Filters: map[string][]string{"domain": {"social"}}, Limit: 7, Offset: 2},
	{Text: "监测", IncludePrivate: true},
	{Text: "税", Kind: KindResource},
}

// TestReaderCatchesUp drives a long-lived Reader through random
// registrations, re-registrations and removals, with compaction and
// full reloads forced by a small slack, and after every step compares
// each query's whole answer with a Reader loaded afresh from the store:
// the copy in memory is never behind or different.
func TestReaderCatchesUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := Seed(ctx, db, 300, false); err != nil {
			t.Fatal(err)
		}
		long := NewReader(db)
		long.slack = 4
		gen := rand.New(rand.NewPCG(7, 7))
		r := rand.New(rand.NewPCG(8, 8))
		next := int64(301)
		for step := range 25 {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				for range 1 + r.IntN(40) {
					switch op := r.IntN(3); {
					case op == 0: // a new document
						d := BenchDocument(gen, next)
						next++
						if err := Index(ctx, tx, d); err != nil {
							return err
						}
					case op == 1: // an existing one changes
						d := BenchDocument(gen, 1+r.Int64N(next-1))
						if err := Index(ctx, tx, d); err != nil {
							return err
						}
					default:
						if err := Remove(ctx, tx, KindResource, 1+r.Int64N(next-1)); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			fresh := NewReader(db)
			for _, q := range readerQueries {
				a, err := long.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				b, err := fresh.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				a.Took, b.Took = 0, 0
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("step %d, query %+v: caught-up reader answered\n%+v\nfresh reader\n%+v", step, q, a, b)
				}
			}
		}
	})
}

// TestReadersOnTwoNodes: two processes' Readers over one store (two web
// nodes) each see a change the other's registry made, on their next query.
func TestReadersOnTwoNodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		loadCorpus(t, ctx, db)
		a, b := NewReader(db), NewReader(db)
		for _, rd := range []*Reader{a, b} {
			if got := mustSearch(t, ctx, rd, Query{Text: "候鸟"}); got.Total != 0 {
				t.Fatalf("候鸟 before = %d", got.Total)
			}
		}
		d := Document{ID: 99, Code: "R-099", Kind: KindResource, Name: "鄱阳湖候鸟监测", Public: true}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return Index(ctx, tx, d) }); err != nil {
			t.Fatal(err)
		}
		for i, rd := range []*Reader{a, b} {
			if got := codes(mustSearch(t, ctx, rd, Query{Text: "候鸟"})); !reflect.DeepEqual(got, []string{"R-099"}) {
				t.Errorf("node %d after the change: %v", i, got)
			}
		}
	})
}

// TestReaderConcurrent searches from many goroutines while documents are
// indexed and removed; run under the race detector in CI. Every answer
// for the marker term is one of the states a committed transaction left.
func TestReaderConcurrent(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	loadCorpus(t, ctx, db)
	rd := NewReader(db)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := rd.Search(ctx, Query{Text: "鄱阳湖"})
				if err != nil {
					errs <- err
					return
				}
				// Each transaction indexes documents in pairs.
				if res.Total%2 != 0 {
					errs <- fmt.Errorf("searcher %d saw %d documents: half a transaction", w, res.Total)
					return
				}
			}
		}()
	}
	for i := range 30 {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for j := range 2 {
				id := int64(1000 + 2*i + j)
				if err := Index(ctx, tx, Document{ID: id, Code: fmt.Sprint("R-", id), Kind: KindResource, Name: "鄱阳湖水位", Public: true}); err != nil {
					return err
				}
			}
			if i%3 == 2 {
				for j := range 2 {
					if err := Remove(ctx, tx, KindResource, int64(1000+2*(i-1)+j)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := mustSearch(t, ctx, rd, Query{Text: "鄱阳湖"}).Total; got != 40 {
		t.Errorf("final total = %d, want 40", got)
	}
}
