package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/keyring/keyringtest"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"
)

// slowPingModule makes Prosody answer pings to the server late, as it does
// after a sign-in with a company roster: it handles the presence for every
// contact before it reaches the ping that follows it.
const slowPingModule = `local st = require "util.stanza";
local delay = module:get_option_number("slow_ping_delay", 6);
module:hook("iq-get/host/urn:xmpp:ping:ping", function(event)
	local origin, stanza = event.origin, event.stanza;
	module:add_timer(delay, function() origin.send(st.reply(stanza)); end);
	return true;
end, 10);
`

// signInFixture drives the controller's sign-in against a real Prosody
// whose ping answers are late; the UI's work runs on the test goroutine.
type signInFixture struct {
	t     *testing.T
	c     *controller
	ui    chan func()
	srv   *prosodytest.Server
	cfg   xmpp.AccountConfig
	alice string
}

func newSignInFixture(t *testing.T) *signInFixture {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mod_slow_ping.lua"), []byte(slowPingModule), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := prosodytest.Start(t, prosodytest.Options{
		Modules:     []string{"slow_ping"},
		ExtraConfig: fmt.Sprintf("plugin_paths = { %q }\nslow_ping_delay = 6", dir),
	})
	alice := srv.AddUser(t, "alice", "alice-pw")
	if err := srv.SetRoster("alice", 1, []prosodytest.RosterItem{{JID: "bob@" + srv.Domain, Name: "Bob 鲍勃", Groups: []string{"研发部"}}}); err != nil {
		t.Fatal(err)
	}
	f := &signInFixture{t: t, ui: make(chan func(), 1024), srv: srv, alice: alice,
		cfg: xmpp.AccountConfig{JID: alice, Server: srv.C2SAddr, Fingerprints: []string{srv.Fingerprint}}}
	f.c = newController(&trayTestApp{App: test.NewTempApp(t)}, "test", xmpp.NewAccountStore(filepath.Join(dir, "accounts.json")), keyring.NewStore(&keyringtest.Memory{}))
	f.c.tray = newTray(f.c)
	f.c.newIdleSource = nil
	f.c.toUI = func(fn func()) { f.ui <- fn }
	path := filepath.Join(dir, "alice.db")
	f.c.storePath = func(string) (string, error) { return path, nil }
	f.c.showLogin(f.cfg, "")
	t.Cleanup(func() {
		if f.c.main != nil {
			f.c.signOut("")
		}
		go func() {
			for range f.ui {
			}
		}()
	})
	return f
}

