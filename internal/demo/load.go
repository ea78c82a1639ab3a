package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/supply"
	"github.com/gongshu/gongshu/internal/synth"
)

// LoadStatus is the progress of one dataset's background load.
type LoadStatus struct {
	Dataset string `json:"dataset"`
	Title   string `json:"title"`
	Rows    int64  `json:"rows"`  // rows generated so far
	Total   int64  `json:"total"` // rows the dataset will have
	State   string `json:"state"` // waiting, generating, loading, loaded, failed
	Error   string `json:"error,omitempty"`
}

// Loader loads the synthetic datasets into the domain in the background,
// each as version 1 of its registered resource, loaded (and audited) as a
// user of the holding department, and reports progress.
type Loader struct {
	mu     sync.Mutex
	status []LoadStatus
}

// Status returns a copy of the progress.
func (l *Loader) Status() []LoadStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LoadStatus(nil), l.status...)
}

func (l *Loader) set(i int, f func(*LoadStatus)) {
	l.mu.Lock()
	f(&l.status[i])
	l.mu.Unlock()
}

// holders maps each synthetic dataset to the demo user who loads it.
var holders = map[string]string{
	"enterprise_registry": "dept.amr", "tax_credit": "dept.tax", "social_insurance": "dept.hrss", "housing_fund": "dept.hpf",
	"real_estate_transactions": "dept.nr", "bus_ridership": "dept.transport", "electricity_consumption": "utility.power",
}

// StartLoad prepares the loads at scale (1.0: a million enterprises, two
// million insured persons) and runs them one after another in the
// background until ctx ends; done is closed when all have finished.
func StartLoad(ctx context.Context, sup *supply.Service, ids *identity.Service, creds Credentials, resources map[string]int64,
	dir string, scale float64, seed uint64, logf func(format string, args ...any)) (*Loader, <-chan struct{}) {
	sets := synth.Catalog(scale)
	l := &Loader{}
	for _, d := range sets {
		l.status = append(l.status, LoadStatus{Dataset: d.Name, Title: d.Title, Total: d.Rows, State: "waiting"})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, d := range sets {
			if ctx.Err() != nil {
				return
			}
			start := time.Now()
			err := l.loadOne(ctx, i, d, sup, ids, creds, resources, dir, seed)
			if err != nil {
				l.set(i, func(s *LoadStatus) { s.State, s.Error = "failed", err.Error() })
				logf("demo data: %s failed: %v", d.Name, err)
				continue
			}
			l.set(i, func(s *LoadStatus) { s.State = "loaded" })
			logf("demo data: %s loaded, %d rows in %s", d.Name, d.Rows, time.Since(start).Round(time.Millisecond))
		}
	}()
	return l, done
}

func (l *Loader) loadOne(ctx context.Context, i int, d synth.Dataset, sup *supply.Service, ids *identity.Service, creds Credentials,
	resources map[string]int64, dir string, seed uint64) error {
	id, ok := resources[d.Title]
	if !ok {
		return fmt.Errorf("no registered resource named %s", d.Title)
	}
	var token string
	for _, a := range creds.Accounts {
		if a.Login == holders[d.Name] {
			token = a.Token
		}
	}
	p, err := ids.AuthenticateToken(ctx, token)
	if err != nil {
		return fmt.Errorf("holder of %s: %w", d.Name, err)
	}
	up := filepath.Join(dir, "uploads")
	if err := os.MkdirAll(up, 0o750); err != nil {
		return err
	}
	path := filepath.Join(up, d.Name+".csv")
	defer os.Remove(path)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	l.set(i, func(s *LoadStatus) { s.State = "generating" })
	err = synth.WriteCSV(ctx, f, d, seed, func(rows int64) { l.set(i, func(s *LoadStatus) { s.Rows = rows }) })
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	l.set(i, func(s *LoadStatus) { s.State = "loading" })
	if _, err = sup.Load(ctx, p, id, supply.Source{Format: supply.CSV, Path: path}, nil); err != nil {
		return err
	}
	// The sandbox counts its thresholds in this column's distinct values.
	if d.PrivacyUnit != "" {
		return sup.SetPrivacyUnit(ctx, p, id, d.PrivacyUnit, "每行描述的个人或企业（演示数据）")
	}
	return nil
}
