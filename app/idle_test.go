package app

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/keyring/keyringtest"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"
)

func TestAutoAwayDecisions(t *testing.T) {
	const after = 10 * time.Minute
	type step struct {
		idle        time.Duration
		overridable bool
		want        awayAction
	}
	for i, tc := range []struct {
		after  time.Duration
		steps  []step
		manual int // before this step the user picks a status (-1: never)
	}{
		// Leaves, stays away, comes back.
		0: {after, []step{{time.Minute, true, stayPut}, {after, true, goAway}, {after + time.Minute, true, stayPut}, {2 * time.Second, true, comeBack}, {time.Second, true, stayPut}}, -1},
		// A status chosen on purpose (away, DND, offline) is never replaced.
		1: {after, []step{{time.Hour, false, stayPut}, {time.Second, false, stayPut}}, -1},
		// 0 minutes: never away.
		2: {0, []step{{24 * time.Hour, true, stayPut}}, -1},
		// The user picks a status while away: it stands, nothing to restore.
		3: {after, []step{{after, true, goAway}, {time.Second, true, stayPut}}, 1},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			a := autoAway{after: tc.after}
			for j, s := range tc.steps {
				if j == tc.manual {
					a.chosen()
				}
				if got := a.observe(s.idle, s.overridable); got != s.want {
					t.Fatalf("step %d (idle %v): %v, want %v", j, s.idle, got, s.want)
				}
			}
		})
	}
	// Turning the setting off ends an automatic away.
	a := autoAway{after: after}
	a.observe(after, true)
	a.after = 0
	if got := a.observe(time.Hour, true); got != comeBack {
		t.Fatalf("setting off while away: %v, want comeBack", got)
	}
}

func TestIdleText(t *testing.T) {
	now := time.Date(2025, 3, 3, 15, 0, 0, 0, time.Local)
	for i, tc := range []struct {
		since time.Time
		want  string
	}{
		0: {time.Time{}, ""},
		1: {now.Add(-30 * time.Second), ""},
		2: {time.Date(2025, 3, 3, 14, 48, 0, 0, time.Local), "idle since 14:48"},
		3: {time.Date(2025, 3, 2, 18, 5, 0, 0, time.Local), "idle since 2025-03-02 18:05"},
	} {
		if got := idleText(tc.since, now); got != tc.want {
			t.Errorf("%d: %q, want %q", i, got, tc.want)
		}
	}
}

// fakeIdle is an idle source the test sets.
type fakeIdle struct{ ms atomic.Int64 }

func (f *fakeIdle) Idle() (time.Duration, error) {
	return time.Duration(f.ms.Load()) * time.Millisecond, nil
}
func (f *fakeIdle) Close()              {}
func (f *fakeIdle) set(d time.Duration) { f.ms.Store(d.Milliseconds()) }

// idleFixture is Magpie signed in as alice (the controller, its UI work run
// on the test's goroutine through ui) and bob, a plain client who has alice
// as a contact and records her presence.
type idleFixture struct {
	c     *controller
	ui    chan func()
	bob   *xmpp.Client
	alice string
	seen  chan xmpp.Presence
}

