package app

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
)

// trayTestApp is Fyne's test app with a system tray that counts what the
// app sends it (the test app has none).
type trayTestApp struct {
	fyne.App
	icons, menus int
}

func (a *trayTestApp) SetSystemTrayMenu(*fyne.Menu)    { a.menus++ }
func (a *trayTestApp) SetSystemTrayIcon(fyne.Resource) { a.icons++ }
func (a *trayTestApp) SetSystemTrayWindow(fyne.Window) {}

// burstFixture is the signed-in app fed a burst of messages through the
// pump's queue, its UI work run on the test goroutine as Fyne's would be.
type burstFixture struct {
	t       *testing.T
	c       *controller
	app     *trayTestApp
	turns   chan func()
	q       *uiQueue
	batches int
	applied int // events
	notes   []*fyne.Notification
}

func newBurstFixture(t *testing.T, contacts []xmpp.Contact) *burstFixture {
	t.Helper()
	f := &burstFixture{t: t, app: &trayTestApp{App: test.NewTempApp(t)}, turns: make(chan func(), 4096)}
	c := newController(f.app, "test", xmpp.NewAccountStore(t.TempDir()+"/accounts.json"), keyring.NewStore(nil))
	client, err := xmpp.New("zhangsan@oa.example", xmpp.WithPassword(func(context.Context) (string, error) { return "pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c.toUI = func(fn func()) { f.turns <- fn }
	c.notifyHook = func(n *fyne.Notification) { f.notes = append(f.notes, n) }
	c.tray = newTray(c)
	c.client, c.account = client, xmpp.AccountConfig{JID: "zhangsan@oa.example"}
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	c.chats.run = (&workQueue{}).run // history: none, there is no store
	t.Cleanup(func() { c.chats.close(); c.main.close() })
	c.main.roster.SetContacts(contacts)
	f.c = c
	f.q = &uiQueue{toUI: c.uiRunner(), interval: uiBatchInterval, apply: func(batch []any) {
		f.batches++
		f.applied += len(batch)
		c.applyBatch(client, batch)
	}}
	return f
}

// burst sends events as a server would in a burst (one each send
// interval, from another goroutine, as the core's event stream does)
// while this goroutine runs the UI's turns, and returns when all are
// applied and the notifications waiting for a cooldown have gone out.
func (f *burstFixture) burst(events []xmpp.Event, every time.Duration) {
	f.t.Helper()
	go func() {
		for _, e := range events {
			f.q.add(e)
			time.Sleep(every)
		}
	}()
	deadline := time.After(30 * time.Second)
	for applied := 0; ; {
		select {
		case fn := <-f.turns:
			fn()
		case <-time.After(50 * time.Millisecond):
			if applied == len(events) && f.q.idle() && (f.c.notifier == nil || f.c.notifier.timer == nil) {
				return
			}
		case <-deadline:
			f.t.Fatal("the burst was not applied in 30 s")
		}
		applied = f.applied
	}
}

// idle reports whether nothing waits in the queue.
func (q *uiQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.queued && len(q.pending) == 0
}

// notified sums the messages the notifications speak for, by title.
func (f *burstFixture) notified() map[string]int {
	collapsed := regexp.MustCompile(`^(\d+) new messages$`)
	out := map[string]int{}
	for _, n := range f.notes {
		if m := collapsed.FindStringSubmatch(n.Content); m != nil {
			k, _ := strconv.Atoi(m[1])
			out[n.Title] += k
		} else {
			out[n.Title]++
		}
	}
	return out
}

// TestBurstWork counts the work a burst of 1,000 messages makes (issue 14):
// the tray's icon is sent once (it only changes from none unread to some),
// the contact list is refreshed once per batch, notifications are
// collapsed per sender, and every message is shown once, in order, with
// its unread count in the tab, the contact list and the tray.
func TestBurstWork(t *testing.T) {
	lisi := jid.MustParse("lisi@oa.example")
	contacts := []xmpp.Contact{testContact(lisi.String(), "李四", "研发部")}
	for i := range 49 {
		contacts = append(contacts, testContact(fmt.Sprintf("u%02d@oa.example", i), fmt.Sprintf("同事%02d", i), "研发部"))
	}
	const n = 1000
	// 1,000 in about 2 s: ten times the pace of a person typing fast, and
	// long enough for several batches.
	const every = 2 * time.Millisecond

	t.Run("one", func(t *testing.T) {
		f := newBurstFixture(t, contacts)
		events := make([]xmpp.Event, n)
		for i := range events {
			events[i] = xmpp.MessageReceived{Message: xmpp.Message{ID: fmt.Sprintf("m%d", i), From: mustResource(lisi, "desk"),
				To: jid.MustParse("zhangsan@oa.example"), Type: stanza.ChatMessage, Body: fmt.Sprintf("消息 %d", i), Time: time.Now()}}
		}
		icons0, menus0, refreshes0 := f.app.icons, f.c.tray.menuSends, f.c.main.roster.refreshes
		f.burst(events, every)
		icons, menus, refreshes := f.app.icons-icons0, f.c.tray.menuSends-menus0, f.c.main.roster.refreshes-refreshes0
		t.Logf("%d batches: %d tray icons, %d tray menus, %d list refreshes, %d notifications", f.batches, icons, menus, refreshes, len(f.notes))
		if f.batches > 30 {
			t.Errorf("%d batches for %d messages in %v", f.batches, n, n*every)
		}
		if icons != 1 {
			t.Errorf("the tray got %d icons, want 1", icons)
		}
		if menus > f.batches || refreshes > f.batches {
			t.Errorf("%d tray menus and %d list refreshes for %d batches", menus, refreshes, f.batches)
		}
		if len(f.notes) > 5 {
			t.Errorf("%d notifications for one sender", len(f.notes))
		}
		if got := f.notified(); got["lisi"] != n || len(got) != 1 {
			t.Errorf("the notifications speak for %v, want all %d of lisi's", got, n)
		}
		tab := f.c.chats.chats[lisi.String()]
		if tab == nil || len(tab.view.msgs) != n {
			t.Fatalf("the chat shows %d messages", len(tab.view.msgs))
		}
		for i, m := range tab.view.msgs {
			if m.Body != fmt.Sprintf("消息 %d", i) {
				t.Fatalf("message %d is %q: lost or out of order", i, m.Body)
			}
		}
		if tab.unread != n || f.c.main.roster.unread[lisi.String()] != n || f.c.tray.shown != n {
			t.Errorf("unread: tab %d, contact list %d, tray %d; want %d", tab.unread, f.c.main.roster.unread[lisi.String()], f.c.tray.shown, n)
		}
	})

	t.Run("spread", func(t *testing.T) {
		f := newBurstFixture(t, contacts)
		room := jid.MustParse("project@conference.oa.example")
		events := make([]xmpp.Event, n)
		for i := range events {
			body := fmt.Sprintf("消息 %d", i)
			if i%5 == 4 {
				nick := fmt.Sprintf("同事%02d", i%50)
				from, _ := room.WithResource(nick)
				events[i] = xmpp.RoomMessage{Room: room, Nick: nick, Message: xmpp.Message{ID: fmt.Sprintf("r%d", i), From: from,
					Type: stanza.GroupChatMessage, Body: body, Time: time.Now()}}
				continue
			}
			from := mustResource(contacts[i%50].JID, "desk")
			events[i] = xmpp.MessageReceived{Message: xmpp.Message{ID: fmt.Sprintf("m%d", i), From: from,
				To: jid.MustParse("zhangsan@oa.example"), Type: stanza.ChatMessage, Body: body, Time: time.Now()}}
		}
		icons0 := f.app.icons
		f.burst(events, every)
		t.Logf("%d batches: %d tray icons, %d list refreshes, %d notifications", f.batches, f.app.icons-icons0, f.c.main.roster.refreshes, len(f.notes))
		if icons := f.app.icons - icons0; icons != 1 {
			t.Errorf("the tray got %d icons, want 1", icons)
		}
		// 50 contacts and a room: at most one notification each per
		// cooldown, and the burst lasts about one.
		if len(f.notes) > 51*3 {
			t.Errorf("%d notifications from 51 senders", len(f.notes))
		}
		got, total := f.notified(), 0
		for _, k := range got {
			total += k
		}
		if total != n {
			t.Errorf("the notifications speak for %d messages, want %d: %v", total, n, got)
		}
		if f.c.tray.shown != n {
			t.Errorf("the tray shows %d unread, want %d", f.c.tray.shown, n)
		}
		if tab := f.c.chats.chats[room.String()]; tab == nil || len(tab.view.msgs) != n/5 || tab.unread != n/5 {
			t.Errorf("the room's tab: %+v", tab)
		}
	})
}

func mustResource(j jid.JID, resource string) jid.JID {
	full, err := j.WithResource(resource)
	if err != nil {
		panic(err)
	}
	return full
}
