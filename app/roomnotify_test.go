package app

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"magpie/xmpp"
	"magpie/xmpp/store"
)

func TestRoomNotifyWanted(t *testing.T) {
	for i, tc := range []struct {
		level   xmpp.NotifyLevel
		mention bool
		want    bool
	}{
		{xmpp.NotifyAll, false, true},
		{xmpp.NotifyAll, true, true},
		{xmpp.NotifyMentions, false, false},
		{xmpp.NotifyMentions, true, true},
		{xmpp.NotifyNone, false, false},
		{xmpp.NotifyNone, true, false},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			if got := roomNotifyWanted(tc.level, tc.mention); got != tc.want {
				t.Fatalf("roomNotifyWanted(%q, %v) = %v", tc.level, tc.mention, got)
			}
		})
	}
}

// TestRoomMentionsNotify runs the room tab against a real Prosody: Bob's
// messages notify Alice at the room's level (all, mentions only, none, set
// from the tab's menu), a message naming her is highlighted and notifies
// even when the room is muted for ordinary messages, and do-not-disturb
// silences everything.
func TestRoomMentionsNotify(t *testing.T) {
	srv := startRoomServer(t)
	room := srv.room("office")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob := srv.inRoom(t, "bob", room, "Bob")
	db, err := store.Open(filepath.Join(t.TempDir(), "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	alice := srv.connect(t, "alice", "desktop", xmpp.WithStore(db))
	a := newRoomApp(t, alice, "alice@"+srv.Domain, bob)
	c, q, until := a.c, a.q, a.until
	c.store = db
	var notified []*fyne.Notification
	c.notifyHook = func(n *fyne.Notification) { notified = append(notified, n) }
	if err := alice.JoinRoom(ctx, room, "爱丽丝"); err != nil {
		t.Fatal(err)
	}
	var tab *chatTab
	until("the room tab", func() bool { tab = c.chats.chats[room.String()]; return tab != nil && tab.room.joined })

	// say has Bob say body and returns how Alice's tab shows it.
	say := func(body string) chatMessage {
		t.Helper()
		if _, err := bob.SendRoomMessage(ctx, room, body); err != nil {
			t.Fatal(err)
		}
		var shown chatMessage
		until("Bob's "+strconv.Quote(body), func() bool {
			for _, m := range tab.view.msgs {
				if m.Body == body {
					shown = m
					return true
				}
			}
			return false
		})
		return shown
	}
	// notifications returns the titles raised since the last call.
	notifications := func() []string {
		var titles []string
		for _, n := range notified {
			titles = append(titles, n.Title)
		}
		notified = nil
		return titles
	}
	// setLevel picks a level in the tab's menu, as the user would.
	setLevel := func(label string) {
		t.Helper()
		item := c.roomNotifyItem(room, c.chats.win)
		for _, choice := range item.ChildMenu.Items {
			if choice.Label == label {
				choice.Action()
				return
			}
		}
		t.Fatalf("no %q in the Notifications menu", label)
	}
	checked := func() string {
		for _, choice := range c.roomNotifyItem(room, c.chats.win).ChildMenu.Items {
			if choice.Checked {
				return choice.Label
			}
		}
		return ""
	}

	// An open room that Alice never set: the default is "all" until the
	// core knows what kind of room it is, then "mentions" for an open one.
	level := alice.RoomNotify(room)
	if level != xmpp.NotifyMentions && level != xmpp.NotifyAll {
		t.Fatalf("default level %q", level)
	}
	setLevel("All messages")
	if got := checked(); got != "All messages" {
		t.Fatalf("the menu ticks %q after choosing All messages", got)
	}
	if m := say("午饭吃什么？"); m.Mention {
		t.Fatal("an ordinary message is marked as a mention")
	}
	if got := notifications(); len(got) != 1 || got[0] != "Bob in office" {
		t.Fatalf("at level all, an ordinary message notified %q", got)
	}

	setLevel("Only when mentioned")
	say("会议改到三点")
	if got := notifications(); len(got) != 0 {
		t.Fatalf("at level mentions, an ordinary message notified %q", got)
	}
	if m := say("@爱丽丝 你看一下这个"); !m.Mention {
		t.Fatal("a message naming Alice is not highlighted")
	}
	if got := notifications(); len(got) != 1 || got[0] != "Bob mentioned you in office" {
		t.Fatalf("at level mentions, a mention notified %q", got)
	}

	setLevel("None")
	say("爱丽丝在吗")
	if got := notifications(); len(got) != 0 {
		t.Fatalf("at level none, a mention notified %q", got)
	}
	if alice.RoomNotify(room) != xmpp.NotifyNone || checked() != "None" {
		t.Fatalf("the level reads %q, the menu ticks %q", alice.RoomNotify(room), checked())
	}

	// Room messages are found by the search across all chats, under the
	// room's name and the sender's nick, and open in the room's tab.
	c.main.searchMessages()
	p := c.main.searchPanel
	p.entry.SetText("会议改到")
	q.flush()
	if len(p.results) != 1 || !p.results[0].room || p.resultName(p.results[0]) != "office · Bob" {
		var names []string
		for _, r := range p.results {
			names = append(names, p.resultName(r))
		}
		t.Fatalf("search found %d results from %q", len(p.results), names)
	}
	p.openResult(0)
	if len(c.chats.chats) != 1 || c.chats.tabs.Selected() != tab.item {
		t.Fatalf("opening the result left %d tabs, the room's selected: %v", len(c.chats.chats), c.chats.tabs.Selected() == tab.item)
	}

	// Do not disturb silences a room notifying of everything.
	setLevel("All messages")
	c.main.show.SetSelected("Do not disturb")
	say("还有人吗")
	if got := notifications(); len(got) != 0 {
		t.Fatalf("in do-not-disturb a room message notified %q", got)
	}
}
