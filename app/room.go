package app

import (
	"context"
	"errors"
	"hash/fnv"
	"image/color"
	"slices"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// joinRoomShortcut is Ctrl+J (Cmd+J on macOS) in the contacts window.
var joinRoomShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyJ, Modifier: fyne.KeyModifierShortcutDefault}

// joinTimeout bounds a join: the room answers in well under a second when
// it is there at all.
const joinTimeout = 30 * time.Second

// roomView is a group chat's tab: the chat view's messages and entry, the
// subject in its header, the occupants beside it, and a line with Rejoin
// once the user is out of the room.
type roomView struct {
	room   jid.JID
	nick   string
	joined bool
	// onPrivate opens a private chat with an occupant.
	onPrivate func(nick string)

	occupants map[string]xmpp.Occupant
	sorted    []xmpp.Occupant
	people    *widget.List
	// occupantsStale is set when occupants changed during a batch of
	// events: the list is sorted and redrawn once, at its end (a room of
	// hundreds rejoined sends as many presences).
	occupantsStale bool
	// chat is the room's conversation view (its holdScroll says whether a
	// batch is being applied).
	chat *chatView

	// removed says why the user is out of the room; with rejoin, shown
	// under the header only then.
	removed *widget.Label
	rejoin  *widget.Button
	banner  *fyne.Container
	root    fyne.CanvasObject

	// nickButton shows the own nick under the occupants; a tap turns it
	// into nickEntry to change it. nickProblem says why the room refused
	// a new nick; pendingNick is the nick asked for until the room answers.
	nickButton  *widget.Button
	nickEntry   *searchEntry
	nickProblem *widget.Label
	pendingNick string
	onNick      func(nick string)
}

// nickColors are readable on the light and the dark theme alike.
var nickColors = []color.Color{
	color.NRGBA{R: 0xd3, G: 0x2f, B: 0x2f, A: 0xff},
	color.NRGBA{R: 0x1e, G: 0x88, B: 0xe5, A: 0xff},
	color.NRGBA{R: 0x43, G: 0xa0, B: 0x47, A: 0xff},
	color.NRGBA{R: 0xfb, G: 0x8c, B: 0x00, A: 0xff},
	color.NRGBA{R: 0x8e, G: 0x24, B: 0xaa, A: 0xff},
	color.NRGBA{R: 0x00, G: 0x89, B: 0x7b, A: 0xff},
	color.NRGBA{R: 0xc2, G: 0x18, B: 0x5b, A: 0xff},
	color.NRGBA{R: 0x6d, G: 0x4c, B: 0x41, A: 0xff},
}

// nickColor is the same colour for a nick every time, in every room.
func nickColor(nick string) color.Color {
	h := fnv.New32a()
	h.Write([]byte(nick))
	return nickColors[h.Sum32()%uint32(len(nickColors))]
}

// roleRank puts moderators first, then participants, then visitors.
func roleRank(role string) int {
	switch role {
	case "moderator":
		return 0
	case "participant":
		return 1
	case "visitor":
		return 2
	}
	return 3
}

func roleWord(role string) string {
	switch role {
	case "moderator":
		return lang.L("moderator")
	case "visitor":
		return lang.L("visitor")
	}
	return ""
}

