package app

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/store"
)

// trayApp is a test app with a system tray, so the tray's unread count can
// be read.
type trayApp struct {
	fyne.App
	icon fyne.Resource
}

func (a *trayApp) SetSystemTrayMenu(*fyne.Menu)      {}
func (a *trayApp) SetSystemTrayIcon(i fyne.Resource) { a.icon = i }
func (a *trayApp) SetSystemTrayWindow(fyne.Window)   {}

// fakeTimers stands in for the summary's timer: the test fires it.
type fakeTimers struct{ timers []*fakeTimer }

type fakeTimer struct {
	d              time.Duration
	f              func()
	stopped, fired bool
}

func (ft *fakeTimers) after(d time.Duration, f func()) func() bool {
	t := &fakeTimer{d: d, f: f}
	ft.timers = append(ft.timers, t)
	return func() bool {
		live := !t.stopped && !t.fired
		t.stopped = true
		return live
	}
}

// fire runs the timers that are due (not stopped), as their time came.
func (ft *fakeTimers) fire() {
	for _, t := range ft.timers {
		if !t.stopped && !t.fired {
			t.fired = true
			t.f()
		}
	}
}

func (ft *fakeTimers) pending() int {
	n := 0
	for _, t := range ft.timers {
		if !t.stopped && !t.fired {
			n++
		}
	}
	return n
}

// noticeFixture is a signed-in controller (not connected) whose client
// has a store, with a tray; background work, the summary's timer,
// notifications and opened links are all the test's to run and read.
type noticeFixture struct {
	c      *controller
	db     *store.DB
	q      *workQueue
	timers *fakeTimers
	sent   []*fyne.Notification
	opened []*url.URL
}

