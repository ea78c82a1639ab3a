package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/store"
)

// User is an account. The password hash never leaves this package.
type User struct {
	ID          int64      `json:"id"`
	Login       string     `json:"login"`
	Name        string     `json:"name"`
	OrgID       int64      `json:"org_id"`
	Roles       []Role     `json:"roles"`
	Disabled    bool       `json:"disabled"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// UserInput is what creating an account takes.
type UserInput struct {
	Login    string `json:"login"`
	Name     string `json:"name"`
	OrgID    int64  `json:"org_id"`
	Roles    []Role `json:"roles"`
	Password string `json:"password"`
}

var loginPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,63}$`)

// CreateUser creates an account; only the platform administrator may.
func (s *Service) CreateUser(ctx context.Context, p Principal, in UserInput) (User, error) {
	e := entry(p.Actor(), "user.create", "user", 0)
	if err := Authorize(s.regions, p, ActUserCreate, Object{OrgID: in.OrgID}); err != nil {
		e.Set("login", in.Login)
		return User{}, s.refuse(ctx, e, err)
	}
	return s.createUser(ctx, e, in)
}

// CreateUserAsSystem creates an account on behalf of the platform (the
// `gongshu user create` command on the host, and demo seeding).
func (s *Service) CreateUserAsSystem(ctx context.Context, in UserInput) (User, error) {
	return s.createUser(ctx, entry(audit.System, "user.create", "user", 0), in)
}

