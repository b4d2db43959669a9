package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/test"
	"mellium.im/xmpp/jid"

	"magpie/assets"
	"magpie/xmpp"
)

// watchRoomEvents forwards another client's invitations, declines and
// subjects to the returned channel (and drops the rest), so that the test
// can wait for them while nothing piles up.
func watchRoomEvents(t *testing.T, client *xmpp.Client) <-chan xmpp.Event {
	t.Helper()
	out := make(chan xmpp.Event, 64)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		events := client.Events()
		for {
			select {
			case e, ok := <-events:
				if !ok {
					return
				}
				switch e.(type) {
				case xmpp.InvitationReceived, xmpp.InvitationDeclined, xmpp.RoomSubject:
					select {
					case out <- e:
					default:
					}
				}
			case <-done:
				return
			}
		}
	}()
	return out
}

// waitEvent waits up to 15 s for an event that match accepts, while the
// app keeps applying its own.
func waitEvent[E xmpp.Event](a *roomApp, events <-chan xmpp.Event, what string, match func(E) bool) E {
	a.t.Helper()
	var got E
	found := false
	a.until(what, func() bool {
		for !found {
			select {
			case e := <-events:
				if ev, ok := e.(E); ok && match(ev) {
					got, found = ev, true
				}
			default:
				return false
			}
		}
		return true
	})
	return got
}

