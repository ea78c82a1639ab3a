package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
)

// TokenPrefix starts every API token, so secret scanners can find leaked ones.
const TokenPrefix = "gst_"

// Token lifetimes: the default and the longest allowed.
const (
	DefaultTokenTTL = 90 * 24 * time.Hour
	MaxTokenTTL     = 366 * 24 * time.Hour
)

// Token is an API token as lists show it; the secret is never stored.
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Active reports whether the token may still be used at t.
func (t Token) Active(at time.Time) bool { return t.RevokedAt == nil && at.Before(t.ExpiresAt) }

// CreateToken issues a token for p itself; the secret is returned once.
func (s *Service) CreateToken(ctx context.Context, p Principal, name string, ttl time.Duration) (Token, string, error) {
	e := entry(p.Actor(), "token.create", "api_token", 0)
	if err := Authorize(s.regions, p, ActTokenManage, Object{UserID: p.UserID}); err != nil {
		return Token{}, "", s.refuse(ctx, e, err)
	}
	return s.issueToken(ctx, e, p.UserID, name, ttl)
}

// CreateTokenAsSystem issues a token for a user from the host
// (`gongshu token create --user U`, demo seeding).
func (s *Service) CreateTokenAsSystem(ctx context.Context, login, name string, ttl time.Duration) (Token, string, error) {
	e := entry(audit.System, "token.create", "api_token", 0)
	u, err := s.UserByLogin(ctx, login)
	if err != nil {
		return Token{}, "", s.refuse(ctx, e, err)
	}
	return s.issueToken(ctx, e, u.ID, name, ttl)
}

func (s *Service) issueToken(ctx context.Context, e audit.Entry, userID int64, name string, ttl time.Duration) (Token, string, error) {
	name = strings.TrimSpace(name)
	e.Set("user_id", userID)
	e.Set("name", name)
	if n := utf8.RuneCountInString(name); n < 1 || n > 100 {
		return Token{}, "", s.refuse(ctx, e, apperr.New(apperr.Invalid, "identity.token_name_length").OnField("name"))
	}
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Hour || ttl > MaxTokenTTL {
		return Token{}, "", s.refuse(ctx, e, apperr.New(apperr.Invalid, "identity.token_ttl_range",
			"max_days", fmt.Sprint(int(MaxTokenTTL.Hours()/24))).OnField("expires_in_days"))
	}
	secret := TokenPrefix + randomToken(32)
	now := s.clock()
	t := Token{UserID: userID, Name: name, Prefix: secret[:len(TokenPrefix)+6], CreatedAt: now, ExpiresAt: now.Add(ttl)}
	e.Set("expires_at", t.ExpiresAt.Format(time.RFC3339))
	err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		id, err := tx.InsertID(ctx, `INSERT INTO api_tokens (user_id, name, prefix, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			userID, name, t.Prefix, hashToken(secret), now, t.ExpiresAt)
		if err != nil {
			return err
		}
		t.ID = id
		e.ObjectID = fmt.Sprint(id)
		return nil
	})
	if err != nil {
		return Token{}, "", apperr.WithOp("create token", err)
	}
	return t, secret, nil
}

// RevokeToken ends a token at once; its owner or the administrator may.
func (s *Service) RevokeToken(ctx context.Context, p Principal, id int64) error {
	e := entry(p.Actor(), "token.revoke", "api_token", id)
	t, err := s.token(ctx, id)
	if err != nil {
		return s.refuse(ctx, e, err)
	}
	if err := Authorize(s.regions, p, ActTokenRevoke, Object{UserID: t.UserID}); err != nil {
		return s.refuse(ctx, e, err)
	}
	if t.RevokedAt != nil {
		return s.refuse(ctx, e, apperr.New(apperr.Conflict, "identity.token_already_revoked"))
	}
	return s.log.Do(ctx, e, func(tx *store.Tx, _ *audit.Entry) error {
		_, err := tx.Exec(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", s.clock(), id)
		return err
	})
}

const tokenColumns = "id, user_id, name, prefix, created_at, expires_at, revoked_at, last_used_at"

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var revoked, used sql.NullTime
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &t.CreatedAt, &t.ExpiresAt, &revoked, &used); err != nil {
		return Token{}, err
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	if revoked.Valid {
		r := revoked.Time.UTC()
		t.RevokedAt = &r
	}
	if used.Valid {
		u := used.Time.UTC()
		t.LastUsedAt = &u
	}
	return t, nil
}

func (s *Service) token(ctx context.Context, id int64) (Token, error) {
	t, err := scanToken(s.db.QueryRow(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, apperr.New(apperr.NotFound, "identity.token_not_found", "id", fmt.Sprint(id))
	}
	return t, err
}

// Tokens lists p's own tokens, newest first.
func (s *Service) Tokens(ctx context.Context, p Principal) ([]Token, error) {
	rows, err := s.db.Query(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE user_id = ? ORDER BY id DESC", p.UserID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// AuthenticateToken resolves a bearer token to its principal. An expired
// or revoked token is refused with a message saying which.
func (s *Service) AuthenticateToken(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return Principal{}, apperr.New(apperr.Unauthenticated, "identity.token_invalid")
	}
	t, err := scanToken(s.db.QueryRow(ctx, "SELECT "+tokenColumns+" FROM api_tokens WHERE hash = ?", hashToken(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, apperr.New(apperr.Unauthenticated, "identity.token_invalid")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate token: %w", err)
	}
	now := s.clock()
	if t.RevokedAt != nil {
		return Principal{}, apperr.New(apperr.Unauthenticated, "identity.token_revoked")
	}
	if !now.Before(t.ExpiresAt) {
		return Principal{}, apperr.New(apperr.Unauthenticated, "identity.token_expired",
			"at", t.ExpiresAt.Format(time.RFC3339))
	}
	p, err := s.principal(ctx, t.UserID)
	if err != nil {
		return Principal{}, err
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if _, err := s.db.Exec(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", now, t.ID); err != nil {
			return Principal{}, fmt.Errorf("authenticate token: %w", err)
		}
	}
	p.TokenID = t.ID
	return p, nil
}