func (s *Service) createUser(ctx context.Context, e audit.Entry, in UserInput) (User, error) {
	in.Login = strings.ToLower(strings.TrimSpace(in.Login))
	in.Name = strings.TrimSpace(in.Name)
	e.Set("login", in.Login)
	e.Set("org_id", in.OrgID)
	e.Set("roles", in.Roles)
	if !loginPattern.MatchString(in.Login) {
		return User{}, s.refuse(ctx, e, apperr.New(apperr.Invalid, "identity.login_invalid").OnField("login"))
	}
	if n := utf8.RuneCountInString(in.Name); n < 1 || n > 100 {
		return User{}, s.refuse(ctx, e, apperr.New(apperr.Invalid, "identity.user_name_length").OnField("name"))
	}
	if len(in.Roles) == 0 {
		return User{}, s.refuse(ctx, e, apperr.New(apperr.Invalid, "identity.roles_required").OnField("roles"))
	}
	if err := CheckPasswordStrength(in.Password, in.Login); err != nil {
		return User{}, s.refuse(ctx, e, err)
	}
	hash, err := s.hashPasswordBounded(ctx, in.Password)
	if err != nil {
		return User{}, s.refuse(ctx, e, err)
	}
	now := s.clock()
	u := User{Login: in.Login, Name: in.Name, OrgID: in.OrgID, Roles: dedupeRoles(in.Roles), CreatedAt: now}
	err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		var typ string
		err := tx.QueryRow(ctx, "SELECT type FROM organizations WHERE id = ?", in.OrgID).Scan(&typ)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.Invalid, "identity.org_not_found", "id", fmt.Sprint(in.OrgID)).OnField("org_id")
		}
		if err != nil {
			return err
		}
		for _, r := range u.Roles {
			if !roleAllowed(OrgType(typ), r) {
				return apperr.New(apperr.Invalid, "identity.role_not_allowed", "role", string(r), "type", typ).OnField("roles")
			}
		}
		var dup int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM users WHERE login = ?", u.Login).Scan(&dup); err != nil {
			return err
		}
		if dup > 0 {
			return apperr.New(apperr.Conflict, "identity.login_taken", "login", u.Login).OnField("login")
		}
		id, err := tx.InsertID(ctx, `INSERT INTO users (login, display_name, org_id, password_hash, password_changed_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, u.Login, u.Name, u.OrgID, hash, now, now)
		if err != nil {
			if store.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "identity.login_taken", "login", u.Login).OnField("login").Wrap(err)
			}
			return err
		}
		for _, r := range u.Roles {
			if _, err := tx.Exec(ctx, "INSERT INTO user_roles (user_id, role) VALUES (?, ?)", id, string(r)); err != nil {
				return err
			}
		}
		u.ID = id
		e.ObjectID = fmt.Sprint(id)
		return nil
	})
	if err != nil {
		return User{}, apperr.WithOp("create user "+in.Login, err)
	}
	return u, nil
}

func roleAllowed(t OrgType, r Role) bool {
	for _, x := range rolesFor[t] {
		if x == r {
			return true
		}
	}
	return false
}

// RolesFor lists the roles a member of an organisation type may hold.
func RolesFor(t OrgType) []Role { return append([]Role(nil), rolesFor[t]...) }

func dedupeRoles(rs []Role) []Role {
	seen := map[Role]bool{}
	var out []Role
	for _, r := range rs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// PasswordChange is a request to set a user's password.
type PasswordChange struct {
	Login   string
	Current string // the user's own change: the current password
	Next    string
	// KeepTokens leaves the user's other API tokens in force after a change
	// of their own password; by default they are revoked with the other
	// sessions, so that a stolen credential does not survive the change.
	KeepTokens bool
	// Client is where the request came from: wrong current passwords count
	// against its address as failed sign-ins do.
	Client ClientInfo
}

// PasswordChanged says what a change ended besides the old password.
type PasswordChanged struct {
	Sessions int64 `json:"sessions_ended"`
	Tokens   int64 `json:"tokens_revoked"`
}

// SetPassword sets a user's password. A user may change their own password
// giving the current one: a wrong one counts as a failed sign-in of the
// login and the address (see Throttle), so the change form is no way
// around the throttle; the change ends every other session and, unless
// KeepTokens, revokes every other API token. The administrator may reset
// anyone's password, which ends all of that user's sessions.
func (s *Service) SetPassword(ctx context.Context, p Principal, in PasswordChange) (PasswordChanged, error) {
	u, err := s.UserByLogin(ctx, in.Login)
	e := entry(p.Actor(), "user.set_password", "user", u.ID)
	if err != nil {
		return PasswordChanged{}, s.refuse(ctx, e, err)
	}
	self := u.ID == p.UserID
	act := ActUserResetPass
	if self {
		act = ActUserChangePass
	}
	if err := Authorize(s.regions, p, act, Object{UserID: u.ID, OrgID: u.OrgID}); err != nil {
		return PasswordChanged{}, s.refuse(ctx, e, err)
	}
	if !self {
		return s.setPassword(ctx, e, u, in.Next, nil)
	}
	wrong := apperr.New(apperr.Invalid, "identity.current_password_wrong").OnField("current_password")
	now := s.clock()
	until, wait, err := s.throttled(ctx, u.Login, in.Client.RemoteAddr, now)
	if err != nil {
		return PasswordChanged{}, s.refuse(ctx, e, err)
	}
	if wait {
		e.Set("throttled_until", until.Format(time.RFC3339))
		return PasswordChanged{}, s.refuseUnheard(ctx, in.Client, e, wrong)
	}
	var hash string
	if err := s.db.QueryRow(ctx, "SELECT password_hash FROM users WHERE id = ?", u.ID).Scan(&hash); err != nil {
		return PasswordChanged{}, s.refuse(ctx, e, err)
	}
	ok, err := s.checkPasswordBounded(ctx, in.Current, hash)
	if err != nil {
		return PasswordChanged{}, s.refuse(ctx, e, err)
	}
	if !ok {
		return PasswordChanged{}, s.recordFailure(ctx, e, u.Login, in.Client.RemoteAddr, wrong, now)
	}
	return s.setPassword(ctx, e, u, in.Next, &keep{session: p.SessionHash, token: p.TokenID, tokens: in.KeepTokens})
}

// keep is what a user's own password change leaves in force: the session
// or token it was made with, and the other tokens if asked.
type keep struct {
	session string
	token   int64
	tokens  bool
}

// SetPasswordAsSystem resets a password from the host (`gongshu user passwd`).
func (s *Service) SetPasswordAsSystem(ctx context.Context, login, next string) error {
	u, err := s.UserByLogin(ctx, login)
	e := entry(audit.System, "user.set_password", "user", u.ID)
	if err != nil {
		return s.refuse(ctx, e, err)
	}
	_, err = s.setPassword(ctx, e, u, next, nil)
	return err
}

// setPassword stores a new hash and ends the user's sessions, so a stolen
// session does not survive a password change: all of them for a reset
// (k nil), all but the caller's own, with the other tokens unless kept,
// for the user's own change. It also forgets the login's failed attempts.
func (s *Service) setPassword(ctx context.Context, e audit.Entry, u User, next string, k *keep) (PasswordChanged, error) {
	e.Set("login", u.Login)
	if err := CheckPasswordStrength(next, u.Login); err != nil {
		return PasswordChanged{}, s.refuse(ctx, e, err)
	}
	hash, err := s.hashPasswordBounded(ctx, next)
	if err != nil {
		return PasswordChanged{}, s.refuse(ctx, e, err)
	}
	now := s.clock()
	var out PasswordChanged
	err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = ?, password_changed_at = ?, failed_logins = 0, locked_until = NULL
			WHERE id = ?`, hash, now, u.ID); err != nil {
			return err
		}
		if err := clearAccount(ctx, tx, u.Login); err != nil {
			return err
		}
		keepSession := ""
		if k != nil {
			keepSession = k.session
		}
		res, err := tx.Exec(ctx, "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id_hash <> ?", now, u.ID, keepSession)
		if err != nil {
			return err
		}
		out.Sessions, _ = res.RowsAffected()
		if k != nil && !k.tokens {
			res, err := tx.Exec(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id <> ?", now, u.ID, k.token)
			if err != nil {
				return err
			}
			out.Tokens, _ = res.RowsAffected()
		}
		e.Set("sessions_ended", out.Sessions)
		e.Set("tokens_revoked", out.Tokens)
		return nil
	})
	return out, err
}