// TestInvitationPrompt: invitations from another account prompt on the
// contacts window, one at a time, with a desktop notification (none in
// do-not-disturb); Join enters the room with the invitation's password,
// opens its tab and bookmarks it; Decline reaches the inviter; an
// invitation kept while offline says so.
func TestInvitationPrompt(t *testing.T) {
	srv := startRoomServer(t)
	office, rd, sales := srv.room("office"), srv.room("rd"), srv.room("sales")
	alice := jid.MustParse("alice@" + srv.Domain)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	bob := srv.connect(t, "bob", "phone")
	if err := bob.CreateRoom(ctx, office, "Bob", &xmpp.RoomConfig{Name: "办公室", Persistent: true, Password: "s3cret"}); err != nil {
		t.Fatalf("bob creates the office: %v\n%s", err, srv.Log())
	}
	if err := bob.JoinRoom(ctx, rd, "Bob"); err != nil {
		t.Fatal(err)
	}
	if err := bob.CreateRoom(ctx, sales, "Bob", &xmpp.RoomConfig{Name: "销售部", Persistent: true, Public: true}); err != nil {
		t.Fatal(err)
	}
	bobEvents := watchRoomEvents(t, bob)
	client := srv.connect(t, "alice", "desktop", xmpp.WithAutojoin())
	a := newRoomApp(t, client, alice.String())
	c, w := a.c, a.c.main.win
	var notes []*fyne.Notification
	c.notifyHook = func(n *fyne.Notification) { notes = append(notes, n) }

	if err := bob.Invite(ctx, office, alice, "周会改到三点"); err != nil {
		t.Fatal(err)
	}
	a.until("the invitation's prompt", func() bool { return c.groupActs != nil && c.groupActs.prompt != nil })
	p := c.groupActs.prompt
	text := dialogTexts(w)
	for _, want := range []string{"Invitation to a group chat", "bob invites you to the group chat 办公室.", office.String(), "“周会改到三点”", "[Join]", "[Decline]"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the prompt lacks %q:\n%s", want, text)
		}
	}
	if len(notes) != 1 || notes[0].Title != "Invitation to a group chat" || !strings.Contains(notes[0].Content, "bob invites you") {
		t.Fatalf("notifications: %+v", notes)
	}

	// A second invitation waits behind the first.
	if err := bob.Invite(ctx, rd, alice, ""); err != nil {
		t.Fatal(err)
	}
	a.until("the second invitation queued", func() bool { return len(c.groupActs.pending) == 1 })
	if c.groupActs.prompt != p || !p.waiting.Visible() || p.waiting.Text != "1 more invitation waiting" {
		t.Fatalf("with one waiting the prompt says %q", p.waiting.Text)
	}

	// Join: in the password-protected office, its tab in front, bookmarked.
	if !p.bookmark.Checked {
		t.Fatal("the prompt does not offer to bookmark the room")
	}
	test.Tap(p.join)
	a.until("the office joined", func() bool { return c.roomJoinedNow(office) })
	a.q.flush()
	tab := c.chats.chats[office.String()]
	if tab == nil || tab.room == nil || !tab.room.joined || c.chats.tabs.Selected() != tab.item {
		t.Fatal("Join did not open the office's tab in front")
	}
	if bm, ok := bookmarkOf(t, client, office); !ok || !bm.Autojoin || bm.Password != "s3cret" {
		t.Fatalf("the office's bookmark is %+v (found %v)", bm, ok)
	}

	// The next prompt is rd's; Decline tells Bob.
	p2 := c.groupActs.prompt
	if p2 == nil || p2 == p || !p2.inv.Room.Equal(rd) {
		t.Fatalf("after joining, the prompt is %+v", p2)
	}
	if p2.waiting.Visible() {
		t.Fatalf("nothing waits, yet the prompt says %q", p2.waiting.Text)
	}
	test.Tap(p2.decline)
	a.q.flush()
	declined := waitEvent(a, bobEvents, "Bob sees the decline", func(e xmpp.InvitationDeclined) bool { return e.Room.Equal(rd) })
	if !declined.From.Equal(alice) {
		t.Fatalf("Bob's decline names %v", declined.From)
	}
	if c.groupActs.prompt != nil || w.Canvas().Overlays().Top() != nil {
		t.Fatalf("a prompt is still up:\n%s", dialogTexts(w))
	}
	if c.roomJoinedNow(rd) {
		t.Fatal("declining joined the room")
	}

	// Do not disturb: the prompt, but no notification.
	c.main.quietShow = true
	c.main.show.SetSelected("Do not disturb")
	c.main.quietShow = false
	if err := bob.Invite(ctx, sales, alice, ""); err != nil {
		t.Fatal(err)
	}
	a.until("the sales invitation", func() bool { return c.groupActs.prompt != nil })
	if text := dialogTexts(w); !strings.Contains(text, "bob invites you to the group chat 销售部.") { // the name the service lists
		t.Fatalf("the prompt for a named public room shows:\n%s", text)
	}
	// One notification so far: rd's came within a minute of the
	// office's, and waited counted in the prompt.
	if len(notes) != 1 {
		t.Fatalf("%d notifications; rd's within a minute and in do-not-disturb there must be none: %+v", len(notes), notes[len(notes)-1])
	}
	test.Tap(c.groupActs.prompt.later)
	if c.groupActs.prompt != nil || c.roomJoinedNow(sales) {
		t.Fatal("Not now did not just close the prompt")
	}

	// One kept while offline says when it was sent.
	sent := time.Now().Add(-3 * time.Hour)
	c.invitationReceived(xmpp.InvitationReceived{Room: srv.room("lunch"), From: jid.MustParse("bob@" + srv.Domain), Time: sent, Delayed: true})
	if text := dialogTexts(w); !strings.Contains(text, "Sent while you were away, at "+formatStamp(sent, time.Now())) {
		t.Fatalf("an offline invitation shows:\n%s", text)
	}
}

