package web

import (
	"net/http"
	"strconv"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/dcat"
	"github.com/gongshu/gongshu/internal/registry"
)

// The catalog as DCAT 3 JSON-LD, for harvesters (data.gov-style portals,
// CKAN's DCAT harvester): metadata only, distributions point at the
// resource pages, never at data.

func (s *Server) baseURL(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

func (s *Server) dataset(base string, it registry.Item) (dcat.Dataset, error) {
	f, err := it.Resource()
	if err != nil {
		return dcat.Dataset{}, err
	}
	page := base + "/catalog/" + strconv.FormatInt(it.ID, 10)
	d := dcat.Dataset{IRI: base + "/registry/" + it.Code, Identifier: it.Code, Title: it.Name, Description: f.Description,
		Publisher: it.HolderName, PublisherIRI: base + "/api/v1/organizations/" + strconv.FormatInt(it.HolderOrgID, 10),
		Theme: f.Domain, Keywords: []string{s.cat.T("zh-CN", "registry.domain."+f.Domain, nil), f.Classification},
		Modified: it.UpdatedAt, AccrualPeriodicity: f.Frequency, Spatial: it.Region, AccessRights: f.AccessMethod,
		ConformsTo: f.Standards, LandingPage: page, Version: strconv.Itoa(it.LiveVersion),
		Distributions: []dcat.Distribution{{Title: it.Name, AccessURL: page, MediaType: "text/html"}}}
	if it.RegisteredAt != nil {
		d.Issued = *it.RegisteredAt
	}
	for _, c := range f.Items {
		d.Columns = append(d.Columns, dcat.Column{Name: c.Name, Title: c.Label})
	}
	return d, nil
}

// apiCatalogJSONLD streams the whole catalog a page of resources at a time.
func (s *Server) apiCatalogJSONLD(w http.ResponseWriter, r *http.Request) {
	base := s.baseURL(r)
	var page []registry.Item
	var after int64
	done := false
	next := func() (dcat.Dataset, bool, error) {
		if len(page) == 0 && !done {
			var err error
			if page, err = s.reg.PublicAfter(r.Context(), after, 500); err != nil {
				return dcat.Dataset{}, false, err
			}
			done = len(page) < 500
		}
		if len(page) == 0 {
			return dcat.Dataset{}, false, nil
		}
		it := page[0]
		page, after = page[1:], it.ID
		d, err := s.dataset(base, it)
		return d, err == nil, err
	}
	w.Header().Set("Content-Type", "application/ld+json")
	c := dcat.Catalog{IRI: base + "/catalog", Title: s.cat.T("zh-CN", "catalog.heading", nil), Description: s.cat.T("zh-CN", "catalog.intro", nil),
		Publisher: s.cat.T("zh-CN", "brand.name", nil), Homepage: base + "/", Modified: s.now()}
	if err := dcat.WriteCatalog(w, c, next); err != nil {
		// Headers are gone; the truncated document fails any parser.
		s.logger.Error("dcat export", "err", err)
	}
}

func (s *Server) apiCatalogDataset(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, err := s.reg.PublicAfter(r.Context(), id-1, 1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(items) == 0 || items[0].ID != id {
		s.fail(w, r, apperr.New(apperr.NotFound, "registry.not_found", "id", strconv.FormatInt(id, 10)))
		return
	}
	d, err := s.dataset(s.baseURL(r), items[0])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/ld+json")
	_ = dcat.WriteDataset(w, d)
}
