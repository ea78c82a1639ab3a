package identity

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
)

// Throttle tunes how failed sign-ins slow down further attempts (OWASP
// ASVS 4.0 V2.2.1), per login and per address: a number of failures is
// heard at once, then each further failure doubles the wait before the
// next attempt is heard, up to a cap; a count starts again after Window
// without a failure. Nothing locks an account: a wait passes on its own,
// sessions and tokens are untouched, and an attempt during a wait gets the
// same answer as a wrong password (the login is throttled whether it
// exists or not), so the throttle tells nobody which logins exist. The
// address count, across all logins, is what slows down password spraying.
type Throttle struct {
	AccountFree             int
	AccountBase, AccountMax time.Duration
	AddressFree             int
	AddressBase, AddressMax time.Duration
	Window                  time.Duration
}

// DefaultThrottle: five failures of one login heard at once, then waits
// of 1 s, 2 s, 4 s … up to a minute, which is all a person who mistyped
// ever waits; twenty failures from one address, then waits up to 15
// minutes for that address alone.
var DefaultThrottle = Throttle{
	AccountFree: 5, AccountBase: time.Second, AccountMax: time.Minute,
	AddressFree: 20, AddressBase: time.Second, AddressMax: 15 * time.Minute,
	Window: time.Hour,
}

func (t Throttle) withDefaults() Throttle {
	d := DefaultThrottle
	if t.AccountFree > 0 {
		d.AccountFree = t.AccountFree
	}
	if t.AccountBase > 0 {
		d.AccountBase = t.AccountBase
	}
	if t.AccountMax > 0 {
		d.AccountMax = t.AccountMax
	}
	if t.AddressFree > 0 {
		d.AddressFree = t.AddressFree
	}
	if t.AddressBase > 0 {
		d.AddressBase = t.AddressBase
	}
	if t.AddressMax > 0 {
		d.AddressMax = t.AddressMax
	}
	if t.Window > 0 {
		d.Window = t.Window
	}
	return d
}

// Throttle scopes.
const (
	scopeAccount = "account"
	scopeAddress = "address"
)

// wait is the delay after the n-th failure in a row.
func wait(n, free int, base, max time.Duration) time.Duration {
	if n <= free {
		return 0
	}
	d := base
	for i := free + 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// addressKey is what an address is counted by: an IPv4 address, or the
// /64 an IPv6 address belongs to (one host commonly holds a whole /64).
func addressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}

// throttled reports whether an attempt for login from addr comes before
// its wait is over, and until when.
func (s *Service) throttled(ctx context.Context, login, addr string, now time.Time) (time.Time, bool, error) {
	rows, err := s.db.Query(ctx, `SELECT next_at FROM login_throttle WHERE (scope = ? AND subject = ?) OR (scope = ? AND subject = ?)`,
		scopeAccount, login, scopeAddress, addressKey(addr))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("login throttle: %w", err)
	}
	defer rows.Close()
	var until time.Time
	for rows.Next() {
		var t time.Time
		if err := rows.Scan(&t); err != nil {
			return time.Time{}, false, fmt.Errorf("login throttle: %w", err)
		}
		if t.After(until) {
			until = t
		}
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, false, fmt.Errorf("login throttle: %w", err)
	}
	return until.UTC(), now.Before(until), nil
}

// countFailure records a failed attempt for login from addr inside tx,
// each count in one statement so that servers sharing the store count
// together, and returns the failures in a row of each.
func (s *Service) countFailure(ctx context.Context, tx *store.Tx, login, addr string, now time.Time) (account, address int, err error) {
	t := s.opt.Throttle
	for _, c := range []struct {
		scope, subject string
		free           int
		base, max      time.Duration
		n              *int
	}{
		{scopeAccount, login, t.AccountFree, t.AccountBase, t.AccountMax, &account},
		{scopeAddress, addressKey(addr), t.AddressFree, t.AddressBase, t.AddressMax, &address},
	} {
		if c.subject == "" {
			continue
		}
		err := tx.QueryRow(ctx, `INSERT INTO login_throttle (scope, subject, failures, last_failure_at, next_at) VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (scope, subject) DO UPDATE SET
				failures = CASE WHEN login_throttle.last_failure_at < ? THEN 1 ELSE login_throttle.failures + 1 END,
				last_failure_at = excluded.last_failure_at
			RETURNING failures`, c.scope, c.subject, now, now, now.Add(-t.Window)).Scan(c.n)
		if err != nil {
			return 0, 0, fmt.Errorf("count failed login: %w", err)
		}
		next := now.Add(wait(*c.n, c.free, c.base, c.max))
		if _, err := tx.Exec(ctx, `UPDATE login_throttle SET next_at = ? WHERE scope = ? AND subject = ?`, next, c.scope, c.subject); err != nil {
			return 0, 0, fmt.Errorf("count failed login: %w", err)
		}
	}
	return account, address, nil
}

// clearAccount forgets a login's failures after it signed in; the
// address keeps its count, so that signing in to one's own account
// between guesses at others does not reset a spraying address.
func clearAccount(ctx context.Context, tx *store.Tx, login string) error {
	_, err := tx.Exec(ctx, `DELETE FROM login_throttle WHERE scope = ? AND subject = ?`, scopeAccount, login)
	return err
}

// acquireHash takes one of the bounded argon2id slots: each computation
// holds MemoryKiB of memory, and a flood of sign-ins must not take the
// server's memory with it. When every slot stays busy for HashWait the
// caller gets Unavailable, which the web layer answers with 503 and
// Retry-After.
func (s *Service) acquireHash(ctx context.Context) (func(), error) {
	release := func() { <-s.hashSlots }
	select {
	case s.hashSlots <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(s.opt.HashWait)
	defer t.Stop()
	select {
	case s.hashSlots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, apperr.New(apperr.Unavailable, "identity.busy", "retry_after", strconv.Itoa(retryAfterSeconds))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// retryAfterSeconds is what a caller refused for lack of a hashing slot
// is told to wait.
const retryAfterSeconds = 1

// checkPasswordBounded is checkPassword under a hashing slot.
func (s *Service) checkPasswordBounded(ctx context.Context, pw, encoded string) (bool, error) {
	release, err := s.acquireHash(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return checkPassword(pw, encoded)
}

// hashPasswordBounded is hashPassword under a hashing slot.
func (s *Service) hashPasswordBounded(ctx context.Context, pw string) (string, error) {
	release, err := s.acquireHash(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return hashPassword(pw, s.argon)
}
