package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// The group chats of the contacts window: the bookmarked rooms and the
// rooms the user is in, in a group of their own at the top of the list, as
// Gajim shows them. The bookmarks are read at sign-in and on every return
// online, kept up to date by BookmarksChanged (where the server keeps them
// in PEP) and by the app's own changes; autojoin is the core's
// (xmpp.WithAutojoin), so that reconnects and other devices' bookmarks are
// handled in one place.

// bookmarkTimeout bounds one read or write of the bookmarks.
const bookmarkTimeout = 20 * time.Second

// roomEntry is a group chat in the contacts window.
type roomEntry struct {
	jid    jid.JID // bare
	key    string
	name   string
	fold   string // the sort key, as for contacts
	match  string // what the filter searches: name, address, pinyin
	joined bool
	status string
}

// roomLook is what the contacts window is told about a group chat.
type roomLook struct {
	room   jid.JID
	name   string
	joined bool
	status string
}

func (e *roomEntry) look(unread int) contactLook {
	rank := rankOffline
	if e.joined {
		rank = rankAvailable // the green dot: in the room
	}
	return contactLook{key: e.key, name: e.name, status: e.status, rank: rank, unread: unread, room: true}
}

// SetRooms replaces the group chats the contacts window lists.
func (v *rosterView) SetRooms(list []roomLook) {
	v.rooms = v.rooms[:0]
	clear(v.roomIndex)
	joined := 0
	for _, r := range list {
		bare := r.room.Bare()
		name := strings.TrimSpace(r.name)
		if name == "" {
			name = bare.Localpart()
		}
		keys := pinyinKeys(name)
		e := &roomEntry{jid: bare, key: bare.String(), name: name, fold: nameSortKey(name, keys),
			match: strings.ToLower(name + "\n" + bare.String() + "\n" + keys), joined: r.joined, status: r.status}
		v.rooms = append(v.rooms, e)
		v.roomIndex[e.key] = e
		if r.joined {
			joined++
		}
	}
	slices.SortFunc(v.rooms, func(a, b *roomEntry) int {
		if c := strings.Compare(a.fold, b.fold); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	v.roomGroup.online = joined
	v.rebuild()
}

// appendRooms adds the group chats' header and rows, as appendGroup does
// for a group of contacts.
func (v *rosterView) appendRooms(rows []rosterRow) []rosterRow {
	g := v.roomGroup
	if len(v.rooms) == 0 {
		return rows
	}
	if v.filter == "" {
		rows = append(rows, rosterRow{group: g})
		if !v.collapsed[g.collapseKey()] {
			for _, r := range v.rooms {
				rows = append(rows, rosterRow{group: g, room: r})
			}
		}
		return rows
	}
	header := len(rows)
	for _, r := range v.rooms {
		if strings.Contains(r.match, v.filter) {
			if len(rows) == header {
				rows = append(rows, rosterRow{group: g})
			}
			rows = append(rows, rosterRow{group: g, room: r})
		}
	}
	return rows
}

// roomAvatarName is what a room's initials are made from: a Chinese name
// by its first two characters (研发部 as 研发), where a person's name goes
// by its last two (the given name).
func roomAvatarName(name string) string {
	var han []rune
	for _, r := range strings.TrimSpace(name) {
		if !unicode.Is(unicode.Han, r) || len(han) == 2 {
			break
		}
		han = append(han, r)
	}
	if len(han) > 0 {
		return string(han)
	}
	return name
}

// roomTitle is the room's name: its bookmark's, else the one the room
// gives itself (once joined), else its address's local part.
func (c *controller) roomTitle(room jid.JID) string {
	if bm, ok := c.bookmarks.get(room); ok && strings.TrimSpace(bm.Name) != "" {
		return strings.TrimSpace(bm.Name)
	}
	if c.client != nil {
		if name := strings.TrimSpace(c.client.RoomName(room)); name != "" {
			return name
		}
	}
	return room.Localpart()
}

// roomBook is the signed-in account's bookmarks as last read.
type roomBook struct {
	byRoom map[string]xmpp.Bookmark
	// gen numbers the reads, so that an older answer does not replace a
	// newer one.
	gen int
}

func (b *roomBook) get(room jid.JID) (xmpp.Bookmark, bool) {
	if b == nil {
		return xmpp.Bookmark{}, false
	}
	bm, ok := b.byRoom[room.Bare().String()]
	return bm, ok
}

func (b *roomBook) put(bm xmpp.Bookmark) {
	bm.Room = bm.Room.Bare()
	b.byRoom[bm.Room.String()] = bm
}

// roomRunner runs the group chats' network calls: as background() does,
// except that where the pump hands its work over through toUI (tests that
// drive a whole sign-in), the results go the same way, so that they are
// applied in turn with the events.
func (c *controller) roomRunner() backgroundRunner {
	if c.toUI == nil {
		return c.background()
	}
	toUI := c.toUI
	return func(load func() func()) {
		go func() {
			apply := load()
			toUI(apply)
		}()
	}
}

// loadBookmarks reads the bookmarks in the background and lists them.
func (c *controller) loadBookmarks() {
	client := c.client
	if client == nil {
		return
	}
	book := c.roomBook()
	book.gen++
	gen := book.gen
	c.roomRunner()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), bookmarkTimeout)
		defer cancel()
		list, err := client.Bookmarks(ctx)
		return func() {
			if c.client != client || c.bookmarks != book || gen != book.gen {
				return
			}
			if err != nil {
				if !errors.Is(err, xmpp.ErrNotConnected) && c.main != nil {
					c.main.showProblem(lang.L("Your bookmarked group chats could not be read: {{.Error}}", map[string]any{"Error": err.Error()}))
				}
				return
			}
			clear(book.byRoom)
			for _, bm := range list {
				book.put(bm)
			}
			c.refreshRooms()
		}
	})
}

