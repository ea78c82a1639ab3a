package app

import (
	"context"
	"time"
)

// watch runs every interval: it records the summaries of anonymous
// refusals folded in the interval that ended (internal/web), deletes
// staged uploads nobody confirmed in time, and raises
// the audit-growth alarm when the log grew faster than AuditAlarmRate
// entries a minute since the last look (issue 15: an anonymous flood once
// wrote 7,900 entries a second).
func (a *App) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	lastID, lastAt := a.lastEntryID(ctx), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.Web.FlushRefusals(ctx, false); err != nil {
			a.logger.Error("audit: folded refusals", "err", err)
		}
		a.Web.SweepStaged()
		id, at := a.lastEntryID(ctx), time.Now()
		if id == 0 || at.Sub(lastAt) <= 0 {
			continue
		}
		perMinute := float64(id-lastID) / at.Sub(lastAt).Minutes()
		alarm := a.auditAlarmRate > 0 && perMinute > float64(a.auditAlarmRate)
		a.Web.SetAuditGrowth(perMinute, alarm)
		if alarm {
			a.logger.Error("AUDIT LOG GROWING FAST: more entries a minute than --audit-alarm-rate",
				"entries_per_minute", int64(perMinute), "alarm_rate", a.auditAlarmRate)
		}
		lastID, lastAt = id, at
	}
}

// lastEntryID is the newest audit entry's ID (0 when unknown): cheaper
// than counting the entries.
func (a *App) lastEntryID(ctx context.Context) int64 {
	var id int64
	if err := a.DB.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM audit_entries").Scan(&id); err != nil {
		a.logger.Warn("audit growth", "err", err)
		return 0
	}
	return id
}
