package app

import (
	"context"
	"errors"
	"hash/fnv"
	"image/color"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/lang"
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

	occupants map[string]xmpp.Occupant
	sorted    []xmpp.Occupant
	people    *widget.List

	// removed says why the user is out of the room; with rejoin, shown
	// under the header only then.
	removed *widget.Label
	rejoin  *widget.Button
	banner  *fyne.Container
	root    fyne.CanvasObject
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

func newRoomView(room jid.JID, nick string, chat *chatView, onRejoin func()) *roomView {
	r := &roomView{room: room, nick: nick, occupants: map[string]xmpp.Occupant{}}
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
	r.removed = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance}
	r.rejoin = widget.NewButtonWithIcon(lang.L("Rejoin"), theme.ViewRefreshIcon(), onRejoin)
	r.banner = container.NewBorder(nil, nil, nil, container.NewCenter(r.rejoin), r.removed)
	r.banner.Hide()
	chat.top.Add(r.banner)
	chat.profileButton.Hide() // a room has no profile card
	split := container.NewHSplit(chat.Object(), container.NewBorder(
		&widget.Label{Text: lang.L("Occupants"), TextStyle: fyne.TextStyle{Bold: true}}, nil, nil, nil, r.people))
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
			r.nick = e.NewNick
		}
	default:
		r.occupants[o.Nick] = o
	}
	r.refreshOccupants()
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
	case xmpp.LeftBanned:
		s = lang.L("You were banned from the room.")
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
	return describeSendError(err)
}