func newRoomView(room jid.JID, nick string, chat *chatView, onRejoin func(), onNick func(string)) *roomView {
	r := &roomView{room: room, nick: nick, occupants: map[string]xmpp.Occupant{}, onNick: onNick, chat: chat}
	r.people = widget.NewList(
		func() int { return len(r.sorted) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, nil, &widget.Label{Importance: widget.LowImportance},
				&widget.Label{Truncation: fyne.TextTruncateEllipsis})
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			box := o.(*fyne.Container)
			box.Objects[0].(*widget.Label).SetText(r.sorted[i].Nick)
			box.Objects[1].(*widget.Label).SetText(roleWord(r.sorted[i].Role))
		},
	)
	// Choosing someone opens a private chat with them (XEP-0045 §7.5).
	r.people.OnSelected = func(i widget.ListItemID) {
		r.people.UnselectAll()
		if i < len(r.sorted) && r.sorted[i].Nick != r.nick && r.onPrivate != nil {
			r.onPrivate(r.sorted[i].Nick)
		}
	}
	r.removed = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance}
	r.rejoin = widget.NewButtonWithIcon(lang.L("Rejoin"), theme.ViewRefreshIcon(), onRejoin)
	r.banner = container.NewBorder(nil, nil, nil, container.NewCenter(r.rejoin), r.removed)
	r.banner.Hide()
	chat.top.Add(r.banner)
	// A room has no profile card: the button (and the header) open the
	// room's menu.
	chat.profileButton.Icon = theme.MoreVerticalIcon()
	r.nickButton = &widget.Button{Icon: theme.DocumentCreateIcon(), Importance: widget.LowImportance,
		Alignment: widget.ButtonAlignLeading, OnTapped: r.editNick}
	r.nickEntry = newSearchEntry(r.endNickEdit)
	r.nickEntry.OnSubmitted = func(text string) { r.onNick(text) }
	r.nickEntry.Hide()
	r.nickProblem = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance}
	r.nickProblem.Hide()
	r.setNick(nick)
	you := container.NewVBox(widget.NewSeparator(),
		&widget.Label{Text: lang.L("Your nickname"), Importance: widget.LowImportance},
		r.nickButton, r.nickEntry, r.nickProblem)
	split := container.NewHSplit(chat.Object(), container.NewBorder(
		&widget.Label{Text: lang.L("Occupants"), TextStyle: fyne.TextStyle{Bold: true}}, you, nil, nil, r.people))
	split.Offset = 0.75
	r.root = split
	return r
}

// setOccupants replaces the list (on join).
func (r *roomView) setOccupants(list []xmpp.Occupant) {
	clear(r.occupants)
	for _, o := range list {
		r.occupants[o.Nick] = o
	}
	r.refreshOccupants()
}

// occupantChanged applies someone's arrival, departure, nick or role change.
func (r *roomView) occupantChanged(e xmpp.OccupantChanged) {
	o := e.Occupant
	switch {
	case e.Left:
		delete(r.occupants, o.Nick)
	case e.NewNick != "":
		delete(r.occupants, o.Nick)
		o.Nick = e.NewNick
		r.occupants[o.Nick] = o
		if e.Self {
			r.setNick(e.NewNick)
			if r.pendingNick != "" {
				r.endNickEdit()
			}
		}
	default:
		r.occupants[o.Nick] = o
	}
	if r.chat != nil && r.chat.holdScroll { // in a batch
		r.occupantsStale = true
		return
	}
	r.refreshOccupants()
}

// setNick shows the own nick.
func (r *roomView) setNick(nick string) {
	r.nick = nick
	r.nickButton.SetText(nick)
	if nick == "" {
		r.nickButton.Hide()
	} else if !r.nickEntry.Visible() {
		r.nickButton.Show()
	}
}

// editNick turns the own nick into an entry to change it.
func (r *roomView) editNick() {
	if !r.joined {
		return
	}
	r.nickEntry.SetText(r.nick)
	r.nickButton.Hide()
	r.nickEntry.Show()
	r.nickProblem.Hide()
	if c := fyne.CurrentApp().Driver().CanvasForObject(r.nickEntry); c != nil {
		c.Focus(r.nickEntry)
	}
}

// endNickEdit puts the own nick back in place of the entry (Escape, or
// the room took the new one).
func (r *roomView) endNickEdit() {
	r.pendingNick = ""
	r.nickEntry.Hide()
	r.nickProblem.Hide()
	if r.nick != "" {
		r.nickButton.Show()
	}
}

