package web

import (
	"context"
	"github.com/gongshu/gongshu/internal/quality"
	"github.com/gongshu/gongshu/internal/supply"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/registry"
	"github.com/gongshu/gongshu/internal/search"
)

// Searcher runs the catalog's text queries on the search index: a ranked
// page with its total and facet counts.
type Searcher interface {
	Search(ctx context.Context, q search.Query) (search.Result, error)
}

const maxQuery = 200

type catalogQuery struct {
	Text    string
	Kind    registry.Kind
	Filters map[string][]string
	Page    int
}

func parseCatalogQuery(r *http.Request) (catalogQuery, error) {
	v := r.URL.Query()
	q := catalogQuery{Text: strings.TrimSpace(v.Get("q")), Kind: registry.Kind(v.Get("kind")), Filters: map[string][]string{}}
	if utf8.RuneCountInString(q.Text) > maxQuery {
		return q, apperr.New(apperr.Invalid, "registry.query_too_long", "max", strconv.Itoa(maxQuery)).OnField("q")
	}
	if q.Kind != "" && q.Kind != registry.KindResource && q.Kind != registry.KindProduct {
		return q, apperr.New(apperr.Invalid, "registry.field_choice", "field", "@registry.field.type", "value", string(q.Kind), "allowed", "resource, product").OnField("kind")
	}
	for _, f := range registry.Facets {
		if vals := v[f]; len(vals) > 0 {
			q.Filters[f] = vals
		}
	}
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 1000 {
			return q, apperr.New(apperr.Invalid, "web.bad_number", "name", "page", "value", p).OnField("page")
		}
		q.Page = n - 1
	}
	return q, nil
}

const catalogPage = 20

// browse runs a catalog query: facet browsing from the registry, text
// queries from the search index.
func (s *Server) browse(ctx context.Context, q catalogQuery) (registry.BrowseResult, error) {
	if q.Text != "" {
		return s.searchIndex(ctx, q)
	}
	return s.reg.Browse(ctx, registry.BrowseQuery{Kind: q.Kind, Filters: q.Filters, Offset: q.Page * catalogPage, Limit: catalogPage})
}

// searchIndex answers a text query from the index in one call: the page's
// hits, the total and the facets all come from it, and only the page's
// items are read from the registry.
func (s *Server) searchIndex(ctx context.Context, q catalogQuery) (registry.BrowseResult, error) {
	kind := q.Kind
	if kind == "" {
		kind = registry.KindResource
	}
	sr, err := s.search.Search(ctx, search.Query{Text: q.Text, Filters: q.Filters, Kind: string(kind), Offset: q.Page * catalogPage, Limit: catalogPage})
	if err != nil {
		return registry.BrowseResult{}, err
	}
	ids := make([]int64, len(sr.Hits))
	for i, h := range sr.Hits {
		ids[i] = h.ID
	}
	res := registry.BrowseResult{Total: sr.Total, Facets: map[string][]registry.FacetCount{}}
	if res.Items, err = s.reg.PublicItems(ctx, ids); err != nil {
		return res, err
	}
	// The department facet's values are organisation IDs: show their names.
	names := map[string]string{}
	if len(sr.Facets["department"]) > 0 {
		orgs, err := s.ids.Orgs(ctx, identity.OrgFilter{})
		if err != nil {
			return res, err
		}
		for _, o := range orgs {
			names[strconv.FormatInt(o.ID, 10)] = o.Name
		}
	}
	for f, counts := range sr.Facets {
		for _, c := range counts {
			fc := registry.FacetCount{Value: c.Value, Count: c.Count}
			if f == "department" {
				fc.Label = names[c.Value]
			}
			res.Facets[f] = append(res.Facets[f], fc)
		}
	}
	return res, nil
}

type catalogData struct {
	Query  catalogQuery
	Result registry.BrowseResult
	Facets []string
	Pages  []int
	Link   func(facet, value string) string
}

func (q catalogQuery) with(facet, value string) string {
	v := url.Values{}
	if q.Text != "" {
		v.Set("q", q.Text)
	}
	for f, vals := range q.Filters {
		for _, x := range vals {
			if !(f == facet && x == value) {
				v.Add(f, x)
			}
		}
	}
	if facet != "" && !slices.Contains(q.Filters[facet], value) {
		v.Add(facet, value)
	}
	return "/catalog?" + v.Encode()
}

// catalogPageHandler is the public catalog: browse and search without login.
func (s *Server) catalogPageHandler(w http.ResponseWriter, r *http.Request) {
	q, err := parseCatalogQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.browse(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := catalogData{Query: q, Result: res, Facets: registry.Facets, Link: q.with}
	for p := 1; p <= (res.Total+catalogPage-1)/catalogPage && p <= 50; p++ {
		d.Pages = append(d.Pages, p)
	}
	s.render(w, r, http.StatusOK, "catalog", d)
}

type catalogItemData struct {
	Item     registry.Item
	Resource *registry.ResourceForm
	Items    []registry.DataItem
	Versions []registry.Version
	// DataVersions are the loads of the resource's data: counts and
	// hashes, never values.
	DataVersions []supply.Version
	// Quality is the latest quality run: score, dimensions and per-rule
	// counts, never the failing values.
	Quality *quality.Run
}

func (s *Server) catalogItemPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	it, err := s.reg.Get(r.Context(), identity.Principal{}, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := catalogItemData{Item: it}
	if d.Resource, _, err = it.Forms(); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Items, err = s.reg.DataItems(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Versions, err = s.reg.PublicVersions(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.supply != nil && it.Kind == registry.KindResource {
		if d.DataVersions, err = s.supply.Versions(r.Context(), id); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if s.quality != nil {
		if run, err := s.quality.LatestScore(r.Context(), id); err == nil {
			d.Quality = &run
		} else if e, ok := apperr.As(err); !ok || e.Code != apperr.NotFound {
			s.fail(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "catalog_item", d)
}

// apiCatalogSearch is the catalog search as JSON (public).
func (s *Server) apiCatalogSearch(w http.ResponseWriter, r *http.Request) {
	q, err := parseCatalogQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.browse(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if res.Items == nil {
		res.Items = []registry.Item{}
	}
	for i := range res.Items {
		res.Items[i].Fields = nil
	}
	writeJSON(w, http.StatusOK, res)
}

// LoadLine is one background load shown on the dashboard.
type LoadLine struct {
	Title, State string
	Rows, Total  int64
}

// Percent is the share of rows generated.
func (l LoadLine) Percent() int64 {
	if l.Total == 0 {
		return 0
	}
	return 100 * l.Rows / l.Total
}

// ShowLoading makes the dashboard report background loads; call it before
// serving.
func (s *Server) ShowLoading(f func() []LoadLine) { s.cfg.Loading = f }

func (s *Server) loading() []LoadLine {
	if s.cfg.Loading == nil {
		return nil
	}
	return s.cfg.Loading()
}
