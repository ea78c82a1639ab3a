package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/gongshu/gongshu/internal/audit"
)

// R12.2: a regulator, trusting only the published key, fetches an entry's
// proof over the API and verifies it; an operator may not read another
// organisation's entry (403, audited); the log only grows (consistency).
func TestAuditProofsOverAPI(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(fmt.Sprint("postgres=", pg), func(t *testing.T) {
			e := newEnv(t, pg)
			ctx := context.Background()
			id := otherEntry(e)
			var key struct {
				Origin      string `json:"origin"`
				Suite       string `json:"suite"`
				VerifierKey string `json:"verifier_key"`
			}
			e.api("GET", "/api/v1/audit/key", "", nil).json(t, &key)
			if key.Suite != "sm3" || key.VerifierKey == "" {
				t.Fatalf("key = %+v", key)
			}
			v, err := audit.NewVerifier(key.VerifierKey)
			if err != nil {
				t.Fatal(err)
			}
			var ep struct {
				Entry      audit.Entry
				LeafIndex  uint64   `json:"leaf_index"`
				LeafHash   []byte   `json:"leaf_hash"`
				Proof      [][]byte `json:"proof"`
				Checkpoint struct{ Note string }
			}
			r := e.api("GET", fmt.Sprint("/api/v1/audit/entries/", id, "/proof"), e.account("regulator.cac").Token, nil)
			if r.status != http.StatusOK {
				t.Fatalf("proof: %d %s", r.status, r.body)
			}
			r.json(t, &ep)
			cp, err := audit.ParseCheckpoint([]byte(ep.Checkpoint.Note), v)
			if err != nil {
				t.Fatal(err)
			}
			if ep.Entry.ID != id || ep.Entry.Action != "token.create" {
				t.Fatalf("entry %+v", ep.Entry)
			}
			if err := proof.VerifyInclusion(audit.SM3.Hasher(), ep.LeafIndex, cp.Size, ep.LeafHash, ep.Proof, cp.Root); err != nil {
				t.Fatalf("inclusion proof does not verify: %v", err)
			}

			// The operator of another organisation is refused, and the refusal audited.
			before := e.count("audit_entries")
			r = e.api("GET", fmt.Sprint("/api/v1/audit/entries/", id, "/proof"), e.account("op.ganshu").Token, nil)
			if r.status != http.StatusForbidden {
				t.Fatalf("operator reading another org's entry: %d", r.status)
			}
			if e.count("audit_entries") != before+1 || e.lastEntry().Outcome != audit.Refused {
				t.Error("refusal not audited")
			}

			// More entries, a new checkpoint, and a consistency proof between the two.
			e.api("POST", "/api/v1/tokens", e.account("op.ganshu").Token, map[string]any{"name": "x"})
			if _, err := e.app.Tree.Integrate(ctx); err != nil {
				t.Fatal(err)
			}
			var latest struct{ Note string }
			e.api("GET", "/api/v1/audit/checkpoint", "", nil).json(t, &latest)
			cp2, err := audit.ParseCheckpoint([]byte(latest.Note), v)
			if err != nil || cp2.Size <= cp.Size {
				t.Fatalf("latest checkpoint %+v %v", cp2, err)
			}
			var cons struct{ Proof [][]byte }
			e.api("GET", fmt.Sprintf("/api/v1/audit/proof/consistency?from=%d&to=%d", cp.Size, cp2.Size), "", nil).json(t, &cons)
			if err := proof.VerifyConsistency(audit.SM3.Hasher(), cp.Size, cp2.Size, cons.Proof, cp.Root, cp2.Root); err != nil {
				t.Fatalf("consistency: %v", err)
			}
			if r := e.api("GET", "/api/v1/audit/proof/consistency?from=5&to=99999999", "", nil); r.status != http.StatusBadRequest {
				t.Errorf("consistency beyond the log: %d", r.status)
			}
		})
	}
}

