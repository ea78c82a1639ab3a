package search

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

func loadCorpus(t *testing.T, ctx context.Context, db *store.DB) []Document {
	t.Helper()
	b, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var docs []Document
	if err := json.Unmarshal(b, &docs); err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx, func(tx *store.Tx) error {
		for _, d := range docs {
			if err := Index(ctx, tx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func codes(r Result) []string {
	out := []string{}
	for _, h := range r.Hits {
		out = append(out, h.Code)
	}
	return out
}

func mustSearch(t *testing.T, ctx context.Context, rd *Reader, q Query) Result {
	t.Helper()
	r, err := rd.Search(ctx, q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	return r
}

func TestRelevance(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		want []string // codes, in order
	}{
		{"社保 finds 社会保险 only by the abbreviation", Query{Text: "社保"}, []string{"R-010"}},
		{"社会保险", Query{Text: "社会保险"}, []string{"R-001"}},
		{"企业 name matches before description matches", Query{Text: "企业"}, []string{"R-002", "P-001", "R-003", "R-007"}},
		{"企业 resources only", Query{Text: "企业", Kind: KindResource}, []string{"R-002", "R-003", "R-007"}},
		{"公积金", Query{Text: "公积金"}, []string{"R-004"}},
		{"不动产", Query{Text: "不动产"}, []string{"R-005"}},
		{"Latin word", Query{Text: "GDP"}, []string{"R-006"}},
		{"lowercase", Query{Text: "gdp"}, []string{"R-006"}},
		{"full-width", Query{Text: "ＧＤＰ"}, []string{"R-006"}},
		{"terms are ANDed, name before description before columns", Query{Text: "企业 信用"}, []string{"P-001", "R-003", "R-002"}},
		{"column label", Query{Text: "不动产单元号"}, []string{"R-005"}},
		{"column name", Query{Text: "uscc"}, []string{"R-002"}},
		{"identifier", Query{Text: "R-004"}, []string{"R-004"}},
		{"one character finds names", Query{Text: "税"}, []string{"R-003"}},
		{"no match", Query{Text: "气象"}, []string{}},
		{"private hidden", Query{Text: "待遇"}, []string{}},
		{"private for the console", Query{Text: "待遇", IncludePrivate: true}, []string{"R-008"}},
		{"ideographic space", Query{Text: "企业\u3000登记"}, []string{"R-002", "P-001"}},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		loadCorpus(t, ctx, db)
		rd := NewReader(db)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := mustSearch(t, ctx, rd, tc.q)
				if got := codes(r); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("Search(%q) = %v, want %v (hits %+v)", tc.q.Text, got, tc.want, r.Hits)
				}
				if r.Total != len(tc.want) {
					t.Errorf("Total = %d, want %d", r.Total, len(tc.want))
				}
			})
		}
	})
}

func TestFacets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		loadCorpus(t, ctx, db)
		rd := NewReader(db)
		tests := []struct {
			name  string
			q     Query
			total int
			facet string
			want  []FacetCount
		}{
			{"browse all", Query{}, 9, "department", []FacetCount{{"11", 2}, {"12", 2}, {"13", 1}, {"14", 1}, {"15", 1}, {"16", 1}, {"17", 1}}},
			{"browse region filter keeps its siblings", Query{Filters: map[string][]string{"region": {"360100"}}}, 4, "region",
				[]FacetCount{{"360000", 4}, {"360100", 4}, {"360200", 1}}},
			{"browse region filter narrows others", Query{Filters: map[string][]string{"region": {"360100"}}}, 4, "domain",
				[]FacetCount{{"housing", 1}, {"social", 1}, {"tax", 1}, {"transport", 1}}},
			{"browse two filters", Query{Filters: map[string][]string{"region": {"360100"}, "domain": {"social", "tax"}}}, 2, "region",
				[]FacetCount{{"360100", 2}, {"360000", 1}}},
			{"text", Query{Text: "企业"}, 4, "region", []FacetCount{{"360000", 2}, {"360100", 2}}},
			{"text with filter", Query{Text: "企业", Filters: map[string][]string{"region": {"360100"}}}, 2, "region",
				[]FacetCount{{"360000", 2}, {"360100", 2}}},
			{"text with filter, other facet", Query{Text: "企业", Filters: map[string][]string{"region": {"360100"}}}, 2, "domain",
				[]FacetCount{{"tax", 1}, {"transport", 1}}},
			{"browse products", Query{Kind: KindProduct}, 1, "grade", []FacetCount{{"2", 1}}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := mustSearch(t, ctx, rd, tc.q)
				if r.Total != tc.total {
					t.Errorf("Total = %d, want %d", r.Total, tc.total)
				}
				if got := r.Facets[tc.facet]; !reflect.DeepEqual(got, tc.want) {
					t.Errorf("facet %s = %v, want %v", tc.facet, got, tc.want)
				}
			})
		}
	})
}

func TestBrowseNewestFirstAndPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		loadCorpus(t, ctx, db)
		rd := NewReader(db)
		all := []string{"P-001", "R-007", "R-003", "R-010", "R-001", "R-002", "R-004", "R-005", "R-006"}
		var got []string
		for off := 0; off < 12; off += 4 {
			got = append(got, codes(mustSearch(t, ctx, rd, Query{Offset: off, Limit: 4}))...)
		}
		if !reflect.DeepEqual(got, all) {
			t.Errorf("pages = %v, want %v", got, all)
		}
		f := mustSearch(t, ctx, rd, Query{Filters: map[string][]string{"region": {"360100"}}, Offset: 1, Limit: 2})
		if got, want := codes(f), []string{"R-003", "R-010"}; !reflect.DeepEqual(got, want) || f.Hits[0].Name != "纳税信用等级" {
			t.Errorf("filtered browse page 2 = %+v, want %v", f.Hits, want)
		}
		p := mustSearch(t, ctx, rd, Query{Text: "企业", Offset: 1, Limit: 2})
		if got, want := codes(p), []string{"P-001", "R-003"}; !reflect.DeepEqual(got, want) || p.Total != 4 {
			t.Errorf("page 2 of 企业 = %v (total %d), want %v (total 4)", got, p.Total, want)
		}
	})
}

func TestUpdateAndRemove(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rd := NewReader(db)
		_ = mustSearch(t, ctx, rd, Query{}) // loaded before the changes, so they are caught up
		docs := loadCorpus(t, ctx, db)
		d := docs[3] // 住房公积金缴存信息
		d.Name = "住房公积金提取信息"
		d.Facets = map[string]string{"department": "14", "domain": "housing", "grade": "3", "region": "360200", "frequency": "monthly"}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return Index(ctx, tx, d) }); err != nil {
			t.Fatal(err)
		}
		if got := codes(mustSearch(t, ctx, rd, Query{Text: "提取"})); !reflect.DeepEqual(got, []string{"R-004"}) {
			t.Errorf("after rename, 提取 = %v", got)
		}
		r := mustSearch(t, ctx, rd, Query{Text: "公积金"})
		if r.Total != 1 {
			t.Errorf("after update, 公积金 total = %d, want 1", r.Total)
		}
		b := mustSearch(t, ctx, rd, Query{})
		if got, want := b.Facets["region"], []FacetCount{{"360000", 4}, {"360100", 3}, {"360200", 2}}; !reflect.DeepEqual(got, want) {
			t.Errorf("after update, region facet = %v, want %v", got, want)
		}
		// A rolled-back change leaves the index as it was.
		_ = db.InTx(ctx, func(tx *store.Tx) error {
			if err := Remove(ctx, tx, KindResource, 4); err != nil {
				t.Fatal(err)
			}
			return context.Canceled
		})
		if mustSearch(t, ctx, rd, Query{Text: "公积金"}).Total != 1 {
			t.Error("rolled-back removal took effect")
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return Remove(ctx, tx, KindResource, 4) }); err != nil {
			t.Fatal(err)
		}
		if got := mustSearch(t, ctx, rd, Query{Text: "公积金"}); got.Total != 0 {
			t.Errorf("after remove, 公积金 = %v", codes(got))
		}
		if got := mustSearch(t, ctx, rd, Query{}); got.Total != 8 {
			t.Errorf("after remove, browse total = %d, want 8", got.Total)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return Remove(ctx, tx, KindResource, 4) }); err != nil {
			t.Errorf("removing twice: %v", err)
		}
	})
}

func TestBadInput(t *testing.T) {
	long := ""
	for range 201 {
		long += "数"
	}
	tests := []struct {
		q   Query
		key string
	}{
		{Query{Text: long}, "search.query_too_long"},
		{Query{Filters: map[string][]string{"colour": {"red"}}}, "search.unknown_facet"},
		{Query{Limit: 101}, "search.limit_out_of_range"},
		{Query{Limit: -1}, "search.limit_out_of_range"},
		{Query{Offset: -1}, "search.offset_negative"},
		{Query{Kind: "dataset"}, "search.unknown_kind"},
	}
	db := storetest.SQLite(t)
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			_, err := NewReader(db).Search(context.Background(), tc.q)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || e.Key != tc.key {
				t.Errorf("Search = %v, want Invalid %s", err, tc.key)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		uni  bool
		want []string
	}{
		{"社会保险", false, []string{"社会", "会保", "保险"}},
		{"社", false, []string{"社"}},
		{"企业", true, []string{"企业", "企", "业"}},
		{"地区GDP统计", false, []string{"地区", "gdp", "统计"}},
		{"ＧＤＰ\u3000２０２５年", false, []string{"gdp", "2025", "年"}},
		{"ent_name 企业名称", false, []string{"ent", "name", "企业", "业名", "名称"}},
		{"", false, nil},
	}
	for _, tc := range tests {
		var got []string
		tokens(tc.in, tc.uni, func(s string) { got = append(got, s) })
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("tokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzTokens(f *testing.F) {
	for _, s := range []string{"社会保险缴费", "ＧＤＰ", "a\xffb", "企业 信用", "\u3000", "𠀀𠀁"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, uni := range []bool{false, true} {
			tokens(s, uni, func(tok string) {
				if tok == "" || !utf8.ValidString(tok) || len(tok) > maxTermBytes {
					t.Fatalf("tokens(%q) emitted %q", s, tok)
				}
			})
		}
		_ = normalize(s)
	})
}
