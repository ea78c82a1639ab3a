package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
)

// Session is a console login. Token is the cookie value, returned once at
// login; only its hash is stored.
type Session struct {
	Token     string
	CSRFToken string
	ExpiresAt time.Time
}

// ClientInfo describes where a login came from, for the session record.
type ClientInfo struct {
	RemoteAddr string
	UserAgent  string
	// RefuseUnheard, when set, records the refusal of an attempt that was
	// not heard: one during a throttling wait or one refused for lack of a
	// hashing slot. Such refusals cost the caller nothing, so a flood of
	// them is the web layer's to fold (internal/web, fold.go); nil: each is
	// recorded on its own.
	RefuseUnheard func(ctx context.Context, e audit.Entry, err error) error
}

// refuseUnheard records the refusal of an attempt that was not heard.
func (s *Service) refuseUnheard(ctx context.Context, c ClientInfo, e audit.Entry, err error) error {
	if c.RefuseUnheard != nil {
		return c.RefuseUnheard(ctx, e, err)
	}
	return s.refuse(ctx, e, err)
}

// dummyHash is checked against when the login does not exist, so that
// the answer takes as long as for a wrong password and does not reveal
// which logins exist.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3q2+7w3q2+7w3q2+7w3q2+7w3q2+7w3q2+7w3q2+7w0"

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("identity: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// Login checks a password and opens a session. An unknown login, a wrong
// password and an attempt during a throttling wait get the same answer;
// failures slow down later attempts of the login and of the address
// (see Throttle), never lock the account, and every attempt is audited.
// A disabled account is said to be so only to whoever gave its password.
func (s *Service) Login(ctx context.Context, login, password string, client ClientInfo) (Session, Principal, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	e := entry(audit.Anonymous(login), "session.login", "user", 0)
	failed := apperr.New(apperr.Unauthenticated, "identity.login_failed")
	now := s.clock()
	until, wait, err := s.throttled(ctx, login, client.RemoteAddr, now)
	if err != nil {
		return Session{}, Principal{}, s.refuse(ctx, e, err)
	}
	if wait {
		// Refused unheard: the password is not even checked.
		e.Set("throttled_until", until.Format(time.RFC3339))
		return Session{}, Principal{}, s.refuseUnheard(ctx, client, e, failed)
	}
	var (
		id       int64
		orgID    int64
		hash     string
		disabled bool
	)
	err = s.db.QueryRow(ctx, `SELECT id, org_id, password_hash, disabled FROM users WHERE login = ?`, login).
		Scan(&id, &orgID, &hash, &disabled)
	known := err == nil
	if errors.Is(err, sql.ErrNoRows) {
		// The same work as a wrong password: the answer and its time
		// do not tell which logins exist.
		hash = dummyHash
	} else if err != nil {
		return Session{}, Principal{}, s.refuse(ctx, e, err)
	}
	if known {
		e.Actor = audit.Actor{UserID: id, Login: login, OrgID: orgID}
		e.ObjectID = fmt.Sprint(id)
	}
	ok, err := s.checkPasswordBounded(ctx, password, hash)
	if apperr.IsCode(err, apperr.Unavailable) {
		return Session{}, Principal{}, s.refuseUnheard(ctx, client, e, err)
	}
	if err != nil {
		return Session{}, Principal{}, s.refuse(ctx, e, err)
	}
	if !ok || !known {
		return Session{}, Principal{}, s.recordFailure(ctx, e, login, client.RemoteAddr, failed, now)
	}
	if disabled {
		return Session{}, Principal{}, s.refuse(ctx, e, apperr.New(apperr.Forbidden, "identity.account_disabled"))
	}
	sess := Session{Token: randomToken(32), CSRFToken: randomToken(32), ExpiresAt: now.Add(s.opt.SessionMax)}
	err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		if err := clearAccount(ctx, tx, login); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, remote_addr, user_agent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, hashToken(sess.Token), id, sess.CSRFToken, now, now, sess.ExpiresAt,
			client.RemoteAddr, truncate(client.UserAgent, 300))
		return err
	})
	if err != nil {
		return Session{}, Principal{}, err
	}
	p, err := s.principal(ctx, id)
	if err != nil {
		return Session{}, Principal{}, err
	}
	p.SessionHash, p.CSRFToken = hashToken(sess.Token), sess.CSRFToken
	return sess, p, nil
}