// TestInvitePicker: Invite… in the room tab's menu picks contacts by
// pinyin and an address typed in full; the invitations reach them with the
// message; a decline shows in the tab; the contacts window's "Invite to
// group chat…" asks for the room; a room's refusal of an invitation shows
// in the tab.
func TestInvitePicker(t *testing.T) {
	srv := startRoomServer(t)
	office, board := srv.room("office"), srv.room("board")
	alice := jid.MustParse("alice@" + srv.Domain)
	zhangsan, lisi, carol := jid.MustParse("zhangsan@"+srv.Domain), jid.MustParse("lisi@"+srv.Domain), jid.MustParse("carol@"+srv.Domain)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	zs := srv.connect(t, "zhangsan", "pc")
	ls := srv.connect(t, "lisi", "pc")
	cl := srv.connect(t, "carol", "pc")
	zsEvents, lsEvents, clEvents := watchRoomEvents(t, zs), watchRoomEvents(t, ls), watchRoomEvents(t, cl)
	client := srv.connect(t, "alice", "desktop", xmpp.WithAutojoin())
	for _, ct := range []struct {
		j    jid.JID
		name string
	}{{zhangsan, "张三"}, {carol, "Carol"}} {
		if err := client.AddContact(ctx, ct.j, ct.name, nil); err != nil {
			t.Fatal(err)
		}
	}
	a := newRoomApp(t, client, alice.String())
	c := a.c
	a.until("the contacts", func() bool { return len(c.main.roster.contacts) == 2 })
	c.enterRoom(office, c.main.win)
	a.until("the office joined", func() bool { return c.roomJoinedNow(office) && c.roomTab(office) != nil })
	a.q.flush()
	tab := c.roomTab(office)
	cw := c.chats.win

	c.chats.roomMenu(tab)
	tapMenuItem(t, cw.Canvas(), "Invite…")
	p := c.groupActs.pickers[office.String()]
	if p == nil {
		t.Fatal("Invite… opened no picker")
	}
	if cw.Canvas().Focused() != p.filter || !p.invite.Disabled() {
		t.Fatal("the picker does not start in its filter with Invite disabled")
	}
	test.Type(p.filter, "zs")
	if len(p.shown) != 1 || p.shown[0].name != "张三" {
		t.Fatalf("filter zs shows %+v", p.shown)
	}
	p.filter.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if p.filter.Text != "" || len(p.chosen) != 1 || p.picked.Text != "To invite: 张三" {
		t.Fatalf("Enter chose %+v (filter %q, %q)", p.chosen, p.filter.Text, p.picked.Text)
	}
	test.Type(p.filter, lisi.String())
	if len(p.shown) != 1 || !p.shown[0].jid.Equal(lisi) || p.shown[0].detail != "not in your contacts" {
		t.Fatalf("a typed address shows %+v", p.shown)
	}
	p.list.Select(0)
	if len(p.chosen) != 2 || p.invite.Disabled() {
		t.Fatalf("after choosing the typed address: %+v", p.chosen)
	}
	test.Type(p.reason, "来开会")
	test.Tap(p.invite)
	a.q.flush()
	if cw.Canvas().Overlays().Top() != nil {
		t.Fatalf("the picker is still up:\n%s", dialogTexts(cw))
	}
	for _, who := range []struct {
		name   string
		events <-chan xmpp.Event
	}{{"张三", zsEvents}, {"李四", lsEvents}} {
		inv := waitEvent(a, who.events, who.name+"'s invitation", func(e xmpp.InvitationReceived) bool { return e.Room.Equal(office) })
		if !inv.From.Equal(alice) || inv.Reason != "来开会" {
			t.Fatalf("%s got %+v", who.name, inv)
		}
	}
	note := c.groupActs.notes[office.String()]
	if note == nil || note.label.Text != "Invitation sent to 张三, "+lisi.String()+"." {
		t.Fatalf("the tab says %+v", note)
	}

	// 张三 declines: the tab says so, with his reason.
	if err := zs.DeclineInvitation(ctx, xmpp.InvitationReceived{Room: office, From: alice}, "在出差"); err != nil {
		t.Fatal(err)
	}
	a.until("the decline in the tab", func() bool { return note.label.Text == "张三 declined the invitation: 在出差" })

	// From the contacts window: Carol, to the office.
	c.main.contactMenu(carol, fyne.NewPos(10, 10))
	tapMenuItem(t, c.main.win.Canvas(), "Invite to group chat…")
	text := dialogTexts(c.main.win)
	if !strings.Contains(text, "Invite Carol to:") {
		t.Fatalf("the contact's invitation asks:\n%s", text)
	}
	test.Tap(findButton(c.main.win.Canvas().Overlays().Top(), "Invite"))
	a.q.flush()
	waitEvent(a, clEvents, "Carol's invitation", func(e xmpp.InvitationReceived) bool { return e.Room.Equal(office) && e.From.Equal(alice) })

	// A members-only room where Alice is a member, not an admin: the room
	// refuses to add Carol, and the tab says why.
	if err := zs.CreateRoom(ctx, board, "张三", &xmpp.RoomConfig{Persistent: true, MembersOnly: true}); err != nil {
		t.Fatalf("张三 creates the board: %v\n%s", err, srv.Log())
	}
	if err := zs.Invite(ctx, board, alice, ""); err != nil { // makes her a member
		t.Fatal(err)
	}
	a.until("the board's invitation", func() bool { return c.groupActs.prompt != nil && c.groupActs.prompt.inv.Room.Equal(board) })
	test.Tap(c.groupActs.prompt.join)
	a.until("the board joined", func() bool { return c.roomJoinedNow(board) })
	a.q.flush()
	bp := c.showInvitePicker(board, c.chats.win)
	test.Type(bp.filter, "carol")
	bp.filter.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	test.Tap(bp.invite)
	a.q.flush()
	boardTab := c.roomTab(board)
	a.until("the refusal in the board's tab", func() bool {
		n := c.groupActs.notes[board.String()]
		return n != nil && n.box.Visible() && strings.Contains(n.label.Text, "only its owners and admins")
	})
	if boardTab == nil {
		t.Fatal("no tab for the board")
	}
}