func newIdleFixture(t *testing.T, source func() (idleSource, error)) *idleFixture {
	t.Helper()
	srv := prosodytest.Start(t, prosodytest.Options{})
	alice := srv.AddUser(t, "alice", "alice-pw")
	bob := srv.AddUser(t, "bob", "bob-pw")
	for user, contact := range map[string]string{"alice": bob, "bob": alice} {
		if err := srv.SetRoster(user, 1, []prosodytest.RosterItem{{JID: contact}}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := &idleFixture{alice: alice, seen: make(chan xmpp.Presence, 100), ui: make(chan func(), 256)}
	f.bob = signIn(t, ctx, srv, bob, "bob-pw")
	go func() {
		for e := range f.bob.Events() {
			if p, ok := e.(xmpp.PresenceChanged); ok && p.From.Bare().String() == alice {
				f.seen <- p.Presence
			}
		}
	}()

	a := test.NewTempApp(t)
	dir := t.TempDir()
	c := newController(a, "test", xmpp.NewAccountStore(filepath.Join(dir, "accounts.json")), keyring.NewStore(&keyringtest.Memory{}))
	c.newIdleSource = source
	c.idleInterval = 20 * time.Millisecond
	c.toUI = func(fn func()) { f.ui <- fn }
	f.c = c
	db, err := store.Open(filepath.Join(dir, "alice.db"))
	if err != nil {
		t.Fatal(err)
	}
	client := signIn(t, ctx, srv, alice, "alice-pw", xmpp.WithStore(db))
	// What signedIn does for presence: the windows, the pump, the idle
	// watcher (the rest, e.g. the notices count, would read the store in
	// the background and race with the test under Fyne's test driver).
	c.client, c.store, c.account = client, db, xmpp.AccountConfig{JID: alice}
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	c.chats.run = (&workQueue{}).run // nothing else runs in the background
	applies := make(chan func(), 8)
	go c.pump(client, applies)
	c.startIdleWatcher(applies)
	f.waitFor(t, "alice online", func(p xmpp.Presence) bool { return p.Available() && p.Show == xmpp.ShowAvailable })
	t.Cleanup(func() {
		c.signOut("")
		f.bob.Close()
		go func() {
			for range f.ui {
			}
		}()
	})
	return f
}

// waitFor runs the UI's work until bob sees a presence of alice that
// matches.
func (f *idleFixture) waitFor(t *testing.T, what string, match func(xmpp.Presence) bool) xmpp.Presence {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case fn := <-f.ui:
			fn()
		case p := <-f.seen:
			if match(p) {
				return p
			}
		case <-deadline:
			t.Fatalf("bob did not see %s", what)
		}
	}
}

// runFor runs the UI's work for d, and fails if bob sees alice change.
func (f *idleFixture) quietFor(t *testing.T, d time.Duration) {
	t.Helper()
	until := time.After(d)
	for {
		select {
		case fn := <-f.ui:
			fn()
		case p := <-f.seen:
			t.Fatalf("bob saw alice change to %+v", p)
		case <-until:
			return
		}
	}
}

// TestIdleAwaySeenByPeer: after the set minutes without input, a contact
// sees alice away with the XEP-0319 idle time, and available again once she
// touches the keyboard; a status she chose herself is left alone.
func TestIdleAwaySeenByPeer(t *testing.T) {
	idle := &fakeIdle{}
	f := newIdleFixture(t, func() (idleSource, error) { return idle, nil })
	c := f.c
	c.app.Preferences().SetInt(prefIdleMinutes, 10)

	left := time.Now()
	idle.set(10*time.Minute + 30*time.Second)
	away := f.waitFor(t, "alice away", func(p xmpp.Presence) bool { return p.Show == xmpp.ShowAway })
	wantSince := left.Add(-10*time.Minute - 30*time.Second)
	if away.IdleSince.IsZero() || away.IdleSince.Sub(wantSince).Abs() > 3*time.Second {
		t.Fatalf("bob sees alice idle since %v, want about %v", away.IdleSince, wantSince)
	}
	if c.main.show.Selected != "Away" {
		t.Fatalf("the status shows %q while away", c.main.show.Selected)
	}
	f.quietFor(t, 200*time.Millisecond) // still idle: nothing more is sent

	idle.set(time.Second) // the mouse moved
	back := f.waitFor(t, "alice back", func(p xmpp.Presence) bool { return p.Show == xmpp.ShowAvailable })
	if !back.IdleSince.IsZero() {
		t.Fatalf("back, bob still sees idle since %v", back.IdleSince)
	}
	if c.main.show.Selected != "Available" {
		t.Fatalf("the status shows %q after coming back", c.main.show.Selected)
	}

	// Do not disturb, chosen by alice, is never turned into away.
	c.main.show.SetSelected("Do not disturb")
	f.waitFor(t, "alice busy", func(p xmpp.Presence) bool { return p.Show == xmpp.ShowDND })
	idle.set(time.Hour)
	f.quietFor(t, 300*time.Millisecond)
	if c.main.show.Selected != "Do not disturb" {
		t.Fatalf("the status shows %q", c.main.show.Selected)
	}

	// Away automatically, then alice picks a status herself: hers stands
	// when she comes back.
	c.main.show.SetSelected("Available")
	f.waitFor(t, "alice available", func(p xmpp.Presence) bool { return p.Show == xmpp.ShowAvailable })
	f.waitFor(t, "alice away again", func(p xmpp.Presence) bool { return p.Show == xmpp.ShowAway && !p.IdleSince.IsZero() })
	c.main.status.SetText("在开会")
	c.main.status.OnSubmitted("在开会")
	f.waitFor(t, "alice's own status", func(p xmpp.Presence) bool { return p.Status == "在开会" && p.IdleSince.IsZero() })
	idle.set(0)
	f.quietFor(t, 300*time.Millisecond)
	if c.main.show.Selected != "Away" || c.main.away.active {
		t.Fatalf("after coming back the status shows %q (automatic %v), want alice's own away", c.main.show.Selected, c.main.away.active)
	}
}

