package app

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/store"
)

// workQueue stands in for the background: loads and their results run
// when the test says, on the test's goroutine.
type workQueue struct{ loads []func() func() }

func (q *workQueue) run(load func() func()) { q.loads = append(q.loads, load) }

// flush runs everything queued, and what that queues, to the end.
func (q *workQueue) flush() {
	for len(q.loads) > 0 {
		load := q.loads[0]
		q.loads = q.loads[1:]
		load()()
	}
}

var (
	me    = jid.MustParse("me@oa.example")
	bob   = jid.MustParse("bob@oa.example")
	carol = jid.MustParse("carol@oa.example")
)

// historyFixture is a signed-in controller (not connected) whose store
// holds n messages with bob, alternating incoming and outgoing, a minute
// apart, the newest an hour ago; a few carry words to search for.
type historyFixture struct {
	c     *controller
	db    *store.DB
	q     *workQueue
	start time.Time
	n     int
}

func bodyOf(i int) string {
	switch i {
	case 3:
		return "The budget for Q3 is ready"
	case 7:
		return "预算下周一前要交"
	case 100:
		return "Second budget draft, 预算已更新"
	}
	return fmt.Sprintf("message %d", i)
}

func newHistoryFixture(t *testing.T, n int) *historyFixture {
	t.Helper()
	c := testController(t)
	db, err := store.Open(filepath.Join(t.TempDir(), "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &historyFixture{c: c, db: db, q: &workQueue{}, start: time.Now().Add(-time.Hour - time.Duration(n)*time.Minute), n: n}
	var recs []store.Message
	for i := range n {
		r := store.Message{Peer: bob.String(), Dir: store.Incoming, ID: fmt.Sprintf("in%d", i), Type: "chat",
			Body: bodyOf(i), Time: f.start.Add(time.Duration(i) * time.Minute), State: store.Received}
		if i%2 == 1 {
			r.Dir, r.ID, r.OriginID, r.State = store.Outgoing, fmt.Sprintf("out%d", i), fmt.Sprintf("out%d", i), store.Delivered
		}
		recs = append(recs, r)
	}
	recs = append(recs, store.Message{Peer: carol.String(), Dir: store.Incoming, ID: "c1", Type: "chat",
		Body: "carol's budget question", Time: f.start, State: store.Received})
	if _, err := db.AddMessages(recs); err != nil {
		t.Fatal(err)
	}
	client, err := xmpp.New(me.String(), xmpp.WithPassword(func(context.Context) (string, error) { return "pw", nil }), xmpp.WithStore(db))
	if err != nil {
		t.Fatal(err)
	}
	c.account = xmpp.AccountConfig{JID: me.String()}
	c.client, c.store = client, db
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	c.chats.run = f.q.run
	c.notifyHook = func(n *fyne.Notification) { t.Errorf("unexpected notification %q", n.Content) }
	t.Cleanup(func() { c.chats.close(); c.main.close() })
	return f
}

// open opens the chat with peer in a 500x600 window and reads its history.
func (f *historyFixture) open(peer jid.JID) *chatView {
	f.c.openChat(peer)
	f.c.chats.win.Resize(fyne.NewSize(500, 600))
	f.q.flush()
	return f.c.chats.chats[peer.String()].view
}

// checkOrder fails when the view shows a message twice or out of order.
func checkOrder(t *testing.T, v *chatView) {
	t.Helper()
	seen := map[int64]bool{}
	for i, m := range v.msgs {
		if m.Seq > 0 && seen[m.Seq] {
			t.Fatalf("message seq %d (%q) shown twice", m.Seq, m.Body)
		}
		seen[m.Seq] = true
		if i > 0 && goesBefore(&m, &v.msgs[i-1]) {
			t.Fatalf("message %d %q shown after %q", i, m.Body, v.msgs[i-1].Body)
		}
	}
}

// visibleRows is the indices of the message rows the list draws.
func visibleRows(v *chatView) map[int]bool {
	rows := map[int]bool{}
	walkVisible(v.list, func(o fyne.CanvasObject) {
		if r, ok := o.(*messageRow); ok && r.index >= 0 && r.Size().Height > 0 {
			top := v.rowTop(r.index)
			off := v.list.GetScrollOffset()
			if top+r.Size().Height > off && top < off+v.list.Size().Height {
				rows[r.index] = true
			}
		}
	})
	return rows
}

func TestChatOpensWithHistoryAndPagesBack(t *testing.T) {
	f := newHistoryFixture(t, 120)
	v := f.open(bob)
	if len(v.msgs) != historyPage {
		t.Fatalf("chat opened with %d messages, want the newest %d", len(v.msgs), historyPage)
	}
	if last := v.msgs[len(v.msgs)-1]; last.Body != bodyOf(119) || !last.Outgoing || last.State != stateDelivered {
		t.Errorf("newest message shown %+v, want %q, own, delivered", last, bodyOf(119))
	}
	if !visibleRows(v)[len(v.msgs)-1] {
		t.Error("the chat did not open at its newest message")
	}
	checkOrder(t, v)

	// Scrolling to the top reads the page before, and the message that was
	// at the top stays where it was on screen.
	for page, want := range []int{100, 120} {
		topBody := v.msgs[0].Body
		v.list.ScrollToTop()
		if len(f.q.loads) != 1 {
			t.Fatalf("page %d: %d reads queued at the top, want 1", page, len(f.q.loads))
		}
		f.q.flush()
		if len(v.msgs) != want {
			t.Fatalf("page %d: %d messages after scrolling to the top, want %d", page, len(v.msgs), want)
		}
		checkOrder(t, v)
		if row, _ := v.topRow(); v.msgs[row].Body != topBody {
			t.Errorf("page %d: %q is at the top after loading, want %q still there", page, v.msgs[row].Body, topBody)
		}
	}
	if v.msgs[0].Body != bodyOf(0) {
		t.Errorf("oldest message %q, want %q", v.msgs[0].Body, bodyOf(0))
	}
	// At the beginning nothing more is read.
	v.list.ScrollToBottom()
	v.list.ScrollToTop()
	if len(f.q.loads) != 0 {
		t.Errorf("%d reads queued at the beginning of the conversation", len(f.q.loads))
	}
}

func TestChatNeverShowsAMessageTwice(t *testing.T) {
	f := newHistoryFixture(t, 10)
	v := f.open(bob)
	if len(v.msgs) != 10 {
		t.Fatalf("%d messages, want 10", len(v.msgs))
	}
	// The newest stored message arrives again as an event.
	stored, err := f.c.client.History(bob, store.Cursor{}, 1)
	if err != nil || len(stored) != 1 {
		t.Fatal(stored, err)
	}
	f.c.handle(xmpp.MessageReceived{Message: stored[0]})
	if len(v.msgs) != 10 {
		t.Fatalf("a stored message arriving as an event is shown twice: %d messages", len(v.msgs))
	}
	// A new message: stored by the core first, then reported twice.
	added, err := f.db.AddMessages([]store.Message{{Peer: bob.String(), ID: "new1", Type: "chat", Body: "新消息", Time: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	m := xmpp.Message{ID: "new1", From: jid.MustParse("bob@oa.example/phone"), To: me, Type: "chat", Body: "新消息", Time: added[0].Time, Seq: added[0].Seq}
	var notified []string
	f.c.notifyHook = func(n *fyne.Notification) { notified = append(notified, n.Content) }
	f.c.chats.received(m)
	f.c.chats.received(m)
	if len(notified) != 1 || f.c.chats.chats[bob.String()].unread != 1 {
		t.Errorf("a message reported twice: notifications %q, unread %d; want one of each", notified, f.c.chats.chats[bob.String()].unread)
	}
	if len(v.msgs) != 11 || v.msgs[10].Body != "新消息" {
		t.Fatalf("new message: %d messages, last %q", len(v.msgs), v.msgs[len(v.msgs)-1].Body)
	}
	// Reading the store again (as after a jump and back) adds nothing.
	v.backToLatest()
	f.q.flush()
	if len(v.msgs) != 11 {
		t.Errorf("%d messages after reading the newest page again, want 11", len(v.msgs))
	}
	checkOrder(t, v)
}

func TestOwnMessageStates(t *testing.T) {
	f := newHistoryFixture(t, 4)
	v := f.open(bob)
	tab := f.c.chats.chats[bob.String()]
	f.c.chats.send(tab, "请查收附件")
	if !strings.Contains(footerOf(v, len(v.msgs)-1), "Sending…") {
		t.Fatalf("a message being sent shows %q", footerOf(v, len(v.msgs)-1))
	}
	f.q.flush() // SendMessage: offline, it waits in the outbox
	last := v.msgs[len(v.msgs)-1]
	if last.State != stateSending || strings.HasPrefix(last.ID, "local") {
		t.Fatalf("after SendMessage the message is %+v, want pending under the core's id", last)
	}
	outbox, err := f.c.client.Outbox()
	if err != nil || len(outbox) != 1 || outbox[0].ID != last.ID {
		t.Fatalf("outbox %+v, %v; want the message %s", outbox, err, last.ID)
	}
	for _, step := range []struct {
		state xmpp.DeliveryState
		want  string
	}{{xmpp.DeliverySent, "Sent ✓"}, {xmpp.DeliveryDelivered, "Delivered ✓✓"}, {xmpp.DeliverySent, "Delivered ✓✓"}} {
		f.c.handle(xmpp.MessageStateChanged{ID: last.ID, Peer: bob, State: step.state})
		if got := footerOf(v, len(v.msgs)-1); !strings.Contains(got, step.want) {
			t.Errorf("after %v the footer is %q, want it to end in %q", step.state, got, step.want)
		}
	}
	// Reading the chat again does not show the message twice.
	v.backToLatest()
	f.q.flush()
	if n := len(v.msgs); n != 5 {
		t.Errorf("%d messages after reading the store again, want 5", n)
	}

	// A bounce shows the error and Retry; Retry sends the same message
	// again (same id: no second copy in either history).
	f.c.handle(xmpp.MessageFailed{ID: last.ID, To: bob, Err: &xmpp.StanzaError{Condition: "item-not-found"}})
	if st, _ := v.State(last.ID); st != stateFailed {
		t.Fatalf("after a bounce the state is %v", st)
	}
	retry := findButton(v.Object(), "Retry")
	if retry == nil {
		t.Fatal("no Retry on a failed message")
	}
	test.Tap(retry)
	f.q.flush()
	again := v.msgs[len(v.msgs)-1]
	if again.State != stateSending || again.ID != last.ID || again.Body != "请查收附件" || len(v.msgs) != 5 {
		t.Errorf("after Retry: %+v (%d messages), want the same message pending", again, len(v.msgs))
	}
	if out, err := f.c.client.Outbox(); err != nil || len(out) == 0 || out[len(out)-1].ID != last.ID {
		t.Errorf("after Retry the outbox holds %+v, %v; want the message, under its id", out, err)
	}
}

// footerOf is the time and state line of message i.
func footerOf(v *chatView, i int) string {
	return v.layoutFor(i, v.width).footer.text
}

func TestStoredStatesShow(t *testing.T) {
	f := newHistoryFixture(t, 0)
	now := time.Now()
	if _, err := f.db.AddMessages([]store.Message{
		{Peer: bob.String(), Dir: store.Outgoing, OriginID: "p1", ID: "p1", Type: "chat", Body: "pending one", Time: now.Add(-3 * time.Minute), State: store.Pending},
		{Peer: bob.String(), Dir: store.Outgoing, OriginID: "s1", ID: "s1", Type: "chat", Body: "sent one", Time: now.Add(-2 * time.Minute), State: store.Sent},
		{Peer: bob.String(), Dir: store.Outgoing, OriginID: "f1", ID: "f1", Type: "chat", Body: "failed one", Time: now.Add(-time.Minute), State: store.Failed, Error: "recipient unavailable"},
	}); err != nil {
		t.Fatal(err)
	}
	v := f.open(bob)
	for i, want := range []string{"Sending… 🕓", "Sent ✓", ""} {
		if got := footerOf(v, i); !strings.Contains(got, want) {
			t.Errorf("message %d footer %q, want %q", i, got, want)
		}
	}
	if findButton(v.Object(), "Retry") == nil || !strings.Contains(strings.Join(texts(v.Object()), "\n"), "Not sent: recipient unavailable") {
		t.Errorf("a stored failed message shows no error or no Retry: %q", texts(v.Object()))
	}
	// The pending one is acknowledged now.
	f.c.handle(xmpp.MessageStateChanged{ID: "p1", Peer: bob, State: xmpp.DeliverySent})
	if got := footerOf(v, 0); !strings.Contains(got, "Sent ✓") {
		t.Errorf("acknowledged stored message shows %q", got)
	}
}

// texts is every text drawn in o.
func texts(o fyne.CanvasObject) []string {
	var out []string
	walkVisible(o, func(o fyne.CanvasObject) {
		if t, ok := o.(*canvas.Text); ok && t.Text != "" {
			out = append(out, t.Text)
		}
	})
	return out
}

func TestArchivedAndCarbonMessages(t *testing.T) {
	f := newHistoryFixture(t, 6)
	v := f.open(bob)
	f.c.chats.win.Hide() // not reading
	f.c.chats.visible = false
	// From the archive, older than the newest shown: it goes in its place,
	// counts unread, and raises no notification (notifyHook fails on one).
	old := f.start.Add(150 * time.Second)
	added, err := f.db.AddMessages([]store.Message{{Peer: bob.String(), ID: "arch1", StanzaID: "s-arch1", Type: "chat", Body: "from the archive", Time: old}})
	if err != nil {
		t.Fatal(err)
	}
	f.c.handle(xmpp.MessageReceived{Message: xmpp.Message{ID: "arch1", StanzaID: "s-arch1", From: bob, To: me, Type: "chat",
		Body: "from the archive", Time: added[0].Time, Seq: added[0].Seq, Archived: true}})
	if len(v.msgs) != 7 || v.msgs[3].Body != "from the archive" {
		t.Fatalf("archived message not placed by time: %q", bodies(v))
	}
	if tab := f.c.chats.chats[bob.String()]; tab.unread != 1 {
		t.Errorf("unread %d after an archived message, want 1", tab.unread)
	}
	// A message the user sent from their phone shows as their own.
	f.c.handle(xmpp.MessageReceived{Message: xmpp.Message{ID: "ph1", From: jid.MustParse("me@oa.example/phone"), To: bob, Type: "chat",
		Body: "sent from my phone", Time: time.Now(), Outgoing: true, Carbon: true, Seq: 999}})
	last := v.msgs[len(v.msgs)-1]
	if !last.Outgoing || last.Sender != "Me" || last.Body != "sent from my phone" {
		t.Errorf("carbon shown as %+v, want own message", last)
	}
	if tab := f.c.chats.chats[bob.String()]; tab.unread != 0 {
		t.Errorf("unread %d after answering from the phone, want 0", tab.unread)
	}
	if _, ok := f.c.chats.chats[me.String()]; ok {
		t.Error("a carbon opened a chat with the own account")
	}
}

func bodies(v *chatView) []string {
	var out []string
	for _, m := range v.msgs {
		out = append(out, m.Body)
	}
	return out
}

// boldTexts is the highlighted parts of a result.
func boldTexts(segs []widget.RichTextSegment) []string {
	var out []string
	for _, s := range segs {
		if ts, ok := s.(*widget.TextSegment); ok && ts.Style.TextStyle.Bold {
			out = append(out, ts.Text)
		}
	}
	return out
}

func TestSearchAllChatsAndJump(t *testing.T) {
	f := newHistoryFixture(t, 120)
	f.c.main.searchMessages()
	p := f.c.main.searchPanel
	if p == nil {
		t.Fatal("no search window")
	}
	for i, tc := range []struct {
		query string
		want  []string // bodies, newest first
		bold  string
	}{
		0: {"budget", []string{bodyOf(100), bodyOf(3), "carol's budget question"}, "budget"},
		1: {"预算", []string{bodyOf(100), bodyOf(7)}, "预算"},
		2: {"BUDGET for", []string{bodyOf(3)}, "budget for"},
		3: {"没有这个", nil, ""},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			p.entry.SetText("")
			test.Type(p.entry, tc.query)
			f.q.flush()
			var got []string
			for _, r := range p.results {
				got = append(got, r.msg.Body)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("search %q found %q, want %q", tc.query, got, tc.want)
			}
			if len(tc.want) == 0 {
				if p.status.Text != "No messages found." {
					t.Errorf("status %q", p.status.Text)
				}
				return
			}
			bold := boldTexts(highlightSegments(p.results[0].msg.Body, p.results[0].matches))
			if len(bold) == 0 || !strings.EqualFold(bold[0], tc.bold) {
				t.Errorf("highlighted %q, want %q", bold, tc.bold)
			}
		})
	}

	// The oldest hit is far back: the jump reads it with its context and
	// marks it; scrolling down reads the newer pages again.
	p.entry.SetText("")
	test.Type(p.entry, "Q3")
	f.q.flush()
	if len(p.results) != 1 {
		t.Fatalf("%d results for Q3", len(p.results))
	}
	target := p.results[0].msg.Seq
	p.list.Select(0)
	f.c.chats.win.Resize(fyne.NewSize(500, 600))
	f.q.flush()
	v := f.c.chats.chats[bob.String()].view
	i, ok := v.bySeq[target]
	if !ok {
		t.Fatalf("the chat does not show the message jumped to; shows %q", bodies(v))
	}
	if !v.msgs[i].Marked || !visibleRows(v)[i] {
		t.Errorf("message jumped to: marked %v, in sight %v", v.msgs[i].Marked, visibleRows(v)[i])
	}
	checkOrder(t, v)
	for range 10 {
		v.list.ScrollToBottom()
		f.q.flush()
	}
	if v.msgs[len(v.msgs)-1].Body != bodyOf(119) || v.history.hasNewer {
		t.Errorf("scrolling down did not get back to the newest message: last %q", v.msgs[len(v.msgs)-1].Body)
	}
	checkOrder(t, v)
	index := map[string]int{}
	for i := range 120 {
		index[bodyOf(i)] = i
	}
	for i, m := range v.msgs[1:] {
		if index[m.Body] != index[v.msgs[i].Body]+1 {
			t.Fatalf("gap in the history between %q and %q", v.msgs[i].Body, m.Body)
		}
	}
}

func TestSearchInChat(t *testing.T) {
	f := newHistoryFixture(t, 120)
	v := f.open(bob)
	if !v.searchButton.Visible() {
		t.Fatal("no search button in a chat with history")
	}
	// Ctrl+F in the message entry opens the search.
	v.entry.TypedShortcut(searchShortcut)
	if !v.searchBar.Visible() || f.c.chats.win.Canvas().Focused() != v.search.entry {
		t.Fatal("Ctrl+F did not open the search with the cursor in it")
	}
	test.Type(v.search.entry, "预算")
	f.q.flush()
	if len(v.search.results) != 2 {
		t.Fatalf("%d results in the chat with bob, want 2", len(v.search.results))
	}
	if !v.search.content.Visible() {
		t.Error("results not shown")
	}
	v.search.openResult(1) // the older one, not among the 50 shown
	f.q.flush()
	if v.searchBar.Visible() {
		t.Error("the search stays open after choosing a result")
	}
	i, ok := v.bySeq[v.search.results[1].msg.Seq]
	if !ok || !v.msgs[i].Marked || !visibleRows(v)[i] {
		t.Errorf("the result is not shown marked in sight (found %v)", ok)
	}
	// Escape closes the search too.
	v.openSearch()
	v.search.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if v.searchBar.Visible() {
		t.Error("Escape did not close the search")
	}
}

func TestHistoryOpenFailureShowsInLoginWindow(t *testing.T) {
	for i, tc := range []struct {
		make func(t *testing.T, path string)
		want string
	}{
		0: {func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("this is not a database, but somebody's notes"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is damaged"},
		1: {func(t *testing.T, path string) {
			db, err := store.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			raw, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Exec("PRAGMA user_version = 999"); err != nil {
				t.Fatal(err)
			}
		}, "newer version of Magpie"},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			c := testController(t)
			path := filepath.Join(t.TempDir(), "history.db")
			tc.make(t, path)
			before, _ := os.ReadFile(path)
			c.storePath = func(string) (string, error) { return path, nil }
			cfg := xmpp.AccountConfig{JID: me.String()}
			c.showLogin(cfg, "")
			defer c.loginWin.Close()
			db, err := openStore(c.storePath, cfg.JID)
			if err == nil {
				db.Close()
				t.Fatal("opened a broken history")
			}
			c.signInDone(nil, nil, cfg, nil, nil, err)
			msg := c.login.message
			if !msg.Visible() || !strings.Contains(msg.Text, tc.want) || !strings.Contains(msg.Text, path) {
				t.Errorf("login window says %q, want %q and the path", msg.Text, tc.want)
			}
			if c.client != nil || c.main != nil {
				t.Error("signed in despite the broken history")
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("the history file was changed")
			}
		})
	}
}

// TestRenderHistoryAndSearch draws the chat with history and the search
// results; MAGPIE_SCREENSHOTS=DIR keeps the PNGs to look at.
func TestRenderHistoryAndSearch(t *testing.T) {
	f := newHistoryFixture(t, 30)
	v := f.open(bob)
	v.JumpTo(v.msgs[len(v.msgs)-4].Seq)
	f.q.flush()
	tab := f.c.chats.chats[bob.String()]
	f.c.chats.send(tab, "好的，我周一前把预算发给你 👍")
	f.q.flush()
	dir := os.Getenv("MAGPIE_SCREENSHOTS")
	save := func(name string, w fyne.Window) {
		img := w.Canvas().Capture()
		if img.Bounds().Dx() == 0 {
			t.Fatalf("%s: empty capture", name)
		}
		if dir == "" {
			return
		}
		out, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		if err := png.Encode(out, img); err != nil {
			t.Fatal(err)
		}
	}
	save("chat-history.png", f.c.chats.win)
	v.openSearch()
	test.Type(v.search.entry, "预算")
	f.q.flush()
	save("chat-search.png", f.c.chats.win)
	f.c.main.searchMessages()
	test.Type(f.c.main.searchPanel.entry, "budget")
	f.q.flush()
	save("search-all.png", f.c.main.searchWin)
}

// TestStateBeforeSendReturns: the server's acknowledgement can overtake
// SendMessage's return to the UI; the message still ends up Sent.
func TestStateBeforeSendReturns(t *testing.T) {
	f := newHistoryFixture(t, 2)
	v := f.open(bob)
	f.c.chats.send(f.c.chats.chats[bob.String()], "quick")
	load := f.q.loads[0]
	f.q.loads = nil
	apply := load() // SendMessage has stored it
	outbox, err := f.c.client.Outbox()
	if err != nil || len(outbox) != 1 {
		t.Fatal(outbox, err)
	}
	f.c.handle(xmpp.MessageStateChanged{ID: outbox[0].ID, Peer: bob, State: xmpp.DeliverySent})
	apply()
	if st, ok := v.State(outbox[0].ID); !ok || st != stateSent {
		t.Errorf("state %v (shown %v), want sent", st, ok)
	}
	if len(v.msgs) != 3 {
		t.Errorf("%d messages, want 3", len(v.msgs))
	}
}