// bookmarksChanged applies another device's (or this one's) change.
func (c *controller) bookmarksChanged(e xmpp.BookmarksChanged) {
	if c.bookmarks == nil || (len(e.Changed) == 0 && len(e.Removed) == 0) {
		c.loadBookmarks() // purged, or not read yet: read them all
		return
	}
	for _, bm := range e.Changed {
		c.bookmarks.put(bm)
	}
	for _, room := range e.Removed {
		delete(c.bookmarks.byRoom, room.Bare().String())
	}
	c.refreshRooms()
}

// refreshRooms lists the bookmarked and the joined rooms in the contacts
// window, and updates the room directory's buttons.
func (c *controller) refreshRooms() {
	if c.main == nil {
		return
	}
	looks := map[string]*roomLook{}
	if c.bookmarks != nil {
		for key, bm := range c.bookmarks.byRoom {
			looks[key] = &roomLook{room: bm.Room, name: bm.Name, status: lang.L("Not joined")}
		}
	}
	if c.client != nil {
		for _, r := range c.client.Rooms() {
			look := looks[r.JID.String()]
			if look == nil {
				look = &roomLook{room: r.JID, status: lang.L("Not joined")}
				looks[r.JID.String()] = look
			}
			if r.Joined {
				look.joined = true
				look.status = strings.Join(strings.Fields(r.Subject), " ")
				if look.status == "" {
					look.status = lang.L("Joined")
				}
			} else {
				look.status = lang.L("Joining…")
			}
		}
	}
	list := make([]roomLook, 0, len(looks))
	for _, l := range looks {
		list = append(list, *l)
	}
	c.main.roster.SetRooms(list)
	if c.chats != nil {
		c.chats.retitleRooms()
	}
	if c.main.roomDir != nil {
		c.main.roomDir.list.Refresh()
	}
}

// retitleRooms names the room tabs after their bookmarks, which may be
// read after the rooms were joined, or the rooms' own names, known once
// joined.
func (w *chatWindows) retitleRooms() {
	changed := false
	for _, t := range w.chats {
		if t.room == nil {
			continue
		}
		if title := w.c.roomTitle(t.peer); t.item.Text != title {
			t.item.Text = title
			t.view.name.SetText(title)
			t.view.avatar.bind(nil, t.peer.String(), roomAvatarName(title))
			changed = true
		}
	}
	if changed {
		w.tabs.Refresh()
	}
}

// coreRoom is the core's view of room, when it is in the room or getting
// (back) in.
func (c *controller) coreRoom(room jid.JID) (xmpp.Room, bool) {
	if c.client == nil {
		return xmpp.Room{}, false
	}
	return c.client.Room(room)
}

