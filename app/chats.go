package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"magpie/xmpp"
)

// chatWindows keeps one chat per contact, as tabs of one window: like
// Telegram Desktop's single conversation pane, a user switches between
// colleagues without a pile of windows, and each tab keeps its draft.
type chatWindows struct {
	c     *controller
	win   fyne.Window
	tabs  *container.DocTabs
	chats map[string]*chatTab // by bare JID
	// sent maps the id of a message sent in this session to its chat's
	// bare JID, for its state changes and a bounce.
	sent map[string]string
	// early holds state changes that arrived before SendMessage returned
	// the message's id to the UI, by that id.
	early map[string]earlyState
	// visible is whether the window is shown (Fyne has no query for it).
	visible bool
	// run reads the store off Fyne's goroutine; tests replace it.
	run backgroundRunner
	// leaving are the rooms whose tab the user closed, until the core
	// confirms the leave: their messages meanwhile do not reopen the tab.
	leaving map[string]bool
	// unreadChanged are the conversations whose unread count changed
	// since it was last handed to the store (with whether each is a
	// room); restored are the counts read from the store for rooms whose
	// tab is not open yet.
	unreadChanged map[string]bool
	restored      map[string]int
	// restoring is set until the last session's counts are read: the
	// counts that change meanwhile are stored after them, not over them.
	restoring bool
	// holding is set while a batch of events is applied: the views
	// scroll once at its end (holdScrolls, releaseScrolls), and the tabs
	// opened meanwhile (newTabs) join the tab bar together: adding one
	// redraws every tab of the bar, and fifty colleagues writing at once
	// made fifty tabs one by one.
	holding bool
	newTabs []*container.TabItem
}

type chatTab struct {
	peer   jid.JID
	view   *chatView
	item   *container.TabItem
	unread int
	// room is set when the tab is a group chat (room.go).
	room *roomView
}

type earlyState struct {
	state messageState
	err   string
}

// maxEarly bounds early: state changes of messages no chat shows (sent
// before this sign-in) are stored and need no keeping.
const maxEarly = 256

func newChatWindows(c *controller) *chatWindows {
	return &chatWindows{c: c, chats: map[string]*chatTab{}, sent: map[string]string{}, early: map[string]earlyState{}, run: c.runner(),
		unreadChanged: map[string]bool{}, restored: map[string]int{}}
}

func (c *controller) openChat(j jid.JID) { c.chats.open(j.Bare(), true) }

// jumpTo opens the chat with peer (the room's tab for a room) at the
// stored message seq.
func (c *controller) jumpTo(peer jid.JID, seq int64, room bool) {
	if room {
		c.chats.openRoom(peer.Bare(), "", true).view.JumpTo(seq)
		return
	}
	c.chats.open(peer.Bare(), true).view.JumpTo(seq)
}

// displayName is the roster name, else the user part of the address.
func (w *chatWindows) displayName(bare jid.JID) string {
	if nick := bare.Resourcepart(); nick != "" {
		// A private chat with a room's occupant (its peer is room/nick).
		return lang.L("{{.Nick}} ({{.Room}})", map[string]any{"Nick": nick, "Room": w.c.roomTitle(bare.Bare())})
	}
	if w.c.client != nil {
		if ct, ok := w.c.client.Contact(bare); ok && ct.Name != "" {
			return ct.Name
		}
	}
	return bare.Localpart()
}

// open returns the chat with bare, creating its tab; focus brings the
// window forward and selects the tab.
func (w *chatWindows) open(bare jid.JID, focus bool) *chatTab {
	w.ensureWindow()
	key := bare.String()
	t, ok := w.chats[key]
	if !ok {
		t = &chatTab{peer: bare}
		t.view = newChatView(bare, func(body string) { w.send(t, body) }, func(id string) { w.retry(t, id) })
		t.view.holdScroll = w.holding
		t.item = container.NewTabItem(w.displayName(bare), t.view.Object())
		w.chats[key] = t
		w.addTab(t.item)
		private := bare.Resourcepart() != "" // with a room's occupant
		if private {
			w.privateHeader(t) // there or not, and their profile where known
		} else {
			t.view.onProfile = func() {
				w.c.avatars.release(key) // the user asks: see holdStranger
				w.c.showProfile(bare, w.win)
			}
		}
		if w.c.client != nil {
			if !private {
				best, online := w.c.client.BestPresence(bare)
				w.setHeader(t, best, online)
			}
			if w.c.store != nil {
				t.view.SetHistory(&chatHistory{src: w.c.client, peer: bare, convert: w.toChat, run: w.run})
			}
		}
	}
	// Only the user opens the window: a message arriving does not pop it up
	// (that would take the focus and mark the message read unseen); it
	// waits in its tab, counted unread, with a notification.
	if focus {
		w.flushTabs()
		w.win.Show()
		w.visible = true
		w.tabs.Select(t.item)
		w.markRead(t.item) // Select does not report a tab that was already selected
		w.win.RequestFocus()
		w.win.Canvas().Focus(t.view.Entry())
	}
	return t
}

