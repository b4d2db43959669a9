package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
)

// roomServer is a Prosody with a group chat service whose rooms are public
// and persistent (so the directory lists them), and XEP-0402 bookmarks in
// PEP (so that changes arrive as BookmarksChanged).
type roomServer struct {
	*prosodytest.Server
	service jid.JID
	users   map[string]bool // registered
}

func startRoomServer(t *testing.T) *roomServer {
	t.Helper()
	srv := prosodytest.Start(t, prosodytest.Options{
		Modules: []string{"bookmarks"},
		Components: []prosodytest.Component{{Domain: "conference.magpie.test", Module: "muc",
			Config: "\tmuc_room_default_persistent = true\n\tmuc_room_default_public = true"}},
	})
	return &roomServer{Server: srv, service: jid.MustParse("conference." + srv.Domain), users: map[string]bool{}}
}

func (s *roomServer) room(local string) jid.JID {
	return jid.MustParse(local + "@" + s.service.String())
}

// connect signs user in (creating the account the first time) with opts.
func (s *roomServer) connect(t *testing.T, user, resource string, opts ...xmpp.Option) *xmpp.Client {
	t.Helper()
	account := user + "@" + s.Domain
	if !s.users[user] {
		s.AddUser(t, user, "pw-"+user)
		s.users[user] = true
	}
	opts = append([]xmpp.Option{xmpp.WithServer(s.C2SAddr), xmpp.WithTrustedFingerprints(s.Fingerprint), xmpp.WithResource(resource),
		xmpp.WithPassword(func(context.Context) (string, error) { return "pw-" + user, nil })}, opts...)
	client, err := xmpp.New(account, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatalf("%s signs in: %v", user, err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// inRoom signs user in and has them join room as nick.
func (s *roomServer) inRoom(t *testing.T, user string, room jid.JID, nick string) *xmpp.Client {
	t.Helper()
	client := s.connect(t, user, "phone")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.JoinRoom(ctx, room, nick); err != nil {
		t.Fatalf("%s joins %s: %v\n%s", user, room, err, s.Log())
	}
	return client
}

// roomApp is the app signed in as a user: the controller driven from the
// test's goroutine, its background work queued (Fyne's test driver does
// not serialise fyne.Do), and the events of other clients drained.
type roomApp struct {
	t      *testing.T
	c      *controller
	q      *workQueue
	events <-chan xmpp.Event
	drain  []<-chan xmpp.Event
}

// newRoomApp opens the contacts window for client, as signedIn does.
func newRoomApp(t *testing.T, client *xmpp.Client, account string, others ...*xmpp.Client) *roomApp {
	t.Helper()
	c := testController(t)
	c.client, c.account = client, xmpp.AccountConfig{JID: account}
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	q := &workQueue{}
	c.chats.run = q.run
	t.Cleanup(func() {
		if c.main != nil { // not signed out, which closes both
			c.chats.close()
			c.main.close()
		}
	})
	a := &roomApp{t: t, c: c, q: q, events: client.Events()}
	for _, o := range others {
		a.drain = append(a.drain, o.Events())
	}
	c.loadBookmarks()
	q.flush()
	return a
}

// until applies the app's events and runs its queued work until done, for
// up to 15 s.
func (a *roomApp) until(what string, done func() bool) {
	a.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; {
		a.q.flush()
		if done() {
			return
		}
		select {
		case e := <-a.events:
			a.c.handle(e)
		case <-time.After(10 * time.Millisecond):
			for _, ch := range a.drain {
			drain:
				for {
					select {
					case <-ch:
					default:
						break drain
					}
				}
			}
			if time.Now().After(deadline) {
				a.t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
}

// roomRow returns the contacts window's entry for room, or nil.
func (a *roomApp) roomRow(room jid.JID) *roomEntry { return a.c.main.roster.roomIndex[room.String()] }

// listedRooms is the group chats' group as shown: header, then names.
func (a *roomApp) listedRooms() []string {
	var out []string
	for _, r := range a.c.main.roster.rows {
		switch {
		case r.room != nil:
			out = append(out, r.room.name)
		case r.isHeader() && r.group.rooms:
			out = append(out, "["+r.group.name+"]")
		}
	}
	return out
}

// shownRow returns the drawn contacts-window row of room.
func (a *roomApp) shownRow(room jid.JID) *contactRow {
	a.t.Helper()
	v := a.c.main.roster
	a.c.main.win.Resize(fyne.NewSize(340, 640))
	v.list.Refresh()
	for _, o := range test.LaidOutObjects(v.list) {
		if r, ok := o.(*contactRow); ok && r.Visible() && r.id >= 0 && r.id < len(v.rows) && v.rows[r.id].room != nil &&
			v.rows[r.id].room.key == room.String() {
			return r
		}
	}
	a.t.Fatalf("no row shows %s; rows %v", room, a.listedRooms())
	return nil
}

// tapMenuItem taps the item of the open pop-up menu labelled label.
func tapMenuItem(t *testing.T, c fyne.Canvas, label string) {
	t.Helper()
	top := c.Overlays().Top()
	if top == nil {
		t.Fatal("no menu is open")
	}
	// The innermost tappable widget showing the label is the item (the
	// pop-up and the menu around it are tappable too).
	var item fyne.Tappable
	var labels []string
	for _, o := range test.LaidOutObjects(top) {
		tappable, ok := o.(fyne.Tappable)
		w, isWidget := o.(fyne.Widget)
		if !ok || !isWidget {
			continue
		}
		for _, inner := range test.LaidOutObjects(w) {
			if txt, ok := inner.(*canvas.Text); ok && txt.Text == label {
				item = tappable
			} else if ok {
				labels = append(labels, txt.Text)
			}
		}
	}
	if item == nil {
		t.Fatalf("the menu has no %q: %q", label, labels)
	}
	item.Tapped(&fyne.PointEvent{})
}

// bookmarkOf reads room's bookmark as the server keeps it.
func bookmarkOf(t *testing.T, client *xmpp.Client, room jid.JID) (xmpp.Bookmark, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := client.Bookmarks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, bm := range list {
		if bm.Room.Equal(room) {
			return bm, true
		}
	}
	return xmpp.Bookmark{}, false
}

// TestBookmarkGroup: the account's bookmarks (made on the server by
// another device) show in the contacts window's "Group chats" group at
// sign-in; the autojoin one is joined (green, with its tab); the menu's
// "Join automatically" writes the bookmark; another device's new
// bookmark (with autojoin) and removal update the group live; opening a
// bookmarked room joins it; a message while the tab is not read counts
// unread on the room's row.
func TestBookmarkGroup(t *testing.T) {
	srv := startRoomServer(t)
	office, rd, sales := srv.room("office"), srv.room("rd"), srv.room("sales")
	account := "alice@" + srv.Domain
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	bob := srv.connect(t, "bob", "phone")
	for _, room := range []jid.JID{office, rd, sales} {
		if err := bob.JoinRoom(ctx, room, "Bob"); err != nil {
			t.Fatalf("bob opens %s: %v\n%s", room, err, srv.Log())
		}
	}
	other := srv.connect(t, "alice", "laptop") // Alice's other device
	for _, bm := range []xmpp.Bookmark{
		{Room: office, Name: "办公室", Autojoin: true, Nick: "Alice"},
		{Room: rd, Name: "研发部"},
	} {
		if err := other.SetBookmark(ctx, bm); err != nil {
			t.Fatal(err)
		}
	}

	client := srv.connect(t, "alice", "desktop", xmpp.WithAutojoin()) // as the app signs in
	a := newRoomApp(t, client, account, bob, other)
	if got, want := strings.Join(a.listedRooms(), ","), "[Group chats],办公室,研发部"; got != want {
		t.Fatalf("the contacts window lists %q, want %q (pinyin order: bangongshi, yanfabu)", got, want)
	}
	if rows := a.c.main.roster.rows; len(rows) == 0 || !rows[0].group.rooms {
		t.Fatal("the group chats are not at the top of the contacts window")
	}
	a.until("autojoin of the office", func() bool {
		r := a.roomRow(office)
		return r != nil && r.joined && a.c.chats.chats[office.String()] != nil
	})
	if tab := a.c.chats.chats[office.String()]; tab == nil || tab.room == nil || tab.room.nick != "Alice" {
		t.Fatalf("no room tab for the autojoined office with the bookmark's nick: %+v", tab)
	}
	if a.roomRow(rd).joined || a.roomRow(rd).status != "Not joined" {
		t.Fatalf("研发部 (no autojoin) shows as %+v", a.roomRow(rd))
	}
	if look := a.roomRow(office).look(0); look.rank != rankAvailable {
		t.Fatalf("the joined office has no green dot: %+v", look)
	}

	// A double click on 研发部 joins it and opens its tab.
	test.DoubleTap(a.shownRow(rd))
	a.until("研发部 joined", func() bool { r := a.roomRow(rd); return r != nil && r.joined })
	tab := a.c.chats.chats[rd.String()]
	if tab == nil || a.c.chats.tabs.Selected() != tab.item {
		t.Fatal("opening 研发部 did not open its tab")
	}

	// The menu turns autojoin on for 研发部: the server's bookmark has it.
	test.TapSecondary(a.shownRow(rd))
	tapMenuItem(t, a.c.main.win.Canvas(), "Join automatically")
	a.q.flush()
	if bm, ok := bookmarkOf(t, other, rd); !ok || !bm.Autojoin || bm.Name != "研发部" {
		t.Fatalf("after Join automatically the server has %+v (found %v)", bm, ok)
	}
	// ...and off again.
	test.TapSecondary(a.shownRow(rd))
	tapMenuItem(t, a.c.main.win.Canvas(), "Join automatically")
	a.q.flush()
	if bm, _ := bookmarkOf(t, other, rd); bm.Autojoin {
		t.Fatalf("autojoin is still on: %+v", bm)
	}

	// Another device bookmarks sales with autojoin: listed and joined, live;
	// and lunch without: listed, not joined; then removes lunch: gone.
	lunch := srv.room("lunch")
	for _, bm := range []xmpp.Bookmark{{Room: sales, Name: "Sales", Autojoin: true}, {Room: lunch, Name: "午饭"}} {
		if err := other.SetBookmark(ctx, bm); err != nil {
			t.Fatal(err)
		}
	}
	a.until("sales joined and lunch listed", func() bool {
		r := a.roomRow(sales)
		return r != nil && r.joined && a.roomRow(lunch) != nil
	})
	if err := other.RemoveBookmark(ctx, lunch); err != nil {
		t.Fatal(err)
	}
	a.until("lunch gone", func() bool { return a.roomRow(lunch) == nil })

	// Bob writes in the office while Alice reads 研发部: unread on the row.
	if _, err := bob.SendRoomMessage(ctx, office, "午饭吃什么？"); err != nil {
		t.Fatal(err)
	}
	a.until("the office's unread count", func() bool { return a.c.main.roster.unread[office.String()] == 1 })
	if look := a.roomRow(office).look(a.c.main.roster.unread[office.String()]); look.unread != 1 {
		t.Fatalf("the office's row shows %+v", look)
	}

	// Leave from the menu: the row stays (bookmarked), grey.
	test.TapSecondary(a.shownRow(office))
	tapMenuItem(t, a.c.main.win.Canvas(), "Leave")
	a.until("the office left", func() bool { r := a.roomRow(office); return r != nil && !r.joined })
}

// TestRoomDirectory: Ctrl+Shift+J lists the rooms of the server's group
// chat service; typing filters them; Bookmark bookmarks one; Join joins
// and opens its tab; Open on a joined one brings the tab.
func TestRoomDirectory(t *testing.T) {
	srv := startRoomServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob := srv.connect(t, "bob", "phone")
	for _, local := range []string{"rd-infra", "rd-apps", "sales", "finance"} {
		if err := bob.JoinRoom(ctx, srv.room(local), "Bob"); err != nil {
			t.Fatalf("bob opens %s: %v\n%s", local, err, srv.Log())
		}
	}
	client := srv.connect(t, "alice", "desktop", xmpp.WithAutojoin())
	a := newRoomApp(t, client, "alice@"+srv.Domain, bob)

	a.c.main.win.Canvas().(interface{ TypedShortcut(fyne.Shortcut) }).TypedShortcut(browseRoomsShortcut)
	d := a.c.main.roomDir
	if d == nil {
		t.Fatal("Ctrl+Shift+J did not open the room directory")
	}
	if d.status.Text != "Searching…" {
		t.Errorf("while listing the window says %q", d.status.Text)
	}
	if d.win.Canvas().Focused() != d.filter {
		t.Error("the filter does not have the keyboard")
	}
	a.q.flush()
	if d.status.Text != "4 group chats" || len(d.shown) != 4 {
		t.Fatalf("the directory says %q and lists %v", d.status.Text, d.shown)
	}
	test.Type(d.filter, "rd-")
	if len(d.shown) != 2 || d.status.Text != "2 group chats" {
		t.Fatalf("filter rd-: %q, %v", d.status.Text, d.shown)
	}
	d.filter.SetText("nothing-like-it")
	if d.status.Text != "No group chats match." {
		t.Fatalf("no match says %q", d.status.Text)
	}
	d.filter.SetText("FIN") // any case, by address too
	if len(d.shown) != 1 || !d.shown[0].JID.Equal(srv.room("finance")) {
		t.Fatalf("filter FIN: %v", d.shown)
	}
	// The rooms said who is in them: Bob.
	a.q.flush()
	if r := d.row(t, "finance"); r.detail.Text != srv.room("finance").String()+" · 1 in the room" {
		t.Fatalf("finance's row says %q", r.detail.Text)
	}

	// Bookmark: saved on the server, listed, and the button says so.
	test.Tap(d.row(t, "finance").bookmark)
	a.q.flush()
	if bm, ok := bookmarkOf(t, client, srv.room("finance")); !ok || bm.Autojoin {
		t.Fatalf("the directory's bookmark is %+v (found %v), want one without autojoin", bm, ok)
	}
	if r := d.row(t, "finance"); r.bookmark.Text != "Bookmarked" || !r.bookmark.Disabled() {
		t.Fatalf("after bookmarking the button says %q", r.bookmark.Text)
	}
	if a.roomRow(srv.room("finance")) == nil {
		t.Fatal("the bookmarked room is not in the contacts window")
	}

	// Join: in the room, its tab open and in front.
	test.Tap(d.row(t, "finance").join)
	a.until("finance joined", func() bool { return a.c.roomJoinedNow(srv.room("finance")) })
	a.q.flush()
	tab := a.c.chats.chats[srv.room("finance").String()]
	if tab == nil || tab.room == nil || a.c.chats.tabs.Selected() != tab.item {
		t.Fatal("Join in the directory did not open the room's tab")
	}
	if r := d.row(t, "finance"); r.join.Text != "Open" {
		t.Fatalf("a joined room's button says %q", r.join.Text)
	}
}

// row returns the drawn directory row showing name.
func (d *roomDirectory) row(t *testing.T, name string) *roomDirRow {
	t.Helper()
	return drawnRow(t, d.list, d.rows, name, d.shown)
}

// TestRoomDirectoryStates: what the window says while listing, for each
// failure and for an empty service, and the pinyin filter, with a listing
// that needs no server.
func TestRoomDirectoryStates(t *testing.T) {
	test.NewTempApp(t)
	for i, tc := range []struct {
		rooms []xmpp.RoomInfo
		err   error
		want  string
	}{
		0: {err: xmpp.ErrNoRoomService, want: "This server has no group chat service."},
		1: {err: fmt.Errorf("list: %w", xmpp.ErrNotConnected), want: "Not connected. Try again when Magpie is online."},
		2: {err: context.DeadlineExceeded, want: "The server did not answer in time. Try again later."},
		3: {err: errors.New("boom"), want: "The group chats could not be listed: boom"},
		4: {want: "The server lists no public group chats."},
		5: {rooms: []xmpp.RoomInfo{{JID: jid.MustParse("a@conf.example")}}, want: "1 group chat"},
	} {
		q := &workQueue{}
		d := newRoomDirectory(test.NewTempWindow(t, nil), func(context.Context) ([]xmpp.RoomInfo, error) { return tc.rooms, tc.err }, q.run)
		d.load()
		if !d.refresh.Disabled() || d.status.Text != "Searching…" {
			t.Errorf("%d: while listing: %q", i, d.status.Text)
		}
		q.flush()
		if d.status.Text != tc.want || d.refresh.Disabled() {
			t.Errorf("%d: the window says %q, want %q", i, d.status.Text, tc.want)
		}
	}

	rooms := []xmpp.RoomInfo{
		{JID: jid.MustParse("rd@conf.example"), Name: "研发部"},
		{JID: jid.MustParse("caiwu@conf.example"), Name: "财务部"},
		{JID: jid.MustParse("lunch@conf.example")},
	}
	q := &workQueue{}
	d := newRoomDirectory(test.NewTempWindow(t, nil), func(context.Context) ([]xmpp.RoomInfo, error) { return rooms, nil }, q.run)
	var joined []string
	d.onJoin = func(r xmpp.RoomInfo) { joined = append(joined, r.JID.String()) }
	d.load()
	q.flush()
	var names []string
	for _, r := range d.shown {
		names = append(names, r.name)
	}
	if got := strings.Join(names, ","); got != "财务部,lunch,研发部" { // caiwubu, lunch, yanfabu
		t.Fatalf("listed %s", got)
	}
	for i, tc := range []struct{ filter, want string }{
		0: {"yfb", "研发部"},
		1: {"yanfa", "研发部"},
		2: {"财务", "财务部"},
		3: {"LUN", "lunch"},
		4: {"conf.example", "财务部,lunch,研发部"},
	} {
		d.filter.SetText(tc.filter)
		names = names[:0]
		for _, r := range d.shown {
			names = append(names, r.name)
		}
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("%d: filter %q shows %s, want %s", i, tc.filter, got, tc.want)
		}
	}
	// Enter joins the only room left.
	d.filter.SetText("yfb")
	d.filter.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(joined) != 1 || joined[0] != "rd@conf.example" {
		t.Fatalf("Enter joined %v", joined)
	}
}

// TestRoomJoinShortcutNickAndSignOut: Ctrl+J opens the join dialog; a
// taken nick shows the conflict with what was typed kept; another nick
// gets in, and the room is bookmarked with autojoin (the dialog's default);
// the own nick, clicked, becomes an entry: a taken one shows the
// conflict in the tab, a free one is taken; a room that wants a password
// adds the password field; signing out leaves the room at once.
func TestRoomJoinShortcutNickAndSignOut(t *testing.T) {
	srv := startRoomServer(t)
	room := srv.room("office")
	bob := srv.inRoom(t, "bob", room, "Bob")
	bobEvents := bob.Events()
	client := srv.connect(t, "alice", "desktop", xmpp.WithAutojoin())
	a := newRoomApp(t, client, "alice@"+srv.Domain)
	w := a.c.main.win

	w.Canvas().(interface{ TypedShortcut(fyne.Shortcut) }).TypedShortcut(joinRoomShortcut)
	if text := dialogTexts(w); !strings.Contains(text, "Join a group chat") || !strings.Contains(text, "alice") {
		t.Fatalf("Ctrl+J shows:\n%s", text)
	}
	top := w.Canvas().Overlays().Top()
	var roomEntry, nickEntry *widget.Entry
	for _, o := range test.LaidOutObjects(top) {
		if e, ok := o.(*widget.Entry); ok && e.Visible() {
			switch {
			case roomEntry == nil:
				roomEntry = e
			case nickEntry == nil:
				nickEntry = e
			}
		}
	}
	if w.Canvas().Focused() != roomEntry {
		t.Fatal("the room's address does not have the keyboard")
	}
	test.Type(roomEntry, room.String())
	nickEntry.SetText("Bob")
	test.Tap(findButton(top, "Join"))
	a.q.flush()
	text := dialogTexts(w)
	if !strings.Contains(text, "already uses this nickname") || !strings.Contains(text, room.String()) || !strings.Contains(text, "Bob") {
		t.Fatalf("after a nick conflict the dialog shows:\n%s", text)
	}
	if w.Canvas().Focused() != nickEntry {
		t.Error("after a nick conflict the nick does not have the keyboard")
	}
	nickEntry.SetText("Alice")
	nickEntry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	a.q.flush()
	if w.Canvas().Overlays().Top() != nil {
		t.Fatalf("the dialog is still up:\n%s", dialogTexts(w))
	}
	tab := a.c.chats.chats[room.String()]
	if tab == nil || tab.room == nil || !tab.room.joined {
		t.Fatal("no room tab after joining")
	}
	if bm, ok := bookmarkOf(t, client, room); !ok || !bm.Autojoin || bm.Nick != "Alice" {
		t.Fatalf("the join bookmarked %+v (found %v), want autojoin as Alice", bm, ok)
	}
	a.until("the room listed as joined", func() bool { r := a.roomRow(room); return r != nil && r.joined })

	// The own nick: Bob's is taken, the tab says so and keeps the entry.
	r := tab.room
	if r.nickButton.Text != "Alice" || !r.nickButton.Visible() {
		t.Fatalf("the own nick shows %q", r.nickButton.Text)
	}
	test.Tap(r.nickButton)
	if !r.nickEntry.Visible() || r.nickEntry.Text != "Alice" {
		t.Fatal("a tap on the own nick did not open its entry")
	}
	r.nickEntry.SetText("Bob")
	r.nickEntry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	a.until("the nick conflict", func() bool { return r.nickProblem.Visible() })
	if !strings.Contains(r.nickProblem.Text, "already uses this nickname") || r.nickEntry.Text != "Bob" || r.nick != "Alice" {
		t.Fatalf("the refused nick shows %q, entry %q, nick %q", r.nickProblem.Text, r.nickEntry.Text, r.nick)
	}
	r.nickEntry.SetText("爱丽丝")
	r.nickEntry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	a.until("the new nick", func() bool { return r.nick == "爱丽丝" })
	if r.nickEntry.Visible() || r.nickProblem.Visible() || r.nickButton.Text != "爱丽丝" {
		t.Fatalf("after the change: entry shown %v, problem %q, button %q", r.nickEntry.Visible(), r.nickProblem.Text, r.nickButton.Text)
	}
	if _, ok := r.occupants["爱丽丝"]; !ok {
		t.Fatalf("the occupants do not show the new nick: %v", r.occupants)
	}

	// A room wanting a password: the field appears, with the keyboard.
	d := a.c.showJoinRoom(w)
	if d.password.Visible() && d.form.Items[len(d.form.Items)-1].Widget == d.password {
		t.Fatal("the password field shows before it is needed")
	}
	d.room.SetText("secret@" + srv.service.String())
	d.failWith(&xmpp.RoomError{Room: srv.room("secret"), Condition: "not-authorized"})
	if d.form.Items[len(d.form.Items)-1].Widget != d.password || w.Canvas().Focused() != d.password {
		t.Fatal("a room wanting a password did not add the focused password field")
	}
	if !strings.Contains(dialogTexts(w), "The room needs a password.") || d.room.Text != "secret@"+srv.service.String() {
		t.Fatalf("the dialog shows:\n%s", dialogTexts(w))
	}
	d.dlg.Hide()

	// Sign-out: Bob sees Alice leave at once.
	a.c.signOut("")
	deadline := time.After(10 * time.Second)
	for left := false; !left; {
		select {
		case e := <-bobEvents:
			oc, ok := e.(xmpp.OccupantChanged)
			left = ok && oc.Left && oc.Occupant.Nick == "爱丽丝"
		case <-deadline:
			t.Fatal("Bob did not see Alice leave on her sign-out")
		}
	}
}

// TestDefaultNickFromProfile: the nickname offered for a room is the name
// the user goes by (the own vCard's nickname, else full name), not the
// account's user name, once the profile is read after sign-in; a
// bookmark's nick still wins.
func TestDefaultNickFromProfile(t *testing.T) {
	srv := startRoomServer(t)
	room := srv.room("office")
	client := srv.connect(t, "alice", "desktop")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.SetProfile(ctx, xmpp.Profile{FullName: "Alice Wang", Nickname: "爱丽丝"}); err != nil {
		t.Fatal(err)
	}
	a := newRoomApp(t, client, "alice@"+srv.Domain)
	c := a.c
	if nick := c.defaultNick(room); nick != "alice" {
		t.Fatalf("before the profile is read the nick is %q, want the user name", nick)
	}
	c.handle(xmpp.StateChanged{State: xmpp.Online})
	a.q.flush()
	if nick := c.defaultNick(room); nick != "爱丽丝" {
		t.Fatalf("the default nick is %q, want the profile's nickname", nick)
	}
	d := c.showJoinRoom(c.main.win)
	if d.nick.Text != "爱丽丝" {
		t.Fatalf("the join dialog offers %q", d.nick.Text)
	}
	d.dlg.Hide()
	c.roomBook().put(xmpp.Bookmark{Room: room, Nick: "Alice"})
	if nick := c.defaultNick(room); nick != "Alice" {
		t.Fatalf("with a bookmark's nick the default is %q", nick)
	}
}

// TestRoomTabFollowsTheRoom: the tab takes the nick the room gave (Prosody
// folds full-width letters), a message arriving while a closed tab's leave
// is under way does not reopen it, and a tab opened for a room the user
// is not in (a search result) says so and offers Rejoin.
func TestRoomTabFollowsTheRoom(t *testing.T) {
	srv := startRoomServer(t)
	room := srv.room("office")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob := srv.inRoom(t, "bob", room, "Bob")
	client := srv.connect(t, "alice", "desktop")
	a := newRoomApp(t, client, "alice@"+srv.Domain, bob)
	c := a.c

	d := c.showJoinRoom(c.main.win)
	d.room.SetText(room.String())
	d.nick.SetText("Ａｌｉｃｅ") // full-width: the room makes it Alice
	test.Tap(d.join)
	a.until("the room joined", func() bool { return c.roomJoinedNow(room) && c.roomTab(room) != nil })
	tab := c.roomTab(room)
	if got := c.joinedNick(room, ""); tab.room.nick != got || got == "Ａｌｉｃｅ" {
		t.Fatalf("the tab's nick is %q, the room's %q", tab.room.nick, got)
	}

	// Closing the tab leaves; Bob's message meanwhile does not bring it back.
	c.chats.tabs.OnClosed(tab.item)
	if _, err := bob.SendRoomMessage(ctx, room, "还在吗"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		select {
		case e := <-a.events:
			c.handle(e)
			if c.roomTab(room) != nil {
				t.Fatalf("%T %+v reopened the tab the user had just closed; leaving %v", e, e, c.chats.leaving)
			}
		case <-time.After(20 * time.Millisecond):
		}
	}
	a.until("the leave", func() bool { return !c.roomHeld(room) })

	// A tab for a room the user is not in: the banner, and no sending.
	c.chats.openRoom(room, "", true)
	tab = c.roomTab(room)
	if tab.room.joined || !tab.room.banner.Visible() || tab.room.removed.Text != "You are not in this group chat." || !tab.view.entry.Disabled() {
		t.Fatalf("a tab of a room not joined: joined %v, banner %v %q, entry disabled %v",
			tab.room.joined, tab.room.banner.Visible(), tab.room.removed.Text, tab.view.entry.Disabled())
	}
}

func TestDescribeSendError(t *testing.T) {
	for i, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("xmpp: join room x: %w", xmpp.ErrNotConnected), "offline; try again when connected"},
		{xmpp.ErrNotInRoom, "you are not in this group chat"},
		{&xmpp.StanzaError{Condition: "service-unavailable"}, "the service is not available"},
		{&xmpp.StanzaError{Condition: "forbidden", Text: "members only"}, "not allowed (members only)"},
		{context.DeadlineExceeded, "the server did not answer in time"},
	} {
		if got := describeSendError(tc.err); got != tc.want {
			t.Errorf("%d: %q, want %q", i, got, tc.want)
		}
	}
	if got := describeJoinError(&xmpp.RoomError{Condition: "service-unavailable"}); got != "The room refused: the service is not available" {
		t.Errorf("a room's other refusal: %q", got)
	}
}

// TestRoomPrivateChat: choosing an occupant in the room's list opens a
// private chat with them (XEP-0045 §7.5), named after the nick and the
// room; what is said there goes to that occupant only, and the answer
// comes back to that tab, never into the room's.
func TestRoomPrivateChat(t *testing.T) {
	srv := startRoomServer(t)
	room := srv.room("office")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob := srv.inRoom(t, "bob", room, "Bob")
	bobEvents := bob.Events()
	client := srv.connect(t, "alice", "desktop")
	a := newRoomApp(t, client, "alice@"+srv.Domain)
	c := a.c
	if err := client.JoinRoom(ctx, room, "Alice"); err != nil {
		t.Fatal(err)
	}
	var tab *chatTab
	a.until("the room's tab with Bob in it", func() bool {
		tab = c.roomTab(room)
		return tab != nil && len(tab.room.sorted) == 2
	})
	bobAt := -1
	for i, o := range tab.room.sorted {
		if o.Nick == "Bob" {
			bobAt = i
		}
	}
	tab.room.people.OnSelected(bobAt)
	occupant := jid.MustParse(room.String() + "/Bob")
	pm := c.chats.chats[occupant.String()]
	if pm == nil || pm.room != nil || pm.item.Text != "Bob (office)" || c.chats.tabs.Selected() != pm.item {
		t.Fatalf("choosing Bob opened %+v", pm)
	}
	if pm.view.status.Text != "Private chat in office" || pm.view.avatar.initials.Text != "B" {
		t.Fatalf("the private chat's header says %q, its avatar %q", pm.view.status.Text, pm.view.avatar.initials.Text)
	}
	// The room hides who Bob is from Alice (semi-anonymous, she is no
	// moderator): no profile, rather than the room's as if it were a contact.
	if pm.view.profileButton.Visible() {
		t.Fatal("a profile button for an occupant whose address the room hides")
	}
	test.Type(pm.view.entry, "悄悄话")
	pm.view.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	a.q.flush()
	var got xmpp.MessageReceived
	a.until("Bob gets the private message", func() bool {
		for {
			select {
			case e := <-bobEvents:
				if m, ok := e.(xmpp.MessageReceived); ok && m.Body == "悄悄话" {
					got = m
					return true
				}
			default:
				return false
			}
		}
	})
	if !got.Private || got.From.String() != room.String()+"/Alice" {
		t.Fatalf("bob got %+v", got.Message)
	}
	if _, err := bob.SendMessage(ctx, jid.MustParse(room.String()+"/Alice"), "收到"); err != nil {
		t.Fatal(err)
	}
	a.until("the answer in the private tab", func() bool {
		for _, m := range pm.view.msgs {
			if m.Body == "收到" {
				return true
			}
		}
		return false
	})
	for _, m := range tab.view.msgs {
		if m.Body == "收到" || m.Body == "悄悄话" {
			t.Fatalf("the private chat shows in the room's tab: %+v", m)
		}
	}

	// The header says when Bob has left the room, and when he is back.
	if err := bob.ConfigureRoom(ctx, room, xmpp.RoomConfig{Persistent: true, NonAnonymous: true}); err != nil {
		t.Fatal(err)
	}
	if err := bob.LeaveRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	a.until("the header says Bob left", func() bool { return pm.view.status.Text == "Private chat in office: Bob has left the room" })
	if pm.view.profileButton.Visible() {
		t.Fatal("a profile button for an occupant who left")
	}
	if err := bob.JoinRoom(ctx, room, "Bob"); err != nil {
		t.Fatal(err)
	}
	a.until("the header says Bob is back", func() bool { return pm.view.status.Text == "Private chat in office" })
	// Bob made the room show who everyone is while he was out: the
	// profile is his.
	if !pm.view.profileButton.Visible() {
		t.Fatal("no profile for an occupant whose address the room shows")
	}
	test.Tap(pm.view.profileButton)
	a.q.flush()
	card := dialogTexts(c.chats.win)
	if !strings.Contains(card, bob.Account().Bare().String()) || strings.Contains(card, room.String()) {
		t.Fatalf("the profile button opened:\n%s\nwant Bob's profile", card)
	}
	c.chats.win.Canvas().Overlays().Top().Hide()
	// Alice leaves (closing the room's tab): she is not in the room.
	c.chats.tabs.OnClosed(tab.item)
	a.until("the header says Alice is not in the room", func() bool {
		return pm.view.status.Text == "Private chat in office: you are not in the room"
	})
}
