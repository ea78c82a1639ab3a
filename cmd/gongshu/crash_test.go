package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/store/storetest"
)

// helperArgs names the environment variable that makes this test binary
// run gongshu itself, so that a test can kill it as the kernel would kill
// a server: with SIGKILL, nothing flushed, nothing closed.
const helperArgs = "GONGSHU_TEST_HELPER_ARGS"

// TestHelperProcess is not a test: started by crashServer as a child
// process, it runs gongshu with the arguments in GONGSHU_TEST_HELPER_ARGS.
func TestHelperProcess(t *testing.T) {
	args := os.Getenv(helperArgs)
	if args == "" {
		t.Skip("only run as a child process")
	}
	err := run(context.Background(), strings.Split(args, "\x1f"), os.Getenv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// crashServer starts `gongshu serve` in a child process and returns it with
// its base URL.
func crashServer(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperArgs+"="+strings.Join(args, "\x1f"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				base <- m[1]
			}
		}
	}()
	select {
	case b := <-base:
		return cmd, b
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("serve did not start: %s", errb.String())
	}
	return nil, ""
}

// Issue 15 (crash safety): a server killed with SIGKILL while it
// acknowledges audited writes loses none of them. Writers create API
// tokens (each one an audited change, committed with its audit entry)
// until the server is killed; after a restart every token that was
// acknowledged is there, and `audit check` verifies the whole log. SQLite,
// and PostgreSQL when GONGSHU_TEST_POSTGRES is set. R12.2.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	engines := []string{"sqlite"}
	if os.Getenv(storetest.EnvPostgres) != "" {
		engines = append(engines, "postgres")
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			common, storeFlags, _ := engineFlags(t, engine, dir)
			seed, _ := start(t, servingRE, append([]string{"demo", "--scale", "0"}, common...)...)
			seed.stop(t)
			token := demoToken(t, dir)

			srv, base := crashServer(t, append([]string{"serve"}, common...)...)
			var (
				mu    sync.Mutex
				acked []string
				wg    sync.WaitGroup
			)
			stop := make(chan struct{})
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						name := fmt.Sprintf("crash-%d-%d", w, i)
						req, _ := http.NewRequest("POST", base+"/api/v1/tokens", strings.NewReader(`{"name":"`+name+`"}`))
						req.Header.Set("Authorization", "Bearer "+token)
						req.Header.Set("Content-Type", "application/json")
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							return // the server is gone
						}
						resp.Body.Close()
						if resp.StatusCode == http.StatusCreated {
							mu.Lock()
							acked = append(acked, name)
							mu.Unlock()
						}
					}
				}(w)
			}
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				mu.Lock()
				n := len(acked)
				mu.Unlock()
				if n >= 60 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("only %d writes acknowledged", n)
				}
			}
			if err := srv.Process.Kill(); err != nil { // SIGKILL, mid-stream
				t.Fatal(err)
			}
			_ = srv.Wait()
			close(stop)
			wg.Wait()

			srv, base = crashServer(t, append([]string{"serve"}, common...)...)
			req, _ := http.NewRequest("GET", base+"/api/v1/tokens", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var list struct {
				Tokens []struct{ Name string } `json:"tokens"`
			}
			err = json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, tk := range list.Tokens {
				have[tk.Name] = true
			}
			missing := 0
			for _, name := range acked {
				if !have[name] {
					missing++
				}
			}
			if missing > 0 {
				t.Errorf("%d of %d acknowledged writes lost in the crash", missing, len(acked))
			}
			if err := srv.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = srv.Wait()
			o, e, err := runCmd(t, nil, append([]string{"audit", "check"}, storeFlags...)...)
			if err != nil || !strings.Contains(o, "entries verified") {
				t.Fatalf("audit check after the crash: %q %q %v", o, e, err)
			}
			t.Logf("%s: %d acknowledged writes before SIGKILL, all present after restart; %s", engine, len(acked), strings.TrimSpace(o))
		})
	}
}