// roomJoinedNow reports whether the client is in room.
func (c *controller) roomJoinedNow(room jid.JID) bool {
	r, _ := c.coreRoom(room)
	return r.Joined
}

// roomHeld reports whether the core is in room or getting back in
// (joining, rejoining after a drop).
func (c *controller) roomHeld(room jid.JID) bool {
	_, ok := c.coreRoom(room)
	return ok
}

// joinedNick is the nick the room gave the user (it may differ from the one
// asked for: a registered nick, or the server's normalisation), else asked.
func (c *controller) joinedNick(room jid.JID, asked string) string {
	if r, _ := c.coreRoom(room); r.Nick != "" {
		return r.Nick
	}
	return asked
}

// openJoinedRoom opens the tab of a room just joined, in front, with the
// nick the room gave.
func (c *controller) openJoinedRoom(room jid.JID, asked string) *chatTab {
	nick := c.joinedNick(room, asked)
	t := c.chats.openRoom(room, nick, true)
	t.room.joined = true
	t.room.setNick(nick)
	return t
}

// defaultNick is the nick for room: the bookmark's, else the account's
// user name.
func (c *controller) defaultNick(room jid.JID) string {
	if bm, ok := c.bookmarks.get(room); ok && bm.Nick != "" {
		return bm.Nick
	}
	if c.ownName != "" {
		return c.ownName // 张三 rather than zhangsan, where the profile says so
	}
	if j, err := jid.Parse(c.account.JID); err == nil {
		return j.Localpart()
	}
	return ""
}

// enterRoom opens the room's tab, joining first when the user is not in
// it, with the bookmark's nick and password. A refusal opens the join
// dialog over parent with the room filled in and the reason, to choose
// another nick or give the password.
func (c *controller) enterRoom(room jid.JID, parent fyne.Window) {
	room = room.Bare()
	client := c.client
	if client == nil {
		return
	}
	if c.roomJoinedNow(room) {
		c.chats.openRoom(room, "", true)
		return
	}
	nick := c.defaultNick(room)
	var opts []xmpp.JoinOption
	bm, _ := c.bookmarks.get(room)
	if bm.Password != "" {
		opts = append(opts, xmpp.WithRoomPassword(bm.Password))
	}
	c.roomRunner()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
		defer cancel()
		err := client.JoinRoom(ctx, room, nick, opts...)
		return func() {
			if c.client != client {
				return
			}
			if err != nil {
				d := c.showJoinRoom(parent)
				d.fill(room, nick, bm.Password)
				d.failWith(err)
				return
			}
			c.openJoinedRoom(room, nick)
			c.refreshRooms()
		}
	})
}

// roomMenu offers what can be done with a group chat of the contacts
// window.
func (c *controller) roomMenu(room jid.JID, at fyne.Position) {
	if c.main == nil {
		return
	}
	room = room.Bare()
	bm, bookmarked := c.bookmarks.get(room)
	joined := c.roomJoinedNow(room)
	items := []*fyne.MenuItem{fyne.NewMenuItem(lang.L("Open"), func() { c.enterRoom(room, c.main.win) })}
	if joined {
		items = append(items, fyne.NewMenuItem(lang.L("Leave"), func() { c.leaveRoom(room) }))
	} else {
		items = append(items, fyne.NewMenuItem(lang.L("Join"), func() { c.enterRoom(room, c.main.win) }))
	}
	items = append(items, &fyne.MenuItem{Label: lang.L("Join automatically"), Checked: bookmarked && bm.Autojoin,
		Action: func() { c.setAutojoin(room, !(bookmarked && bm.Autojoin)) }},
		c.roomNotifyItem(room, c.main.win))
	if bookmarked {
		items = append(items, fyne.NewMenuItem(lang.L("Remove bookmark"), func() { c.removeBookmark(room) }))
	} else {
		items = append(items, fyne.NewMenuItem(lang.L("Bookmark"), func() {
			c.saveBookmark(xmpp.Bookmark{Room: room, Autojoin: true, Nick: c.roomNick(room)}, c.main.win)
		}))
	}
	widget.ShowPopUpMenuAtPosition(fyne.NewMenu("", items...), c.main.win.Canvas(), at)
}

