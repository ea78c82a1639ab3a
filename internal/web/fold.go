package web

import (
	"context"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
)

// Refusals of requests that carry no valid credential (a bogus bearer
// token, a form without its CSRF token, an anonymous change) are audited
// like every refusal, but an anonymous caller must not be able to grow
// the permanent log at the speed of its requests (finding 4 of issue 15:
// 7,900 entries a second). Within each interval, each source has its
// first refusals recorded one by one, up to a number per source and a
// number for all sources together; the rest are counted, exactly, and
// recorded as one summarizing entry per source when the interval ends:
// nothing is dropped, and the log grows by at most
// FoldGlobal + FoldSources + 1 entries per interval however many anonymous
// requests arrive. Sources beyond FoldSources share one summary ("other").

// FoldAction is the audit action of a summarizing entry.
const FoldAction = "auth.refusals_folded"

// foldDefaults: a minute, five entries per source, a hundred for all
// sources, a thousand sources tracked.
const (
	defaultFoldInterval  = time.Minute
	defaultFoldPerSource = 5
	defaultFoldGlobal    = 100
	defaultFoldSources   = 1000
)

type refusalFolds struct {
	interval   time.Duration
	perSource  int
	global     int
	maxSources int

	mu       sync.Mutex
	window   time.Time // start of the current interval
	admitted int       // refusals recorded one by one this interval
	heard    map[string]int
	folded   map[string]*foldCount
}

// foldCount is what a summary says about one source in one interval.
type foldCount struct {
	source      string
	count       int64
	first, last time.Time
	reasons     map[string]int64
	routes      map[string]int64
	from, to    time.Time
}

func newRefusalFolds(interval time.Duration, perSource, global, sources int) *refusalFolds {
	if interval <= 0 {
		interval = defaultFoldInterval
	}
	if perSource <= 0 {
		perSource = defaultFoldPerSource
	}
	if global <= 0 {
		global = defaultFoldGlobal
	}
	if sources <= 0 {
		sources = defaultFoldSources
	}
	return &refusalFolds{interval: interval, perSource: perSource, global: global, maxSources: sources,
		heard: map[string]int{}, folded: map[string]*foldCount{}}
}

// otherSources names the summary of the sources beyond the tracked ones.
const otherSources = "other"

// admit says whether a refusal from source at now is to be recorded on
// its own; if not, it has been counted. It also returns the summaries of
// intervals that ended, for the caller to record.
func (f *refusalFolds) admit(source, reason, route string, now time.Time) (bool, []*foldCount) {
	f.mu.Lock()
	defer f.mu.Unlock()
	due := f.rollover(now, false)
	_, known := f.heard[source]
	if f.heard[source] < f.perSource && f.admitted < f.global && (known || len(f.heard) < f.maxSources) {
		f.heard[source]++
		f.admitted++
		return true, due
	}
	key := source
	if _, ok := f.folded[key]; !ok && len(f.folded) >= f.maxSources {
		key = otherSources
	}
	c := f.folded[key]
	if c == nil {
		c = &foldCount{source: key, first: now, reasons: map[string]int64{}, routes: map[string]int64{}}
		f.folded[key] = c
	}
	c.count++
	c.last = now
	c.reasons[reason]++
	c.routes[route]++
	return false, due
}

// rollover ends the current interval when now is past it (or always when
// all is set) and returns its summaries, oldest source first.
func (f *refusalFolds) rollover(now time.Time, all bool) []*foldCount {
	if f.window.IsZero() {
		f.window = now.Truncate(f.interval)
	}
	end := f.window.Add(f.interval)
	if !all && now.Before(end) {
		return nil
	}
	var due []*foldCount
	for _, c := range f.folded {
		c.from, c.to = f.window, end
		due = append(due, c)
	}
	sort.Slice(due, func(i, j int) bool { return due[i].first.Before(due[j].first) })
	f.window = now.Truncate(f.interval)
	f.admitted = 0
	f.heard = map[string]int{}
	f.folded = map[string]*foldCount{}
	return due
}

// entry is the summarizing audit entry of c.
func (c *foldCount) entry() audit.Entry {
	e := audit.Entry{Actor: audit.Anonymous(""), Action: FoldAction, ObjectType: "source", ObjectID: c.source,
		Outcome: audit.Refused, Reason: "web.refusals_folded", At: c.last}
	if c.source != otherSources {
		e.RemoteAddr = c.source
	}
	e.Set("count", c.count)
	e.Set("interval_from", c.from.UTC().Format(time.RFC3339))
	e.Set("interval_to", c.to.UTC().Format(time.RFC3339))
	e.Set("first_at", c.first.UTC().Format(time.RFC3339Nano))
	e.Set("last_at", c.last.UTC().Format(time.RFC3339Nano))
	e.Set("reasons", c.reasons)
	e.Set("routes", c.routes)
	return e
}

// recordFolds writes summaries; a summary that cannot be written is
// logged with its count, so that it is not lost without a trace.
func (s *Server) recordFolds(ctx context.Context, due []*foldCount) error {
	var first error
	for _, c := range due {
		if err := s.audit.Record(context.WithoutCancel(ctx), c.entry()); err != nil {
			s.logger.Error("audit: summary of folded refusals not written", "source", c.source, "count", c.count, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// FlushRefusals records the summaries of intervals that have ended by now,
// or of the current one too when all is set (at shutdown). The server
// calls it on its own as refusals arrive; the process calls it on a
// ticker so that a flood that stopped is summarized in time.
func (s *Server) FlushRefusals(ctx context.Context, all bool) error {
	s.folds.mu.Lock()
	due := s.folds.rollover(s.now(), all)
	s.folds.mu.Unlock()
	return s.recordFolds(ctx, due)
}

// FoldInterval is how often FlushRefusals should run.
func (s *Server) FoldInterval() time.Duration { return s.folds.interval }

// sourceOf is what refusals are counted by: the caller's address, an
// IPv6 address by its /64.
func sourceOf(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}
