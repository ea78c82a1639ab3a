package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gongshu/gongshu/internal/store"
)

// Reader answers catalog queries from an in-memory copy of the stored
// index. Every query first reads the store's generation (one indexed row);
// if another transaction, in this process or any other, has changed the
// index since the copy was made, the Reader reloads exactly the documents
// those generations name before answering. So a query never returns what
// the database no longer holds, and a common term's tens of thousands of
// matches are intersected, scored and faceted in memory instead of being
// joined row by row in SQL.
type Reader struct {
	db *store.DB
	// slack is how many dead documents beyond an eighth of the live ones
	// a snapshot carries before it is compacted, and how many changed
	// documents beyond a quarter are caught up rather than reloaded.
	slack int
	mu    sync.RWMutex
	s     *snapshot // nil until loaded, and after a failed catch-up
}

// NewReader returns a Reader over db's index; it loads on first use, or
// when Warm is called.
func NewReader(db *store.DB) *Reader { return &Reader{db: db, slack: 1024} }

// Warm loads the index now, so the first visitor does not wait for it.
func (r *Reader) Warm(ctx context.Context) error {
	_, release, err := r.current(ctx)
	if err != nil {
		return err
	}
	release()
	return nil
}

// Kinds are stored as a byte ordered like their names, so ties break the
// same way as the SQL order they replace.
const (
	kindProduct uint8 = iota
	kindResource
)

func kindByte(k string) uint8 {
	if k == KindProduct {
		return kindProduct
	}
	return kindResource
}

func kindName(b uint8) string {
	if b == kindProduct {
		return KindProduct
	}
	return KindResource
}

// doc is what a query needs of one document. Facet values are interned.
type doc struct {
	id         int64
	updated    int64
	code, name string
	norm       string // normalize(name), for the exact and prefix boosts
	facets     [len(FacetKeys)]int32
	lens       [3]int32
	kind       uint8
	public     bool
	dead       bool
}

// entry is one posting: a document (by position in snapshot.docs) and the
// term's frequency in its name, columns and description, capped at 255.
type entry struct {
	doc        int32
	tn, tc, td uint8
}

// snapshot is the in-memory index at one generation. Documents are only
// appended, so each term's entries stay in document order; a replaced or
// removed document is marked dead and skipped until the next compaction.
type snapshot struct {
	gen     int64
	docs    []doc
	at      map[docKey]int32
	terms   map[string][]entry
	values  [len(FacetKeys)][]string
	valueID [len(FacetKeys)]map[string]int32
	live    int
	dead    int
	order   []int32 // live documents in browse order; nil when stale
}

func newSnapshot(gen int64) *snapshot {
	s := &snapshot{gen: gen, at: map[docKey]int32{}, terms: map[string][]entry{}}
	for i := range s.valueID {
		s.valueID[i] = map[string]int32{}
	}
	return s
}

func (s *snapshot) intern(facet int, v string) int32 {
	if id, ok := s.valueID[facet][v]; ok {
		return id
	}
	id := int32(len(s.values[facet]))
	s.values[facet] = append(s.values[facet], v)
	s.valueID[facet][v] = id
	return id
}

func (s *snapshot) kill(k docKey) {
	if i, ok := s.at[k]; ok {
		s.docs[i].dead = true
		delete(s.at, k)
		s.live--
		s.dead++
		s.order = nil
	}
}

func (s *snapshot) add(d doc, k docKey) int32 {
	s.kill(k)
	i := int32(len(s.docs))
	s.docs = append(s.docs, d)
	s.at[k] = i
	s.live++
	s.order = nil
	return i
}

func (s *snapshot) post(term string, e entry) {
	s.terms[term] = append(s.terms[term], e)
}

