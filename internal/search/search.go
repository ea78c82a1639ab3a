// Package search owns the public catalog's full-text search: an inverted
// index of the catalog's documents (names, descriptions, column names)
// kept in the control-plane store beside the registry, updated in the
// registry's own transaction, and the faceted queries over it. Chinese text
// is indexed as character bigrams so a two-character query such as 社保
// finds what it should without a dictionary. It never sees the data a
// resource describes, runs no search server and keeps no cache, so what it
// returns is what the database holds.
package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
)

// Limits on a query.
const (
	MaxQueryRunes = 200
	DefaultLimit  = 20
	MaxLimit      = 100
)

// Query is one catalog search.
type Query struct {
	Text string
	// Filters maps a facet to its allowed values: AND across facets, OR
	// within one.
	Filters map[string][]string
	// Kind restricts to resources or products; empty means both.
	Kind          string
	Offset, Limit int
	// IncludePrivate lets the console find documents not yet public.
	IncludePrivate bool
}

// Hit is one document found.
type Hit struct {
	ID    int64   `json:"id"`
	Code  string  `json:"code"`
	Kind  string  `json:"kind"`
	Name  string  `json:"name"`
	Score float64 `json:"score"`
}

// FacetCount is how many matching documents carry one facet value.
type FacetCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Result is one page of a search with its facet counts. A facet's counts
// are over the documents the text matches with the other facets' filters
// applied, so choosing a value never hides its siblings.
type Result struct {
	Total  int                     `json:"total"`
	Hits   []Hit                   `json:"hits"`
	Facets map[string][]FacetCount `json:"facets"`
	Took   time.Duration           `json:"took_ns"`
}

func (q *Query) check() error {
	if utf8.RuneCountInString(q.Text) > MaxQueryRunes {
		return apperr.New(apperr.Invalid, "search.query_too_long", "max", strconv.Itoa(MaxQueryRunes)).OnField("q")
	}
	for k := range q.Filters {
		if facetIndex(k) < 0 {
			return apperr.New(apperr.Invalid, "search.unknown_facet", "facet", k).OnField(k)
		}
	}
	if q.Kind != "" && q.Kind != KindResource && q.Kind != KindProduct {
		return apperr.New(apperr.Invalid, "search.unknown_kind", "kind", q.Kind).OnField("kind")
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return apperr.New(apperr.Invalid, "search.limit_out_of_range", "max", strconv.Itoa(MaxLimit)).OnField("limit")
	}
	if q.Offset < 0 {
		return apperr.New(apperr.Invalid, "search.offset_negative").OnField("offset")
	}
	return nil
}

// Field weights and BM25 parameters. Lengths are normalised against fixed
// typical field lengths rather than live averages, which would need a
// counter every registration writes.
const (
	k1         = 1.2
	bParam     = 0.75
	wName      = 3.0
	wCols      = 1.5
	wDesc      = 1.0
	avgName    = 10.0
	avgCols    = 60.0
	avgDesc    = 40.0
	boostAll   = 10.0 // every query term in the name
	boostPref  = 20.0 // the name starts with the query
	boostExact = 40.0 // the name is the query
)

func bm25(tf, length int, avg float64) float64 {
	if tf == 0 {
		return 0
	}
	t := float64(tf)
	return t * (k1 + 1) / (t + k1*(1-bParam+bParam*float64(length)/avg))
}

// candidate is one document the text matches, before facet filtering.
type candidate struct {
	hit     Hit
	updated int64
	facets  [len(FacetKeys)]string
	inName  bool
}

// Search runs a query against the index.
func Search(ctx context.Context, db *store.DB, q Query) (Result, error) {
	start := time.Now()
	if err := q.check(); err != nil {
		return Result{}, err
	}
	terms := queryTerms(q.Text)
	var res Result
	var err error
	if len(terms) == 0 {
		res, err = browse(ctx, db, q)
	} else {
		res, err = match(ctx, db, q, terms)
	}
	if err != nil {
		return Result{}, fmt.Errorf("search %q: %w", q.Text, err)
	}
	res.Took = time.Since(start)
	return res, nil
}

func (q *Query) scope(alias string) (string, []any) {
	var where []string
	var args []any
	if !q.IncludePrivate {
		where = append(where, alias+"public = 1")
	}
	if q.Kind != "" {
		where = append(where, alias+"kind = ?")
		args = append(args, q.Kind)
	}
	return strings.Join(where, " AND "), args
}