// nickRefused shows why the room did not take the new nick, keeping what
// the user typed to correct it.
func (r *roomView) nickRefused(text string) {
	r.pendingNick = ""
	r.nickProblem.SetText(text)
	r.nickProblem.Show()
	if !r.nickEntry.Visible() {
		r.nickEntry.Show()
		r.nickButton.Hide()
	}
}

func (r *roomView) refreshOccupants() {
	r.sorted = r.sorted[:0]
	for _, o := range r.occupants {
		r.sorted = append(r.sorted, o)
	}
	sort.Slice(r.sorted, func(i, j int) bool {
		a, b := r.sorted[i], r.sorted[j]
		if roleRank(a.Role) != roleRank(b.Role) {
			return roleRank(a.Role) < roleRank(b.Role)
		}
		return strings.ToLower(a.Nick) < strings.ToLower(b.Nick)
	})
	r.people.Refresh()
}

// removedText says why the user is no longer in the room.
func removedText(e xmpp.RoomLeft) string {
	var s string
	switch e.Reason {
	case xmpp.LeftKicked:
		s = lang.L("You were removed from the room by a moderator.")
		if e.Actor != "" {
			s = lang.L("{{.Nick}} removed you from the room.", map[string]any{"Nick": e.Actor})
		}
	case xmpp.LeftBanned:
		s = lang.L("You were banned from the room.")
		if e.Actor != "" {
			s = lang.L("{{.Nick}} banned you from the room.", map[string]any{"Nick": e.Actor})
		}
	case xmpp.LeftDestroyed:
		s = lang.L("The room was closed by its owner.")
		if !e.Alternative.Equal(jid.JID{}) {
			s += " " + lang.L("It moved to {{.Room}}.", map[string]any{"Room": e.Alternative.String()})
		}
	case xmpp.LeftShutdown:
		s = lang.L("The group chat service shut down.")
	case xmpp.LeftAffiliation, xmpp.LeftMembersOnly:
		s = lang.L("You are no longer a member of the room.")
	case xmpp.LeftError:
		s = lang.L("The room could not be rejoined.")
		if e.Err != nil {
			s += " " + describeJoinError(e.Err)
		}
	default:
		s = lang.L("You left the room.")
	}
	if e.Text != "" {
		s += " " + lang.L("Reason: {{.Reason}}", map[string]any{"Reason": e.Text})
	}
	return s
}

// describeJoinError explains a room's refusal.
func describeJoinError(err error) string {
	switch {
	case errors.Is(err, xmpp.ErrNickConflict):
		return lang.L("Someone in the room already uses this nickname. Choose another one.")
	case errors.Is(err, xmpp.ErrRoomPassword):
		return lang.L("The room needs a password.")
	case errors.Is(err, xmpp.ErrRoomBanned):
		return lang.L("You are banned from this room.")
	case errors.Is(err, xmpp.ErrMembersOnly):
		return lang.L("Only members may enter this room. Ask its owner to add you.")
	case errors.Is(err, xmpp.ErrRoomNotFound):
		return lang.L("There is no such room, and it cannot be created.")
	case errors.Is(err, context.DeadlineExceeded):
		return lang.L("The room did not answer.")
	}
	var re *xmpp.RoomError
	if errors.As(err, &re) {
		return lang.L("The room refused: {{.Reason}}", map[string]any{"Reason": describeCondition(re.Condition, re.Text)})
	}
	return describeSendError(err)
}

