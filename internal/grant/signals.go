package grant

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
)

// Stop says that an agreement stopped: suspended, terminated or expired.
// It is the cause of every context Signals cancels for the agreement.
type Stop struct {
	AgreementID int64
	State       AgreementState
	Reason      string
	At          time.Time
}

func (s *Stop) Error() string {
	return fmt.Sprintf("agreement %d %s: %s", s.AgreementID, s.State, s.Reason)
}

// StopOf reports the stop that cancelled ctx, if an agreement's stop did.
func StopOf(ctx context.Context) (*Stop, bool) {
	var st *Stop
	if errors.As(context.Cause(ctx), &st) {
		return st, true
	}
	return nil, false
}

// stopError is the cause a cancelled context carries: a message a person
// can read, wrapping the Stop for code that branches on it.
func stopError(st Stop) error {
	return apperr.New(apperr.Forbidden, "grant.agreement_stopped", "id", id64(st.AgreementID),
		"state", "@grant.state."+string(st.State), "reason", st.Reason).Wrap(&st)
}

// Signals is the in-process broker that tells running work an agreement
// stopped, so the sandbox can cancel queries the moment the agency
// suspends or ends an agreement (R16.1, R16.2) or its term runs out. It is
// safe for concurrent use. It reaches only this process: work on other
// nodes must also call Authorize before each step.
type Signals struct {
	mu   sync.Mutex
	next uint64
	subs map[int64]map[uint64]func(Stop)
}

// NewSignals returns an empty broker.
func NewSignals() *Signals {
	return &Signals{subs: map[int64]map[uint64]func(Stop){}}
}

func (s *Signals) add(agreementID int64, fn func(Stop)) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	m := s.subs[agreementID]
	if m == nil {
		m = map[uint64]func(Stop){}
		s.subs[agreementID] = m
	}
	m[s.next] = fn
	return s.next
}

func (s *Signals) remove(agreementID int64, key uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.subs[agreementID]; m != nil {
		delete(m, key)
		if len(m) == 0 {
			delete(s.subs, agreementID)
		}
	}
}

// Context returns a context derived from parent that is cancelled when
// the agreement stops, with a cause a person can read (see StopOf). Call
// cancel when the work is done, to release it.
func (s *Signals) Context(parent context.Context, agreementID int64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	key := s.add(agreementID, func(st Stop) { cancel(stopError(st)) })
	// However the context ends (its parent too), it leaves the broker;
	// cancel also leaves at once, so a caller sees the broker clean on return.
	context.AfterFunc(ctx, func() { s.remove(agreementID, key) })
	return ctx, func() { cancel(context.Canceled); s.remove(agreementID, key) }
}

// Subscribe returns a channel that receives the agreement's next stop
// (once), and a function that unsubscribes.
func (s *Signals) Subscribe(agreementID int64) (<-chan Stop, func()) {
	ch := make(chan Stop, 1)
	key := s.add(agreementID, func(st Stop) {
		select {
		case ch <- st:
		default:
		}
	})
	return ch, func() { s.remove(agreementID, key) }
}

// Publish tells every context and subscriber of the agreement that it
// stopped. Each is told once and then forgotten.
func (s *Signals) Publish(st Stop) {
	s.mu.Lock()
	m := s.subs[st.AgreementID]
	delete(s.subs, st.AgreementID)
	s.mu.Unlock()
	for _, fn := range m {
		fn(st)
	}
}

// Waiting reports how many contexts and subscribers wait on an agreement.
func (s *Signals) Waiting(agreementID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs[agreementID])
}