// roomNick is the nick the user has in room, else the default one.
func (c *controller) roomNick(room jid.JID) string {
	if r, ok := c.coreRoom(room); ok {
		return r.Nick
	}
	return c.defaultNick(room)
}

// leaveRoom leaves a room from the contacts window; its tab, if open,
// says so and offers Rejoin.
func (c *controller) leaveRoom(room jid.JID) {
	client := c.client
	if client == nil {
		return
	}
	c.roomRunner()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.LeaveRoom(ctx, room) // not in it any more: nothing to leave
		return func() {
			if c.client == client {
				c.refreshRooms()
				c.chats.privateHeaders(room)
			}
		}
	})
}

// setAutojoin turns joining at sign-in on or off, bookmarking the room
// when it is not bookmarked yet.
func (c *controller) setAutojoin(room jid.JID, on bool) {
	bm, ok := c.bookmarks.get(room)
	if !ok {
		bm = xmpp.Bookmark{Room: room, Nick: c.roomNick(room)}
	}
	bm.Autojoin = on
	c.saveBookmark(bm, c.main.win)
}

// bookmarkJoined bookmarks a room just joined, to be joined at every
// sign-in with nick (and password, if any). A bookmark the room already
// has keeps its name; name is for one without.
func (c *controller) bookmarkJoined(room jid.JID, nick, password, name string, parent fyne.Window) {
	bm, _ := c.bookmarks.get(room)
	bm.Room, bm.Autojoin, bm.Nick = room, true, nick
	if bm.Name == "" {
		bm.Name = name
	}
	if password != "" {
		bm.Password = password
	}
	c.saveBookmark(bm, parent)
}

// saveBookmark writes bm in the background and lists it once the server
// has it; a failure is shown over parent.
func (c *controller) saveBookmark(bm xmpp.Bookmark, parent fyne.Window) {
	if bm.Name == "" && c.client != nil {
		bm.Name = c.client.RoomName(bm.Room) // as other devices should show it
	}
	c.changeBookmarks(parent, func(ctx context.Context, client *xmpp.Client) error { return client.SetBookmark(ctx, bm) },
		func(book *roomBook) { book.put(bm) })
}

// removeBookmark removes the room's bookmark; a room the user is in stays
// listed until they leave it.
func (c *controller) removeBookmark(room jid.JID) {
	c.changeBookmarks(c.main.win, func(ctx context.Context, client *xmpp.Client) error { return client.RemoveBookmark(ctx, room) },
		func(book *roomBook) { delete(book.byRoom, room.Bare().String()) })
}

// changeBookmarks runs a bookmark change off the UI thread and applies it
// to the list when the server accepted it (where the server keeps them in
// PEP, BookmarksChanged says the same again).
func (c *controller) changeBookmarks(parent fyne.Window, change func(context.Context, *xmpp.Client) error, apply func(*roomBook)) {
	client := c.client
	if client == nil {
		return
	}
	book := c.roomBook()
	c.roomRunner()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), bookmarkTimeout)
		defer cancel()
		err := change(ctx, client)
		return func() {
			if c.client != client {
				return
			}
			if err != nil {
				dialog.ShowError(errors.New(lang.L("The bookmark could not be saved: {{.Error}}", map[string]any{"Error": describeSendError(err)})), parent)
				return
			}
			apply(book)
			c.refreshRooms()
		}
	})
}

// roomUnread shows a room's unread count in the contacts window.
func (c *controller) roomUnread(room jid.JID, n int) {
	if c.main != nil {
		c.main.roster.SetUnread(room, n)
	}
}

// leaveAllRooms leaves every room before a sign-out, so the rooms see the
// user go at once and the server stops sending their messages; each gets
// a short deadline, as the user is waiting.
func leaveAllRooms(client *xmpp.Client) {
	for _, r := range client.Rooms() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = client.LeaveRoom(ctx, r.JID) // offline or gone: nothing to leave
		cancel()
	}
}

// roomBook returns the bookmarks as last read, made empty on first use.
func (c *controller) roomBook() *roomBook {
	if c.bookmarks == nil {
		c.bookmarks = &roomBook{byRoom: map[string]xmpp.Bookmark{}}
	}
	return c.bookmarks
}