// openRoom returns the room's tab, creating it; focus brings it forward.
func (w *chatWindows) openRoom(room jid.JID, nick string, focus bool) *chatTab {
	room = room.Bare()
	w.ensureWindow()
	t, ok := w.chats[room.String()]
	if !ok || t.room == nil {
		if ok { // a chat with the room's address: the room replaces it
			w.flushTabs()
			w.tabs.Remove(t.item)
		}
		t = &chatTab{peer: room}
		t.view = newChatView(room, func(body string) { w.sendRoom(t, body) }, func(id string) { w.retry(t, id) })
		t.view.holdScroll = w.holding
		t.room = newRoomView(room, nick, t.view, func() { w.rejoin(t) }, func(nick string) { w.changeNick(t, nick) })
		t.room.onPrivate = func(nick string) {
			if occupant, err := room.WithResource(nick); err == nil {
				w.open(occupant, true)
			}
		}
		t.room.joined = true
		if n, ok := w.restored[room.String()]; ok {
			t.unread = n // from the last session
			delete(w.restored, room.String())
		}
		defer func() {
			// Opened for a room the user is not in (a search result in a
			// room left long ago): say so, with Rejoin.
			if w.c.client != nil && !w.c.roomHeld(room) {
				w.showRemoved(t, lang.L("You are not in this group chat."))
			}
		}()
		t.view.onProfile = func() { w.roomMenu(t) }
		title := w.c.roomTitle(room)
		t.view.SetHeader(title, room.String(), "")
		t.view.avatar.bind(nil, room.String(), roomAvatarName(title))
		t.item = container.NewTabItemWithIcon(title, theme.AccountIcon(), t.room.root)
		w.chats[room.String()] = t
		w.addTab(t.item)
		if w.c.client != nil {
			t.room.setOccupants(w.c.client.Occupants(room))
			if r, ok := w.c.coreRoom(room); ok {
				if t.room.nick == "" {
					t.room.setNick(r.Nick)
				}
				if r.Subject != "" {
					w.setSubject(t, r.Subject)
				}
			}
			if w.c.store != nil {
				t.view.SetHistory(&chatHistory{src: w.c.client, peer: room, run: w.run,
					convert: func(m xmpp.Message) chatMessage { return w.toRoom(t, m) }})
			}
		}
	}
	if focus {
		w.flushTabs()
		w.win.Show()
		w.visible = true
		w.tabs.Select(t.item)
		w.markRead(t.item)
		w.win.RequestFocus()
		w.win.Canvas().Focus(t.view.Entry())
	}
	return t
}

func (w *chatWindows) setSubject(t *chatTab, subject string) {
	t.view.SetHeader(w.c.roomTitle(t.peer), t.peer.String(), subject)
}

// toRoom is how the room's view shows m: the sender's nick, coloured.
func (w *chatWindows) toRoom(t *chatTab, m xmpp.Message) chatMessage {
	cm := chatMessage{ID: m.ID, Seq: m.Seq, Outgoing: m.Outgoing, Time: m.Time, Body: m.Body, State: stateReceived}
	nick := m.From.Resourcepart()
	if m.Outgoing {
		cm.State, cm.Err = viewState(m.State), m.Error
		if nick == "" || !m.From.Bare().Equal(t.peer) {
			// Sent from here: stored from the account (its resource is
			// the device's), not from the room's occupant.
			nick = t.room.nick
		}
	}
	cm.Sender, cm.SenderColor = nick, nickColor(nick)
	// Stored history has no mention flag: the same rule decides, against
	// the nick the user has now.
	cm.Mention = !m.Outgoing && t.room.nick != "" && xmpp.Mentions(m.Body, t.room.nick)
	if cm.ID == "" {
		cm.ID = m.OriginID
	}
	return cm
}

// sendRoom shows the message at once as sending and sends it to the room.
func (w *chatWindows) sendRoom(t *chatTab, body string) {
	local := newLocalID()
	t.view.Append(chatMessage{ID: local, Outgoing: true, Sender: t.room.nick, SenderColor: nickColor(t.room.nick),
		Time: time.Now(), Body: body, State: stateSending})
	w.transmit(t, local, body)
}