// ensureWindow creates the chat window, with no tabs yet, the first time.
func (w *chatWindows) ensureWindow() {
	if w.win != nil {
		return
	}
	w.win = w.c.app.NewWindow(lang.L("Chats"))
	w.tabs = container.NewDocTabs()
	w.tabs.OnSelected = func(item *container.TabItem) { w.markRead(item) }
	w.tabs.OnClosed = func(item *container.TabItem) {
		for key, t := range w.chats {
			if t.item == item {
				t.view.avatar.unbind()
				delete(w.chats, key)
				if t.unread > 0 {
					w.unreadChanged[key] = t.room != nil
					w.c.refreshUnread()
				}
				if t.room != nil {
					w.leaveRoom(t) // closing a room's tab leaves it
				}
			}
		}
	}
	w.win.SetContent(w.tabs)
	w.win.Canvas().AddShortcut(searchShortcut, func(fyne.Shortcut) {
		for _, t := range w.chats {
			if t.item == w.tabs.Selected() {
				t.view.openSearch()
			}
		}
	})
	// Wide enough for a room's occupant list beside its messages and for
	// several tabs before the tab bar scrolls.
	w.win.Resize(fyne.NewSize(720, 640))
	// Closing the window hides it: the tabs keep their messages and drafts.
	w.win.SetCloseIntercept(func() {
		w.win.Hide()
		w.visible = false
	})
}

func (w *chatWindows) markRead(item *container.TabItem) {
	for key, t := range w.chats {
		if t.item == item && t.unread > 0 {
			w.setUnread(t, 0)
			if w.c.main != nil {
				w.c.main.roster.SetUnread(jid.MustParse(key), 0)
			}
		}
	}
	w.c.refreshUnread() // with the notices
}

// holdScrolls starts a batch of events: the views scroll to what arrives
// once, at its end.
func (w *chatWindows) holdScrolls() {
	w.holding = true
	for _, t := range w.chats {
		t.view.holdScroll = true
	}
}

// releaseScrolls ends the batch.
func (w *chatWindows) releaseScrolls() {
	w.holding = false
	w.flushTabs()
	for _, t := range w.chats {
		t.view.releaseScroll()
		if t.room != nil && t.room.occupantsStale {
			t.room.occupantsStale = false
			t.room.refreshOccupants()
		}
	}
}

// addTab adds a chat's tab to the bar, at the end of the batch while one
// is applied.
func (w *chatWindows) addTab(item *container.TabItem) {
	if w.holding {
		w.newTabs = append(w.newTabs, item)
		return
	}
	w.tabs.Append(item)
}

// flushTabs adds the tabs opened during the batch, in one change.
func (w *chatWindows) flushTabs() {
	if len(w.newTabs) == 0 {
		return
	}
	items := append(append([]*container.TabItem(nil), w.tabs.Items...), w.newTabs...)
	w.newTabs = nil
	w.tabs.SetItems(items)
}

// setUnread sets a tab's unread count, to be stored at the end of the
// batch (or now, outside one).
func (w *chatWindows) setUnread(t *chatTab, n int) {
	t.unread = n
	w.unreadChanged[t.peer.String()] = t.room != nil
}

// saveUnread hands the unread counts that changed to the store, in one
// write.
func (w *chatWindows) saveUnread() {
	if len(w.unreadChanged) == 0 || w.c.client == nil || w.restoring {
		return
	}
	counts := make([]xmpp.Unread, 0, len(w.unreadChanged))
	for key, room := range w.unreadChanged {
		peer, err := jid.Parse(key)
		if err != nil {
			continue
		}
		n := 0
		if t, ok := w.chats[key]; ok {
			n = t.unread
		}
		counts = append(counts, xmpp.Unread{Peer: peer, Room: room, Count: n})
	}
	clear(w.unreadChanged)
	w.c.client.SaveUnread(counts)
}