// TestIdleSettingOff: 0 minutes never turns the status to away.
func TestIdleSettingOff(t *testing.T) {
	idle := &fakeIdle{}
	f := newIdleFixture(t, func() (idleSource, error) { return idle, nil })
	f.c.app.Preferences().SetInt(prefIdleMinutes, 0)
	idle.set(48 * time.Hour)
	f.quietFor(t, 300*time.Millisecond)
}

// scaledIdle makes a real idle source's seconds count as minutes, so a test
// of the whole chain does not wait ten minutes.
type scaledIdle struct {
	idleSource
	factor time.Duration
}

func (s scaledIdle) Idle() (time.Duration, error) {
	d, err := s.idleSource.Idle()
	return d * s.factor, err
}

// TestX11IdleAway runs the chain with the real X11 idle time: an X server
// (Xvfb) counts the time since the last input, xdotool moves the mouse.
func TestX11IdleAway(t *testing.T) {
	if _, err := exec.LookPath("xdotool"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("xdotool is needed in CI: %v", err)
		}
		t.Skipf("xdotool not installed: %v", err)
	}
	display := startXvfb(t)
	var src *x11IdleSource
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if src, err = newX11IdleSource(display); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	move := func(x int) {
		t.Helper()
		cmd := exec.Command("xdotool", "mousemove", strconv.Itoa(x), "100")
		cmd.Env = append(os.Environ(), "DISPLAY="+display)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xdotool: %v %s", err, out)
		}
	}
	move(10)
	time.Sleep(300 * time.Millisecond)
	before, err := src.Idle()
	if err != nil || before < 250*time.Millisecond {
		t.Fatalf("idle %v, %v after 300 ms without input", before, err)
	}
	move(200)
	after, err := src.Idle()
	if err != nil || after >= before {
		t.Fatalf("idle %v after moving the mouse, %v before", after, before)
	}
	src.Close()

	// The whole chain: one real second counts as ten minutes.
	f := newIdleFixture(t, func() (idleSource, error) {
		s, err := newX11IdleSource(display)
		if err != nil {
			return nil, err
		}
		return scaledIdle{s, 600}, nil
	})
	f.c.app.Preferences().SetInt(prefIdleMinutes, 10)
	away := f.waitFor(t, "alice away", func(p xmpp.Presence) bool { return p.Show == xmpp.ShowAway })
	if away.IdleSince.IsZero() {
		t.Fatal("away without idle time")
	}
	move(400)
	f.waitFor(t, "alice back", func(p xmpp.Presence) bool { return p.Show == xmpp.ShowAvailable && p.IdleSince.IsZero() })
}