// roomMessage shows a message of a room the user is in.
func (w *chatWindows) roomMessage(e xmpp.RoomMessage) {
	if w.closedByUser(e.Room) {
		return // the message is stored all the same
	}
	t := w.openRoom(e.Room, "", false)
	m := e.Message
	if full, err := e.Room.WithResource(e.Nick); err == nil && e.Nick != "" {
		m.From = full
	}
	cm := w.toRoom(t, m)
	cm.Mention = cm.Mention || e.Mention && !m.Outgoing // a reference (XEP-0372) too
	if i, dup := t.view.find(cm); dup {
		t.view.adopt(i, cm)
		return
	}
	if m.Archived || m.Delayed {
		t.view.Insert(cm)
	} else {
		t.view.Append(cm)
	}
	if m.Outgoing {
		return
	}
	reading := w.c.foreground && w.visible && w.tabs.Selected() == t.item && t.view.Active()
	if !reading && !m.Delayed {
		w.setUnread(t, t.unread+1)
		w.c.roomUnread(e.Room, t.unread)
		w.c.refreshUnread()
		w.c.notifyRoomMessage(e, cm.Mention)
	}
}

// roomJoined opens (or reopens) the room's tab with who is there.
func (w *chatWindows) roomJoined(e xmpp.RoomJoined) {
	if w.closedByUser(e.Room) {
		return // an answer to the join, queued behind the user's closing
	}
	defer w.privateHeaders(e.Room)
	t := w.openRoom(e.Room, e.Nick, false)
	t.room.joined = true
	t.room.setNick(e.Nick)
	// (The tabs take the room's own name, known now, from refreshRooms,
	// which the controller runs after this.)
	occupants := e.Occupants
	if w.c.client != nil {
		occupants = w.c.client.Occupants(e.Room)
	}
	t.room.setOccupants(occupants)
	t.room.banner.Hide()
	t.view.entry.Enable()
	t.view.draftChanged(t.view.entry.Text)
}

func (w *chatWindows) occupantChanged(e xmpp.OccupantChanged) {
	if t, ok := w.chats[e.Room.Bare().String()]; ok && t.room != nil {
		t.room.occupantChanged(e)
	}
	if e.Self {
		w.privateHeaders(e.Room) // in the room or out of it: all its private chats
	} else {
		w.privateHeaders(e.Room, e.Occupant.Nick, e.NewNick)
	}
}

// privateHeader says in a private chat's header which room it goes through
// and, as a contact's presence would, whether the occupant is there: a
// message to one who left the room bounces.
func (w *chatWindows) privateHeader(t *chatTab) {
	room, nick := t.peer.Bare(), t.peer.Resourcepart()
	args := map[string]any{"Room": w.c.roomTitle(room), "Nick": nick}
	word := lang.L("Private chat in {{.Room}}", args)
	var real jid.JID // the occupant's own address, where the room shows it
	if client := w.c.client; client != nil {
		occupants := client.Occupants(room)
		at := slices.IndexFunc(occupants, func(o xmpp.Occupant) bool { return o.Nick == nick })
		switch r, held := client.Room(room); {
		case !held:
			word = lang.L("Private chat in {{.Room}}: you are not in the room", args)
		case !r.Joined: // being rejoined: who is there is not known yet
		case at < 0:
			word = lang.L("Private chat in {{.Room}}: {{.Nick}} has left the room", args)
		default:
			real = occupants[at].JID.Bare()
		}
	}
	// The profile is the person's, where the room says who it is; the
	// room's address is nobody's profile.
	t.view.onProfile = nil
	if real.String() != "" {
		t.view.onProfile = func() { w.c.showProfile(real, w.win) }
	}
	if t.view.onProfile != nil {
		t.view.profileButton.Show()
	} else {
		t.view.profileButton.Hide()
	}
	t.view.avatar.bind(nil, t.peer.String(), nick) // the occupant's initials, not the room's
	t.view.SetHeader(w.displayName(t.peer), word, "")
}