// TestCreateRoom: New group chat makes the address from the name (pinyin
// @ the server's service), creates a persistent members-only unlisted room
// with the description, bookmarks it with autojoin, opens its tab and the
// invitation picker; another account is refused as not a member. An
// address in use says so, keeps what was typed, and offers to join.
func TestCreateRoom(t *testing.T) {
	srv := startRoomServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bob := srv.connect(t, "bob", "phone")
	office := srv.room("office")
	if err := bob.JoinRoom(ctx, office, "Bob"); err != nil {
		t.Fatal(err)
	}
	client := srv.connect(t, "alice", "desktop", xmpp.WithAutojoin())
	a := newRoomApp(t, client, "alice@"+srv.Domain, bob)
	c, w := a.c, a.c.main.win

	var menuItem *fyne.MenuItem
	for _, item := range w.MainMenu().Items[0].Items {
		if item.Label == "New group chat…" {
			menuItem = item
		}
	}
	if menuItem == nil {
		t.Fatal("the Magpie menu has no New group chat…")
	}
	menuItem.Action()
	d := c.main.win.Canvas().Overlays().Top()
	if d == nil || !strings.Contains(dialogTexts(w), "New group chat") {
		t.Fatal("New group chat… opened no dialog")
	}
	cd := c.showCreateRoom(w) // the same dialog, with its fields at hand
	a.q.flush()
	if w.Canvas().Focused() != cd.name {
		t.Error("the name does not have the keyboard")
	}
	test.Type(cd.name, "研发部 2025")
	want := srv.room("yanfabu-2025")
	if cd.address.Text != want.String() {
		t.Fatalf("the address made from the name is %q, want %s", cd.address.Text, want)
	}
	cd.description.SetText("研发讨论")
	cd.membersOnly.SetChecked(true)
	cd.listed.SetChecked(false)
	cd.usePassword.SetChecked(true)
	test.Tap(cd.create)
	if !strings.Contains(cd.problem.Text, "Enter the password") || cd.name.Text != "研发部 2025" {
		t.Fatalf("an empty password says %q", cd.problem.Text)
	}
	cd.usePassword.SetChecked(false)
	test.Tap(cd.create)
	a.q.flush()
	if cd.problem.Visible() {
		t.Fatalf("creating failed: %s\n%s", cd.problem.Text, srv.Log())
	}
	tab := c.roomTab(want)
	if tab == nil || !tab.room.joined || c.chats.tabs.Selected() != tab.item {
		t.Fatal("the new room's tab is not open in front")
	}
	if p := c.groupActs.pickers[want.String()]; p == nil {
		t.Fatal("Invite colleagues next opened no picker")
	} else {
		p.dlg.Hide()
	}
	if bm, ok := bookmarkOf(t, client, want); !ok || !bm.Autojoin || bm.Name != "研发部 2025" {
		t.Fatalf("the new room's bookmark is %+v (found %v)", bm, ok)
	}
	cfg, err := client.RoomConfigForm(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Persistent || !cfg.MembersOnly || cfg.Public || cfg.Name != "研发部 2025" || cfg.Description != "研发讨论" {
		t.Fatalf("the room is configured %+v", cfg)
	}
	if err := bob.JoinRoom(ctx, want, "Bob"); !errors.Is(err, xmpp.ErrMembersOnly) {
		t.Fatalf("Bob, not a member, joins the members-only room: %v", err)
	}
	rooms, err := bob.ListRooms(ctx, srv.service)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		if r.JID.Equal(want) {
			t.Fatal("the unlisted room is in the directory")
		}
	}

	// The office exists: the dialog says so, keeps the fields, offers Join.
	cd = c.showCreateRoom(w)
	a.q.flush()
	test.Type(cd.name, "办公室")
	cd.address.SetText(office.String())
	cd.description.SetText("闲聊")
	test.Tap(cd.create)
	a.q.flush()
	if !strings.Contains(cd.problem.Text, "exists already") || !cd.joinInstead.Visible() {
		t.Fatalf("an address in use says %q", cd.problem.Text)
	}
	if cd.name.Text != "办公室" || cd.address.Text != office.String() || cd.description.Text != "闲聊" {
		t.Fatal("the failure lost what was typed")
	}
	if c.roomJoinedNow(office) {
		t.Fatal("the failed creation entered the existing room")
	}
	test.Tap(cd.joinInstead)
	a.until("the office joined instead", func() bool { return c.roomJoinedNow(office) && c.roomTab(office) != nil })
}

