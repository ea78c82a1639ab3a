package audit

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/store"
)

// ActionAcknowledge acknowledges an integrity alarm.
const ActionAcknowledge = "audit.acknowledge"

// allowedWhileSealed are the only actions recorded while an alarm stops
// writes: what an administrator needs to sign in and acknowledge it.
var allowedWhileSealed = map[string]bool{ActionAcknowledge: true, "session.login": true, "session.logout": true}

// Alarm is an integrity failure: the first entry or leaf that does not
// match what the log committed to.
type Alarm struct {
	ID          int64     `json:"id"`
	DetectedAt  time.Time `json:"detected_at"`
	EntryID     int64     `json:"entry_id"`
	LeafIndex   int64     `json:"leaf_index"`
	Problem     string    `json:"problem"`
	AckedBy     string    `json:"acknowledged_by,omitempty"`
	AckedAt     time.Time `json:"acknowledged_at,omitzero"`
	Acknowledge string    `json:"acknowledgement,omitempty"`
}

// Problems a check can find, as stable codes (the console translates them).
const (
	ProblemEntryChanged   = "entry_changed"   // the entry no longer hashes to its leaf
	ProblemEntryMissing   = "entry_missing"   // a leaf's entry is gone
	ProblemEntryInserted  = "entry_inserted"  // an entry appeared behind the integrated ones
	ProblemOrder          = "order_changed"   // leaves no longer follow entry order
	ProblemRootMismatch   = "root_mismatch"   // the stored tree does not match the signed checkpoint
	ProblemBadCheckpoint  = "bad_checkpoint"  // the latest checkpoint's signature does not verify
	ProblemCheckpointSize = "checkpoint_size" // the checkpoint claims more leaves than stored
)

// CheckResult reports a full verification.
type CheckResult struct {
	Entries  uint64        `json:"entries"`
	Size     uint64        `json:"checkpoint_size"`
	Duration time.Duration `json:"duration_ns"`
	Alarm    *Alarm        `json:"alarm,omitempty"`
}

// Check recomputes every leaf from its entry and the root from the leaves,
// and compares them with the latest signed checkpoint. The first mismatch
// is returned as an alarm (recorded, and sealing the log against writes
// unless an administrator already acknowledged the same finding).
func (t *Tree) Check(ctx context.Context) (CheckResult, error) {
	start := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	res, alarm, err := t.verify(ctx)
	res.Duration = time.Since(start)
	if err != nil || alarm == nil {
		return res, err
	}
	recorded, err := t.recordAlarm(ctx, *alarm)
	if err != nil {
		return res, err
	}
	res.Alarm = &recorded
	if recorded.AckedAt.IsZero() {
		t.log.sealed.Store(&recorded)
	}
	return res, nil
}

