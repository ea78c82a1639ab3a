package domain

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
	"github.com/gongshu/gongshu/internal/supply"
)

// TestSupplyOnRealEngine runs a load, a failed load and tag proposals
// through supply on DuckDB.
func TestSupplyOnRealEngine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { supplyOnRealEngine(t, db) })
}

func supplyOnRealEngine(t *testing.T, db *store.DB) {
	ctx := context.Background()
	eng, err := engine.Open(ctx, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	log := audit.New(db, time.Now)
	svc := supply.NewService(db, log, Adapt(eng),
		oneResource{ID: 3, Code: "R3", HolderOrgID: 1, Grade: "general-3"}, region.Default(), time.Now)
	p := identity.Principal{UserID: 1, Login: "dept", OrgID: 1, OrgType: identity.OrgDepartment, Roles: []identity.Role{identity.RoleDepartment}}
	if _, err := svc.Load(ctx, p, 3, supply.Source{Format: supply.CSV, Path: "../../engine/testdata/malformed.csv"}, nil); err == nil {
		t.Fatal("malformed CSV loaded")
	}
	es, err := log.List(ctx, audit.Filter{Action: supply.ActionLoad})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Outcome != audit.Refused || es[0].Details["sha256"] == nil {
		t.Fatalf("failed load audited as %+v", es)
	}
	v, err := svc.Load(ctx, p, 3, supply.Source{Format: supply.XLSX, Path: "../../engine/testdata/enterprises.xlsx", Sheet: "企业"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != 1 || v.Rows != 3 {
		t.Fatalf("version %+v", v)
	}
	names, _ := eng.Tables(ctx)
	if strings.Join(names, ",") != "r3_v1" {
		t.Fatalf("tables %v", names)
	}
	props, err := svc.ProposeTags(ctx, p, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range props {
		if pr.Column == "employees" && pr.Tag != pii.None {
			t.Errorf("employees tagged %+v", pr)
		}
	}
}

// TestBenchIngestSmall runs the ingest benchmark on a small file, to keep
// it working; timings are printed, never asserted.
func TestBenchIngestSmall(t *testing.T) {
	var out bytes.Buffer
	if err := BenchIngest(context.Background(), t.TempDir(), 2<<20, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ratio") {
		t.Fatalf("output %s", out.String())
	}
	t.Log("\n" + out.String())
}

// TestBenchIngestSize runs the ingest benchmark at the size named by
// GONGSHU_BENCH_INGEST_BYTES (e.g. 1000000000); skipped otherwise.
func TestBenchIngestSize(t *testing.T) {
	s := os.Getenv("GONGSHU_BENCH_INGEST_BYTES")
	if s == "" {
		t.Skip("GONGSHU_BENCH_INGEST_BYTES not set")
	}
	size, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := BenchIngest(context.Background(), t.TempDir(), size, &out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
}
