package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/quality"
	"github.com/gongshu/gongshu/internal/registry"
)

// Data quality over HTTP: the holding department declares a resource's
// rules (the JSON of docs/quality-rules.md), runs them, follows the score
// over time and reads the failing-row samples, which nobody else sees;
// everyone sees the score and the per-rule counts on the public page.

// apiQualityScore is a resource's latest score with its per-rule counts
// and dimensions (public for public resources: counts only, no values).
func (s *Server) apiQualityScore(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := optionalPrincipal(r)
	if _, err := s.visibleResource(r.Context(), p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	run, err := s.quality.LatestScore(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (s *Server) apiQualityRules(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.visibleResource(r.Context(), *p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	set, err := s.quality.Rules(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, set)
}

func (s *Server) apiQualitySetRules(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		s.deny(w, r, quality.ActionSetRules, "resource", strconv.FormatInt(id, 10), apperr.New(apperr.Invalid, "web.body_too_large").Wrap(err))
		return
	}
	rs, err := quality.ParseRules(b)
	if err != nil {
		s.deny(w, r, quality.ActionSetRules, "resource", strconv.FormatInt(id, 10), err)
		return
	}
	set, err := s.quality.SetRules(r.Context(), *p, id, rs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, set)
}

func (s *Server) apiQualityRun(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.supply.Latest(r.Context(), id)
	if err != nil {
		s.deny(w, r, quality.ActionRun, "resource", strconv.FormatInt(id, 10), err)
		return
	}
	run, err := s.quality.Run(r.Context(), *p, id, quality.Target{Table: v.Table, Version: v.Version, LoadedAt: v.LoadedAt}, quality.TriggerManual)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, run)
}

func (s *Server) apiQualitySamples(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	samples, err := s.quality.Samples(r.Context(), *p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if samples == nil {
		samples = []quality.Sample{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"samples": samples})
}

func (s *Server) apiQualityDepartments(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ds, err := s.quality.DepartmentScores(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ds == nil {
		ds = []quality.DepartmentScore{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"departments": ds})
}

// Console.

type qualityPageData struct {
	Item      registry.Item
	CanManage bool
	Rules     string
	RulesMeta *quality.RuleSet
	Latest    *quality.Run
	Trend     []quality.Point
	Chart     trendChart
	Samples   []quality.Sample
	Error     string
	Problems  []string
}

func (s *Server) qualityPageData(r *http.Request, p *identity.Principal, id int64) (*qualityPageData, error) {
	ctx := r.Context()
	it, err := s.visibleResource(ctx, *p, id)
	if err != nil {
		return nil, err
	}
	d := &qualityPageData{Item: it, CanManage: s.quality.MayManage(ctx, *p, id)}
	if set, err := s.quality.Rules(ctx, id); err == nil {
		d.RulesMeta = &set
		b, _ := json.MarshalIndent(set.Rules, "", "  ")
		d.Rules = string(b)
	} else if e, ok := apperr.As(err); !ok || e.Code != apperr.NotFound {
		return nil, err
	}
	if run, err := s.quality.LatestScore(ctx, id); err == nil {
		d.Latest = &run
		// Samples are the holding department's and its region's agency's
		// only (agency-role users: the platform administrator reads no data).
		if s.quality.MaySeeSamples(ctx, *p, id) {
			if d.Samples, err = s.quality.Samples(ctx, *p, run.ID); err != nil {
				return nil, err
			}
		}
	} else if e, ok := apperr.As(err); !ok || e.Code != apperr.NotFound {
		return nil, err
	}
	if d.Trend, err = s.quality.Trend(ctx, id, 30); err != nil {
		return nil, err
	}
	d.Chart = newTrendChart(d.Trend)
	return d, nil
}

func (s *Server) qualityPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.qualityPageData(r, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "quality", d)
}

func (s *Server) qualityFormError(w http.ResponseWriter, r *http.Request, p *identity.Principal, id int64, err error, rules string) {
	code, msg, _ := s.message(r, err)
	if code != apperr.Invalid && code != apperr.Conflict && code != apperr.NotFound {
		s.fail(w, r, err)
		return
	}
	d, derr := s.qualityPageData(r, p, id)
	if derr != nil {
		s.fail(w, r, derr)
		return
	}
	d.Error = msg
	for _, pr := range quality.Problems(err) {
		_, m, _ := s.message(r, pr)
		d.Problems = append(d.Problems, m)
	}
	if rules != "" {
		d.Rules = rules
	}
	s.render(w, r, http.StatusUnprocessableEntity, "quality", d)
}

func (s *Server) qualitySetRules(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body := r.PostFormValue("rules")
	rs, err := quality.ParseRules([]byte(body))
	if err != nil {
		s.audit.Refuse(r.Context(), actionEntry(p, quality.ActionSetRules, "resource", id), err)
		s.qualityFormError(w, r, p, id, err, body)
		return
	}
	if _, err := s.quality.SetRules(r.Context(), *p, id, rs); err != nil {
		s.qualityFormError(w, r, p, id, err, body)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/registry/%d/quality", id), http.StatusSeeOther)
}

func (s *Server) qualityRunNow(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.supply.Latest(r.Context(), id)
	if err == nil {
		_, err = s.quality.Run(r.Context(), *p, id, quality.Target{Table: v.Table, Version: v.Version, LoadedAt: v.LoadedAt}, quality.TriggerManual)
	}
	if err != nil {
		s.qualityFormError(w, r, p, id, err, "")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/registry/%d/quality", id), http.StatusSeeOther)
}

// trendChart is a score-over-time line drawn as SVG on the server.
type trendChart struct {
	Width, Height int
	Points        string
	Dots          []chartDot
	Empty         bool
}

type chartDot struct {
	X, Y  int
	Label string
}

func newTrendChart(ps []quality.Point) trendChart {
	c := trendChart{Width: 480, Height: 120, Empty: len(ps) == 0}
	const pad = 10
	n := len(ps)
	for i, p := range ps {
		x := pad
		if n > 1 {
			x = pad + i*(c.Width-2*pad)/(n-1)
		}
		y := c.Height - pad - int(p.Score*float64(c.Height-2*pad)/100)
		c.Points += fmt.Sprintf("%d,%d ", x, y)
		c.Dots = append(c.Dots, chartDot{X: x, Y: y, Label: fmt.Sprintf("%s %.1f", p.At.In(shanghai).Format("2006-01-02 15:04"), p.Score)})
	}
	return c
}
