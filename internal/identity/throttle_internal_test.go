package identity

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// The wait after the n-th failure in a row: free failures cost nothing,
// then 1 s, 2 s, 4 s … up to the cap.
func TestWait(t *testing.T) {
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{0, 0}, {5, 0}, {6, time.Second}, {7, 2 * time.Second}, {9, 8 * time.Second}, {12, time.Minute}, {1000, time.Minute}} {
		if got := wait(c.n, 5, time.Second, time.Minute); got != c.want {
			t.Errorf("wait(%d) = %s, want %s", c.n, got, c.want)
		}
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":         "198.51.100.7",
		"::ffff:198.51.100.7":  "198.51.100.7",
		"2001:db8:1:2::ffff":   "2001:db8:1:2::/64",
		"2001:db8:1:2:a:b:c:d": "2001:db8:1:2::/64",
		"not an address":       "not an address",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// Finding 8 of issue 15: argon2id takes 19 MiB per attempt, so attempts
// hash under a bounded number of slots; when every slot stays busy the
// attempt is refused as Unavailable (503 with Retry-After on the web),
// audited, without hashing anything.
func TestHashSlots(t *testing.T) {
	db := storetest.SQLite(t)
	log := audit.New(db, nil)
	s := NewService(db, log, region.Default(), nil, Options{Argon2: &Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1},
		HashConcurrency: 2, HashWait: 10 * time.Millisecond})
	ctx := context.Background()
	var releases []func()
	for range 2 {
		r, err := s.acquireHash(ctx)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	_, _, err := s.Login(ctx, "someone", "whatever", ClientInfo{RemoteAddr: "192.0.2.1"})
	if e, ok := apperr.As(err); !ok || e.Code != apperr.Unavailable || e.Key != "identity.busy" || e.Args["retry_after"] == "" {
		t.Fatalf("saturated: %v", err)
	}
	es, _ := log.List(ctx, audit.Filter{Action: "session.login"})
	if len(es) != 1 || es[0].Outcome != audit.Refused || es[0].Reason != "identity.busy" {
		t.Fatalf("busy refusal audited as %+v", es)
	}
	// A busy refusal counts no failure: it is no guess.
	if _, wait, _ := s.throttled(ctx, "someone", "192.0.2.1", time.Now()); wait {
		t.Error("a busy refusal started a wait")
	}
	for _, r := range releases {
		r()
	}
	// Many at once: never more than the slots hash together.
	var mu sync.Mutex
	inUse, peak := 0, 0
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.acquireHash(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			inUse++
			peak = max(peak, inUse)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			inUse--
			mu.Unlock()
			r()
		}()
	}
	wg.Wait()
	if peak > 2 {
		t.Errorf("%d hashes at once with 2 slots", peak)
	}
}
