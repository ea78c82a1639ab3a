package sandbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
)

// Budget is an agreement's ε budget under differential privacy.
type Budget struct {
	AgreementID int64   `json:"agreement_id"`
	Total       float64 `json:"total"`
	Spent       float64 `json:"spent"`
	Remaining   float64 `json:"remaining"`

	remainingMicros int64
}

// Budget returns the agreement's ε budget and what is spent of it.
func (s *Service) Budget(ctx context.Context, agreementID int64) (Budget, error) {
	total, spent := micros(s.opt.Budget), int64(0)
	err := s.db.QueryRow(ctx, "SELECT total_micros, spent_micros FROM sandbox_budgets WHERE agreement_id = ?", agreementID).Scan(&total, &spent)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Budget{}, fmt.Errorf("budget of agreement %d: %w", agreementID, err)
	}
	return Budget{AgreementID: agreementID, Total: float64(total) / 1e6, Spent: float64(spent) / 1e6,
		Remaining: float64(total-spent) / 1e6, remainingMicros: total - spent}, nil
}

func ledgerNote(j *Job) string { return "reserve " + j.token }

// reserve spends eps of the job's agreement before the query runs, or
// refuses it: a conditional UPDATE, so that two concurrent queries never
// both fit into the last of the budget.
func (s *Service) reserve(ctx context.Context, j *Job, eps *big.Rat) error {
	m := micros(eps)
	var tok [8]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return fmt.Errorf("reserve budget: %w", err)
	}
	j.token = hex.EncodeToString(tok[:])
	var ok bool
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, "UPDATE sandbox_budgets SET spent_micros = spent_micros + ? WHERE agreement_id = ? AND spent_micros + ? <= total_micros",
			m, j.agreementID, m)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			var exists int
			err := tx.QueryRow(ctx, "SELECT 1 FROM sandbox_budgets WHERE agreement_id = ?", j.agreementID).Scan(&exists)
			if !errors.Is(err, sql.ErrNoRows) {
				return err // present and full, or a failure
			}
			total := micros(s.opt.Budget)
			if m > total {
				return nil
			}
			if _, err := tx.Exec(ctx, "INSERT INTO sandbox_budgets (agreement_id, total_micros, spent_micros) VALUES (?, ?, ?)",
				j.agreementID, total, m); err != nil {
				return err
			}
		}
		ok = true
		_, err = tx.Exec(ctx, "INSERT INTO sandbox_ledger (agreement_id, epsilon_micros, note, at) VALUES (?, ?, ?, ?)",
			j.agreementID, m, ledgerNote(j), s.clock())
		return err
	})
	if err != nil {
		return fmt.Errorf("reserve budget: %w", err)
	}
	if !ok {
		b, err := s.Budget(ctx, j.agreementID)
		if err != nil {
			return err
		}
		return apperr.New(apperr.Forbidden, KeyBudget, "epsilon", strconv.FormatFloat(float64(m)/1e6, 'f', -1, 64),
			"remaining", strconv.FormatFloat(b.Remaining, 'f', -1, 64))
	}
	j.epsMicros = m
	return nil
}

// refund gives back a reservation whose query never produced a result:
// no noisy answer was computed, so no privacy was spent.
func (s *Service) refund(ctx context.Context, j *Job, why string) {
	if j.epsMicros == 0 {
		return
	}
	m := j.epsMicros
	ctx = context.WithoutCancel(ctx)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE sandbox_budgets SET spent_micros = spent_micros - ? WHERE agreement_id = ?", m, j.agreementID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO sandbox_ledger (agreement_id, epsilon_micros, note, at) VALUES (?, ?, ?, ?)",
			j.agreementID, -m, "refund "+j.token+": "+why, s.clock())
		return err
	})
	if err == nil {
		j.epsMicros = 0
	}
}

// LedgerEntry is one line of an agreement's ε ledger.
type LedgerEntry struct {
	JobID   int64   `json:"job_id"`
	Epsilon float64 `json:"epsilon"`
	Note    string  `json:"note"`
}

// Ledger lists an agreement's ε ledger, oldest first.
func (s *Service) Ledger(ctx context.Context, agreementID int64) ([]LedgerEntry, error) {
	rows, err := s.db.Query(ctx, "SELECT job_id, epsilon_micros, note FROM sandbox_ledger WHERE agreement_id = ? ORDER BY id", agreementID)
	if err != nil {
		return nil, fmt.Errorf("ledger of agreement %d: %w", agreementID, err)
	}
	defer rows.Close()
	var out []LedgerEntry
	for rows.Next() {
		var l LedgerEntry
		var m int64
		if err := rows.Scan(&l.JobID, &m, &l.Note); err != nil {
			return nil, err
		}
		l.Epsilon = float64(m) / 1e6
		out = append(out, l)
	}
	return out, rows.Err()
}
