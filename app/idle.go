package app

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"

	"magpie/xmpp"
)

// prefIdleMinutes is after how many minutes without keyboard or mouse input
// the status turns to away; 0 turns it off.
const (
	prefIdleMinutes    = "presence.idle_minutes"
	defaultIdleMinutes = 10
)

// idlePollInterval is how often the input idle time is read. It bounds how
// late "away" starts and how late "available" comes back.
const idlePollInterval = 5 * time.Second

// idleSource tells how long the user has not touched keyboard or mouse. Its
// methods are called off Fyne's goroutine.
type idleSource interface {
	Idle() (time.Duration, error)
	Close()
}

// errNoIdleSource means the platform offers no way to read input idle time.
var errNoIdleSource = errors.New("no input idle time on this desktop")

// activitySource is the fallback idle source: input seen by Magpie's own
// windows (a window coming to the front, a status change). It cannot see
// input to other programs, so it only errs towards "away".
type activitySource struct{ last *atomic.Int64 }

func (s activitySource) Idle() (time.Duration, error) {
	return time.Since(time.Unix(0, s.last.Load())), nil
}

func (activitySource) Close() {}

// awayAction is what a new idle reading asks for.
type awayAction int

const (
	stayPut  awayAction = iota
	goAway              // the user left: away, with the idle time
	comeBack            // the user returned: back to the status before
)

// autoAway decides when idleness turns the status to away and back. It
// holds no clock: each reading brings the idle time, so tests drive it with
// numbers.
type autoAway struct {
	// after is the idle time that means "away"; 0 never does.
	after time.Duration
	// active is set while the away status is Magpie's doing.
	active bool
}

// observe takes a reading. overridable says whether the status the user
// chose may be replaced: only "available" is (away, do not disturb and
// appear offline were chosen on purpose).
func (a *autoAway) observe(idle time.Duration, overridable bool) awayAction {
	if a.active {
		// Any input resets the idle time to about zero; turning the
		// setting off also ends the automatic away.
		if a.after == 0 || idle < a.after {
			a.active = false
			return comeBack
		}
		return stayPut
	}
	if a.after > 0 && idle >= a.after && overridable {
		a.active = true
		return goAway
	}
	return stayPut
}

// chosen records that the user set a status: it wins over the automatic one,
// which is not restored.
func (a *autoAway) chosen() { a.active = false }

// idleAfter returns the setting as a duration (0: off).
func idleAfter(prefs fyne.Preferences) time.Duration {
	minutes := prefs.IntWithFallback(prefIdleMinutes, defaultIdleMinutes)
	if minutes < 0 {
		minutes = 0
	}
	return time.Duration(minutes) * time.Minute
}

// watchIdle reads the idle time every interval until stop is closed, and
// hands each reading to the UI through the pump's applies channel. The
// source is made here, off Fyne's goroutine (it may connect to X11 or
// D-Bus); when it fails, Magpie's own activity stands in.
func watchIdle(newSource func() (idleSource, error), fallback idleSource, interval time.Duration,
	observe func(time.Duration), applies chan<- func(), stop <-chan struct{}) {
	src, err := newSource()
	if err != nil {
		fyne.LogError("input idle time unavailable; away follows activity in Magpie's windows", err)
		src = fallback
	}
	defer src.Close()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		idle, err := src.Idle()
		if err != nil && src != fallback {
			fyne.LogError("read input idle time; away follows activity in Magpie's windows from now on", err)
			src.Close()
			src = fallback
			idle, err = src.Idle()
		}
		if err != nil {
			continue
		}
		select {
		case applies <- func() { observe(idle) }:
		case <-stop:
			return
		}
	}
}

// observeIdle applies an idle reading to the status (Fyne's goroutine).
func (m *mainWindow) observeIdle(idle time.Duration) {
	client := m.c.client
	if client == nil {
		return
	}
	m.away.after = idleAfter(m.c.app.Preferences())
	overridable := m.show.Selected == lang.L("Available")
	switch m.away.observe(idle, overridable) {
	case goAway:
		m.awayFrom = m.show.Selected
		m.setShowQuietly(lang.L("Away"))
		since, status := time.Now().Add(-idle).Truncate(time.Second), m.status.Text
		m.sendPresence(func(ctx context.Context) error {
			return client.SetIdlePresence(ctx, xmpp.ShowAway, status, since)
		})
	case comeBack:
		m.setShowQuietly(m.awayFrom)
		show, status := showFor(m.awayFrom), m.status.Text
		m.sendPresence(func(ctx context.Context) error { return client.SetPresence(ctx, show, status) })
	}
}

// setShowQuietly changes the status selector without it counting as the
// user's choice.
func (m *mainWindow) setShowQuietly(choice string) {
	m.quietShow = true
	m.show.SetSelected(choice)
	m.quietShow = false
}

// sendPresence runs a presence change off Fyne's goroutine. Changes reach
// the server in the order they were asked for: one that a newer change
// overtook is dropped. A failure is only logged: the core keeps the
// presence and sends it on reconnect.
func (m *mainWindow) sendPresence(send func(context.Context) error) {
	gen := m.presenceGen.Add(1)
	go func() {
		m.presenceMu.Lock()
		defer m.presenceMu.Unlock()
		if m.presenceGen.Load() != gen {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := send(ctx); err != nil && !errors.Is(err, xmpp.ErrNotConnected) {
			fyne.LogError("set presence", err)
		}
	}()
}

// idleText says since when a contact has been idle, for the contacts list.
func idleText(since, now time.Time) string {
	if since.IsZero() || now.Sub(since) < time.Minute {
		return ""
	}
	local := since.Local()
	at := local.Format("15:04")
	if y, m, d := now.Local().Date(); y != local.Year() || m != local.Month() || d != local.Day() {
		at = local.Format("2006-01-02 15:04")
	}
	return lang.L("idle since {{.Time}}", map[string]any{"Time": at})
}

// startIdleWatcher starts reading the input idle time for the signed-in
// account; readings reach the main window through the pump.
func (c *controller) startIdleWatcher(applies chan<- func()) {
	c.stopIdleWatcher()
	stop := make(chan struct{})
	c.stopIdle = stop
	newSource, fallback := c.newIdleSource, activitySource{&c.lastActivity}
	if newSource == nil {
		newSource = func() (idleSource, error) { return nil, errNoIdleSource }
	}
	observe := func(idle time.Duration) {
		if c.main != nil {
			c.main.observeIdle(idle)
		}
	}
	interval := c.idleInterval
	if interval <= 0 {
		interval = idlePollInterval
	}
	go watchIdle(newSource, fallback, interval, observe, applies, stop)
}

// stopIdleWatcher ends the idle watcher, if one runs.
func (c *controller) stopIdleWatcher() {
	if c.stopIdle != nil {
		close(c.stopIdle)
		c.stopIdle = nil
	}
}

// idleTextNow is idleText at the current time.
func idleTextNow(since time.Time) string { return idleText(since, time.Now()) }