// recordFailure counts a failed attempt of login from addr and audits the
// refusal in the same transaction, with the counts and the wait they set.
func (s *Service) recordFailure(ctx context.Context, e audit.Entry, login, addr string, refusal *apperr.Error, now time.Time) error {
	e.Outcome, e.Reason = audit.Refused, refusal.Key
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		account, address, err := s.countFailure(ctx, tx, login, addr, now)
		if err != nil {
			return err
		}
		e.Set("failures_account", account)
		if addr != "" {
			e.Set("failures_address", address)
		}
		_, err = s.log.Append(ctx, tx, e)
		return err
	})
	if err != nil {
		return errors.Join(refusal, err)
	}
	return refusal
}

// Authenticate resolves a session cookie to its principal, sliding the
// idle timeout.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, apperr.New(apperr.Unauthenticated, "identity.login_required")
	}
	h := hashToken(token)
	var (
		userID          int64
		csrf            string
		lastSeen, until time.Time
		revoked         sql.NullTime
	)
	err := s.db.QueryRow(ctx, `SELECT user_id, csrf_token, last_seen_at, expires_at, revoked_at FROM sessions WHERE id_hash = ?`, h).
		Scan(&userID, &csrf, &lastSeen, &until, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, apperr.New(apperr.Unauthenticated, "identity.session_expired")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate session: %w", err)
	}
	now := s.clock()
	if revoked.Valid || !now.Before(until) || now.Sub(lastSeen) > s.opt.SessionIdle {
		return Principal{}, apperr.New(apperr.Unauthenticated, "identity.session_expired")
	}
	p, err := s.principal(ctx, userID)
	if err != nil {
		return Principal{}, err
	}
	// Touch at most once a minute: a page load should not always write.
	if now.Sub(lastSeen) > time.Minute {
		if _, err := s.db.Exec(ctx, "UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?", now, h); err != nil {
			return Principal{}, fmt.Errorf("authenticate session: %w", err)
		}
	}
	p.SessionHash, p.CSRFToken = h, csrf
	return p, nil
}

// Logout ends the session p came in with.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	e := entry(p.Actor(), "session.logout", "user", p.UserID)
	return s.log.Do(ctx, e, func(tx *store.Tx, _ *audit.Entry) error {
		_, err := tx.Exec(ctx, "UPDATE sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL", s.clock(), p.SessionHash)
		return err
	})
}

// principal loads a user as a principal, refusing disabled accounts.
// Failed sign-ins never reach an open session or a token: they slow down
// further sign-ins only.
func (s *Service) principal(ctx context.Context, userID int64) (Principal, error) {
	var p Principal
	var typ string
	var disabled bool
	err := s.db.QueryRow(ctx, `SELECT u.id, u.login, u.display_name, u.disabled, o.id, o.name, o.type, o.region_code
		FROM users u JOIN organizations o ON o.id = u.org_id WHERE u.id = ?`, userID).
		Scan(&p.UserID, &p.Login, &p.Name, &disabled, &p.OrgID, &p.OrgName, &typ, &p.Region)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, apperr.New(apperr.Unauthenticated, "identity.session_expired")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("load principal %d: %w", userID, err)
	}
	if disabled {
		return Principal{}, apperr.New(apperr.Forbidden, "identity.account_disabled")
	}
	p.OrgType = OrgType(typ)
	if p.Roles, err = s.roles(ctx, userID); err != nil {
		return Principal{}, fmt.Errorf("load principal %d: %w", userID, err)
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// RevokeOrgAccess ends, inside the caller's transaction, every session and
// API token of an organisation's users: an operator whose agreement is
// suspended or ends is refused on its next request (R16.2). Tokens are not
// bound to one agreement, so an operator with another agreement in force
// signs in again and issues new tokens; the scope check keeps the stopped
// agreement's data closed either way.
func (s *Service) RevokeOrgAccess(ctx context.Context, tx *store.Tx, orgID int64) (sessions, tokens int64, err error) {
	now := s.clock()
	res, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL
		AND user_id IN (SELECT id FROM users WHERE org_id = ?)`, now, orgID)
	if err != nil {
		return 0, 0, fmt.Errorf("revoke sessions of org %d: %w", orgID, err)
	}
	sessions, _ = res.RowsAffected()
	res, err = tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE revoked_at IS NULL
		AND user_id IN (SELECT id FROM users WHERE org_id = ?)`, now, orgID)
	if err != nil {
		return sessions, 0, fmt.Errorf("revoke tokens of org %d: %w", orgID, err)
	}
	tokens, _ = res.RowsAffected()
	return sessions, tokens, nil
}
