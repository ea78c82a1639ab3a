package audit

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gongshu/gongshu/internal/store"
)

// BenchConfig sizes a benchmark run of the log.
type BenchConfig struct {
	// Appends is how many entries each append measurement writes.
	Appends int
	// Writers lists the concurrency levels to measure (e.g. 1 and 16).
	Writers []int
	// VerifyEntries is the log size for the integration and full
	// verification measurements (e.g. 1,000,000).
	VerifyEntries int
	// Proofs is how many inclusion proofs to time.
	Proofs int
	// Rounds is how many times each append measurement is repeated, bare
	// and audited alternately, to report the median (default 3): the
	// disk's sync latency, which bounds every durable append, drifts
	// from one second to the next on shared machines.
	Rounds int
}

// BenchReport holds the measured figures, each beside its baseline.
type BenchReport struct {
	Suite   Suite
	Dialect store.Dialect
	Appends []AppendFigure
	// Integration of VerifyEntries committed entries into the tree.
	Integrated     int
	IntegrateTime  time.Duration
	VerifyTime     time.Duration
	ProofTime      time.Duration // mean per inclusion proof
	ProofTreeSize  uint64
	LastEntryDelay time.Duration // commit of the last concurrent entry to its signed checkpoint
}

// AppendFigure is one concurrency level: audited appends (an entry in its
// own transaction, as every refused action is written) against the same
// rows inserted into a bare table of the same shape in the same store.
type AppendFigure struct {
	Writers     int
	AuditPerSec float64 // median over the rounds
	BarePerSec  float64 // median over the rounds
	// AuditLow and AuditHigh are the slowest and fastest audited rounds.
	AuditLow, AuditHigh float64
	Rounds              int
}

// Ratio is how much an audited append costs against the bare insert.
func (f AppendFigure) Ratio() float64 { return f.BarePerSec / f.AuditPerSec }

// Print writes the report as a table.
func (r BenchReport) Print(w io.Writer) {
	fmt.Fprintf(w, "audit log benchmark (%s, %s)\n", r.Dialect, r.Suite)
	rounds := 0
	if len(r.Appends) > 0 {
		rounds = r.Appends[0].Rounds
	}
	fmt.Fprintf(w, "  appends, median of %d rounds each:\n", rounds)
	fmt.Fprintf(w, "  %-8s %16s %18s %16s %10s\n", "writers", "audited/s", "(slowest–fastest)", "bare insert/s", "cost ×")
	for _, a := range r.Appends {
		fmt.Fprintf(w, "  %-8d %16.0f %18s %16.0f %10.2f\n", a.Writers, a.AuditPerSec,
			fmt.Sprintf("(%.0f–%.0f)", a.AuditLow, a.AuditHigh), a.BarePerSec, a.Ratio())
	}
	if n := len(r.Appends); n > 0 && r.Appends[n-1].BarePerSec > 0 {
		// A bare insert in a transaction of its own waits for one disk
		// sync, so the bare rate says how fast the disk synced in this run;
		// the audited rate is best read against it.
		a := r.Appends[n-1]
		fmt.Fprintf(w, "  %d writers: %.1f audited appends in the time of one bare insert (%s here, about one disk sync)\n",
			a.Writers, a.AuditPerSec/a.BarePerSec, (time.Duration(float64(time.Second) / a.BarePerSec)).Round(time.Microsecond))
	}
	fmt.Fprintf(w, "  entry committed → in a signed checkpoint (integrator running): %s\n", r.LastEntryDelay.Round(time.Microsecond))
	fmt.Fprintf(w, "  integrate %d entries into the tree: %s (%.0f entries/s)\n", r.Integrated, r.IntegrateTime.Round(time.Millisecond),
		float64(r.Integrated)/r.IntegrateTime.Seconds())
	fmt.Fprintf(w, "  full verification of %d entries against the checkpoint: %s\n", r.Integrated, r.VerifyTime.Round(time.Millisecond))
	fmt.Fprintf(w, "  inclusion proof at tree size %d: %s each\n", r.ProofTreeSize, r.ProofTime.Round(time.Microsecond))
}

const bareTable = `CREATE TABLE IF NOT EXISTS bench_bare (
	id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor_user_id BIGINT, actor_login TEXT NOT NULL, actor_org_id BIGINT,
	action TEXT NOT NULL, object_type TEXT NOT NULL, object_id TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL,
	details TEXT NOT NULL, request_id TEXT NOT NULL, remote_addr TEXT NOT NULL)`

func benchEntry(i int) Entry {
	e := Entry{Actor: Actor{UserID: int64(i%50 + 1), Login: "bench.user", OrgID: int64(i%7 + 1)},
		Action: "sandbox.query", ObjectType: "workspace", ObjectID: fmt.Sprint(i % 100), RequestID: "bench", RemoteAddr: "127.0.0.1"}
	e.Set("rows_scanned", i)
	return e
}