const userColumns = "id, login, display_name, org_id, disabled, locked_until, created_at"

func (s *Service) scanUsers(ctx context.Context, rows *sql.Rows) ([]User, error) {
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var locked sql.NullTime
		if err := rows.Scan(&u.ID, &u.Login, &u.Name, &u.OrgID, &u.Disabled, &locked, &u.CreatedAt); err != nil {
			return nil, err
		}
		u.CreatedAt = u.CreatedAt.UTC()
		if locked.Valid && locked.Time.After(s.clock()) {
			t := locked.Time.UTC()
			u.LockedUntil = &t
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i := range out {
		roles, err := s.roles(ctx, out[i].ID)
		if err != nil {
			return nil, err
		}
		out[i].Roles = roles
	}
	return out, nil
}

func (s *Service) roles(ctx context.Context, userID int64) ([]Role, error) {
	rows, err := s.db.Query(ctx, "SELECT role FROM user_roles WHERE user_id = ? ORDER BY role", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Role
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, Role(r))
	}
	return out, rows.Err()
}

// UserByLogin returns one account.
func (s *Service) UserByLogin(ctx context.Context, login string) (User, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	rows, err := s.db.Query(ctx, "SELECT "+userColumns+" FROM users WHERE login = ?", login)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", login, err)
	}
	us, err := s.scanUsers(ctx, rows)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", login, err)
	}
	if len(us) == 0 {
		return User{}, apperr.New(apperr.NotFound, "identity.user_not_found", "login", login)
	}
	return us[0], nil
}

// Users lists the accounts p may see: all for the administrator, those of
// p's own organisation for everyone else. orgID narrows to one organisation.
func (s *Service) Users(ctx context.Context, p Principal, orgID int64) ([]User, error) {
	if orgID == 0 && !p.Has(RoleAdmin) {
		orgID = p.OrgID
	}
	if err := Authorize(s.regions, p, ActUserRead, Object{OrgID: orgID}); err != nil {
		return nil, err
	}
	q, args := "SELECT "+userColumns+" FROM users", []any{}
	if orgID != 0 {
		q += " WHERE org_id = ?"
		args = append(args, orgID)
	}
	rows, err := s.db.Query(ctx, q+" ORDER BY org_id, login", args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	us, err := s.scanUsers(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}
