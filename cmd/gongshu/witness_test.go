package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/demo"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// started is a command running in the background, as a process would.
type started struct {
	out, errb *syncBuffer
	done      chan error
	cancel    context.CancelFunc
}

// start runs a command until stop, and waits for re in its output; it
// returns re's first group.
func start(t *testing.T, re *regexp.Regexp, args ...string) (*started, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{out: &syncBuffer{}, errb: &syncBuffer{}, done: make(chan error, 1), cancel: cancel}
	go func() { s.done <- run(ctx, args, env(nil), s.out, s.errb) }()
	for deadline := time.Now().Add(90 * time.Second); ; {
		if m := re.FindStringSubmatch(s.out.String()); m != nil {
			return s, m[1]
		}
		select {
		case err := <-s.done:
			cancel()
			t.Fatalf("%s exited: %v\n%s\n%s", args[0], err, s.out.String(), s.errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("%s did not start:\n%s\n%s", args[0], s.out.String(), s.errb.String())
		}
	}
}

func (s *started) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	if err := <-s.done; err != nil {
		t.Errorf("stop: %v\n%s", err, s.errb.String())
	}
}

var (
	servingRE    = regexp.MustCompile(`serving at (http://\S+)`)
	witnessAddRE = regexp.MustCompile(`gongshu witness \S+ at (http://\S+),`)
	publicKeyRE  = regexp.MustCompile(`public key: (\S+)`)
)

// engineFlags are the flags of a server on a loopback port (common) and
// of a store command (storeFlags) over dir, with a fresh PostgreSQL
// schema as the store when engine is "postgres" (dbURL).
func engineFlags(t *testing.T, engine, dir string) (common, storeFlags []string, dbURL string) {
	t.Helper()
	common = []string{"--data", dir, "--addr", "127.0.0.1:0"}
	storeFlags = []string{"--data", dir}
	if engine == "postgres" {
		dbURL = storetest.PostgresURL(t)
		common = append(common, "--db", dbURL)
		storeFlags = append(storeFlags, "--db", dbURL)
	}
	return common, storeFlags, dbURL
}