func (t *Tree) verify(ctx context.Context) (CheckResult, *Alarm, error) {
	var res CheckResult
	var cp Checkpoint
	var size int64
	err := t.db.QueryRow(ctx, "SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1").Scan(&size, &cp.Note)
	hasCheckpoint := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return res, nil, err
	}
	if hasCheckpoint {
		opened, err := ParseCheckpoint([]byte(cp.Note), t.verifier)
		if err != nil || opened.Size != uint64(size) || opened.Origin != t.origin {
			return res, &Alarm{EntryID: 0, LeafIndex: size, Problem: ProblemBadCheckpoint}, nil
		}
		cp = opened
		res.Size = cp.Size
	}
	rows, err := t.db.Query(ctx, `SELECT l.leaf_index, l.entry_id, l.hash, e.id, e.at, e.actor_user_id, e.actor_login, e.actor_org_id,
		e.action, e.object_type, e.object_id, e.outcome, e.reason, e.details, e.request_id, e.remote_addr
		FROM audit_leaves l LEFT JOIN audit_entries e ON e.id = l.entry_id ORDER BY l.leaf_index`)
	if err != nil {
		return res, nil, fmt.Errorf("audit: check: %w", err)
	}
	defer rows.Close()
	rng := t.factory.NewEmptyRange(0)
	var prevEntry int64
	var want uint64
	var rootAtCheckpoint []byte
	for rows.Next() {
		var idx, entryID int64
		var stored []byte
		var eid, uid, oid sql.NullInt64
		var at sql.NullTime
		var login, action, otype, oid2, outcome, reason, details, reqID, remote sql.NullString
		if err := rows.Scan(&idx, &entryID, &stored, &eid, &at, &uid, &login, &oid, &action, &otype, &oid2,
			&outcome, &reason, &details, &reqID, &remote); err != nil {
			return res, nil, fmt.Errorf("audit: check: %w", err)
		}
		alarm := func(p string) (CheckResult, *Alarm, error) {
			return res, &Alarm{EntryID: entryID, LeafIndex: idx, Problem: p}, nil
		}
		if uint64(idx) != want || entryID <= prevEntry {
			return alarm(ProblemOrder)
		}
		if !eid.Valid {
			return alarm(ProblemEntryMissing)
		}
		e := Entry{ID: eid.Int64, At: at.Time, Actor: Actor{UserID: uid.Int64, Login: login.String, OrgID: oid.Int64},
			Action: action.String, ObjectType: otype.String, ObjectID: oid2.String, Outcome: Outcome(outcome.String),
			Reason: reason.String, RequestID: reqID.String, RemoteAddr: remote.String}
		if !bytes.Equal(t.hasher.HashLeaf(LeafBytes(e, details.String)), stored) {
			return alarm(ProblemEntryChanged)
		}
		if err := rng.Append(stored, nil); err != nil {
			return res, nil, err
		}
		want++
		prevEntry = entryID
		res.Entries++
		if hasCheckpoint && want == cp.Size {
			if rootAtCheckpoint, err = rng.GetRootHash(nil); err != nil {
				return res, nil, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return res, nil, err
	}
	rows.Close()
	if hasCheckpoint {
		if want < cp.Size {
			return res, &Alarm{LeafIndex: int64(want), Problem: ProblemCheckpointSize}, nil
		}
		if !bytes.Equal(rootAtCheckpoint, cp.Root) {
			return res, &Alarm{LeafIndex: int64(cp.Size) - 1, Problem: ProblemRootMismatch}, nil
		}
	}
	// An entry slipped in below the integrated ones was inserted after the fact.
	var inserted sql.NullInt64
	if err := t.db.QueryRow(ctx, `SELECT MIN(e.id) FROM audit_entries e WHERE e.id <= ?
		AND NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.entry_id = e.id)`, prevEntry).Scan(&inserted); err != nil {
		return res, nil, fmt.Errorf("audit: check: %w", err)
	}
	if inserted.Valid {
		return res, &Alarm{EntryID: inserted.Int64, LeafIndex: -1, Problem: ProblemEntryInserted}, nil
	}
	return res, nil, nil
}

// recordAlarm stores a finding once; the same finding seen again (at the
// next start, say) returns the stored alarm with its acknowledgement.
func (t *Tree) recordAlarm(ctx context.Context, a Alarm) (Alarm, error) {
	found, err := t.alarm(ctx, "entry_id = ? AND leaf_index = ? AND problem = ?", a.EntryID, a.LeafIndex, a.Problem)
	if err == nil {
		return found, nil
	}
	if !apperr.IsCode(err, apperr.NotFound) {
		return Alarm{}, err
	}
	a.DetectedAt = storedTime(t.now())
	err = t.db.InTx(ctx, func(tx *store.Tx) error {
		id, err := tx.InsertID(ctx, "INSERT INTO audit_alarms (detected_at, entry_id, leaf_index, problem) VALUES (?, ?, ?, ?)",
			a.DetectedAt, a.EntryID, a.LeafIndex, a.Problem)
		a.ID = id
		return err
	})
	return a, err
}

func (t *Tree) alarm(ctx context.Context, where string, args ...any) (Alarm, error) {
	var a Alarm
	var by, text sql.NullString
	var at sql.NullTime
	err := t.db.QueryRow(ctx, `SELECT id, detected_at, entry_id, leaf_index, problem, acknowledged_by, acknowledged_at, acknowledgement
		FROM audit_alarms WHERE `+where+` ORDER BY id DESC LIMIT 1`, args...).
		Scan(&a.ID, &a.DetectedAt, &a.EntryID, &a.LeafIndex, &a.Problem, &by, &at, &text)
	if errors.Is(err, sql.ErrNoRows) {
		return Alarm{}, apperr.New(apperr.NotFound, "audit.alarm_not_found")
	}
	a.AckedBy, a.AckedAt, a.Acknowledge = by.String, at.Time, text.String
	return a, err
}

// Sealed returns the unacknowledged alarm that stops writes, or nil.
func (l *Log) Sealed() *Alarm { return l.sealed.Load() }

// Acknowledge records that an administrator has seen an alarm and takes
// responsibility for resuming writes; the acknowledgement is itself an
// audit entry. The caller has checked that actor may do this.
func (t *Tree) Acknowledge(ctx context.Context, actor Actor, alarmID int64, statement string) error {
	e := Entry{Actor: actor, Action: ActionAcknowledge, ObjectType: "audit_alarm", ObjectID: strconv.FormatInt(alarmID, 10)}
	e.Set("statement", statement)
	if len(statement) < 10 {
		return t.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "audit.ack_statement_required").OnField("statement"))
	}
	err := t.log.Do(ctx, e, func(tx *store.Tx, e *Entry) error {
		res, err := tx.Exec(ctx, `UPDATE audit_alarms SET acknowledged_by = ?, acknowledged_at = ?, acknowledgement = ?
			WHERE id = ? AND acknowledged_at IS NULL`, actor.Login, storedTime(t.now()), statement, alarmID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.NotFound, "audit.alarm_not_found")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if a := t.log.sealed.Load(); a != nil && a.ID == alarmID {
		t.log.sealed.Store(nil)
	}
	return nil
}