// TestRoomSubjectEdit: where only moderators may change the subject, a
// participant's change is refused and the tab says so (the text kept for
// the next try); in the user's own room the new subject reaches another
// occupant.
func TestRoomSubjectEdit(t *testing.T) {
	srv := startRoomServer(t)
	office, own := srv.room("office"), srv.room("own")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bob := srv.connect(t, "bob", "phone")
	if err := bob.CreateRoom(ctx, office, "Bob", &xmpp.RoomConfig{Persistent: true, Public: true}); err != nil {
		t.Fatal(err)
	}
	bobEvents := watchRoomEvents(t, bob)
	client := srv.connect(t, "alice", "desktop", xmpp.WithAutojoin())
	a := newRoomApp(t, client, "alice@"+srv.Domain)
	c := a.c

	c.enterRoom(office, c.main.win)
	a.until("the office joined", func() bool { return c.roomJoinedNow(office) && c.roomTab(office) != nil })
	a.q.flush()
	tab := c.roomTab(office)
	// subjectItem is the tab menu's Edit subject… entry.
	subjectItem := func() *fyne.MenuItem {
		for _, it := range c.chats.roomActionItems(tab) {
			if it.Label == "Edit subject…" {
				return it
			}
		}
		t.Fatal("no Edit subject… in the room's menu")
		return nil
	}
	// Bob's room lets only moderators set the subject, and says so in its
	// disco#info: the entry is off for Alice.
	if !subjectItem().Disabled {
		t.Fatal("Edit subject… is offered to a participant of a room that lets only moderators set it")
	}
	// A room that did not say would be tried: its refusal shows in the tab.
	e := c.chats.editSubject(tab)
	e.entry.SetText("本周目标：发布 1.0")
	test.Tap(e.save)
	a.q.flush()
	note := c.groupActs.notes[office.String()]
	if note == nil || !note.box.Visible() || note.label.Text != "You may not change the subject of this room: only its moderators can." {
		t.Fatalf("the refused subject shows %+v", note)
	}
	if again := c.chats.editSubject(tab); again.entry.Text != "本周目标：发布 1.0" {
		t.Fatalf("the refused text did not come back: %q", again.entry.Text)
	} else {
		again.dlg.Hide()
	}

	// Bob opens the subject to everyone: the room says its configuration
	// changed, Magpie asks it again, and the entry is on.
	if err := bob.ConfigureRoom(ctx, office, xmpp.RoomConfig{Persistent: true, Public: true, AllowSubjectChange: true}); err != nil {
		t.Fatal(err)
	}
	a.until("Edit subject… on", func() bool { return !subjectItem().Disabled })
	c.chats.roomMenu(tab)
	tapMenuItem(t, c.chats.win.Canvas(), "Edit subject…")
	e = c.chats.editSubject(tab) // the dialog the menu opened, again, at hand
	e.entry.SetText("本周目标：发布 1.0")
	test.Tap(e.save)
	a.q.flush()
	waitEvent(a, bobEvents, "Bob sees Alice's subject", func(s xmpp.RoomSubject) bool { return s.Room.Equal(office) && s.Subject == "本周目标：发布 1.0" })

	// Alice's own room: Bob sees the new subject.
	if err := client.CreateRoom(ctx, own, "Alice", &xmpp.RoomConfig{Persistent: true}); err != nil {
		t.Fatal(err)
	}
	if err := bob.JoinRoom(ctx, own, "Bob"); err != nil {
		t.Fatal(err)
	}
	a.until("Alice's room's tab", func() bool { return c.roomTab(own) != nil })
	ownTab := c.roomTab(own)
	e = c.chats.editSubject(ownTab)
	e.entry.SetText("周五发布")
	test.Tap(e.save)
	a.q.flush()
	waitEvent(a, bobEvents, "Bob sees the subject", func(s xmpp.RoomSubject) bool { return s.Room.Equal(own) && s.Subject == "周五发布" })
	// Alice's tab shows it from her own echo, which may come after Bob's.
	a.until("the tab's header shows the subject", func() bool { return strings.Contains(ownTab.view.status.Text, "周五发布") })
}

// TestRoomSlug: addresses made from names.
func TestRoomSlug(t *testing.T) {
	for i, tc := range []struct{ name, want string }{
		0: {"研发部", "yanfabu"},
		1: {"研发部 2025", "yanfabu-2025"},
		2: {"Sales & Marketing", "sales-marketing"},
		3: {"  Q3 计划!! ", "q3-jihua"},
		4: {"café", "caf"},
		5: {"!!!", ""},
		6: {"a.b_c", "a-b-c"},
	} {
		if got := roomSlug(tc.name); got != tc.want {
			t.Errorf("%d: roomSlug(%q) = %q, want %q", i, tc.name, got, tc.want)
		}
	}
}

// TestTranslationsLoad: the translation files load. go-i18n refuses a
// whole file in which a key is one of its reserved words (Description, ID,
// Hash, One, Other, ...), and the app then shows English everywhere.
func TestTranslationsLoad(t *testing.T) {
	test.NewTempApp(t)
	if err := lang.AddTranslationsFS(assets.Translations, "translations"); err != nil {
		t.Fatal(err)
	}
}
