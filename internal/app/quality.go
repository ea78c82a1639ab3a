package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/governance"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/quality"
	"github.com/gongshu/gongshu/internal/registry"
	"github.com/gongshu/gongshu/internal/supply"
)

// qualityDomain lets the quality rules read the domain's tables through
// the engine: the platform's own checks, not an operator's queries.
type qualityDomain struct{ eng *engine.Engine }

func (d qualityDomain) Dialect() quality.Dialect {
	if d.eng.Kind() == engine.Postgres {
		return quality.Postgres
	}
	return quality.DuckDB
}

func (d qualityDomain) Table(name string) string { return d.eng.Qualified(name) }

func (d qualityDomain) Columns(ctx context.Context, table string) ([]quality.Column, error) {
	s, err := d.eng.TableSchema(ctx, table)
	if err != nil {
		return nil, err
	}
	out := make([]quality.Column, 0, len(s.Columns))
	for _, c := range s.Columns {
		out = append(out, quality.Column{Name: c.Name, Type: c.Type})
	}
	return out, nil
}

func (d qualityDomain) Query(ctx context.Context, q string, each func(scan func(...any) error) error) error {
	return d.eng.Query(ctx, q, each)
}

// qualityResources gives the rules a resource's facts and its newest data.
type qualityResources struct {
	reg *registry.Service
	sup *supply.Service
}

func (r qualityResources) Resource(ctx context.Context, id int64) (quality.Resource, error) {
	it, err := r.reg.GetAsSystem(ctx, id)
	if err != nil {
		return quality.Resource{}, err
	}
	if it.Kind != registry.KindResource {
		return quality.Resource{}, registry.ErrNotResource(id)
	}
	f, err := it.Resource()
	if err != nil {
		return quality.Resource{}, err
	}
	return quality.Resource{ID: it.ID, Code: it.Code, HolderOrgID: it.HolderOrgID, Region: it.Region, Frequency: f.Frequency}, nil
}

func (r qualityResources) Latest(ctx context.Context, id int64) (quality.Target, error) {
	v, err := r.sup.Latest(ctx, id)
	if err != nil {
		return quality.Target{}, err
	}
	return quality.Target{Table: v.Table, Version: v.Version, LoadedAt: v.LoadedAt}, nil
}

// governanceResources gives governance a resource's facts.
type governanceResources struct{ reg *registry.Service }

func (r governanceResources) Resource(ctx context.Context, id int64) (governance.Resource, error) {
	it, err := r.reg.GetAsSystem(ctx, id)
	if err != nil {
		return governance.Resource{}, err
	}
	if it.Kind != registry.KindResource {
		return governance.Resource{}, registry.ErrNotResource(id)
	}
	f, err := it.Resource()
	if err != nil {
		return governance.Resource{}, err
	}
	out := governance.Resource{ID: it.ID, Code: it.Code, Name: it.Name, HolderOrgID: it.HolderOrgID, Region: it.Region,
		Grade: f.Grade, Frequency: f.Frequency, Public: it.Public()}
	if s := f.SharedOrigin; s != nil {
		out.Shared = &governance.SharedOrigin{Provider: s.ProviderName, Region: s.ProviderRegion}
	}
	return out, nil
}

// runQuality checks a resource's newest data against its rules, if it has
// any, as the system or as p.
func runQuality(ctx context.Context, q *quality.Service, logger *slog.Logger, p identity.Principal, id int64, t quality.Target, trigger quality.Trigger) {
	if _, err := q.Rules(ctx, id); err != nil {
		if !errors.Is(err, quality.ErrNoRules) {
			logger.Warn("quality rules", "resource", id, "err", err)
		}
		return
	}
	run, err := q.Run(ctx, p, id, t, trigger)
	if err != nil {
		if e, ok := apperr.As(err); !ok || e.Code == apperr.Internal {
			logger.Warn("quality run", "resource", id, "err", err)
		}
		return
	}
	logger.Info("quality run", "resource", id, "table", t.Table, "score", run.Score, "trigger", trigger)
}