// restoreUnread shows the unread counts of the last session: a chat's in
// its tab (opened, not shown), a room's once its tab opens.
func (w *chatWindows) restoreUnread(counts []xmpp.Unread) {
	w.restoring = false
	for _, u := range counts {
		key := u.Peer.String()
		// Messages that came meanwhile came after the last session's.
		if u.Room {
			if t, ok := w.chats[key]; ok && t.room != nil {
				w.setUnread(t, t.unread+u.Count)
				w.c.roomUnread(u.Peer, t.unread)
			} else {
				w.restored[key] += u.Count
				w.c.roomUnread(u.Peer, w.restored[key])
			}
			continue
		}
		t := w.open(u.Peer, false)
		w.setUnread(t, t.unread+u.Count)
		if w.c.main != nil && u.Peer.Resourcepart() == "" {
			w.c.main.roster.SetUnread(u.Peer, t.unread)
		}
	}
	w.c.refreshUnread()
}

func (w *chatWindows) setHeader(t *chatTab, p xmpp.Presence, online bool) {
	word := lang.L("offline")
	if online {
		switch p.Show {
		case xmpp.ShowAway, xmpp.ShowXA:
			word = lang.L("away")
		case xmpp.ShowDND:
			word = lang.L("do not disturb")
		default:
			word = lang.L("online")
		}
	}
	name := w.displayName(t.peer)
	t.view.avatar.bind(w.c.avatars, t.peer.String(), name)
	t.view.SetHeader(name, word, p.Status)
}

func (w *chatWindows) presenceChanged(bare jid.JID, p xmpp.Presence, online bool) {
	if t, ok := w.chats[bare.String()]; ok {
		w.setHeader(t, p, online)
	}
}

// toChat is how the chat view shows m.
func (w *chatWindows) toChat(m xmpp.Message) chatMessage {
	cm := chatMessage{ID: m.ID, Seq: m.Seq, Outgoing: m.Outgoing, Time: m.Time, Body: m.Body, State: stateReceived}
	if m.Outgoing {
		cm.Sender = lang.L("Me")
		cm.State, cm.Err = viewState(m.State), m.Error
		if m.State == xmpp.DeliveryReceived {
			cm.State = stateSent // a copy from another device: the server had it
		}
	} else if m.Type == stanza.GroupChatMessage {
		cm.Sender = m.From.Resourcepart() // the nick (a search across chats shows room messages)
	} else {
		cm.Sender = w.displayName(m.Peer())
	}
	if cm.ID == "" {
		cm.ID = m.OriginID
	}
	return cm
}

// received shows a message of the conversation with m.Peer(): incoming,
// or sent from another of the user's devices (shown as their own). One
// fetched from the server's archive at sign-in goes where its time puts
// it, counts unread, and raises no notification: after a night away a
// hundred of them would flood the desktop.
func (w *chatWindows) received(m xmpp.Message) {
	bare := m.Peer()
	w.c.avatars.release(bare.String()) // they know of the user
	t := w.open(bare, false)
	cm := w.toChat(m)
	if i, dup := t.view.find(cm); dup {
		t.view.adopt(i, cm) // shown already, from the store: not new to the user
		return
	}
	if m.Archived {
		t.view.Insert(cm)
	} else {
		t.view.Append(cm)
	}
	if m.Outgoing {
		if !m.Archived && t.unread > 0 {
			// The user answered on another device: they have read the chat.
			w.markRead(t.item)
		}
		return
	}
	reading := w.c.foreground && w.visible && w.tabs.Selected() == t.item && t.view.Active()
	if !reading {
		w.setUnread(t, t.unread+1)
		if w.c.main != nil && bare.Resourcepart() == "" { // a room's occupant is no contact
			w.c.main.roster.SetUnread(bare, t.unread)
		}
		w.c.refreshUnread() // with the notices
	}
	if !m.Archived {
		w.c.notifyMessage(bare, w.displayName(bare), m, reading)
	}
}

func (w *chatWindows) unreadTotal() int {
	n := 0
	for _, t := range w.chats {
		n += t.unread
	}
	for _, k := range w.restored { // rooms not open yet
		n += k
	}
	return n
}

// send shows the message at once as sending, and sends it off the UI thread.
func (w *chatWindows) send(t *chatTab, body string) {
	w.c.avatars.release(t.peer.String()) // they know of the user now
	local := newLocalID()
	t.view.Append(chatMessage{ID: local, Outgoing: true, Sender: lang.L("Me"), Time: time.Now(), Body: body, State: stateSending})
	w.transmit(t, local, body)
}