// privateHeaders refreshes the headers of the private chats through room:
// with the occupants of nicks, or all.
func (w *chatWindows) privateHeaders(room jid.JID, nicks ...string) {
	if w == nil {
		return
	}
	for _, t := range w.chats {
		nick := t.peer.Resourcepart()
		if t.room == nil && nick != "" && t.peer.Bare().Equal(room.Bare()) && (len(nicks) == 0 || slices.Contains(nicks, nick)) {
			w.privateHeader(t)
		}
	}
}

func (w *chatWindows) roomSubject(e xmpp.RoomSubject) {
	if t, ok := w.chats[e.Room.Bare().String()]; ok && t.room != nil {
		w.setSubject(t, e.Subject)
	}
}

// closedByUser reports whether the user closed room's tab and the leave is
// still under way: what the room says meanwhile must not reopen it.
func (w *chatWindows) closedByUser(room jid.JID) bool {
	key := room.Bare().String()
	_, open := w.chats[key]
	return !open && w.leaving[key]
}

// roomLeft shows why the user is out of the room, and offers Rejoin. The
// user's own leaving closed the tab already.
func (w *chatWindows) roomLeft(e xmpp.RoomLeft) {
	w.privateHeaders(e.Room)
	t, ok := w.chats[e.Room.Bare().String()]
	if !ok || t.room == nil {
		return
	}
	w.showRemoved(t, removedText(e))
}

func (w *chatWindows) showRemoved(t *chatTab, text string) {
	t.room.joined = false
	t.room.endNickEdit()
	t.room.setOccupants(nil)
	t.room.removed.SetText(text)
	t.room.rejoin.Enable()
	t.room.banner.Show()
	t.view.entry.Disable()
	t.view.send.Disable()
}

// rejoin enters the room again with the nick the user had.
func (w *chatWindows) rejoin(t *chatTab) {
	client, room, nick := w.c.client, t.peer, t.room.nick
	if client == nil {
		return
	}
	t.room.rejoin.Disable()
	w.run(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
		defer cancel()
		err := client.JoinRoom(ctx, room, nick)
		return func() {
			if err != nil {
				w.showRemoved(t, describeJoinError(err))
			}
			// Joined: RoomJoined clears the line.
		}
	})
}

// leaveRoom leaves the room of a closed tab, off the UI thread.
func (w *chatWindows) leaveRoom(t *chatTab) {
	client, room := w.c.client, t.peer
	if client == nil || !t.room.joined {
		return
	}
	if w.leaving == nil {
		w.leaving = map[string]bool{}
	}
	w.leaving[room.String()] = true
	w.run(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.LeaveRoom(ctx, room) // not in it any more: nothing to leave
		return func() {
			delete(w.leaving, room.String())
			w.privateHeaders(room)
		}
	})
}

// changeNick asks the room for a new own nick. The room answers with the
// nick change (OccupantChanged) or a refusal (ErrorOccurred, roomError).
func (w *chatWindows) changeNick(t *chatTab, nick string) {
	nick = strings.TrimSpace(nick)
	client, room := w.c.client, t.peer
	switch {
	case nick == t.room.nick:
		t.room.endNickEdit()
		return
	case nick == "":
		t.room.nickRefused(lang.L("Enter a nickname."))
		return
	case client == nil:
		t.room.nickRefused(lang.L("not signed in"))
		return
	}
	t.room.pendingNick = nick
	t.room.nickProblem.Hide()
	w.run(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := client.ChangeNick(ctx, room, nick)
		return func() {
			if err != nil && t.room.pendingNick == nick {
				t.room.nickRefused(describeJoinError(err))
			}
		}
	})
}

