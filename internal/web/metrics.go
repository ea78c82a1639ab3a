package web

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
)

// metrics is a small Prometheus text-format registry: request counts and a
// latency histogram by route, in-flight requests and process facts. Labels
// use route patterns, never raw paths, so cardinality stays bounded.
type metrics struct {
	start    time.Time
	inFlight atomic.Int64
	mu       sync.Mutex
	requests map[reqKey]uint64
	latency  map[string]*histogram
}

type reqKey struct {
	method, route string
	status        int
}

var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

type histogram struct {
	counts []uint64 // per bucket, cumulative at write time
	sum    float64
	n      uint64
}

func newMetrics(start time.Time) *metrics {
	return &metrics{start: start, requests: map[reqKey]uint64{}, latency: map[string]*histogram{}}
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	sec := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[reqKey{method, route, status}]++
	h := m.latency[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets))}
		m.latency[route] = h
	}
	for i, b := range latencyBuckets {
		if sec <= b {
			h.counts[i]++
			break
		}
	}
	h.sum += sec
	h.n++
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if want := s.cfg.MetricsToken; want != "" {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gongshu metrics"`)
			err := apperr.New(apperr.Unauthenticated, "web.metrics_token")
			_ = s.refuseAnonymous(r, audit.Entry{Actor: audit.Anonymous(""), Action: "metrics.read", ObjectType: "route", ObjectID: "GET /metrics"}, err)
			http.Error(w, "401 unauthorized: /metrics needs its bearer token\n", http.StatusUnauthorized)
			return
		}
	}
	m := s.metrics
	var b strings.Builder
	b.WriteString("# HELP gongshu_build_info Build information.\n# TYPE gongshu_build_info gauge\n")
	fmt.Fprintf(&b, "gongshu_build_info{version=\"%s\",go=\"%s\"} 1\n", escapeLabel(s.cfg.Version), runtime.Version())
	b.WriteString("# HELP gongshu_http_requests_total HTTP requests by method, route and status.\n# TYPE gongshu_http_requests_total counter\n")
	m.mu.Lock()
	keys := make([]reqKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, c := keys[i], keys[j]
		if a.route != c.route {
			return a.route < c.route
		}
		if a.method != c.method {
			return a.method < c.method
		}
		return a.status < c.status
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "gongshu_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %d\n",
			k.method, escapeLabel(k.route), k.status, m.requests[k])
	}
	b.WriteString("# HELP gongshu_http_request_duration_seconds HTTP request latency by route.\n# TYPE gongshu_http_request_duration_seconds histogram\n")
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, route := range routes {
		h := m.latency[route]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "gongshu_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %d\n", escapeLabel(route), le, cum)
		}
		fmt.Fprintf(&b, "gongshu_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %d\n", escapeLabel(route), h.n)
		fmt.Fprintf(&b, "gongshu_http_request_duration_seconds_sum{route=\"%s\"} %g\n", escapeLabel(route), h.sum)
		fmt.Fprintf(&b, "gongshu_http_request_duration_seconds_count{route=\"%s\"} %d\n", escapeLabel(route), h.n)
	}
	m.mu.Unlock()
	b.WriteString("# HELP gongshu_http_requests_in_flight Requests being served.\n# TYPE gongshu_http_requests_in_flight gauge\n")
	fmt.Fprintf(&b, "gongshu_http_requests_in_flight %d\n", m.inFlight.Load())
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if n, err := s.audit.Count(ctx); err == nil {
		b.WriteString("# HELP gongshu_audit_entries Entries in the audit log.\n# TYPE gongshu_audit_entries gauge\n")
		fmt.Fprintf(&b, "gongshu_audit_entries %d\n", n)
	}
	if g := s.growth.Load(); g != nil {
		b.WriteString("# HELP gongshu_audit_entries_per_minute How fast the audit log grew over the last interval.\n# TYPE gongshu_audit_entries_per_minute gauge\n")
		fmt.Fprintf(&b, "gongshu_audit_entries_per_minute %g\n", g.perMinute)
		alarm := 0
		if g.alarm {
			alarm = 1
		}
		b.WriteString("# HELP gongshu_audit_growth_alarm 1 while the audit log grows faster than --audit-alarm-rate.\n# TYPE gongshu_audit_growth_alarm gauge\n")
		fmt.Fprintf(&b, "gongshu_audit_growth_alarm %d\n", alarm)
	}
	b.WriteString("# HELP go_goroutines Goroutines that currently exist.\n# TYPE go_goroutines gauge\n")
	fmt.Fprintf(&b, "go_goroutines %d\n", runtime.NumGoroutine())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.WriteString("# HELP go_memstats_heap_alloc_bytes Heap bytes allocated and in use.\n# TYPE go_memstats_heap_alloc_bytes gauge\n")
	fmt.Fprintf(&b, "go_memstats_heap_alloc_bytes %d\n", ms.HeapAlloc)
	b.WriteString("# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n# TYPE process_start_time_seconds gauge\n")
	fmt.Fprintf(&b, "process_start_time_seconds %d\n", m.start.Unix())
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.DB.Ping(ctx); err != nil {
		s.logger.Error("health check: store", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "store": "down"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
}