// retry sends a failed message again. A stored message is resent as the
// same message (the core keeps its id, so neither history gets a second
// copy); one that never reached the core is sent as new.
func (w *chatWindows) retry(t *chatTab, id string) {
	body, ok := t.view.Body(id)
	if !ok {
		return
	}
	t.view.SetState(id, stateSending, "")
	client, peer := w.c.client, t.peer
	if client == nil || w.c.store == nil || t.room != nil { // a room's message goes again as new
		w.transmit(t, id, body)
		return
	}
	w.run(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := client.Resend(ctx, peer, id)
		return func() {
			switch {
			case errors.Is(err, xmpp.ErrUnknownMessage):
				w.transmit(t, id, body)
			case err != nil:
				t.view.SetState(id, stateFailed, describeSendError(err))
			default:
				w.sent[id] = peer.String()
			}
		}
	})
}

// transmit hands the message shown as local to the core. With a store the
// core keeps it (pending) until it is out, offline too, and reports its
// progress as MessageStateChanged; without one, SendMessage returning means
// the server has it.
func (w *chatWindows) transmit(t *chatTab, local, body string) {
	client, peer, stored := w.c.client, t.peer, w.c.store != nil
	if client == nil {
		t.view.SetState(local, stateFailed, lang.L("not signed in"))
		return
	}
	sendTo := client.SendMessage
	if t.room != nil {
		sendTo = client.SendRoomMessage
	}
	w.run(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		id, err := sendTo(ctx, peer, body)
		return func() {
			if err != nil {
				t.view.SetState(local, stateFailed, describeSendError(err))
				return
			}
			t.view.Rekey(local, id)
			w.sent[id] = peer.String()
			if !stored {
				t.view.SetState(id, stateSent, "")
			}
			if e, ok := w.early[id]; ok {
				delete(w.early, id)
				w.advance(t, id, e.state, e.err)
			}
		}
	})
}

// stateChanged shows an own message's progress (pending, sent, delivered).
func (w *chatWindows) stateChanged(id string, peer jid.JID, st messageState, errText string) {
	key := peer.Bare().String()
	if bare, ok := w.sent[id]; ok {
		key = bare
	}
	t, ok := w.chats[key]
	if !ok || !t.view.Has(id) {
		// SendMessage has not returned yet, or no chat shows the message
		// (then the store has the state for when one does).
		if len(w.early) >= maxEarly {
			clear(w.early)
		}
		w.early[id] = earlyState{st, errText}
		return
	}
	w.advance(t, id, st, errText)
}

// advance moves a message on, never back: a failure always shows, other
// states only when further than the one shown.
func (w *chatWindows) advance(t *chatTab, id string, st messageState, errText string) {
	cur, ok := t.view.State(id)
	if !ok || (st != stateFailed && stateRank(st) <= stateRank(cur)) {
		return
	}
	t.view.SetState(id, st, errText)
}

// failed marks a bounced message as not delivered.
func (w *chatWindows) failed(id string, to jid.JID, err *xmpp.StanzaError) {
	text := ""
	if err != nil {
		text = err.Error()
	}
	w.stateChanged(id, to, stateFailed, text)
}

func (w *chatWindows) close() {
	if w.win != nil {
		w.win.SetCloseIntercept(nil)
		w.win.Close()
	}
}

func describeSendError(err error) string {
	switch {
	case errors.Is(err, xmpp.ErrNotConnected):
		return lang.L("offline; try again when connected")
	case errors.Is(err, xmpp.ErrNotInRoom):
		return lang.L("you are not in this group chat")
	case errors.Is(err, context.DeadlineExceeded):
		return lang.L("the server did not answer in time")
	}
	var se *xmpp.StanzaError
	if errors.As(err, &se) {
		return describeCondition(se.Condition, se.Text)
	}
	return err.Error()
}

// describeCondition puts the stanza error conditions a user meets in
// words, with the server's own text when it gave one.
func describeCondition(condition, text string) string {
	var s string
	switch condition {
	case "service-unavailable":
		s = lang.L("the service is not available")
	case "remote-server-not-found", "remote-server-timeout":
		s = lang.L("the other server cannot be reached")
	case "forbidden", "not-allowed":
		s = lang.L("not allowed")
	case "item-not-found":
		s = lang.L("not found")
	case "not-acceptable":
		s = lang.L("refused by the server")
	case "internal-server-error":
		s = lang.L("the server had a problem")
	default:
		s = condition
	}
	if text = strings.TrimSpace(text); text != "" {
		s += " (" + text + ")"
	}
	return s
}

func newLocalID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