// R12.2: the console verifies an entry with the published key; a tampered
// log stops every write, shows the alarm on every page, and only the
// administrator's acknowledgement (with a statement) resumes writes.
func TestConsoleVerifyAndAlarm(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	id := otherEntry(e)
	reg := e.client()
	reg.mustLogin("regulator.cac")
	page := reg.get(fmt.Sprint("/console/audit/", id, "?verify=1"))
	if page.status != http.StatusOK || !strings.Contains(page.body, `id="verified"`) {
		t.Fatalf("verify page: %d\n%s", page.status, page.body)
	}
	if !strings.Contains(reg.get("/console/audit").body, strings.ReplaceAll(e.app.Tree.VerifierKey(), "+", "&#43;")) {
		t.Error("audit page does not show the public key")
	}

	// Tamper with an entry behind the platform's back.
	if _, err := e.app.DB.Exec(ctx, "DROP TRIGGER audit_entries_no_update"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.DB.Exec(ctx, "UPDATE audit_entries SET actor_login = 'someone.else' WHERE id = ?", id); err != nil {
		t.Fatal(err)
	}
	res, err := e.app.Tree.Check(ctx)
	if err != nil || res.Alarm == nil || res.Alarm.EntryID != id {
		t.Fatalf("check: %+v %v", res.Alarm, err)
	}
	if r := e.api("POST", "/api/v1/tokens", e.account("op.ganshu").Token, map[string]any{"name": "x"}); r.status != http.StatusServiceUnavailable {
		t.Fatalf("write while sealed: %d %s", r.status, r.body)
	}
	if p := reg.get("/console"); !strings.Contains(p.body, `id="sealed"`) || strings.Contains(p.body, "/acknowledge") {
		t.Error("regulator does not see the alarm, or sees the acknowledge form")
	}
	admin := e.client()
	admin.mustLogin("admin")
	tok := admin.csrf("/console")
	r := admin.postForm(fmt.Sprint("/console/audit/alarms/", res.Alarm.ID, "/acknowledge"), map[string][]string{"csrf_token": {tok}, "statement": {"已核查：测试中人为修改，已上报"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d %s", r.status, r.body)
	}
	if r := e.api("POST", "/api/v1/tokens", e.account("op.ganshu").Token, map[string]any{"name": "x"}); r.status != http.StatusCreated {
		t.Fatalf("write after acknowledgement: %d", r.status)
	}
}

// The data authority countersigns a checkpoint: the administrator registers
// its key, the authority submits its cosignature, and the published
// checkpoint then verifies with the authority's key alone.
func TestCosignOverAPI(t *testing.T) {
	e := newEnv(t, false)
	latestSize(e)
	skey, vkey, err := note.GenerateKey(nil, "jxsjj.example/witness")
	if err != nil {
		t.Fatal(err)
	}
	if r := e.api("POST", "/api/v1/audit/cosigners", e.account("admin").Token, map[string]any{"verifier_key": vkey, "org_id": e.account("authority").OrgID}); r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	var cp struct{ Note string }
	e.api("GET", "/api/v1/audit/checkpoint", "", nil).json(t, &cp)
	cosigned, err := audit.CosignNote(cp.Note, skey)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.api("POST", "/api/v1/audit/checkpoint/cosign", e.account("authority").Token, map[string]any{"note": cosigned}); r.status != http.StatusOK {
		t.Fatalf("cosign: %d %s", r.status, r.body)
	}
	var published struct{ Note string }
	e.api("GET", "/api/v1/audit/checkpoint", "", nil).json(t, &published)
	w, _ := note.NewVerifier(vkey)
	if _, err := audit.ParseCheckpoint([]byte(published.Note), w); err != nil {
		t.Fatalf("published checkpoint lacks the authority's cosignature: %v\n%s", err, published.Note)
	}
}

// Issue 17: the audit page shows each witness and how far it cosigned;
// a witness that leaves the latest checkpoint uncosigned is flagged.
func TestConsoleShowsWitnesses(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	skey, wkey, err := audit.GenerateWitnessKey("regulator.example/witness")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.ParseWitnessSigner(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := audit.OpenWitness(signer, []audit.WitnessedLog{{VerifierKey: e.app.Tree.VerifierKey(), Suite: e.app.Tree.Suite()}}, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	if err := e.app.Tree.AddWitnesses(ctx, []audit.WitnessEndpoint{{URL: srv.URL, VerifierKey: wkey}}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.app.Tree.RunWitnesses(rctx, srv.Client(), 20*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	if _, err := e.app.Tree.Integrate(ctx); err != nil {
		t.Fatal(err)
	}
	reg := e.client()
	reg.mustLogin("regulator.cac")
	for deadline := time.Now().Add(20 * time.Second); ; {
		page := reg.get("/console/audit")
		if strings.Contains(page.body, "regulator.example/witness") && !strings.Contains(page.body, `id="witness-behind"`) &&
			e.app.Tree.WitnessStatuses()[0].Cosigned > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("witness not shown as cosigning: %+v", e.app.Tree.WitnessStatuses())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
