package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
)

// loadOrCreateWitnessKey reads a witness's private key file, creating it
// (mode 0600, under name) when absent, and returns the public key.
func loadOrCreateWitnessKey(path, name string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if name == "" {
			return "", fmt.Errorf("no witness key at %s: pass --name to create one", path)
		}
		skey, vkey, err := audit.GenerateWitnessKey(name)
		if err != nil {
			return "", err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return "", fmt.Errorf("create witness key: %w", err)
		}
		if _, err := f.WriteString(skey + "\n"); err != nil {
			f.Close()
			return "", err
		}
		return vkey, f.Close()
	}
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("witness key %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	s, err := audit.ParseWitnessSigner(strings.TrimSpace(string(b)), nil)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return s.VerifierKey(), nil
}

// cmdWitness runs a witness (C2SP tlog-witness): a small server, run by a
// regulator, the provincial platform or a city with its own key, that
// cosigns a log's new checkpoint only when it is consistent with the last
// one it cosigned.
func cmdWitness(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var keyFile, name, addr, state string
	var logs stringList
	fs := newFlagSet("witness", "witness --key FILE [--name N] --log [SUITE=]VKEY… [--addr :7380] [--state FILE]", stderr)
	fs.StringVar(&keyFile, "key", "", "the witness's private key file (created with --name when absent)")
	fs.StringVar(&name, "name", "", "the witness's name, to create its key (e.g. jxsjj.gov.cn/witness)")
	fs.Var(&logs, "log", "a log to follow: its public key, as sm3=KEY or sha256=KEY for its hash suite (default sm3), or ORIGIN=KEY (repeatable)")
	fs.StringVar(&addr, "addr", ":7380", "address to listen on")
	fs.StringVar(&state, "state", "", "file keeping the latest checkpoint cosigned per log (default: beside the key, witness-state.json)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	if keyFile == "" || len(logs) == 0 {
		return errors.New("usage: gongshu witness --key FILE --log KEY [--log KEY]… (see gongshu witness --help)")
	}
	if state == "" {
		state = filepath.Join(filepath.Dir(keyFile), "witness-state.json")
	}
	w, vkey, err := openWitness(keyFile, name, state, logs)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	fmt.Fprintf(stdout, "gongshu witness %s at http://%s, following %d log(s)\npublic key: %s\n", w.Name(), ln.Addr(), len(logs), vkey)
	return serveWitness(ctx, w, ln)
}

func openWitness(keyFile, name, state string, logs []string) (*audit.Witness, string, error) {
	vkey, err := loadOrCreateWitnessKey(keyFile, name)
	if err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, "", err
	}
	signer, err := audit.ParseWitnessSigner(strings.TrimSpace(string(b)), nil)
	if err != nil {
		return nil, "", err
	}
	var wl []audit.WitnessedLog
	for _, l := range logs {
		x, err := audit.ParseWitnessedLog(l)
		if err != nil {
			return nil, "", err
		}
		wl = append(wl, x)
	}
	w, err := audit.OpenWitness(signer, wl, state)
	return w, vkey, err
}

// serveWitness answers on ln until ctx ends.
func serveWitness(ctx context.Context, w *audit.Witness, ln net.Listener) error {
	hs := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}
