package app

import (
	"context"
	"fmt"
	"os"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/sandbox"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/supply"
)

// openSandbox builds the operators' sandbox over the domain: a hardened
// read-only query handle, a separate mock database and the key that signs
// released results' manifests (kept in the data directory, or a temporary
// one for a process whose domain is remote).
func openSandbox(ctx context.Context, cfg Config, db *store.DB, log *audit.Log, gr *grant.Service, res grant.Resources,
	sup *supply.Service, eng *engine.Engine) (*sandbox.Service, *engine.Runner, *engine.Mock, error) {
	runner, err := engine.NewRunner(ctx, eng, engine.RunnerOptions{})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open the sandbox's query handle: %w", err)
	}
	mock, err := engine.OpenMock(ctx, engine.RunnerOptions{})
	if err != nil {
		runner.Close()
		return nil, nil, nil, fmt.Errorf("open the sandbox's mock database: %w", err)
	}
	dir := cfg.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "gongshu-sandbox-"); err != nil {
			runner.Close()
			mock.Close()
			return nil, nil, nil, err
		}
	}
	key, err := sandbox.LoadKey(dir)
	if err != nil {
		runner.Close()
		mock.Close()
		return nil, nil, nil, fmt.Errorf("sandbox manifest key: %w", err)
	}
	return sandbox.New(db, log, gr, res, sup, runner, mock, key, cfg.Now, sandbox.Options{}), runner, mock, nil
}