// match finds the documents holding every term, scores them and counts
// facets in one pass over the joined postings.
func match(ctx context.Context, db *store.DB, q Query, terms []string) (Result, error) {
	// Document frequencies: the rarest term drives the join, and BM25's idf.
	df := map[string]int{}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(terms)), ", ")
	targs := make([]any, len(terms))
	for i, t := range terms {
		targs[i] = t
	}
	rows, err := db.Query(ctx, `SELECT term, COUNT(*) FROM search_postings WHERE term IN (`+ph+`) GROUP BY term`, targs...)
	if err != nil {
		return Result{}, err
	}
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			rows.Close()
			return Result{}, err
		}
		df[t] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Result{}, err
	}
	for _, t := range terms {
		if df[t] == 0 {
			return emptyResult(), nil
		}
	}
	sort.SliceStable(terms, func(i, j int) bool { return df[terms[i]] < df[terms[j]] })
	var total int
	// The number of documents, from the kept facet counts: every document
	// has one department value, possibly empty.
	if err := db.QueryRow(ctx, `SELECT COALESCE(SUM(n), 0) FROM search_facets WHERE facet = 'department'`).Scan(&total); err != nil {
		return Result{}, err
	}
	idf := make([]float64, len(terms))
	for i, t := range terms {
		n := float64(df[t])
		idf[i] = math.Log(1 + (float64(total)-n+0.5)/(n+0.5))
	}

	// SQLite keeps a CROSS JOIN's order, so the rarest term's postings are
	// the outer loop; PostgreSQL plans the same text freely.
	var sb strings.Builder
	sb.WriteString(`SELECT d.kind, d.id, d.updated_at, d.department, d.domain, d.grade, d.region, d.frequency,
		d.name_len, d.cols_len, d.desc_len`)
	for i := range terms {
		fmt.Fprintf(&sb, ", p%d.tf_name, p%d.tf_cols, p%d.tf_desc", i, i, i)
	}
	sb.WriteString(" FROM search_postings p0")
	for i := 1; i < len(terms); i++ {
		fmt.Fprintf(&sb, " CROSS JOIN search_postings p%d", i)
	}
	sb.WriteString(" CROSS JOIN search_docs d WHERE p0.term = ?")
	args := []any{terms[0]}
	for i := 1; i < len(terms); i++ {
		fmt.Fprintf(&sb, " AND p%d.term = ? AND p%d.kind = p0.kind AND p%d.doc_id = p0.doc_id", i, i, i)
		args = append(args, terms[i])
	}
	sb.WriteString(" AND d.kind = p0.kind AND d.id = p0.doc_id")
	if w, a := q.scope("d."); w != "" {
		sb.WriteString(" AND " + w)
		args = append(args, a...)
	}
	rows, err = db.Query(ctx, sb.String(), args...)
	if err != nil {
		return Result{}, err
	}
	defer rows.Close()
	norm := normalize(q.Text)
	f := newFilter(q.Filters)
	var cands []candidate
	counts := newCounts()
	tfs := make([]int, 3*len(terms))
	dest := make([]any, 11+len(tfs))
	var c candidate
	var lens [3]int
	dest[0], dest[1], dest[2] = &c.hit.Kind, &c.hit.ID, &c.updated
	for i := range FacetKeys {
		dest[3+i] = &c.facets[i]
	}
	dest[8], dest[9], dest[10] = &lens[0], &lens[1], &lens[2]
	for i := range tfs {
		dest[11+i] = &tfs[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return Result{}, err
		}
		if !f.count(counts, &c.facets) {
			continue
		}
		score := 0.0
		inName := true
		for i := range terms {
			tn, tc, td := tfs[3*i], tfs[3*i+1], tfs[3*i+2]
			if tn == 0 {
				inName = false
			}
			score += idf[i] * (wName*bm25(tn, lens[0], avgName) + wCols*bm25(tc, lens[1], avgCols) + wDesc*bm25(td, lens[2], avgDesc))
		}
		c.inName = inName
		if inName {
			score += boostAll
		}
		c.hit.Score = score
		cands = append(cands, c)
	}
	if err := rows.Err(); err != nil {
		return Result{}, err
	}
	sortCandidates(cands)
	if err := boostNames(ctx, db, cands, q.Offset+q.Limit+boostWindow, norm); err != nil {
		return Result{}, err
	}
	res := Result{Total: len(cands), Hits: []Hit{}, Facets: counts.list()}
	page := cands[min(q.Offset, len(cands)):min(q.Offset+q.Limit, len(cands))]
	if err := names(ctx, db, page); err != nil {
		return Result{}, err
	}
	for _, p := range page {
		p.hit.Score = math.Round(p.hit.Score*1e4) / 1e4
		res.Hits = append(res.Hits, p.hit)
	}
	return res, nil
}

// boostWindow is how far past the requested page the exact-name and
// name-prefix boosts look. Reading every match's name would cost a string
// per row; a name equal to or starting with the query is short and holds
// every term, so its BM25 score already places it near the top.
const boostWindow = 200

