package search

import (
	"context"
	"strings"

	"github.com/gongshu/gongshu/internal/store"
)

// browse answers a query without terms: every document in scope, newest
// first. Facets no other filter narrows come from the counts kept at index
// time; the rest are grouped over the documents the other filters select,
// through the facet columns' indexes.
func browse(ctx context.Context, db *store.DB, q Query) (Result, error) {
	f := newFilter(q.Filters)
	active := 0
	for _, m := range f.allowed {
		if m != nil {
			active++
		}
	}
	where := func(skip int) (string, []any) {
		w, args := q.scope("")
		parts := []string{}
		if w != "" {
			parts = append(parts, w)
		}
		for i, m := range f.allowed {
			if m == nil || i == skip {
				continue
			}
			ph := make([]string, 0, len(m))
			for v := range m {
				ph = append(ph, "?")
				args = append(args, v)
			}
			parts = append(parts, FacetKeys[i]+" IN ("+strings.Join(ph, ", ")+")")
		}
		if len(parts) == 0 {
			return "", args
		}
		return " WHERE " + strings.Join(parts, " AND "), args
	}

	res := Result{Hits: []Hit{}}
	kept, err := keptCounts(ctx, db, q)
	if err != nil {
		return Result{}, err
	}
	if active == 1 {
		return browseOne(ctx, db, q, f, kept)
	}
	counts := newCounts()
	for i := range FacetKeys {
		others := active
		if f.allowed[i] != nil {
			others--
		}
		if others == 0 {
			counts[i] = kept[i]
			continue
		}
		w, args := where(i)
		rows, err := db.Query(ctx, `SELECT `+FacetKeys[i]+`, COUNT(*) FROM search_docs`+w+` GROUP BY `+FacetKeys[i], args...)
		if err != nil {
			return Result{}, err
		}
		for rows.Next() {
			var v string
			var n int
			if err := rows.Scan(&v, &n); err != nil {
				rows.Close()
				return Result{}, err
			}
			counts[i][v] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Result{}, err
		}
	}
	res.Facets = counts.list()

	w, args := where(-1)
	if active == 0 {
		for _, n := range kept[0] {
			res.Total += n
		}
	} else if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM search_docs`+w, args...).Scan(&res.Total); err != nil {
		return Result{}, err
	}
	rows, err := db.Query(ctx, `SELECT kind, id, code, name FROM search_docs`+w+
		` ORDER BY updated_at DESC, kind, id DESC LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return Result{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var h Hit
		if err := rows.Scan(&h.Kind, &h.ID, &h.Code, &h.Name); err != nil {
			return Result{}, err
		}
		res.Hits = append(res.Hits, h)
	}
	return res, rows.Err()
}

// keptCounts sums the facet counts kept at index time over the query's
// scope (kind, public).
func keptCounts(ctx context.Context, db *store.DB, q Query) (counts, error) {
	c := newCounts()
	w, args := q.scope("")
	if w != "" {
		w = " WHERE " + w
	}
	rows, err := db.Query(ctx, `SELECT facet, value, SUM(n) FROM search_facets`+w+` GROUP BY facet, value`, args...)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		var n int
		if err := rows.Scan(&k, &v, &n); err != nil {
			return c, err
		}
		c[facetIndex(k)][v] = n
	}
	return c, rows.Err()
}

// browseOne answers a browse with one facet filtered, the portal's common
// case, in one read: that facet's counts are the kept ones, the others are
// counted over the documents the filter selects.
func browseOne(ctx context.Context, db *store.DB, q Query, f *filter, kept counts) (Result, error) {
	w, args := q.scope("")
	parts := []string{}
	if w != "" {
		parts = append(parts, w)
	}
	which := 0
	for i, m := range f.allowed {
		if m == nil {
			continue
		}
		which = i
		ph := make([]string, 0, len(m))
		for v := range m {
			ph = append(ph, "?")
			args = append(args, v)
		}
		parts = append(parts, FacetKeys[i]+" IN ("+strings.Join(ph, ", ")+")")
	}
	rows, err := db.Query(ctx, `SELECT kind, id, updated_at, department, domain, grade, region, frequency
		FROM search_docs WHERE `+strings.Join(parts, " AND "), args...)
	if err != nil {
		return Result{}, err
	}
	defer rows.Close()
	c := newCounts()
	c[which] = kept[which]
	var cands []candidate
	var x candidate
	for rows.Next() {
		if err := rows.Scan(&x.hit.Kind, &x.hit.ID, &x.updated, &x.facets[0], &x.facets[1], &x.facets[2], &x.facets[3], &x.facets[4]); err != nil {
			return Result{}, err
		}
		for i := range x.facets {
			if i != which {
				c[i][x.facets[i]]++
			}
		}
		cands = append(cands, x)
	}
	if err := rows.Err(); err != nil {
		return Result{}, err
	}
	rows.Close()
	sortCandidates(cands)
	res := Result{Total: len(cands), Hits: []Hit{}, Facets: c.list()}
	page := cands[min(q.Offset, len(cands)):min(q.Offset+q.Limit, len(cands))]
	if err := names(ctx, db, page); err != nil {
		return Result{}, err
	}
	for _, p := range page {
		res.Hits = append(res.Hits, p.hit)
	}
	return res, nil
}