// until runs the UI's work until done reports true, for up to 20 s.
func (f *signInFixture) until(what string, done func() bool) {
	f.t.Helper()
	deadline := time.After(20 * time.Second)
	for !done() {
		select {
		case fn := <-f.ui:
			fn()
		case <-deadline:
			f.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// signIn starts a sign-in: typed (with password) or automatic ("").
func (f *signInFixture) signIn(password string) {
	pw := func(context.Context) (string, error) { return "alice-pw", nil }
	var req *loginRequest
	if password != "" {
		req = &loginRequest{Account: f.alice, Password: password}
		pw = func(context.Context) (string, error) { return password, nil }
	}
	f.c.beginSignIn(f.cfg, pw, req)
}

// shown reports whether the contacts window is up and lists Bob.
func (f *signInFixture) shown() bool {
	m := f.c.main
	return m != nil && m.shown && m.roster.contacts["bob@"+f.srv.Domain] != nil
}

// TestContactsBeforePing: the contacts window opens as soon as the roster
// is known, not when the server answers the ping after the presence
// (which Prosody does only after the presence was handled for every
// contact): on a first sign-in when the server has sent the roster, on
// the next automatic one from the store's copy at once. The state says
// "Connecting…" until the server answers; a typed password that turns
// out wrong never shows the contacts from the store.
func TestContactsBeforePing(t *testing.T) {
	f := newSignInFixture(t)
	c := f.c

	// First sign-in (typed): the window opens with the roster from the
	// server while the ping is unanswered.
	start := time.Now()
	f.signIn("alice-pw")
	f.until("the contacts window", f.shown)
	if c.pending == nil || c.main.state.Text != "Connecting…" {
		t.Fatalf("contacts shown with the sign-in pending %v, state %q", c.pending != nil, c.main.state.Text)
	}
	t.Logf("contacts shown after %v, the ping unanswered", time.Since(start).Round(time.Millisecond))
	f.until("the sign-in to finish", func() bool { return c.pending == nil })
	f.until("the state online", func() bool { return c.main.state.Text == "Online" })
	c.signOut("")

	// Automatic sign-in: the store's roster shows at once.
	f.signIn("")
	f.until("the contacts window from the store", f.shown)
	if c.pending == nil || c.main.state.Text != "Connecting…" {
		t.Fatalf("cached contacts shown with the sign-in pending %v, state %q", c.pending != nil, c.main.state.Text)
	}
	f.until("the sign-in to finish", func() bool { return c.pending == nil })
	c.signOut("")

	// A wrong password typed in: the store's roster is not shown, the
	// login window says why.
	f.signIn("wrong")
	f.until("the sign-in to fail", func() bool { return c.login.message.Visible() })
	if c.main != nil || c.client != nil {
		t.Fatal("a wrong password left a session")
	}
	if !strings.Contains(c.login.message.Text, "Wrong user name or password") {
		t.Fatalf("login window says %q", c.login.message.Text)
	}
}

// TestUnreadSurvivesRestart: unread counts are kept in the store, so the
// next sign-in shows them again: in the chat's tab, on the contact, in the
// tray's total. Reading the chat clears the stored count.
func TestUnreadSurvivesRestart(t *testing.T) {
	f := newSignInFixture(t)
	c := f.c
	bob := jid.MustParse("bob@" + f.srv.Domain)
	room := jid.MustParse("project@conference." + f.srv.Domain)
	f.signIn("alice-pw")
	f.until("signed in", func() bool { return c.main != nil && c.pending == nil })
	// 1,200 from Bob, three in a room, applied as the pump does.
	var events []any
	for i := range 1200 {
		events = append(events, xmpp.Event(xmpp.MessageReceived{Message: xmpp.Message{ID: fmt.Sprint("m", i),
			From: mustResource(bob, "desk"), Body: fmt.Sprint("消息 ", i), Time: time.Now()}}))
	}
	c.applyBatch(c.client, events)
	c.client.SaveUnread([]xmpp.Unread{{Peer: room, Room: true, Count: 3}}) // a room not joined this time
	if got := c.chats.chats[bob.String()].unread; got != 1200 {
		t.Fatalf("unread %d", got)
	}
	db := c.store
	c.signOut("")
	f.until("the store closed", func() bool { _, err := db.UnreadCounts(); return err != nil })

	f.signIn("")
	f.until("the counts restored", func() bool {
		t := c.chats
		return c.main != nil && c.main.shown && t.chats[bob.String()] != nil && t.chats[bob.String()].unread == 1200
	})
	if n := c.main.roster.unread[bob.String()]; n != 1200 {
		t.Fatalf("the contact shows %d unread", n)
	}
	if n := c.main.roster.unread[room.String()]; n != 3 {
		t.Fatalf("the room shows %d unread", n)
	}
	if c.tray.shown != 1203 {
		t.Fatalf("the tray shows %d", c.tray.shown)
	}
	f.until("the sign-in to finish", func() bool { return c.pending == nil })
	// Reading the chat clears the stored count.
	c.chats.markRead(c.chats.chats[bob.String()].item)
	db = c.store
	c.signOut("")
	f.until("the store closed", func() bool { _, err := db.UnreadCounts(); return err != nil })
	reopened, err := store.Open(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	counts, err := reopened.UnreadCounts()
	if err != nil || len(counts) != 1 || counts[0].Peer != room.String() || counts[0].Count != 3 {
		t.Fatalf("stored counts %+v, %v; want only the room's 3", counts, err)
	}
}
