package app

import (
	"context"
	"time"

	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/quality"
)

// sweep runs the periodic duties: quality rules that are due, overdue
// objections escalated. Each is idempotent, so every node may run it.
func (a *App) sweep(ctx context.Context) {
	if a.Quality != nil {
		ids, err := a.Quality.Due(ctx, time.Now())
		if err != nil {
			a.logger.Warn("quality due", "err", err)
		}
		res := qualityResources{a.Registry, a.Supply}
		for _, id := range ids {
			t, err := res.Latest(ctx, id)
			if err != nil {
				continue
			}
			runQuality(ctx, a.Quality, a.logger, identity.Principal{}, id, t, quality.TriggerSchedule)
		}
	}
	if a.Grant != nil {
		res, err := a.Grant.Sweep(ctx, time.Now())
		if err != nil {
			a.logger.Warn("agreement sweep", "err", err)
		} else if len(res.Expired) > 0 {
			a.logger.Info("agreements expired", "ids", res.Expired)
		}
	}
	if a.Governance != nil {
		cs, err := a.Governance.Escalate(ctx)
		if err != nil {
			a.logger.Warn("escalate cases", "err", err)
		}
		for _, c := range cs {
			a.logger.Warn("case overdue, escalated to the authority", "ref", c.Ref, "resource", c.ResourceRef, "due", c.DueOn.Format(time.DateOnly))
		}
	}
}