// roomError shows a room's refusal that came as an event: of a new nick,
// in the room's tab; of an automatic join, in the contacts window. It
// reports whether err was a room's.
func (w *chatWindows) roomError(err error) bool {
	var re *xmpp.RoomError
	if !errors.As(err, &re) {
		return false
	}
	if t, ok := w.chats[re.Room.Bare().String()]; ok && t.room != nil && t.room.joined {
		if t.room.pendingNick != "" || errors.Is(err, xmpp.ErrNickConflict) {
			t.room.nickRefused(describeJoinError(err))
			return true
		}
		return false
	}
	if w.c.main != nil {
		w.c.main.showProblem(lang.L("Could not join {{.Room}}: {{.Reason}}",
			map[string]any{"Room": re.Room.Bare().String(), "Reason": describeJoinError(err)}))
	}
	return true
}

// roomMenu is the room tab's menu: the own nick, the bookmark, leaving.
func (w *chatWindows) roomMenu(t *chatTab) {
	c, room := w.c, t.peer
	bm, bookmarked := c.bookmarks.get(room)
	nick := fyne.NewMenuItem(lang.L("Change nickname…"), t.room.editNick)
	nick.Disabled = !t.room.joined
	items := append(w.roomActionItems(t), nick, c.roomNotifyItem(room, w.win))
	if bookmarked {
		items = append(items,
			&fyne.MenuItem{Label: lang.L("Join automatically"), Checked: bm.Autojoin, Action: func() { c.setAutojoin(room, !bm.Autojoin) }},
			fyne.NewMenuItem(lang.L("Remove bookmark"), func() { c.removeBookmark(room) }))
	} else {
		items = append(items, fyne.NewMenuItem(lang.L("Bookmark this room"), func() {
			c.saveBookmark(xmpp.Bookmark{Room: room, Autojoin: true, Nick: t.room.nick}, w.win)
		}))
	}
	if t.room.joined {
		items = append(items, fyne.NewMenuItem(lang.L("Leave"), func() { c.leaveRoom(room) }))
	} else {
		items = append(items, fyne.NewMenuItem(lang.L("Rejoin"), func() { w.rejoin(t) }))
	}
	button := t.view.profileButton
	widget.ShowPopUpMenuAtRelativePosition(fyne.NewMenu("", items...), w.win.Canvas(), fyne.NewPos(0, button.Size().Height), button)
}

// joinRoomDialog asks for a room and a nick (and a password, when the room
// wants one) and joins. The dialog stays until the room lets the user in,
// explaining a refusal with what was typed still there; a nick already
// taken is asked for again. Like Gajim's, it bookmarks the room with
// autojoin unless told not to.
type joinRoomDialog struct {
	c        *controller
	parent   fyne.Window
	form     *widget.Form
	room     *widget.Entry
	nick     *widget.Entry
	password *widget.Entry
	// askPassword adds the password field; the room's refusal for want
	// of one adds it too.
	askPassword *widget.Button
	bookmark    *widget.Check
	browse      *widget.Button
	join        *widget.Button
	dlg         *dialog.CustomDialog
	formStatus
}

func (c *controller) showJoinRoom(parent fyne.Window) *joinRoomDialog {
	d := &joinRoomDialog{c: c, parent: parent, formStatus: newFormStatus()}
	d.room = widget.NewEntry()
	d.room.SetPlaceHolder("room@conference." + domainOf(c.account.JID))
	d.nick = widget.NewEntry()
	d.nick.SetText(c.defaultNick(jid.JID{}))
	d.password = widget.NewPasswordEntry()
	d.password.OnSubmitted = func(string) { d.submit() }
	d.join = &widget.Button{Text: lang.L("Join"), Importance: widget.HighImportance, OnTapped: d.submit}
	d.room.OnSubmitted = func(string) { d.submit() }
	d.nick.OnSubmitted = func(string) { d.submit() }
	d.form = widget.NewForm(
		widget.NewFormItem(lang.L("Room"), d.room),
		widget.NewFormItem(lang.L("Nickname"), d.nick))
	d.askPassword = &widget.Button{Text: lang.L("Password…"), Importance: widget.LowImportance, OnTapped: d.showPassword}
	d.browse = &widget.Button{Text: lang.L("Browse group chats…"), Icon: theme.ListIcon(), Importance: widget.LowImportance, OnTapped: func() {
		d.dlg.Hide()
		if c.main != nil {
			c.main.browseRooms()
		}
	}}
	d.bookmark = widget.NewCheck(lang.L("Bookmark this room (join it automatically)"), nil)
	d.bookmark.SetChecked(true)
	content := container.NewVBox(d.form,
		container.NewHBox(d.browse, d.newRoomButton(), layout.NewSpacer(), d.askPassword),
		d.bookmark, d.problem, d.busy)
	cancel := widget.NewButton(lang.L("Cancel"), func() { d.dlg.Hide() })
	d.dlg = dialog.NewCustomWithoutButtons(lang.L("Join a group chat"), content, parent)
	d.dlg.SetButtons([]fyne.CanvasObject{cancel, d.join})
	d.dlg.Resize(fyne.NewSize(440, 0))
	d.dlg.Show()
	parent.Canvas().Focus(d.room)
	return d
}

