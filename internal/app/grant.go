package app

import (
	"context"

	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/registry"
	"github.com/gongshu/gongshu/internal/store"
)

// grantResources gives the authorization service a resource's facts.
type grantResources struct{ reg *registry.Service }

func (r grantResources) Resource(ctx context.Context, id int64) (grant.ResourceFacts, error) {
	it, err := r.reg.GetAsSystem(ctx, id)
	if err != nil {
		return grant.ResourceFacts{}, err
	}
	if it.Kind != registry.KindResource {
		return grant.ResourceFacts{}, registry.ErrNotResource(id)
	}
	f, err := it.Resource()
	if err != nil {
		return grant.ResourceFacts{}, err
	}
	return grant.ResourceFacts{ID: it.ID, Code: it.Code, Name: it.Name, Grade: f.Grade, Domain: f.Domain, HolderOrgID: it.HolderOrgID,
		Region: it.Region, Status: string(it.Status), Registered: it.LiveVersion > 0 && it.Status != registry.Cancelled}, nil
}

// orgRevoker ends an operator's sessions and tokens when an agreement of
// its stops, in the same transaction as the state change.
type orgRevoker struct{ ids *identity.Service }

func (o orgRevoker) RevokeAgreement(ctx context.Context, tx *store.Tx, operatorOrgID, agreementID int64) error {
	_, _, err := o.ids.RevokeOrgAccess(ctx, tx, operatorOrgID)
	return err
}