// RunBench measures the log on db (which must be a fresh, migrated store
// with an opened tree) and returns the figures.
func RunBench(ctx context.Context, db *store.DB, log *Log, tree *Tree, cfg BenchConfig) (BenchReport, error) {
	rep := BenchReport{Suite: tree.Suite(), Dialect: db.Dialect()}
	id := int64(0)
	if db.Dialect() == store.Postgres {
		if _, err := db.Exec(ctx, "DROP TABLE IF EXISTS bench_bare"); err != nil {
			return rep, err
		}
	}
	if _, err := db.Exec(ctx, bareTable); err != nil {
		return rep, err
	}
	runWriters := func(writers int, write func(i int) error) (float64, error) {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		start := time.Now()
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1))
					if i > cfg.Appends {
						return
					}
					if err := write(i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return 0, err
		}
		return float64(cfg.Appends) / time.Since(start).Seconds(), nil
	}
	// The integrator runs during the audited appends, as in production.
	ictx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { tree.Run(ictx, 200*time.Millisecond); close(done) }()
	// measureRound times the bare inserts and then the audited appends.
	measureRound := func(writers int) (bare, audited float64, err error) {
		bare, err = runWriters(writers, func(i int) error {
			e := benchEntry(i)
			return db.InTx(ctx, func(tx *store.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO bench_bare (id, at, actor_user_id, actor_login, actor_org_id, action, object_type, object_id,
					outcome, reason, details, request_id, remote_addr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					atomic.AddInt64(&id, 1), time.Now().UTC().Format(TimeLayout), e.Actor.UserID, e.Actor.Login, e.Actor.OrgID,
					e.Action, e.ObjectType, e.ObjectID, "ok", "", `{"rows_scanned":1}`, e.RequestID, e.RemoteAddr)
				return err
			})
		})
		if err != nil {
			return 0, 0, fmt.Errorf("bench bare insert: %w", err)
		}
		audited, err = runWriters(writers, func(i int) error {
			return log.Record(ctx, withOutcome(benchEntry(i)))
		})
		if err != nil {
			return 0, 0, fmt.Errorf("bench audited append: %w", err)
		}
		return bare, audited, nil
	}
	rounds := cfg.Rounds
	if rounds <= 0 {
		rounds = 3
	}
	for _, writers := range cfg.Writers {
		fig := AppendFigure{Writers: writers, Rounds: rounds}
		var bares, audits []float64
		for round := 0; round < rounds; round++ {
			bare, audited, err := measureRound(writers)
			if err != nil {
				stop()
				return rep, err
			}
			bares, audits = append(bares, bare), append(audits, audited)
		}
		fig.BarePerSec, fig.AuditPerSec = medianOf(bares), medianOf(audits)
		fig.AuditLow, fig.AuditHigh = slices.Min(audits), slices.Max(audits)
		rep.Appends = append(rep.Appends, fig)
	}
	// Latency from a commit to its signed checkpoint, with the integrator running.
	if err := log.Do(ctx, benchEntry(0), func(*store.Tx, *Entry) error { return nil }); err != nil {
		stop()
		return rep, err
	}
	committed := time.Now()
	var total int64
	_ = db.QueryRow(ctx, "SELECT COUNT(*) FROM audit_entries").Scan(&total)
	for tree.Size() < uint64(total) && time.Since(committed) < 30*time.Second {
		time.Sleep(100 * time.Microsecond)
	}
	rep.LastEntryDelay = time.Since(committed)
	stop()
	<-done

	// Bulk-load entries for integration and verification, many per transaction.
	for loaded := 0; loaded < cfg.VerifyEntries; {
		n := min(10000, cfg.VerifyEntries-loaded)
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for i := 0; i < n; i++ {
				if _, err := log.Append(ctx, tx, withOutcome(benchEntry(loaded+i))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("bench load: %w", err)
		}
		loaded += n
	}
	start := time.Now()
	if _, err := tree.Integrate(ctx); err != nil {
		return rep, err
	}
	rep.IntegrateTime = time.Since(start)
	res, err := tree.Check(ctx)
	if err != nil {
		return rep, err
	}
	if res.Alarm != nil {
		return rep, fmt.Errorf("bench: verification raised %+v", *res.Alarm)
	}
	rep.Integrated, rep.VerifyTime = int(res.Entries), res.Duration
	size := tree.Size()
	rep.ProofTreeSize = size
	start = time.Now()
	for i := 0; i < cfg.Proofs; i++ {
		if _, err := tree.InclusionProof(ctx, rand.Uint64N(size), size); err != nil {
			return rep, err
		}
	}
	if cfg.Proofs > 0 {
		rep.ProofTime = time.Since(start) / time.Duration(cfg.Proofs)
	}
	return rep, nil
}

func withOutcome(e Entry) Entry { e.Outcome = OK; return e }

// medianOf is the median of xs (the upper one of an even count).
func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