func newNoticeFixture(t *testing.T) *noticeFixture {
	t.Helper()
	c := testController(t)
	c.app = &trayApp{App: c.app}
	c.tray = newTray(c)
	db, err := store.Open(filepath.Join(t.TempDir(), "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	client, err := xmpp.New(me.String(), xmpp.WithPassword(func(context.Context) (string, error) { return "pw", nil }), xmpp.WithStore(db),
		xmpp.WithNoticeSenders(notifierJID.String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	f := &noticeFixture{c: c, db: db, q: &workQueue{}, timers: &fakeTimers{}}
	c.account = xmpp.AccountConfig{JID: me.String()}
	c.client, c.store = client, db
	c.notices = newNoticeInbox(c, client)
	c.notices.after = f.timers.after
	c.notices.openURL = func(u *url.URL) error { f.opened = append(f.opened, u); return nil }
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	c.chats.run = f.q.run
	c.notifyHook = func(n *fyne.Notification) { f.sent = append(f.sent, n) }
	t.Cleanup(func() { c.notices.close(); c.chats.close(); c.main.close() })
	c.notices.refreshCount()
	f.q.flush()
	return f
}

// deliver does what the core does with a new notice: store it, then report
// it with why its sender may send notices; the controller handles the event
// as the pump would.
func (f *noticeFixture) deliver(t *testing.T, n xmpp.Notice) xmpp.Notice {
	t.Helper()
	n.Sender = f.c.client.NoticeSenderOf(n.From)
	rec, added, err := f.db.AddNotice(store.Notice{From: n.From.String(), ID: n.ID, Subject: n.Subject, Body: n.Body, Time: n.Time})
	if err != nil || !added {
		t.Fatalf("store notice: added %v, %v", added, err)
	}
	n.Seq, n.Time = rec.Seq, rec.Time
	f.c.handle(xmpp.NoticeReceived{Notice: n})
	return n
}

// trayText is the tray menu's unread line.
func (f *noticeFixture) trayText() string { return f.c.tray.unread.Label }

var (
	server      = jid.MustParse("oa.example")
	notifierJID = jid.MustParse("oa-notify@oa.example") // provisioned
)

// TestNoticesView: the inbox window lists the stored notices newest first
// with the unread ones marked; selecting one shows it whole, with its link
// opening in the browser, and marks it read; a new one arrives on top;
// "Mark all read" clears the count on the button, in the window and in
// the tray.
func TestNoticesView(t *testing.T) {
	f := newNoticeFixture(t)
	c := f.c
	start := time.Now().Add(-3 * time.Hour)
	long := "您有 3 条报销单待审批，请在今天 17:00 前处理。\n\n详情见 https://oa.example/approve/42。\n" + strings.Repeat("这是一段很长的说明文字，用来检查折行是否正常。", 12)
	for i, n := range []store.Notice{
		{From: "oa.example", ID: "n1", Subject: "审批提醒", Body: long, Time: start},
		{From: "oa-notify@oa.example", ID: "n2", Subject: "会议变更", Body: "周会改到下午三点", Time: start.Add(time.Hour)},
		{From: "broadcast.oa.example", ID: "n3", Body: "全员通知\n明天放假一天", Time: start.Add(2 * time.Hour)},
	} {
		rec, _, err := f.db.AddNotice(n)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			_ = f.db.MarkNoticeRead(rec.Seq)
		}
	}
	c.notices.refreshCount()
	f.q.flush()
	if b := c.notices.button; b.Text != "Notices (2)" || b.Importance != widget.HighImportance {
		t.Fatalf("button %q (importance %v), want Notices (2), highlighted", b.Text, b.Importance)
	}
	if f.trayText() != "Unread messages: 2" || c.tray.notices.Label != "Notices (2)" {
		t.Fatalf("tray says %q, %q", f.trayText(), c.tray.notices.Label)
	}
	// The menu entry opens the inbox.
	var entry *fyne.MenuItem
	for _, it := range c.main.win.MainMenu().Items[0].Items {
		if it.Label == "Notices…" {
			entry = it
		}
	}
	if entry == nil {
		t.Fatal("no Notices… entry in the contacts window's menu")
	}
	entry.Action()
	f.q.flush()
	v := c.notices.view
	if v == nil {
		t.Fatal("the inbox window did not open")
	}
	v.win.Resize(fyne.NewSize(820, 560))
	if len(v.items) != 3 || v.items[0].Body != "全员通知\n明天放假一天" || v.items[2].Subject != "审批提醒" {
		t.Fatalf("inbox order: %+v", v.items)
	}
	if v.count.Text != "Unread: 2" || v.markAll.Disabled() || v.empty.Visible() {
		t.Fatalf("header %q, mark all disabled %v, empty shown %v", v.count.Text, v.markAll.Disabled(), v.empty.Visible())
	}
	rows := noticeRows(v)
	if len(rows) != 3 {
		t.Fatalf("%d rows drawn", len(rows))
	}
	for i, want := range []struct {
		subject, from, badge, preview string
		bold                          bool
	}{
		{"全员通知", "broadcast.oa.example", "✔ Server", "明天放假一天", true}, // no subject: the first line
		{"会议变更", "oa-notify@oa.example", "✔ OA", "周会改到下午三点", false},
		{"审批提醒", "oa.example", "✔ Server", "您有 3 条报销单待审批", true},
	} {
		r := rows[i]
		if r.subject.Text != want.subject || r.subject.TextStyle.Bold != want.bold || !strings.HasPrefix(r.preview.Text, want.preview) ||
			r.from.Text != want.from || r.badge.Text() != want.badge || r.when.Text == "" {
			t.Errorf("row %d: %q bold %v, from %q %q, preview %q, time %q", i, r.subject.Text, r.subject.TextStyle.Bold,
				r.badge.Text(), r.from.Text, r.preview.Text, r.when.Text)
		}
	}
	if !v.hint.Visible() {
		t.Fatal("the reader does not ask to select a notice")
	}

	// Reading the long one: all of it, wrapped, the link clickable.
	v.list.Select(2)
	if v.subject.Text != "审批提醒" || !strings.HasPrefix(v.meta.Text, "oa.example · ") || v.badge.Text() != "✔ Server" || v.hint.Visible() {
		t.Fatalf("reader: %q, %q %q", v.subject.Text, v.badge.Text(), v.meta.Text)
	}
	if v.body.text != long {
		t.Fatalf("reader body %q", v.body.text)
	}
	// The pane is as wide as its half of the window, and the text wraps to
	// it, between Chinese characters too.
	width := v.body.Size().Width
	if width <= 100 || width > 560 {
		t.Fatalf("reader body %v wide", v.body.Size())
	}
	lines, lineH := v.body.wrapped(width)
	if len(lines) < 6 || v.body.MinSize().Height != float32(len(lines))*lineH {
		t.Fatalf("%d lines, min size %v", len(lines), v.body.MinSize())
	}
	for i, l := range lines {
		if l.width > width+0.5 {
			t.Errorf("line %d is %v wide, the pane %v", i, l.width, width)
		}
	}
	// The link opens in the browser when tapped.
	pos, ok := linkPosition(v.body, "https://oa.example/approve/42")
	if !ok {
		t.Fatalf("the link is not drawn as a link: %+v", lines)
	}
	test.TapAt(v.body, pos)
	if len(f.opened) != 1 || f.opened[0].String() != "https://oa.example/approve/42" {
		t.Fatalf("opened %v", f.opened)
	}
	test.TapAt(v.body, fyne.NewPos(1, 1)) // plain text: nothing opens
	if len(f.opened) != 1 {
		t.Fatalf("a tap on plain text opened %v", f.opened[1:])
	}
	// Read: marked at once, stored by the background.
	if c.notices.unread != 1 || v.count.Text != "Unread: 1" || noticeRows(v)[2].subject.TextStyle.Bold {
		t.Fatalf("after reading: %d unread, header %q", c.notices.unread, v.count.Text)
	}
	f.q.flush()
	if n, _ := f.db.UnreadNotices(); n != 1 || c.notices.button.Text != "Notices (1)" || f.trayText() != "Unread messages: 1" {
		t.Fatalf("store has %d unread; button %q; tray %q", n, c.notices.button.Text, f.trayText())
	}

	// A new notice arrives live, on top, unread; the selection stays.
	f.deliver(t, xmpp.Notice{From: server, ID: "live", Subject: "新通知", Body: "刚刚到达", Time: time.Now()})
	f.q.flush()
	if v.items[0].Subject != "新通知" || v.items[0].Read || c.notices.unread != 2 || v.subject.Text != "审批提醒" {
		t.Fatalf("after a live notice: top %+v, unread %d, reader %q", v.items[0], c.notices.unread, v.subject.Text)
	}
	if sel := v.indexOf(v.selected); sel != 3 {
		t.Fatalf("the selection moved to %d", sel)
	}
	// A copy of a notice the window has (same seq) is not shown twice.
	v.add(v.items[0])
	if len(v.items) != 4 {
		t.Fatalf("%d notices after a duplicate", len(v.items))
	}

	// Mark all read.
	test.Tap(v.markAll)
	f.q.flush()
	if n, _ := f.db.UnreadNotices(); n != 0 {
		t.Fatalf("%d unread in the store after Mark all read", n)
	}
	if c.notices.button.Text != "Notices" || v.count.Text != "All read" || !v.markAll.Disabled() || f.trayText() != "No unread messages" {
		t.Fatalf("after Mark all read: button %q, header %q, tray %q", c.notices.button.Text, v.count.Text, f.trayText())
	}
	for _, r := range noticeRows(v) {
		if r.subject.TextStyle.Bold {
			t.Fatalf("%q still bold", r.subject.Text)
		}
	}

	// Closing the window and opening it again reads the store afresh;
	// the button brings it up.
	v.win.Close()
	if c.notices.view != nil {
		t.Fatal("the closed window is still kept")
	}
	test.Tap(c.notices.button)
	f.q.flush()
	if c.notices.view == nil || len(c.notices.view.items) != 4 {
		t.Fatal("the button did not open the inbox with its 4 notices")
	}
	c.notices.view.win.Close()
	c.tray.notices.Action() // the tray's entry too
	f.q.flush()
	if c.notices.view == nil || c.tray.notices.Label != "Notices" {
		t.Fatalf("the tray's entry (%q) did not open the inbox", c.tray.notices.Label)
	}
	// Signing out closes it.
	c.notices.close()
	if c.notices.view != nil {
		t.Fatal("the inbox stayed open after sign-out")
	}
}

// TestNoticesViewEmpty: an empty inbox says what arrives there.
func TestNoticesViewEmpty(t *testing.T) {
	f := newNoticeFixture(t)
	f.c.main.showNotices()
	v := f.c.notices.view
	if v.empty.Text != "Loading…" {
		t.Fatalf("before the store is read: %q", v.empty.Text)
	}
	f.q.flush()
	if !v.empty.Visible() || !strings.Contains(v.empty.Text, "notifier accounts") || !v.markAll.Disabled() {
		t.Fatalf("empty inbox says %q", v.empty.Text)
	}
	// A notice that arrives while the store is read is not lost.
	f.c.main.showNotices() // already open: brought forward
	f.deliver(t, xmpp.Notice{From: server, Body: "第一条"})
	if len(v.items) != 1 || v.empty.Visible() {
		t.Fatalf("items %+v, empty shown %v", v.items, v.empty.Visible())
	}
}

// linkPosition is where the link with text is drawn in t.
func linkPosition(t *linkText, text string) (fyne.Position, bool) {
	lines, lineH := t.wrapped(t.Size().Width)
	for i, l := range lines {
		for _, p := range l.pieces {
			if link := t.prepared.link(p.run); link != nil && link.text == text {
				return fyne.NewPos(p.x+p.width/2, float32(i)*lineH+lineH/2), true
			}
		}
	}
	return fyne.Position{}, false
}

// noticeRows are the inbox's rows as drawn, top first.
func noticeRows(v *noticesView) []*noticeRow {
	var rows []*noticeRow
	var tops []float32
	walkVisible(v.list, func(o fyne.CanvasObject) {
		if r, ok := o.(*noticeRow); ok && r.Size().Height > 0 {
			rows = append(rows, r)
			tops = append(tops, r.Position().Y)
		}
	})
	// The list's rows are recycled: order them by where they are drawn.
	for i := range rows {
		for j := i + 1; j < len(rows); j++ {
			if tops[j] < tops[i] {
				rows[i], rows[j], tops[i], tops[j] = rows[j], rows[i], tops[j], tops[i]
			}
		}
	}
	return rows
}

// TestNoticeNotifications: a live notice raises one notification with its
// subject and first line; notices delivered late at sign-in raise one
// summary once the burst is over ("12 notices while you were away"), or a
// single one itself; do not disturb raises none, but every notice counts
// unread, in the tray with the unread chats.
func TestNoticeNotifications(t *testing.T) {
	stamp := time.Now().Add(-10 * time.Hour)
	delayed := func(i int) xmpp.Notice {
		return xmpp.Notice{From: server, ID: "d" + string(rune('a'+i)), Subject: "审批提醒", Body: "第 " + string(rune('0'+i%10)) + " 条待审批",
			Time: stamp.Add(time.Duration(i) * time.Minute), Delayed: true}
	}
	t.Run("live", func(t *testing.T) {
		f := newNoticeFixture(t)
		f.deliver(t, xmpp.Notice{From: server, ID: "1", Subject: "审批提醒", Body: "\n您有 3 条报销单待审批\n请尽快处理 <OA>", Time: time.Now()})
		if len(f.sent) != 1 || f.sent[0].Title != "✔ Server · 审批提醒" || f.sent[0].Content != "oa.example: 您有 3 条报销单待审批" {
			t.Fatalf("notifications %+v", f.sent)
		}
		f.deliver(t, xmpp.Notice{From: jid.MustParse("oa-notify@oa.example/bot"), ID: "2", Body: "会议 <改期> & 地点变更", Time: time.Now()})
		if len(f.sent) != 2 || f.sent[1].Title != "✔ OA · Notice" || f.sent[1].Content != "oa-notify@oa.example: 会议 &lt;改期&gt; &amp; 地点变更" {
			t.Fatalf("notification without a subject: %+v", f.sent[1])
		}
		f.q.flush()
		if f.trayText() != "Unread messages: 2" || f.timers.pending() != 0 {
			t.Fatalf("tray %q, %d timers", f.trayText(), f.timers.pending())
		}
	})
	t.Run("summary", func(t *testing.T) {
		f := newNoticeFixture(t)
		for i := range 12 {
			f.deliver(t, delayed(i))
		}
		if len(f.sent) != 0 || f.timers.pending() != 1 || f.timers.timers[11].d != awayQuiet {
			t.Fatalf("during the burst: %d notifications, %d timers pending", len(f.sent), f.timers.pending())
		}
		f.timers.fire()
		if len(f.sent) != 1 || f.sent[0].Title != "✔ Notices" || f.sent[0].Content != "12 notices while you were away" {
			t.Fatalf("summary %+v", f.sent)
		}
		// A live one afterwards is announced itself; one more late one
		// alone is announced as itself too.
		f.deliver(t, xmpp.Notice{From: server, ID: "now", Subject: "现在", Body: "live", Time: time.Now()})
		f.deliver(t, delayed(12))
		f.timers.fire()
		if len(f.sent) != 3 || f.sent[1].Title != "✔ Server · 现在" || f.sent[2].Title != "✔ Server · 审批提醒" || f.sent[2].Content != "oa.example: 第 2 条待审批" {
			t.Fatalf("after the summary: %+v", f.sent[1:])
		}
		f.q.flush()
		if f.c.notices.button.Text != "Notices (14)" {
			t.Fatalf("button %q", f.c.notices.button.Text)
		}
	})
	t.Run("burst that keeps coming", func(t *testing.T) {
		f := newNoticeFixture(t)
		f.deliver(t, delayed(0))
		f.c.notices.awayStart = time.Now().Add(-awayLongest) // the burst began long ago
		f.deliver(t, delayed(1))
		if d := f.timers.timers[1].d; d != 0 {
			t.Fatalf("the summary of a long burst waits %v more", d)
		}
	})
	t.Run("do not disturb", func(t *testing.T) {
		f := newNoticeFixture(t)
		f.c.main.show.SetSelected("Do not disturb")
		f.deliver(t, xmpp.Notice{From: server, ID: "live", Subject: "live", Body: "live", Time: time.Now()})
		for i := range 11 {
			f.deliver(t, delayed(i))
		}
		f.timers.fire()
		// A chat message too: silent, but unread.
		f.c.chats.received(xmpp.Message{ID: "m1", From: bob, Body: "在吗？", Time: time.Now()})
		f.q.flush()
		if len(f.sent) != 0 {
			t.Fatalf("notified in do-not-disturb: %+v", f.sent)
		}
		if f.c.notices.unread != 12 || f.c.notices.button.Text != "Notices (12)" || f.trayText() != "Unread messages: 13" {
			t.Fatalf("unread: %d notices, button %q, tray %q", f.c.notices.unread, f.c.notices.button.Text, f.trayText())
		}
		// Back from do-not-disturb: the next notice is announced.
		f.c.main.show.SetSelected("Available")
		f.deliver(t, xmpp.Notice{From: server, ID: "after", Subject: "after", Body: "after", Time: time.Now()})
		if len(f.sent) != 1 || f.sent[0].Title != "✔ Server · after" {
			t.Fatalf("after do-not-disturb: %+v", f.sent)
		}
	})
	t.Run("notifications off", func(t *testing.T) {
		f := newNoticeFixture(t)
		f.c.app.Preferences().SetBool(prefNotifications, false)
		f.deliver(t, xmpp.Notice{From: server, ID: "x", Subject: "x", Body: "x", Time: time.Now()})
		f.deliver(t, delayed(0))
		f.deliver(t, delayed(1))
		f.timers.fire()
		if len(f.sent) != 0 {
			t.Fatalf("notified with notifications off: %+v", f.sent)
		}
	})
	t.Run("sign-out", func(t *testing.T) {
		f := newNoticeFixture(t)
		f.deliver(t, delayed(0))
		f.deliver(t, delayed(1))
		f.c.notices.close()
		if f.timers.pending() != 0 {
			t.Fatal("the summary is still due after sign-out")
		}
	})
}

// TestNoticeTitle: what the list shows of a notice.
func TestNoticeTitle(t *testing.T) {
	for i, tc := range []struct {
		subject, body, title, preview string
	}{
		{"审批提醒", "您有\n3 条\t待审批", "审批提醒", "您有 3 条 待审批"},
		{"", "\n  全员通知 \n明天\n放假", "全员通知", "明天 放假"},
		{"", "one line", "one line", ""},
		{"  多余  空格 ", "", "多余 空格", ""},
	} {
		title, preview := noticeTitle(xmpp.Notice{Subject: tc.subject, Body: tc.body})
		if title != tc.title || preview != tc.preview {
			t.Errorf("%d: %q, %q; want %q, %q", i, title, preview, tc.title, tc.preview)
		}
	}
}

// TestTrayStatusTicked: the tray's Status submenu ticks the current status,
// whether it was chosen there, in the contacts window or by going away
// when idle.
func TestTrayStatusTicked(t *testing.T) {
	f := newNoticeFixture(t)
	ticked := func() []string {
		var on []string
		for _, it := range f.c.tray.status.ChildMenu.Items {
			if it.Checked {
				on = append(on, it.Label)
			}
		}
		return on
	}
	check := func(when string, want string) {
		t.Helper()
		if got := ticked(); len(got) != 1 || got[0] != want {
			t.Fatalf("%s: the tray ticks %q, want only %q", when, got, want)
		}
	}
	check("at sign-in", "Available")
	// Chosen in the tray.
	for _, it := range f.c.tray.status.ChildMenu.Items {
		if it.Label == "Do not disturb" {
			it.Action()
		}
	}
	if f.c.main.show.Selected != "Do not disturb" {
		t.Fatalf("the tray's choice did not reach the window: %q", f.c.main.show.Selected)
	}
	check("chosen in the tray", "Do not disturb")
	// Chosen in the contacts window.
	f.c.main.show.SetSelected("Appear offline")
	check("chosen in the window", "Appear offline")
	// Set by going away when idle.
	f.c.main.setShowQuietly("Away")
	check("idle", "Away")
}

// TestNoticeSenderMarked: a notice names its sender by full address with a
// mark of why it may send notices, in the inbox (a badge: "✔ OA" for the
// provisioned notifier, "✔ Server" for the server, "Unverified" for one an
// older version took from an ordinary account) and on the desktop (the
// title starts with the mark, the text with the address). What an
// attacker controls cannot wear the mark: mallory's headline reaches the
// app as her chat message and is notified as one, under her name; a room
// occupant named "✔ OA - Approve payment" and a message "✅ from
// oa-notify@oa.example" lose their check marks in the notification.
func TestNoticeSenderMarked(t *testing.T) {
	f := newNoticeFixture(t)
	c := f.c
	mallory := jid.MustParse("mallory@oa.example/x")
	at := time.Now().Add(-time.Hour)
	for _, n := range []store.Notice{
		{From: "mallory@oa.example/x", ID: "old", Subject: "Approve payment", Body: "https://pay.evil.example", Time: at},
		{From: "oa.example", ID: "srv", Subject: "系统维护", Body: "今晚维护", Time: at.Add(time.Minute)},
		{From: "oa-notify@oa.example/bot", ID: "oa", Subject: "审批提醒", Body: "请审批", Time: at.Add(2 * time.Minute)},
	} {
		if _, _, err := f.db.AddNotice(n); err != nil {
			t.Fatal(err)
		}
	}
	c.main.showNotices()
	f.q.flush()
	v := c.notices.view
	v.win.Resize(fyne.NewSize(820, 560))
	rows := noticeRows(v)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, want := range [][2]string{{"✔ OA", "oa-notify@oa.example"}, {"✔ Server", "oa.example"}, {"Unverified", "mallory@oa.example"}} {
		if rows[i].badge.Text() != want[0] || rows[i].from.Text != want[1] || !rows[i].badge.Visible() {
			t.Errorf("row %d: %q %q, want %q %q", i, rows[i].badge.Text(), rows[i].from.Text, want[0], want[1])
		}
	}
	v.list.Select(2)
	if v.badge.Text() != "Unverified" || !strings.HasPrefix(v.meta.Text, "mallory@oa.example · ") {
		t.Fatalf("reader: %q %q", v.badge.Text(), v.meta.Text)
	}
	// The badges differ in colour, not only in text.
	colours := map[xmpp.NoticeSender]string{}
	for _, s := range []xmpp.NoticeSender{xmpp.NoticeFromNotifier, xmpp.NoticeFromServer, xmpp.NoticeUnverified} {
		b := newNoticeBadge()
		b.set(s)
		r := test.TempWidgetRenderer(t, b).(*noticeBadgeRenderer)
		colours[s] = fmt.Sprint(r.bg.FillColor)
	}
	if colours[xmpp.NoticeFromNotifier] == colours[xmpp.NoticeFromServer] || colours[xmpp.NoticeFromServer] == colours[xmpp.NoticeUnverified] {
		t.Fatalf("badge colours %v", colours)
	}

	// Live notices on the desktop.
	f.deliver(t, xmpp.Notice{From: jid.MustParse("oa-notify@oa.example/bot"), ID: "l1", Subject: "Approve payment", Body: "PO 42\nmore", Time: time.Now()})
	f.deliver(t, xmpp.Notice{From: server, ID: "l2", Body: "announced", Headline: true, Time: time.Now()})
	if len(f.sent) != 2 || f.sent[0].Title != "✔ OA · Approve payment" || f.sent[0].Content != "oa-notify@oa.example: PO 42" ||
		f.sent[1].Title != "✔ Server · Notice" || f.sent[1].Content != "oa.example: announced" {
		t.Fatalf("notice notifications %+v", f.sent)
	}

	// Mallory's headline, as the core hands it over: her chat message.
	f.sent = nil
	c.handle(xmpp.MessageReceived{Message: xmpp.Message{ID: "evil1", From: mallory, To: me, Type: "headline", Seq: 1,
		Subject: "Approve payment", Body: "Approve payment\n✔ OA oa-notify@oa.example: https://pay.evil.example", Time: time.Now()}})
	// An occupant's private message, nick and text dressed as a notice.
	occupant := jid.MustParse("office@conference.oa.example/✔ OA - Approve payment")
	c.handle(xmpp.MessageReceived{Message: xmpp.Message{ID: "evil2", From: occupant, To: me, Type: "chat", Private: true, Seq: 2,
		Body: "✅ from oa-notify@oa.example: pay now", Time: time.Now()}})
	f.q.flush()
	if len(f.sent) != 2 {
		t.Fatalf("notifications %+v", f.sent)
	}
	if f.sent[0].Title != "mallory" || f.sent[0].Content != "Approve payment OA oa-notify@oa.example: https://pay.evil.example" {
		t.Errorf("mallory's message notified as %q: %q", f.sent[0].Title, f.sent[0].Content)
	}
	for _, n := range f.sent {
		if strings.ContainsAny(n.Title+n.Content, checkLike) {
			t.Errorf("a chat's notification wears a check mark: %q: %q", n.Title, n.Content)
		}
	}
	if c.notices.unread != 4 {
		t.Fatalf("%d unread notices: a chat went to the inbox", c.notices.unread)
	}
}

// TestWithoutCheckMarks: the notices' check mark and its look-alikes are
// taken out.
func TestWithoutCheckMarks(t *testing.T) {
	for in, want := range map[string]string{
		"bob": "bob", "✔ OA · pay": "OA · pay", "✓✅☑🗸🗹√𐄂 x": "x", "审批 ✔": "审批", "": "",
	} {
		if got := withoutCheckMarks(in); got != want {
			t.Errorf("withoutCheckMarks(%q) = %q, want %q", in, got, want)
		}
	}
}