// compact drops dead documents and renumbers the rest.
func (s *snapshot) compact() {
	remap := make([]int32, len(s.docs))
	docs := make([]doc, 0, s.live)
	for i, d := range s.docs {
		if d.dead {
			remap[i] = -1
			continue
		}
		remap[i] = int32(len(docs))
		docs = append(docs, d)
	}
	for t, l := range s.terms {
		out := l[:0]
		for _, e := range l {
			if n := remap[e.doc]; n >= 0 {
				e.doc = n
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			delete(s.terms, t)
		} else {
			s.terms[t] = slices.Clip(out)
		}
	}
	for k, i := range s.at {
		s.at[k] = remap[i]
	}
	s.docs, s.dead, s.order = docs, 0, nil
}

// browseOrder lists live documents newest first, then by kind and newest
// identifier, the order a query without text shows.
func (s *snapshot) browseOrder() []int32 {
	if s.order != nil {
		return s.order
	}
	o := make([]int32, 0, s.live)
	for i := range s.docs {
		if !s.docs[i].dead {
			o = append(o, int32(i))
		}
	}
	sort.Slice(o, func(a, b int) bool { return s.before(o[a], o[b], 0, 0) })
	s.order = o
	return o
}

// before is the result order: score, then newest, then kind, then the
// larger identifier.
func (s *snapshot) before(a, b int32, sa, sb float64) bool {
	if sa != sb {
		return sa > sb
	}
	da, db := &s.docs[a], &s.docs[b]
	if da.updated != db.updated {
		return da.updated > db.updated
	}
	if da.kind != db.kind {
		return da.kind < db.kind
	}
	return da.id > db.id
}

// readGen reads the store's index generation.
func readGen(ctx context.Context, db querier) (int64, error) {
	var gen int64
	if err := db.QueryRow(ctx, `SELECT gen FROM search_meta WHERE id = 1`).Scan(&gen); err != nil {
		return 0, fmt.Errorf("search generation: %w", err)
	}
	return gen, nil
}

// current returns a snapshot at least as new as the store's generation,
// with the read lock held until release is called.
func (r *Reader) current(ctx context.Context) (*snapshot, func(), error) {
	gen, err := readGen(ctx, r.db)
	if err != nil {
		return nil, nil, err
	}
	for {
		r.mu.RLock()
		if s := r.s; s != nil && s.gen >= gen {
			return s, r.mu.RUnlock, nil
		}
		r.mu.RUnlock()
		if err := r.refresh(ctx, gen); err != nil {
			return nil, nil, err
		}
	}
}

// errReload says a catch-up would cost more than loading afresh.
var errReload = errors.New("reload")

func (r *Reader) refresh(ctx context.Context, gen int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.s != nil && r.s.gen >= gen {
		return nil
	}
	// One read snapshot for the whole refresh: a copy made from reads at
	// different moments could hold half of a later transaction.
	return r.db.ReadTx(ctx, func(tx *store.Tx) error {
		if r.s != nil {
			err := r.s.catchUp(ctx, tx, r.slack)
			if err == nil {
				return nil
			}
			// A half-applied catch-up leaves the copy unknown: start again.
			r.s = nil
			if !errors.Is(err, errReload) {
				return err
			}
		}
		s, err := load(ctx, tx)
		if err != nil {
			return err
		}
		r.s = s
		return nil
	})
}

// querier is what loading needs of a store transaction.
type querier interface {
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
}

const docColumns = `kind, id, code, name, public, updated_at, department, domain, grade, region, frequency, name_len, cols_len, desc_len`

func (s *snapshot) scanDoc(sc func(...any) error) (doc, docKey, error) {
	var d doc
	var k docKey
	var public int64
	var f [len(FacetKeys)]string
	var lens [3]int64
	if err := sc(&k.kind, &k.id, &d.code, &d.name, &public, &d.updated, &f[0], &f[1], &f[2], &f[3], &f[4],
		&lens[0], &lens[1], &lens[2]); err != nil {
		return d, k, err
	}
	d.id, d.kind, d.public, d.norm = k.id, kindByte(k.kind), public == 1, normalize(d.name)
	for i := range f {
		d.facets[i] = s.intern(i, f[i])
	}
	for i := range lens {
		d.lens[i] = int32(min(lens[i], math.MaxInt32))
	}
	return d, k, nil
}

func capTF(n int64) uint8 { return uint8(min(n, 255)) }

// load reads the whole stored index within the caller's read snapshot.
func load(ctx context.Context, db querier) (*snapshot, error) {
	gen, err := readGen(ctx, db)
	if err != nil {
		return nil, err
	}
	s := newSnapshot(gen)
	rows, err := db.Query(ctx, `SELECT `+docColumns+` FROM search_docs ORDER BY kind, id`)
	if err != nil {
		return nil, fmt.Errorf("search load documents: %w", err)
	}
	for rows.Next() {
		d, k, err := s.scanDoc(rows.Scan)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("search load documents: %w", err)
		}
		s.add(d, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search load documents: %w", err)
	}
	rows, err = db.Query(ctx, `SELECT term, kind, doc_id, tf_name, tf_cols, tf_desc FROM search_postings ORDER BY term, kind, doc_id`)
	if err != nil {
		return nil, fmt.Errorf("search load postings: %w", err)
	}
	defer rows.Close()
	var (
		term       sql.RawBytes
		kind       sql.RawBytes
		id         int64
		tn, tc, td int64
		last       string
		list       []entry
	)
	flush := func() {
		if len(list) > 0 {
			s.terms[last] = slices.Clip(list)
		}
	}
	for rows.Next() {
		if err := rows.Scan(&term, &kind, &id, &tn, &tc, &td); err != nil {
			return nil, fmt.Errorf("search load postings: %w", err)
		}
		i, ok := s.at[docKey{string(kind), id}]
		if !ok {
			continue // cannot happen within one snapshot; skipped all the same
		}
		if string(term) != last {
			flush()
			last, list = string(term), s.terms[string(term)]
		}
		list = append(list, entry{i, capTF(tn), capTF(tc), capTF(td)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search load postings: %w", err)
	}
	flush()
	// Entries must be in document order for the intersection; a store
	// whose collation orders kinds differently is put right here.
	for t, l := range s.terms {
		if !slices.IsSortedFunc(l, func(a, b entry) int { return int(a.doc - b.doc) }) {
			slices.SortFunc(l, func(a, b entry) int { return int(a.doc - b.doc) })
			s.terms[t] = l
		}
	}
	return s, nil
}

// catchUp reloads the documents changed in generations after the
// snapshot's, up to the generation the caller's read snapshot holds.
func (s *snapshot) catchUp(ctx context.Context, db querier, slack int) error {
	gen, err := readGen(ctx, db)
	if err != nil {
		return err
	}
	rows, err := db.Query(ctx, `SELECT DISTINCT kind, doc_id FROM search_changes WHERE gen > ? AND gen <= ?`, s.gen, gen)
	if err != nil {
		return fmt.Errorf("search changes: %w", err)
	}
	var keys []docKey
	for rows.Next() {
		var k docKey
		if err := rows.Scan(&k.kind, &k.id); err != nil {
			rows.Close()
			return fmt.Errorf("search changes: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("search changes: %w", err)
	}
	if len(keys) > s.live/4+slack {
		return errReload
	}
	for _, k := range keys {
		if err := s.reloadDoc(ctx, db, k); err != nil {
			return err
		}
	}
	s.gen = gen
	if s.dead > s.live/8+slack {
		s.compact()
	}
	return nil
}

// reloadDoc replaces one document by what the store holds now: gone if it
// was removed.
func (s *snapshot) reloadDoc(ctx context.Context, db querier, k docKey) error {
	s.kill(k)
	d, _, err := s.scanDoc(db.QueryRow(ctx, `SELECT `+docColumns+` FROM search_docs WHERE kind = ? AND id = ?`, k.kind, k.id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("search reload %s %d: %w", k.kind, k.id, err)
	}
	i := s.add(d, k)
	rows, err := db.Query(ctx, `SELECT term, tf_name, tf_cols, tf_desc FROM search_postings WHERE kind = ? AND doc_id = ?`, k.kind, k.id)
	if err != nil {
		return fmt.Errorf("search reload %s %d postings: %w", k.kind, k.id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var tn, tc, td int64
		if err := rows.Scan(&t, &tn, &tc, &td); err != nil {
			return fmt.Errorf("search reload %s %d postings: %w", k.kind, k.id, err)
		}
		s.post(t, entry{i, capTF(tn), capTF(tc), capTF(td)})
	}
	return rows.Err()
}

// Search runs a query: one ranked page with its total and facet counts.
func (r *Reader) Search(ctx context.Context, q Query) (Result, error) {
	start := time.Now()
	if err := q.check(); err != nil {
		return Result{}, err
	}
	s, release, err := r.current(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("search %q: %w", q.Text, err)
	}
	defer release()
	f := s.newFilter(q.Filters)
	var res Result
	if terms := queryTerms(q.Text); len(terms) == 0 {
		res = s.browse(q, f)
	} else {
		res = s.match(q, terms, f)
	}
	res.Took = time.Since(start)
	return res, nil
}

func (s *snapshot) inScope(d *doc, q *Query) bool {
	if d.dead || (!q.IncludePrivate && !d.public) {
		return false
	}
	return q.Kind == "" || kindName(d.kind) == q.Kind
}

func (s *snapshot) hit(i int32, score float64) Hit {
	d := &s.docs[i]
	return Hit{ID: d.id, Code: d.code, Kind: kindName(d.kind), Name: d.name, Score: score}
}

// browse answers a query without terms: every document in scope, newest
// first.
func (s *snapshot) browse(q Query, f *filter) Result {
	c := s.newCounts()
	res := Result{Hits: []Hit{}}
	for _, i := range s.browseOrder() {
		d := &s.docs[i]
		if !s.inScope(d, &q) || !f.count(c, &d.facets) {
			continue
		}
		if res.Total >= q.Offset && res.Total < q.Offset+q.Limit {
			res.Hits = append(res.Hits, s.hit(i, 0))
		}
		res.Total++
	}
	res.Facets = s.list(c)
	return res
}

// scored is a matching document with its score.
type scored struct {
	doc   int32
	score float64
}

// match finds the documents holding every term, scores them with BM25
// over the three fields plus the name boosts, counts facets, and keeps
// only the requested page in order.
func (s *snapshot) match(q Query, terms []string, f *filter) Result {
	lists := make([][]entry, len(terms))
	for i, t := range terms {
		lists[i] = s.terms[t]
		if len(lists[i]) == 0 {
			return Result{Hits: []Hit{}, Facets: s.list(s.newCounts())}
		}
	}
	// The shortest list drives the intersection.
	sort.SliceStable(lists, func(a, b int) bool { return len(lists[a]) < len(lists[b]) })
	n := float64(max(s.live, 1))
	idf := make([]float64, len(lists))
	for i, l := range lists {
		df := float64(s.df(l))
		idf[i] = math.Log(1 + (n-df+0.5)/(df+0.5))
	}
	norm := normalize(q.Text)
	c := s.newCounts()
	top := newTopK(q.Offset+q.Limit, s)
	total := 0
	pos := make([]int, len(lists))
	at := make([]entry, len(lists))
outer:
	for _, e0 := range lists[0] {
		d := &s.docs[e0.doc]
		if !s.inScope(d, &q) {
			continue
		}
		at[0] = e0
		for i := 1; i < len(lists); i++ {
			p := seek(lists[i], pos[i], e0.doc)
			pos[i] = p
			if p == len(lists[i]) {
				break outer
			}
			if lists[i][p].doc != e0.doc {
				continue outer
			}
			at[i] = lists[i][p]
		}
		if !f.count(c, &d.facets) {
			continue
		}
		score := 0.0
		inName := true
		for i, e := range at {
			if e.tn == 0 {
				inName = false
			}
			score += idf[i] * (wName*bm25(int(e.tn), int(d.lens[0]), avgName) +
				wCols*bm25(int(e.tc), int(d.lens[1]), avgCols) + wDesc*bm25(int(e.td), int(d.lens[2]), avgDesc))
		}
		if inName {
			score += boostAll
			if d.norm == norm {
				score += boostExact
			} else if strings.HasPrefix(d.norm, norm) {
				score += boostPref
			}
		}
		total++
		top.push(scored{e0.doc, math.Round(score*1e4) / 1e4})
	}
	res := Result{Total: total, Hits: []Hit{}, Facets: s.list(c)}
	for _, h := range top.sorted()[min(q.Offset, top.len()):] {
		res.Hits = append(res.Hits, s.hit(h.doc, h.score))
	}
	return res
}

// df is how many live documents hold a term: its list's length, less
// the dead entries a snapshot carries until its next compaction, so the
// ranking is the same as from a freshly loaded copy.
func (s *snapshot) df(l []entry) int {
	if s.dead == 0 {
		return len(l)
	}
	n := 0
	for _, e := range l {
		if !s.docs[e.doc].dead {
			n++
		}
	}
	return n
}

// seek returns the first position at or after from whose document is at
// least doc, galloping so a short list against a long one costs a
// logarithm per step rather than a walk.
func seek(l []entry, from int, doc int32) int {
	if from >= len(l) || l[from].doc >= doc {
		return from
	}
	step := 1
	lo, hi := from, from+1
	for hi < len(l) && l[hi].doc < doc {
		lo = hi
		step *= 2
		hi = from + step
	}
	hi = min(hi, len(l))
	return lo + 1 + sort.Search(hi-lo-1, func(i int) bool { return l[lo+1+i].doc >= doc })
}

// topK keeps the k best results seen, as a heap whose root is the worst.
type topK struct {
	k int
	s *snapshot
	h []scored
}

func newTopK(k int, s *snapshot) *topK { return &topK{k: k, s: s} }

func (t *topK) len() int { return len(t.h) }

// worse reports whether a ranks after b.
func (t *topK) worse(a, b scored) bool { return t.s.before(b.doc, a.doc, b.score, a.score) }

func (t *topK) push(x scored) {
	if t.k <= 0 {
		return
	}
	if len(t.h) < t.k {
		t.h = append(t.h, x)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if !t.worse(t.h[i], t.h[p]) {
				break
			}
			t.h[i], t.h[p] = t.h[p], t.h[i]
			i = p
		}
		return
	}
	if !t.worse(t.h[0], x) {
		return
	}
	t.h[0] = x
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(t.h) && t.worse(t.h[l], t.h[m]) {
			m = l
		}
		if r < len(t.h) && t.worse(t.h[r], t.h[m]) {
			m = r
		}
		if m == i {
			break
		}
		t.h[i], t.h[m] = t.h[m], t.h[i]
		i = m
	}
}

func (t *topK) sorted() []scored {
	out := slices.Clone(t.h)
	sort.Slice(out, func(a, b int) bool { return t.s.before(out[a].doc, out[b].doc, out[a].score, out[b].score) })
	return out
}

// filter holds a query's facet filters as allowed interned values; a
// value the index has never seen allows nothing.
type filter struct {
	allowed [len(FacetKeys)][]bool
}

func (s *snapshot) newFilter(fs map[string][]string) *filter {
	f := &filter{}
	for k, vs := range fs {
		if len(vs) == 0 {
			continue
		}
		i := facetIndex(k)
		m := make([]bool, len(s.values[i]))
		for _, v := range vs {
			if id, ok := s.valueID[i][v]; ok {
				m[id] = true
			}
		}
		f.allowed[i] = m
	}
	return f
}

type counts [len(FacetKeys)][]int

func (s *snapshot) newCounts() counts {
	var c counts
	for i := range c {
		c[i] = make([]int, len(s.values[i]))
	}
	return c
}

// count adds a matching document to the facet counts with the usual
// semantics (a facet counts the documents passing every other facet's
// filter) and reports whether it passes all filters.
func (f *filter) count(c counts, vals *[len(FacetKeys)]int32) bool {
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
	for i, v := range vals {
		c[i][v]++
	}
	return true
}

// list orders each facet's values by count, then value; the empty value
// (a document without that facet) is left out.
func (s *snapshot) list(c counts) map[string][]FacetCount {
	out := make(map[string][]FacetCount, len(FacetKeys))
	for i, k := range FacetKeys {
		l := []FacetCount{}
		for id, n := range c[i] {
			if v := s.values[i][id]; v != "" && n > 0 {
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