// knockAs writes n audit entries: requests that create an API token, with
// token as the bearer (an anonymous refusal when empty; beyond a few a
// minute from one address those are folded into one summary, so tests
// that need every entry at once knock as a signed-in account).
func knockAs(t *testing.T, base string, n int, token string) int {
	t.Helper()
	status := 0
	for i := 0; i < n; i++ {
		req, err := http.NewRequest("POST", base+"/api/v1/tokens", strings.NewReader(`{"name":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		status = resp.StatusCode
	}
	return status
}

// demoToken is an API token of the demo's first account in dir.
func demoToken(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "demo-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var creds struct {
		Accounts []struct{ Token string } `json:"accounts"`
	}
	if err := json.Unmarshal(b, &creds); err != nil || len(creds.Accounts) == 0 {
		t.Fatalf("demo credentials: %v", err)
	}
	return creds.Accounts[0].Token
}

func latestNote(t *testing.T, base string) string {
	t.Helper()
	var cp struct{ Note string }
	if err := getJSON(context.Background(), http.DefaultClient, base+"/api/v1/audit/checkpoint", &cp); err != nil {
		t.Fatal(err)
	}
	return cp.Note
}

// waitCosigned polls the published checkpoint until it is at least
// minSize and carries the witness's cosignature; it returns the note.
func waitCosigned(t *testing.T, base, key, wkey string, minSize uint64) (string, audit.OpenedCheckpoint) {
	t.Helper()
	v, err := audit.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		n := latestNote(t, base)
		cp, err := audit.OpenCheckpoint([]byte(n), v, audit.VerifyOptions{Witnesses: []string{wkey}})
		if err == nil && cp.Size >= minSize {
			return n, cp
		}
		if time.Now().After(deadline) {
			t.Fatalf("not cosigned: %v\n%s", err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rollback cuts the store back to size entries, as an insider with the
// database's owner rights and the triggers dropped would.
func rollback(t *testing.T, dir, dbURL string, size uint64) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dir, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stmts []string
	if db.Dialect() == store.Postgres {
		for _, table := range []string{"audit_entries", "audit_leaves", "audit_nodes", "audit_checkpoints", "audit_cosignatures", "audit_postings"} {
			stmts = append(stmts, "ALTER TABLE "+table+" DISABLE TRIGGER USER")
		}
	} else {
		rows, err := db.Query(ctx, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'audit%'")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name string
			_ = rows.Scan(&name)
			stmts = append(stmts, "DROP TRIGGER "+name)
		}
		rows.Close()
	}
	n := int64(size)
	var lastEntry int64
	if err := db.QueryRow(ctx, "SELECT entry_id FROM audit_leaves WHERE leaf_index = ?", n-1).Scan(&lastEntry); err != nil {
		t.Fatal(err)
	}
	stmts = append(stmts,
		"DELETE FROM audit_entries WHERE id > "+itoa(lastEntry),
		"DELETE FROM audit_leaves WHERE leaf_index >= "+itoa(n),
		"DELETE FROM audit_checkpoints WHERE size > "+itoa(n),
		"DELETE FROM audit_cosignatures WHERE size > "+itoa(n),
		"DELETE FROM audit_postings WHERE last_id > "+itoa(lastEntry))
	for level := int64(4); level <= 20; level += 4 {
		stmts = append(stmts, "DELETE FROM audit_nodes WHERE level = "+itoa(level)+" AND (idx + 1) * "+itoa(int64(1)<<level)+" > "+itoa(n))
	}
	for _, s := range stmts {
		if _, err := db.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Issue 17, end to end: the platform and a witness, each started as the
// binary starts them, talking HTTP on loopback. The witness cosigns each
// checkpoint and the platform publishes the cosignatures; audit verify
// --witness passes; audit check and export work beside the running
// server. After the store is rolled back the platform refuses to start on
// the checkpoint it kept; with that file removed too and the witness left
// out, it signs a fork, which audit verify --witness and --since refuse;
// and once it submits to the witness again, the witness's refusal seals
// it. SQLite, and PostgreSQL when GONGSHU_TEST_POSTGRES is set.
func TestServeWithWitnessEndToEnd(t *testing.T) {
	engines := []string{"sqlite"}
	if os.Getenv(storetest.EnvPostgres) != "" {
		engines = append(engines, "postgres")
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			common, storeFlags, dbURL := engineFlags(t, engine, dir)
			// The platform exists (a seeded demo); the regulator then runs a
			// witness for its log.
			first0, base := start(t, servingRE, append([]string{"demo", "--scale", "0"}, common...)...)
			var keyInfo struct {
				VerifierKey string `json:"verifier_key"`
				Suite       string `json:"suite"`
			}
			if err := getJSON(context.Background(), http.DefaultClient, base+"/api/v1/audit/key", &keyInfo); err != nil {
				t.Fatal(err)
			}
			key := keyInfo.VerifierKey
			first0.stop(t)
			wdir := t.TempDir()
			witness, waddr := start(t, witnessAddRE, "witness", "--key", filepath.Join(wdir, "witness.key"), "--name", "regulator.example/witness",
				"--addr", "127.0.0.1:0", "--log", keyInfo.Suite+"="+key)
			defer witness.stop(t)
			wkey := publicKeyRE.FindStringSubmatch(witness.out.String())[1]

			srv, base := start(t, servingRE, append([]string{"demo", "--scale", "0", "--witness", waddr + "=" + wkey}, common...)...)
			_, first := waitCosigned(t, base, key, wkey, 1)
			t0 := time.Now()
			token := demoToken(t, dir)
			knockAs(t, base, 5, token)
			kept, cp := waitCosigned(t, base, key, wkey, first.Size+5)
			t.Logf("%s: 5 entries written, then their checkpoint %d cosigned by the local witness after %s", engine, cp.Size, time.Since(t0).Round(time.Millisecond))
			keptFile := filepath.Join(t.TempDir(), "kept-checkpoint")
			if err := os.WriteFile(keptFile, []byte(kept), 0o644); err != nil {
				t.Fatal(err)
			}
			o, _, err := runCmd(t, nil, "audit", "verify", "--url", base, "--key", key, "--witness", wkey, "--since", keptFile)
			if err != nil || !strings.HasPrefix(o, "OK: ") || !strings.Contains(o, "cosigned by witness regulator.example/witness") {
				t.Fatalf("verify --witness: %q %v", o, err)
			}
			// Beside the running server: check and export open the store alone.
			if o, _, err := runCmd(t, nil, append([]string{"audit", "check"}, storeFlags...)...); err != nil || !strings.Contains(o, "entries verified") {
				t.Fatalf("audit check beside the server: %q %v", o, err)
			}
			bundle := filepath.Join(t.TempDir(), "bundle.json")
			if _, e, err := runCmd(t, nil, append([]string{"audit", "export", "-o", bundle, "--since", keptFile}, storeFlags...)...); err != nil {
				t.Fatalf("audit export beside the server: %q %v", e, err)
			}
			o, _, err = runCmd(t, nil, "audit", "verify", bundle, "--key", key, "--witness", wkey, "--since", keptFile)
			if err != nil || !strings.Contains(o, "every entry of the tree") {
				t.Fatalf("verify the bundle: %q %v", o, err)
			}
			srv.stop(t)

			// Rolled back to the first cosigned checkpoint: refused at start.
			rollback(t, dir, dbURL, first.Size)
			_, _, err = runCmd(t, nil, append([]string{"serve"}, common...)...)
			if err == nil || !strings.Contains(err.Error(), "rollback") {
				t.Fatalf("serve on a rolled-back store: %v", err)
			}
			// The insider removes the kept checkpoint too, and serves without
			// the witness: the platform signs a fork.
			if err := os.Remove(filepath.Join(dir, audit.CheckpointFile)); err != nil {
				t.Fatal(err)
			}
			srv, base = start(t, servingRE, append([]string{"serve"}, common...)...)
			knockAs(t, base, 7, token)
			v, _ := audit.NewVerifier(key)
			for deadline := time.Now().Add(30 * time.Second); ; {
				if cp, err := audit.ParseCheckpoint([]byte(latestNote(t, base)), v); err == nil && cp.Size >= first.Size+7 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the fork was not signed")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if o, _, err := runCmd(t, nil, "audit", "verify", "--url", base, "--key", key, "--witness", wkey); err == nil || !strings.Contains(err.Error(), "0 of the witnesses") {
				t.Errorf("verify --witness after the rollback: %q %v", o, err)
			}
			if o, _, err := runCmd(t, nil, "audit", "verify", "--url", base, "--key", key, "--since", keptFile); err == nil || !strings.Contains(err.Error(), "FORK") {
				t.Errorf("verify --since after the rollback: %q %v", o, err)
			}
			srv.stop(t)
			// Submitting to the witness again, the platform learns it was
			// rolled back: writes are refused.
			srv, base = start(t, servingRE, append([]string{"serve", "--witness", waddr + "=" + wkey}, common...)...)
			defer srv.stop(t)
			creds, err := demo.Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			write := func() int {
				req, _ := http.NewRequest("POST", base+"/api/v1/tokens", strings.NewReader(`{"name":"probe"}`))
				req.Header.Set("Authorization", "Bearer "+creds.Accounts[0].Token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for deadline := time.Now().Add(30 * time.Second); write() != http.StatusServiceUnavailable; {
				if time.Now().After(deadline) {
					t.Fatalf("the platform was not sealed by the witness's refusal\n%s", srv.errb.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			var state map[string]struct{ Size uint64 }
			b, _ := os.ReadFile(filepath.Join(wdir, "witness-state.json"))
			if err := json.Unmarshal(b, &state); err != nil || state[v.Name()].Size != cp.Size {
				t.Errorf("witness state %s %v: want it still at %d", b, err, cp.Size)
			}
		})
	}
}