// openRoom returns the room's tab, creating it; focus brings it forward.
func (w *chatWindows) openRoom(room jid.JID, nick string, focus bool) *chatTab {
	room = room.Bare()
	w.ensureWindow()
	t, ok := w.chats[room.String()]
	if !ok || t.room == nil {
		if ok { // a chat with the room's address: the room replaces it
			w.tabs.Remove(t.item)
		}
		t = &chatTab{peer: room}
		t.view = newChatView(room, func(body string) { w.sendRoom(t, body) }, func(id string) { w.retry(t, id) })
		t.room = newRoomView(room, nick, t.view, func() { w.rejoin(t) })
		t.room.joined = true
		t.view.SetHeader(room.Localpart(), room.String(), "")
		t.view.avatar.bind(nil, room.String(), room.Localpart())
		t.item = container.NewTabItemWithIcon(room.Localpart(), theme.AccountIcon(), t.room.root)
		w.chats[room.String()] = t
		w.tabs.Append(t.item)
		if w.c.client != nil {
			t.room.setOccupants(w.c.client.Occupants(room))
			for _, r := range w.c.client.Rooms() {
				if !r.JID.Equal(room) {
					continue
				}
				if t.room.nick == "" {
					t.room.nick = r.Nick
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
	t.view.SetHeader(t.peer.Localpart(), t.peer.String(), subject)
}

// toRoom is how the room's view shows m: the sender's nick, coloured.
func (w *chatWindows) toRoom(t *chatTab, m xmpp.Message) chatMessage {
	cm := chatMessage{ID: m.ID, Seq: m.Seq, Outgoing: m.Outgoing, Time: m.Time, Body: m.Body, State: stateReceived}
	nick := m.From.Resourcepart()
	if m.Outgoing {
		cm.State, cm.Err = viewState(m.State), m.Error
		if nick == "" {
			nick = t.room.nick
		}
	}
	cm.Sender, cm.SenderColor = nick, nickColor(nick)
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
	t := w.openRoom(e.Room, "", false)
	m := e.Message
	if full, err := e.Room.WithResource(e.Nick); err == nil && e.Nick != "" {
		m.From = full
	}
	cm := w.toRoom(t, m)
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
		t.unread++
		w.c.refreshUnread()
	}
}

// roomJoined opens (or reopens) the room's tab with who is there.
func (w *chatWindows) roomJoined(e xmpp.RoomJoined) {
	t := w.openRoom(e.Room, e.Nick, false)
	t.room.nick, t.room.joined = e.Nick, true
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
}

func (w *chatWindows) roomSubject(e xmpp.RoomSubject) {
	if t, ok := w.chats[e.Room.Bare().String()]; ok && t.room != nil {
		w.setSubject(t, e.Subject)
	}
}

// roomLeft shows why the user is out of the room, and offers Rejoin. The
// user's own leaving closed the tab already.
func (w *chatWindows) roomLeft(e xmpp.RoomLeft) {
	t, ok := w.chats[e.Room.Bare().String()]
	if !ok || t.room == nil {
		return
	}
	w.showRemoved(t, removedText(e))
}

func (w *chatWindows) showRemoved(t *chatTab, text string) {
	t.room.joined = false
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
	w.run(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.LeaveRoom(ctx, room) // not in it any more: nothing to leave
		return func() {}
	})
}

// joinRoomDialog asks for a room and a nick and joins. The dialog stays
// until the room lets the user in, explaining a refusal; a nick already
// taken is asked for again.
type joinRoomDialog struct {
	c       *controller
	room    *widget.Entry
	nick    *widget.Entry
	problem *widget.Label
	join    *widget.Button
	busy    *widget.ProgressBarInfinite
	dlg     *dialog.CustomDialog
}

func (c *controller) showJoinRoom(parent fyne.Window) *joinRoomDialog {
	d := &joinRoomDialog{c: c}
	d.room = widget.NewEntry()
	d.room.SetPlaceHolder("room@conference." + domainOf(c.account.JID))
	d.nick = widget.NewEntry()
	if j, err := jid.Parse(c.account.JID); err == nil {
		d.nick.SetText(j.Localpart())
	}
	d.problem = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance}
	d.problem.Hide()
	d.busy = widget.NewProgressBarInfinite()
	d.busy.Stop()
	d.busy.Hide()
	d.join = &widget.Button{Text: lang.L("Join"), Importance: widget.HighImportance, OnTapped: d.submit}
	d.room.OnSubmitted = func(string) { d.submit() }
	d.nick.OnSubmitted = func(string) { d.submit() }
	form := widget.NewForm(
		widget.NewFormItem(lang.L("Room"), d.room),
		widget.NewFormItem(lang.L("Nickname"), d.nick))
	content := container.NewVBox(form, d.problem, d.busy)
	cancel := widget.NewButton(lang.L("Cancel"), func() { d.dlg.Hide() })
	d.dlg = dialog.NewCustomWithoutButtons(lang.L("Join a group chat"), content, parent)
	d.dlg.SetButtons([]fyne.CanvasObject{cancel, d.join})
	d.dlg.Resize(fyne.NewSize(420, 0))
	d.dlg.Show()
	parent.Canvas().Focus(d.room)
	return d
}

func domainOf(account string) string {
	if j, err := jid.Parse(account); err == nil {
		return j.Domainpart()
	}
	return "example.com"
}

func (d *joinRoomDialog) fail(text string) {
	d.problem.SetText(text)
	d.problem.Show()
	d.busy.Stop()
	d.busy.Hide()
	d.join.Enable()
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
	if t, ok := d.c.chats.chats[room.String()]; ok && t.room != nil && t.room.joined {
		d.dlg.Hide()
		d.c.chats.openRoom(room, nick, true)
		return
	}
	d.problem.Hide()
	d.join.Disable()
	d.busy.Show()
	d.busy.Start()
	d.c.chats.run(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
		defer cancel()
		err := client.JoinRoom(ctx, room, nick)
		return func() {
			if err != nil {
				d.fail(describeJoinError(err))
				if errors.Is(err, xmpp.ErrNickConflict) {
					if c := fyne.CurrentApp().Driver().CanvasForObject(d.nick); c != nil {
						c.Focus(d.nick)
					}
				}
				return
			}
			d.busy.Stop()
			d.dlg.Hide()
			t := d.c.chats.openRoom(room, nick, true)
			t.room.nick, t.room.joined = nick, true
		}
	})
}
