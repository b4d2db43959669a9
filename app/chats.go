package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"mellium.im/xmpp/jid"

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
	// sent maps a stanza id to its chat and local id, to mark a bounce.
	sent map[string]sentRef
	// visible is whether the window is shown (Fyne has no query for it).
	visible bool
}

type chatTab struct {
	peer   jid.JID
	view   *chatView
	item   *container.TabItem
	unread int
	bodies map[string]string // local id -> text, for Retry
}

type sentRef struct {
	bare, localID string
}

func newChatWindows(c *controller) *chatWindows {
	return &chatWindows{c: c, chats: map[string]*chatTab{}, sent: map[string]sentRef{}}
}

func (c *controller) openChat(j jid.JID) { c.chats.open(j.Bare(), true) }

// displayName is the roster name, else the user part of the address.
func (w *chatWindows) displayName(bare jid.JID) string {
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
	if w.win == nil {
		w.win = w.c.app.NewWindow(lang.L("Chats"))
		w.tabs = container.NewDocTabs()
		w.tabs.OnSelected = func(item *container.TabItem) { w.markRead(item) }
		w.tabs.OnClosed = func(item *container.TabItem) {
			for key, t := range w.chats {
				if t.item == item {
					delete(w.chats, key)
				}
			}
		}
		w.win.SetContent(w.tabs)
		w.win.Resize(fyne.NewSize(560, 640))
		// Closing the window hides it: the tabs keep their messages and drafts.
		w.win.SetCloseIntercept(func() {
			w.win.Hide()
			w.visible = false
		})
	}
	key := bare.String()
	t, ok := w.chats[key]
	if !ok {
		t = &chatTab{peer: bare, bodies: map[string]string{}}
		t.view = newChatView(bare, func(body string) { w.send(t, body) }, func(id string) { w.retry(t, id) })
		t.item = container.NewTabItem(w.displayName(bare), t.view.Object())
		w.chats[key] = t
		w.tabs.Append(t.item)
		if w.c.client != nil {
			best, online := w.c.client.BestPresence(bare)
			w.setHeader(t, best, online)
		}
	}
	// Only the user opens the window: a message arriving does not pop it up
	// (that would take the focus and mark the message read unseen); it
	// waits in its tab, counted unread, with a notification.
	if focus {
		w.win.Show()
		w.visible = true
		w.tabs.Select(t.item)
		w.markRead(t.item) // Select does not report a tab that was already selected
		w.win.RequestFocus()
		w.win.Canvas().Focus(t.view.Entry())
	}
	return t
}

func (w *chatWindows) markRead(item *container.TabItem) {
	for key, t := range w.chats {
		if t.item == item && t.unread > 0 {
			t.unread = 0
			if w.c.main != nil {
				w.c.main.roster.SetUnread(jid.MustParse(key), 0)
			}
		}
	}
	w.c.tray.setUnread(w.unreadTotal())
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
	t.view.SetHeader(w.displayName(t.peer), word, p.Status)
}

func (w *chatWindows) presenceChanged(bare jid.JID, p xmpp.Presence, online bool) {
	if t, ok := w.chats[bare.String()]; ok {
		w.setHeader(t, p, online)
	}
}

// received shows an incoming message and counts it unread unless its tab
// is the one being read.
func (w *chatWindows) received(m xmpp.Message) {
	bare := m.From.Bare()
	t := w.open(bare, false)
	t.view.Append(chatMessage{ID: m.ID, Sender: w.displayName(bare), Time: m.Time, Body: m.Body, State: stateReceived})
	reading := w.c.foreground && w.visible && w.tabs.Selected() == t.item && t.view.Active()
	if !reading {
		t.unread++
		if w.c.main != nil {
			w.c.main.roster.SetUnread(bare, t.unread)
		}
		w.c.tray.setUnread(w.unreadTotal())
	}
	w.c.notifyMessage(w.displayName(bare), m, reading)
}

func (w *chatWindows) unreadTotal() int {
	n := 0
	for _, t := range w.chats {
		n += t.unread
	}
	return n
}

// send shows the message at once as sending, and sends it off the UI thread.
func (w *chatWindows) send(t *chatTab, body string) {
	local := newLocalID()
	t.bodies[local] = body
	t.view.Append(chatMessage{ID: local, Outgoing: true, Sender: lang.L("Me"), Time: time.Now(), Body: body, State: stateSending})
	w.transmit(t, local, body)
}

func (w *chatWindows) retry(t *chatTab, local string) {
	body, ok := t.bodies[local]
	if !ok {
		return
	}
	t.view.SetState(local, stateSending, "")
	w.transmit(t, local, body)
}

func (w *chatWindows) transmit(t *chatTab, local, body string) {
	client, peer := w.c.client, t.peer
	if client == nil {
		t.view.SetState(local, stateFailed, lang.L("not signed in"))
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		id, err := client.SendMessage(ctx, peer, body)
		fyne.Do(func() {
			if err != nil {
				t.view.SetState(local, stateFailed, describeSendError(err))
				return
			}
			w.sent[id] = sentRef{bare: peer.String(), localID: local}
			t.view.SetState(local, stateSent, "")
		})
	}()
}

// failed marks a bounced message as not delivered.
func (w *chatWindows) failed(id string, err *xmpp.StanzaError) {
	ref, ok := w.sent[id]
	if !ok {
		return
	}
	if t, ok := w.chats[ref.bare]; ok {
		t.view.SetState(ref.localID, stateFailed, err.Error())
	}
}

func (w *chatWindows) close() {
	if w.win != nil {
		w.win.SetCloseIntercept(nil)
		w.win.Close()
	}
}

func describeSendError(err error) string {
	if err == xmpp.ErrNotConnected {
		return lang.L("offline; try again when connected")
	}
	return err.Error()
}

func newLocalID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
