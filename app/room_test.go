package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
)

// TestRoomWindow drives the room tab against a real Prosody with a MUC
// component: a nick conflict in the join dialog, joining, a message from
// another occupant with their nick, an own message, occupants coming and
// going, and a kick that shows why and disables the entry.
func TestRoomWindow(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{Components: []prosodytest.Component{{
		Domain: "conference.magpie.test", Module: "muc"}}})
	room := jid.MustParse("office@conference." + srv.Domain)
	connect := func(user string) *xmpp.Client {
		t.Helper()
		account := srv.AddUser(t, user, "pw-"+user)
		client, err := xmpp.New(account, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
			xmpp.WithPassword(func(context.Context) (string, error) { return "pw-" + user, nil }))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := client.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		return client
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	bob := connect("bob")
	if err := bob.JoinRoom(ctx, room, "Bob"); err != nil { // Bob owns the room: he can kick
		t.Fatalf("bob joins: %v\n%s", err, srv.Log())
	}
	bobEvents := bob.Events()

	client := connect("alice")
	c := testController(t)
	c.client, c.account = client, xmpp.AccountConfig{JID: "alice@" + srv.Domain}
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	q := &workQueue{}
	c.chats.run = q.run
	t.Cleanup(func() { c.chats.close(); c.main.close() })
	events := client.Events()
	// until applies the app's events on this goroutine until done, for up to 10 s.
	until := func(what string, done func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !done(); {
			select {
			case e := <-events:
				c.handle(e)
			case <-bobEvents: // Bob's are not looked at; drained so they never pile up
			case <-time.After(10 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatalf("timed out waiting for %s", what)
				}
			}
		}
	}

	// The nick is taken: the dialog says so and stays.
	d := c.showJoinRoom(c.main.win)
	if d.nick.Text != "alice" {
		t.Fatalf("the nick defaults to %q, want the account's localpart", d.nick.Text)
	}
	d.room.SetText(room.String())
	d.nick.SetText("Bob")
	test.Tap(d.join)
	q.flush()
	if text := dialogTexts(c.main.win); !strings.Contains(text, "already uses this nickname") {
		t.Fatalf("after a nick conflict the dialog shows %q", text)
	}
	if _, ok := c.chats.chats[room.String()]; ok {
		t.Fatal("a room tab opened after a refused join")
	}

	// Another nick: in.
	d.nick.SetText("Alice")
	test.Tap(d.join)
	q.flush()
	tab := c.chats.chats[room.String()]
	if tab == nil || tab.room == nil {
		t.Fatal("no room tab after joining")
	}
	if c.main.win.Canvas().Overlays().Top() != nil {
		t.Fatalf("the dialog is still up: %q", dialogTexts(c.main.win))
	}
	hasOccupant := func(nick string) bool { _, ok := tab.room.occupants[nick]; return ok }
	until("Bob in the occupant list", func() bool { return hasOccupant("Bob") && hasOccupant("Alice") })
	if tab.room.sorted[0].Nick != "Bob" {
		t.Fatalf("occupants %+v: the moderator Bob is not first", tab.room.sorted)
	}

	// Bob's message shows with his nick.
	if _, err := bob.SendRoomMessage(ctx, room, "早上好，各位"); err != nil {
		t.Fatal(err)
	}
	shown := func(sender, body string) bool {
		for _, m := range tab.view.msgs {
			if m.Sender == sender && m.Body == body {
				return true
			}
		}
		return false
	}
	until("Bob's message", func() bool { return shown("Bob", "早上好，各位") })

	// Alice writes: Enter sends, and the room has it.
	test.Type(tab.view.entry, "hello room")
	tab.view.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	q.flush()
	if !shown("Alice", "hello room") {
		t.Fatalf("the own message is not shown: %+v", tab.view.msgs)
	}
	if st, _ := tab.view.State(tab.view.msgs[len(tab.view.msgs)-1].ID); st != stateSent {
		t.Fatalf("the own message is in state %d, want sent", st)
	}
	if !tab.view.msgs[len(tab.view.msgs)-1].Outgoing {
		t.Fatal("the own message is not on the own side")
	}

	// Carol comes and goes.
	carol := connect("carol")
	if err := carol.JoinRoom(ctx, room, "Carol"); err != nil {
		t.Fatal(err)
	}
	until("Carol in the list", func() bool { return hasOccupant("Carol") })
	if err := carol.LeaveRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	until("Carol out of the list", func() bool { return !hasOccupant("Carol") })

	// Bob kicks Alice: the tab says why and the entry is off.
	if err := bob.Kick(ctx, room, "Alice", "too loud"); err != nil {
		t.Fatal(err)
	}
	until("the kick", func() bool { return tab.room.banner.Visible() })
	if text := tab.room.removed.Text; text != "Bob removed you from the room. Reason: too loud" {
		t.Fatalf("the kick shows %q", text)
	}
	if !tab.view.entry.Disabled() {
		t.Fatal("the entry is enabled after the kick")
	}

	// Rejoin puts Alice back.
	test.Tap(tab.room.rejoin)
	q.flush()
	until("the rejoin", func() bool { return !tab.room.banner.Visible() && hasOccupant("Alice") })
	if tab.view.entry.Disabled() {
		t.Fatal("the entry is still disabled after rejoining")
	}
}
