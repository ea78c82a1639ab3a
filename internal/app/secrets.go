package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/gongshu/gongshu/internal/store"
)

// sharedSecret returns the secret called name that every server on the
// store shares, creating it (32 random bytes) at the first start; when two
// servers start at once, the first insert wins and both read it.
func sharedSecret(ctx context.Context, db *store.DB, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if _, err := db.Exec(ctx, `INSERT INTO web_secrets (name, secret, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, base64.StdEncoding.EncodeToString(fresh), time.Now().UTC()); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	var enc string
	if err := db.QueryRow(ctx, `SELECT secret FROM web_secrets WHERE name = ?`, name).Scan(&enc); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(b) < 32 {
		return nil, fmt.Errorf("secret %s: stored value is not a 32-byte key", name)
	}
	return b, nil
}
