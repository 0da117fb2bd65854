package reconcile

import (
	"context"
	"time"

	"github.com/go-logr/logr"
)

// Clock is how the loop tells and waits for time; tests drive it by hand.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// After is time.After.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Loop reconciles again and again, level-triggered: every pass observes
// afresh and converges. A failed pass is retried with capped exponential
// backoff and jitter instead of waiting the full interval; an error that
// retrying cannot fix is reported once and waited on until the inputs change.
type Loop struct {
	Interval time.Duration
	// MinBackoff is the first retry delay; it doubles up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Poll is how often inputs are checked while a terminal error stands.
	Poll  time.Duration
	Clock Clock
	// Jitter spreads a delay d, typically to a value in [d/2, d].
	Jitter func(d time.Duration) time.Duration
	// Pass runs one reconcile pass.
	Pass func(ctx context.Context) error
	// Terminal reports errors that retrying cannot fix.
	Terminal func(error) bool
	// Inputs fingerprints what a terminal error depends on (spec and config bytes).
	Inputs func() string
}

// Run loops until ctx is done; it then returns nil.
func (l *Loop) Run(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx)
	failures := 0
	for pass := 1; ; pass++ {
		if ctx.Err() != nil {
			return nil
		}
		err := l.Pass(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			failures = 0
			log.V(1).Info("waitingForNextPass", "pass", pass, "wait", l.Interval)
			if !l.wait(ctx, l.Interval) {
				return nil
			}
		case l.Terminal != nil && l.Terminal(err):
			failures = 0
			log.Error(err, "passFailedUntilInputsChange", "pass", pass)
			if !l.waitForChange(ctx, l.Inputs()) {
				return nil
			}
		default:
			failures++
			d := l.backoff(failures)
			log.Error(err, "passFailedRetrying", "pass", pass, "failures", failures, "retryIn", d)
			if !l.wait(ctx, d) {
				return nil
			}
		}
	}
}

func (l *Loop) backoff(failures int) time.Duration {
	d := l.MinBackoff
	for i := 1; i < failures && d < l.MaxBackoff; i++ {
		d *= 2
	}
	if d > l.MaxBackoff {
		d = l.MaxBackoff
	}
	if l.Jitter != nil {
		d = l.Jitter(d)
	}
	return d
}

func (l *Loop) wait(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-l.Clock.After(d):
		return true
	}
}

func (l *Loop) waitForChange(ctx context.Context, was string) bool {
	for {
		if !l.wait(ctx, l.Poll) {
			return false
		}
		if l.Inputs() != was {
			return true
		}
	}
}