// showPassword adds the password field to the form.
func (d *joinRoomDialog) showPassword() {
	if !d.askPassword.Visible() {
		return
	}
	d.askPassword.Hide()
	d.form.Append(lang.L("Password"), d.password)
	d.focus(d.password)
}

func (d *joinRoomDialog) focus(o fyne.Focusable) { d.parent.Canvas().Focus(o) }

// fill puts a room, nick and password in the dialog.
func (d *joinRoomDialog) fill(room jid.JID, nick, password string) {
	d.room.SetText(room.String())
	d.nick.SetText(nick)
	if _, ok := d.c.bookmarks.get(room); ok {
		d.bookmark.SetChecked(false) // bookmarked already: leave it as it is
	}
	if password != "" {
		d.password.SetText(password)
		d.showPassword()
	}
}

func domainOf(account string) string {
	if j, err := jid.Parse(account); err == nil {
		return j.Domainpart()
	}
	return "example.com"
}

func (d *joinRoomDialog) fail(text string) {
	d.failed(text)
	d.join.Enable()
}

// failWith explains a refused join and puts the cursor where the user can
// mend it: the nick, or the password.
func (d *joinRoomDialog) failWith(err error) {
	d.fail(describeJoinError(err))
	switch {
	case errors.Is(err, xmpp.ErrNickConflict):
		d.focus(d.nick)
	case errors.Is(err, xmpp.ErrRoomPassword):
		d.showPassword()
		d.focus(d.password)
	}
}

func (d *joinRoomDialog) submit() {
	room, err := jid.Parse(strings.TrimSpace(d.room.Text))
	if err != nil || room.Localpart() == "" {
		d.fail(lang.L("Enter the room's address, like team@conference.example.com."))
		return
	}
	nick := strings.TrimSpace(d.nick.Text)
	if nick == "" {
		d.fail(lang.L("Enter a nickname."))
		return
	}
	client := d.c.client
	if client == nil {
		d.fail(lang.L("not signed in"))
		return
	}
	room = room.Bare()
	password, bookmark := d.password.Text, d.bookmark.Checked
	save := func() {
		if bookmark {
			d.c.bookmarkJoined(room, nick, password, "", d.parent)
		}
	}
	if t, ok := d.c.chats.chats[room.String()]; ok && t.room != nil && t.room.joined {
		d.dlg.Hide()
		d.c.chats.openRoom(room, nick, true)
		save()
		return
	}
	var opts []xmpp.JoinOption
	if password != "" {
		opts = append(opts, xmpp.WithRoomPassword(password))
	}
	d.join.Disable()
	d.working()
	d.c.chats.run(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
		defer cancel()
		err := client.JoinRoom(ctx, room, nick, opts...)
		return func() {
			if err != nil {
				d.failWith(err)
				return
			}
			d.idle()
			d.dlg.Hide()
			d.c.openJoinedRoom(room, nick)
			save()
			d.c.refreshRooms()
		}
	})
}
