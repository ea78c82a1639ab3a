// Package search owns the public catalog's full-text search: an inverted
// index of the catalog's documents (names, descriptions, column names)
// kept in the control-plane store beside the registry, written in the
// registry's own transaction, and the faceted queries over it. Chinese text
// is indexed as character bigrams so a two-character query such as 社保
// finds what it should without a dictionary. Queries are answered from an
// in-memory copy of the stored index (Reader) that checks the store's
// generation on every query and reloads what changed, so what it returns is
// what the database holds, on any number of web nodes, without a search
// server. It never sees the data a resource describes.
package search

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
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
