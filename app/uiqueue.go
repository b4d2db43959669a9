package app

import (
	"sync"
	"time"
)

// uiQueue hands events and results (xmpp.Event or func()) to Fyne's
// goroutine in arrival order, coalescing: while one hand-over waits for the
// UI, whatever arrives joins it, so a flood (thousands of presences at
// sign-in, an archive catch-up) is applied and redrawn a few times, not once
// per event, however the events trickle in. With 20,000 contacts Prosody's
// answers to the presence probes came two at a time: taking only what was
// already waiting made 10,000 hand-overs, each redrawing the contact list,
// and the redraws kept the app busy, and growing, for ten seconds.
//
// interval, when set, spaces the hand-overs: one comes at once after a
// quiet spell, the next no sooner than interval after the one before, and
// whatever arrives meanwhile joins it. While events keep coming the space
// doubles, up to maxInterval, and it is back to interval after a quiet
// spell. A burst of a thousand messages in five seconds is then applied in
// about a dozen batches, each redrawing the contact list, the badges, the
// open chat and the tray once, instead of in as many batches as the UI
// could take (each message on its own when the UI kept up, with a redraw
// each).
type uiQueue struct {
	toUI                  func(func())
	apply                 func(batch []any) // on Fyne's goroutine
	interval, maxInterval time.Duration

	mu      sync.Mutex
	pending []any
	queued  bool          // a hand-over is queued on Fyne's goroutine and has not run
	last    time.Time     // when the last hand-over began
	space   time.Duration // the space before the next hand-over
	// throttled is set when the queued hand-over waits for the space.
	throttled bool
}

// uiBatchInterval and uiBatchMaxInterval are the pump's: a message after
// a quiet spell shows at once, one in a flood within half a second, and a
// flood costs a few redraws a second.
const (
	uiBatchInterval    = 250 * time.Millisecond
	uiBatchMaxInterval = 500 * time.Millisecond
)

func (q *uiQueue) add(item any) {
	q.mu.Lock()
	q.pending = append(q.pending, item)
	schedule := !q.queued
	q.queued = true
	var wait time.Duration
	if schedule && q.interval > 0 {
		wait = time.Until(q.last.Add(q.space))
		q.throttled = wait > 0
	}
	q.mu.Unlock()
	switch {
	case !schedule:
	case wait > 0:
		time.AfterFunc(wait, func() { q.toUI(q.deliver) })
	default:
		q.toUI(q.deliver)
	}
}

// deliver applies up to maxEventBatch items and queues the rest for the
// UI's next turn, so that the window stays responsive during a flood.
func (q *uiQueue) deliver() {
	q.mu.Lock()
	now := time.Now()
	if q.interval > 0 {
		if q.throttled { // events kept coming, and waited for this turn
			q.space = min(2*q.space, max(q.maxInterval, q.interval))
		} else {
			q.space = q.interval
		}
	}
	q.last = now
	n := min(len(q.pending), maxEventBatch)
	batch := q.pending[:n:n]
	if n == len(q.pending) {
		q.pending = nil
		q.queued = false
	} else {
		q.pending = append([]any(nil), q.pending[n:]...)
		// Queued from another goroutine: fyne.Do called on Fyne's own
		// goroutine runs the function at once, without a redraw between.
		go q.toUI(q.deliver)
	}
	q.mu.Unlock()
	q.apply(batch)
}
