package app

import (
	"context"

	"github.com/gongshu/gongshu/internal/registry"
	"github.com/gongshu/gongshu/internal/supply"
)

// registryResources lets supply see registered resources: loading is for
// resources the registry knows, whatever their workflow state (a
// department loads while the registration is under review).
type registryResources struct{ reg *registry.Service }

func (r registryResources) Resource(ctx context.Context, id int64) (supply.ResourceRef, error) {
	// The registry's own read rules are for people; supply decides who may
	// load, so it reads as the platform.
	it, err := r.reg.GetAsSystem(ctx, id)
	if err != nil {
		return supply.ResourceRef{}, err
	}
	if it.Kind != registry.KindResource {
		return supply.ResourceRef{}, registry.ErrNotResource(id)
	}
	f, err := it.Resource()
	if err != nil {
		return supply.ResourceRef{}, err
	}
	return supply.ResourceRef{ID: it.ID, Code: it.Code, HolderOrgID: it.HolderOrgID, Region: it.Region, Grade: f.Grade, Name: it.Name}, nil
}