// boostNames reads the names of the first n candidates that hold every
// term in their name, boosts exact and prefix matches, and re-sorts.
func boostNames(ctx context.Context, db *store.DB, cands []candidate, n int, norm string) error {
	top := cands[:min(n, len(cands))]
	var named []candidate
	idx := []int{}
	for i := range top {
		if top[i].inName {
			named = append(named, top[i])
			idx = append(idx, i)
		}
	}
	if len(named) == 0 {
		return nil
	}
	if err := names(ctx, db, named); err != nil {
		return err
	}
	for j, i := range idx {
		cands[i].hit.Code, cands[i].hit.Name = named[j].hit.Code, named[j].hit.Name
		if nn := normalize(named[j].hit.Name); nn == norm {
			cands[i].hit.Score += boostExact
		} else if strings.HasPrefix(nn, norm) {
			cands[i].hit.Score += boostPref
		}
	}
	sortCandidates(top)
	return nil
}

// names fills in the code and name of candidates that lack them.
func names(ctx context.Context, db *store.DB, cs []candidate) error {
	type key struct {
		kind string
		id   int64
	}
	at := map[key][]int{}
	var sb strings.Builder
	var args []any
	for i := range cs {
		if cs[i].hit.Name != "" {
			continue
		}
		k := key{cs[i].hit.Kind, cs[i].hit.ID}
		if len(at[k]) == 0 {
			if len(args) > 0 {
				sb.WriteString(" OR ")
			}
			sb.WriteString("(kind = ? AND id = ?)")
			args = append(args, k.kind, k.id)
		}
		at[k] = append(at[k], i)
	}
	if len(args) == 0 {
		return nil
	}
	rows, err := db.Query(ctx, `SELECT kind, id, code, name FROM search_docs WHERE `+sb.String(), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k key
		var code, name string
		if err := rows.Scan(&k.kind, &k.id, &code, &name); err != nil {
			return err
		}
		for _, i := range at[k] {
			cs[i].hit.Code, cs[i].hit.Name = code, name
		}
	}
	return rows.Err()
}

// sortCandidates orders by score, then newest first, then a stable key.
func sortCandidates(cands []candidate) {
	sort.Slice(cands, func(i, j int) bool {
		a, b := &cands[i], &cands[j]
		if a.hit.Score != b.hit.Score {
			return a.hit.Score > b.hit.Score
		}
		if a.updated != b.updated {
			return a.updated > b.updated
		}
		if a.hit.Kind != b.hit.Kind {
			return a.hit.Kind < b.hit.Kind
		}
		return a.hit.ID > b.hit.ID
	})
}

func emptyResult() Result {
	return Result{Hits: []Hit{}, Facets: newCounts().list()}
}

// filter holds a query's facet filters by facet position.
type filter struct {
	allowed [len(FacetKeys)]map[string]bool
}

func newFilter(fs map[string][]string) *filter {
	f := &filter{}
	for k, vs := range fs {
		if len(vs) == 0 {
			continue
		}
		m := make(map[string]bool, len(vs))
		for _, v := range vs {
			m[v] = true
		}
		f.allowed[facetIndex(k)] = m
	}
	return f
}

// count adds a matching document to the facet counts with the usual
// semantics (a facet counts the documents passing every other facet's
// filter) and reports whether it passes all filters.
func (f *filter) count(c counts, vals *[len(FacetKeys)]string) bool {
	failed, which := 0, -1
	for i, m := range f.allowed {
		if m != nil && !m[vals[i]] {
			failed++
			which = i
			if failed > 1 {
				return false
			}
		}
	}
	if failed == 1 {
		c[which][vals[which]]++
		return false
	}
	for i := range vals {
		c[i][vals[i]]++
	}
	return true
}

type counts [len(FacetKeys)]map[string]int

func newCounts() counts {
	var c counts
	for i := range c {
		c[i] = map[string]int{}
	}
	return c
}

// list orders each facet's values by count, then value; the empty value
// (a document without that facet) is left out.
func (c counts) list() map[string][]FacetCount {
	out := make(map[string][]FacetCount, len(FacetKeys))
	for i, k := range FacetKeys {
		l := make([]FacetCount, 0, len(c[i]))
		for v, n := range c[i] {
			if v != "" && n > 0 {
				l = append(l, FacetCount{Value: v, Count: n})
			}
		}
		sort.Slice(l, func(a, b int) bool {
			if l[a].Count != l[b].Count {
				return l[a].Count > l[b].Count
			}
			return l[a].Value < l[b].Value
		})
		out[k] = l
	}
	return out
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
