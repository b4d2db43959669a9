package xmpp

import (
	"context"
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"
)

// TestIsNotice: which incoming messages are notices and which are chats.
func TestIsNotice(t *testing.T) {
	c, err := New("zhangsan@oa.example", WithPassword(func(context.Context) (string, error) { return "", nil }),
		WithNoticeSenders("OA-Notify@oa.example", " "))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, tc := range []struct {
		from, typ string
		outgoing  bool
		want      bool
	}{
		0:  {"oa.example", "normal", false, true},                // the server itself
		1:  {"oa.example/announce", "normal", false, true},       // with a resource
		2:  {"OA.EXAMPLE", "headline", false, true},              // any case
		3:  {"broadcast.oa.example", "normal", false, true},      // its broadcast service
		4:  {"oa-notify@oa.example", "normal", false, true},      // a notifier account (configured in another case)
		5:  {"oa-notify@oa.example/bot", "normal", false, true},  // from any of its resources
		6:  {"lisi@oa.example/desk", "normal", false, false},     // a colleague: a chat
		7:  {"lisi@oa.example/desk", "", false, false},           // no type means normal
		8:  {"lisi@oa.example/desk", "headline", false, false},   // a colleague's headline is his word: a chat
		9:  {"oa.example", "chat", false, false},                 // a chat is a chat
		10: {"oa-notify@oa.example", "chat", false, false},       // likewise
		11: {"conference.oa.example", "normal", false, false},    // another service of the server
		12: {"other.example", "normal", false, false},            // another server
		13: {"broadcast.other.example", "normal", false, false},  // another server's broadcasts
		14: {"oa-notify@other.example", "normal", false, false},  // same name elsewhere
		15: {"zhangsan@oa.example/phone", "normal", true, false}, // an own message to someone
		16: {"oa.example", "groupchat", false, false},
		17: {"oa-notify@oa.example/bot", "headline", false, true}, // a notifier's headline
		18: {"broadcast.oa.example", "headline", false, true},
		19: {"mallory@evil.example", "headline", false, false},    // a stranger's
		20: {"oa.example.evil.example", "headline", false, false}, // a look-alike domain
		21: {"broadcast.oa.example.evil", "headline", false, false},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			m := Message{From: jid.MustParse(tc.from), Type: messageType(tc.typ), Outgoing: tc.outgoing}
			if got := c.isNotice(m); got != tc.want {
				t.Fatalf("isNotice(%s, %q) = %v, want %v", tc.from, tc.typ, got, tc.want)
			}
		})
	}
	// Why a sender may send notices, as a front end shows it; the same
	// rule without a client, for the store alone.
	for from, want := range map[string]NoticeSender{
		"oa.example": NoticeFromServer, "broadcast.oa.example/x": NoticeFromServer,
		"oa-notify@oa.example/bot": NoticeFromNotifier, "lisi@oa.example": NoticeUnverified,
		"oa-notify@other.example": NoticeUnverified, "other.example": NoticeUnverified,
	} {
		if got := c.NoticeSenderOf(jid.MustParse(from)); got != want {
			t.Errorf("NoticeSenderOf(%s) = %v, want %v", from, got, want)
		}
		if got := ClassifyNoticeSender(c.Account(), []string{"OA-Notify@oa.example", "@@bad"}, jid.MustParse(from)); got != want {
			t.Errorf("ClassifyNoticeSender(%s) = %v, want %v", from, got, want)
		}
	}
	// The notifier accounts can change; a bad one is refused.
	if err := c.SetNoticeSenders("hr@oa.example"); err != nil {
		t.Fatal(err)
	}
	if c.isNotice(Message{From: jid.MustParse("oa-notify@oa.example"), Type: stanza.NormalMessage}) ||
		!c.isNotice(Message{From: jid.MustParse("hr@oa.example/x"), Type: stanza.NormalMessage}) {
		t.Fatal("SetNoticeSenders did not replace the notifier accounts")
	}
	if got := c.NoticeSenders(); !slices.Equal(got, []string{"hr@oa.example"}) {
		t.Fatalf("NoticeSenders() = %q", got)
	}
	if err := c.SetNoticeSenders("@@bad"); err == nil {
		t.Fatal("a notifier account that is no JID was accepted")
	}
	if _, err := New("a@oa.example", WithPassword(func(context.Context) (string, error) { return "", nil }),
		WithNoticeSenders("not a jid@@")); err == nil {
		t.Fatal("New accepted a notifier account that is no JID")
	}
}

// TestNoticeWithoutStore: without a store a notice is reported as it
// comes, with its delay and kind; one with neither body nor subject is none.
func TestNoticeWithoutStore(t *testing.T) {
	c, err := New("me@example.org", WithPassword(func(context.Context) (string, error) { return "", nil }))
	if err != nil {
		t.Fatal(err)
	}
	rec := record(c)
	t.Cleanup(func() { c.Close() })
	for _, m := range []string{
		`<message xmlns='jabber:client' from='example.org' type='normal' id='e'></message>`,
		`<message xmlns='jabber:client' from='example.org' id='d'><subject>审批提醒</subject><body>请审批</body>` +
			`<delay xmlns='urn:xmpp:delay' from='example.org' stamp='2026-11-24T01:02:03Z'/></message>`,
	} {
		var w wireMessage
		if err := xml.Unmarshal([]byte(m), &w); err != nil {
			t.Fatal(err)
		}
		c.onMessage(w, nil)
	}
	got := waitFor(t, rec, 5*time.Second, func(e NoticeReceived) bool { return e.ID == "d" })
	if got.ID != "d" || got.Subject != "审批提醒" || got.Body != "请审批" || !got.Delayed || got.Headline ||
		!got.Time.Equal(time.Date(2026, 11, 24, 1, 2, 3, 0, time.UTC)) || got.From.String() != "example.org" {
		t.Fatalf("notice %+v", got.Notice)
	}
	if _, err := c.Notices(10, false); err != ErrNoStore {
		t.Fatalf("Notices without a store: %v", err)
	}

	// Carbons: the server's message to the bare JID, delivered to another
	// of the user's devices, is a notice here too; a colleague's normal
	// message is a chat.
	carbon := func(from, id, body string) string {
		return `<message xmlns='jabber:client' to='me@example.org/r'><received xmlns='urn:xmpp:carbons:2'>` +
			`<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='` + from + `' to='me@example.org' type='normal' id='` + id + `'>` +
			`<body>` + body + `</body></message></forwarded></received></message>`
	}
	for _, m := range []string{carbon("example.org", "c1", "via carbon"), carbon("lisi@example.org/desk", "c2", "a colleague's")} {
		var w wireMessage
		if err := xml.Unmarshal([]byte(m), &w); err != nil {
			t.Fatal(err)
		}
		c.onMessage(w, nil)
	}
	waitFor(t, rec, 5*time.Second, func(e NoticeReceived) bool { return e.ID == "c1" && e.Body == "via carbon" })
	chat := waitFor(t, rec, 5*time.Second, func(e MessageReceived) bool { return e.ID == "c2" })
	if !chat.Carbon || chat.Outgoing {
		t.Fatalf("the colleague's carbon: %+v", chat.Message)
	}
	if n := countNotices(rec); n != 2 {
		t.Fatalf("%d notices, want 2", n)
	}
}

// noticeServer is a Prosody whose administrator ("admin") can make the
// server send notices (see prosodytest.NoticeOptions).
func noticeServer(t *testing.T) *prosodytest.Server {
	t.Helper()
	opts, err := prosodytest.NoticeOptions(prosodytest.Options{}, "admin", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return prosodytest.Start(t, opts)
}

// sendNotice has admin make the server send a message of type typ: to
// DOMAIN/announce/online (everyone online), USER@notify.DOMAIN (USER, from
// DOMAIN) or USER@broadcast.DOMAIN (USER, from broadcast.DOMAIN).
func sendNotice(t *testing.T, admin *Client, to, typ, id, subject, body string) {
	t.Helper()
	var s strings.Builder
	fmt.Fprintf(&s, `<message to='%s' type='%s' id='%s'>`, to, typ, id)
	if subject != "" {
		s.WriteString("<subject>")
		_ = xml.EscapeText(&s, []byte(subject))
		s.WriteString("</subject>")
	}
	s.WriteString("<body>")
	_ = xml.EscapeText(&s, []byte(body))
	s.WriteString("</body></message>")
	if err := admin.sendRaw(ctxT(t), s.String()); err != nil {
		t.Fatal(err)
	}
}

// countNotices is how many NoticeReceived events r holds.
func countNotices(r *recorder) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if _, ok := e.(NoticeReceived); ok {
			n++
		}
	}
	return n
}

// TestNoticesFromServer, against Prosody: an announcement (mod_announce),
// a normal message from the bare domain and from broadcast.DOMAIN, and the
// messages of a notifier account are notices: reported as NoticeReceived
// and kept in the store's inbox, a repeat once, each with why its sender
// may send notices. A normal message or a headline from a colleague, with
// or without a type, is a chat (a headline's subject its first line).
// Changing the notifier accounts turns the notifier's next message
// into a chat.
func TestNoticesFromServer(t *testing.T) {
	srv := noticeServer(t)
	domain := srv.Domain
	oaJID := "oa-notify@" + domain
	db := openStore(t)
	admin, _ := online(t, srv, "admin")
	oa, _ := online(t, srv, "oa-notify")
	bob, _ := online(t, srv, "bob")
	alice, ae := online(t, srv, "alice", WithStore(db), WithNoticeSenders(oaJID))
	ctx := ctxT(t)

	link := "https://oa.example/approve/42"
	// Send keeps the resource of a full JID (mod_announce needs it).
	if _, err := admin.Send(ctx, OutgoingMessage{To: jid.MustParse(domain + "/announce/online"), Type: stanza.NormalMessage,
		Subject: "系统维护", Body: "今晚 22:00 系统维护，请提前保存工作。"}); err != nil {
		t.Fatal(err)
	}
	sendNotice(t, admin, "alice@notify."+domain, "normal", "n1", "审批提醒", "您有 3 条报销单待审批："+link)
	sendNotice(t, admin, "alice@broadcast."+domain, "normal", "b1", "", "全员通知：明天放假")
	oaMsg := `<message to='` + alice.Account().String() + `' type='normal' id='oa1'><subject>会议变更</subject><body>周会改到下午三点</body></message>`
	for range 2 {
		if err := oa.sendRaw(ctx, oaMsg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bob.Send(ctx, OutgoingMessage{To: alice.Account(), Body: "有空吗？", Type: stanza.NormalMessage}); err != nil {
		t.Fatal(err)
	}
	if err := bob.sendRaw(ctx, `<message to='`+alice.Account().String()+`' id='nt'><body>no type at all</body></message>`); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Send(ctx, OutgoingMessage{To: alice.Account(), Body: "服务器重启了", Subject: "提醒", Type: stanza.HeadlineMessage}); err != nil {
		t.Fatal(err)
	}

	byBody := func(body string) Notice {
		return waitFor(t, ae, 5*time.Second, func(e NoticeReceived) bool { return e.Body == body }).Notice
	}
	for _, tc := range []struct {
		body, from, subject string
		headline            bool
		sender              NoticeSender
	}{
		{"今晚 22:00 系统维护，请提前保存工作。", domain, "系统维护", true, NoticeFromServer}, // mod_announce sends headlines
		{"您有 3 条报销单待审批：" + link, domain, "审批提醒", false, NoticeFromServer},
		{"全员通知：明天放假", "broadcast." + domain, "", false, NoticeFromServer},
		{"周会改到下午三点", oaJID, "会议变更", false, NoticeFromNotifier},
	} {
		n := byBody(tc.body)
		if n.From.Bare().String() != tc.from || n.Subject != tc.subject || n.Headline != tc.headline || n.Delayed || n.Read ||
			n.Seq == 0 || n.Sender != tc.sender {
			t.Errorf("notice %q: %+v", tc.body, n)
		}
	}
	// The colleague's normal messages and his headline are chats, in the
	// chat history.
	waitFor(t, ae, 5*time.Second, func(e MessageReceived) bool { return e.Body == "提醒\n服务器重启了" })
	waitConversation(t, "alice", db, bob.Account().String(), []string{"<有空吗？", "<no type at all", "<提醒\n服务器重启了"})

	// The notifier's repeat (same id and body) is stored and reported once.
	mark := ae.mark()
	if _, err := bob.SendMessage(ctx, alice.Account(), "marker"); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, ae, mark, 5*time.Second, func(e MessageReceived) bool { return e.Body == "marker" })
	alice.store.barrier()
	if n := countNotices(ae); n != 4 {
		t.Fatalf("%d NoticeReceived events, want 4", n)
	}
	stored, err := alice.Notices(0, false)
	if err != nil || len(stored) != 4 {
		t.Fatalf("stored notices: %d, %v", len(stored), err)
	}
	if unread, _ := alice.UnreadNotices(); unread != 4 {
		t.Fatalf("unread %d, want 4", unread)
	}
	for _, n := range stored {
		if n.Read || n.Seq == 0 || n.Time.IsZero() || n.Sender == NoticeUnverified {
			t.Fatalf("stored notice %+v", n)
		}
	}
	if convs, _ := db.Conversations(0); len(convs) != 1 {
		t.Fatalf("conversations %+v: a notice went into the chat history", convs)
	}

	// Read: one, then everything up to the newest seen.
	if err := alice.MarkNoticeRead(stored[0].Seq); err != nil {
		t.Fatal(err)
	}
	if unread, _ := alice.Notices(0, true); len(unread) != 3 {
		t.Fatalf("%d unread after reading one, want 3", len(unread))
	}
	newest := int64(0)
	for _, n := range stored {
		newest = max(newest, n.Seq)
	}
	if err := alice.MarkNoticesRead(newest); err != nil {
		t.Fatal(err)
	}
	if unread, _ := alice.UnreadNotices(); unread != 0 {
		t.Fatalf("unread %d after marking all read", unread)
	}

	// Without the notifier among the notice senders, its message is a chat.
	if err := alice.SetNoticeSenders(); err != nil {
		t.Fatal(err)
	}
	if _, err := oa.Send(ctx, OutgoingMessage{To: alice.Account(), Body: "我是机器人", Type: stanza.NormalMessage}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ae, 5*time.Second, func(e MessageReceived) bool { return e.Body == "我是机器人" })
	// Its notice in the inbox is no longer vouched for.
	stored, _ = alice.Notices(0, false)
	for _, n := range stored {
		if want := map[bool]NoticeSender{true: NoticeUnverified, false: NoticeFromServer}[n.From.Bare().String() == oaJID]; n.Sender != want {
			t.Errorf("after the notifier accounts changed, notice from %s: %v, want %v", n.From, n.Sender, want)
		}
	}
}

// TestDelayedNotices, against Prosody: notices sent while the user is
// offline (normal messages from the server and from a notifier account;
// Prosody's offline storage keeps normal messages but drops headlines)
// are delivered at sign-in, marked Delayed with the time they were sent,
// stored once, and never taken into the chat history from the archive.
// A notice after the sign-in is not Delayed.
func TestDelayedNotices(t *testing.T) {
	srv := noticeServer(t)
	domain := srv.Domain
	oaJID := "oa-notify@" + domain
	admin, _ := online(t, srv, "admin")
	oa, _ := online(t, srv, "oa-notify")
	srv.AddUser(t, "dave", "dave-pw")
	dave := jid.MustParse("dave@" + domain)
	ctx := ctxT(t)

	before := time.Now().Add(-time.Second)
	const fromServer, fromOA = 3, 2
	for i := range fromServer {
		sendNotice(t, admin, "dave@notify."+domain, "normal", fmt.Sprintf("s%d", i), "审批提醒", fmt.Sprintf("第 %d 条待审批", i+1))
	}
	sendNotice(t, admin, "dave@notify."+domain, "headline", "h", "", "a headline is not kept offline")
	for i := range fromOA {
		if _, err := oa.Send(ctx, OutgoingMessage{To: dave, Subject: "会议变更", Body: fmt.Sprintf("会议 %d 改期", i+1), Type: stanza.NormalMessage}); err != nil {
			t.Fatal(err)
		}
	}
	// The server has them all once the notifier's ping comes back.
	if err := admin.Ping(ctx, jid.MustParse(domain)); err != nil {
		t.Fatal(err)
	}
	if err := oa.Ping(ctx, jid.MustParse(domain)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a margin for the offline store's write

	db := openStore(t)
	client, de := onlineAs(t, srv, "dave", WithStore(db), WithNoticeSenders(oaJID))
	deadline := time.Now().Add(10 * time.Second)
	for countNotices(de) < fromServer+fromOA && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, de, 10*time.Second, func(e HistorySynced) bool { return true })
	client.store.barrier()
	de.mu.Lock()
	var got []Notice
	for _, e := range de.events {
		if n, ok := e.(NoticeReceived); ok {
			got = append(got, n.Notice)
		}
	}
	de.mu.Unlock()
	if len(got) != fromServer+fromOA {
		t.Fatalf("%d notices at sign-in, want %d: %+v", len(got), fromServer+fromOA, got)
	}
	for _, n := range got {
		from := n.From.Bare().String()
		if !n.Delayed || n.Time.Before(before) || n.Time.After(time.Now()) || (from != domain && from != oaJID) {
			t.Errorf("delayed notice %+v", n)
		}
	}
	stored, err := client.Notices(100, true)
	if err != nil || len(stored) != fromServer+fromOA {
		t.Fatalf("%d unread notices stored, want %d (%v)", len(stored), fromServer+fromOA, err)
	}
	// The archive holds the notifier's messages too; they stay out of the
	// chat history.
	if convs, _ := db.Conversations(0); len(convs) != 0 {
		t.Fatalf("conversations %+v after sign-in: notices went into the chat history", convs)
	}

	mark := de.mark()
	sendNotice(t, admin, "dave@notify."+domain, "normal", "live", "", "现在的通知")
	n := waitFrom(t, de, mark, 5*time.Second, func(e NoticeReceived) bool { return e.Body == "现在的通知" })
	if n.Delayed {
		t.Fatalf("a live notice marked delayed: %+v", n.Notice)
	}

	// Signing in again delivers nothing twice.
	client.Close()
	_, again := onlineAs(t, srv, "dave", WithStore(db), WithNoticeSenders(oaJID))
	waitFor(t, again, 10*time.Second, func(e HistorySynced) bool { return true })
	if n := countNotices(again); n != 0 {
		t.Fatalf("%d notices reported again at the second sign-in", n)
	}
	if all, _ := db.Notices(100); len(all) != fromServer+fromOA+1 {
		t.Fatalf("%d notices stored, want %d", len(all), fromServer+fromOA+1)
	}
}

// TestHeadlineFromAccountIsChat, against Prosody: an ordinary account
// (mallory, a colleague's account or a stranger's) sends raw headlines
// dressed as the OA system's: "Approve payment" with a link, and one with
// a subject alone. Neither is a notice: each is a chat message from
// mallory, in mallory's conversation, the subject its first line; the
// inbox stays empty. Headlines from the server (mod_announce and the
// notify component), from broadcast.DOMAIN and from the notifier account
// are notices, each marked with why its sender may send them. A notice an
// older version kept from mallory is shown as unverified.
func TestHeadlineFromAccountIsChat(t *testing.T) {
	srv := noticeServer(t)
	domain := srv.Domain
	oaJID := "oa-notify@" + domain
	db := openStore(t)
	admin, _ := online(t, srv, "admin")
	oa, _ := online(t, srv, "oa-notify")
	mallory, _ := online(t, srv, "mallory")
	alice, ae := online(t, srv, "alice", WithStore(db), WithNoticeSenders(oaJID))
	ctx := ctxT(t)
	to := alice.Account().String()

	for _, raw := range []string{
		`<message to='` + to + `' type='headline' id='evil1'><subject>Approve payment</subject>` +
			`<body>Transfer 50,000 CNY now: https://pay.evil.example/approve</body></message>`,
		`<message to='` + to + `' type='headline' id='evil2'><subject>审批提醒：请立即付款</subject></message>`,
	} {
		if err := mallory.sendRaw(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"Approve payment\nTransfer 50,000 CNY now: https://pay.evil.example/approve", "审批提醒：请立即付款"} {
		got := waitFor(t, ae, 5*time.Second, func(e MessageReceived) bool { return e.Body == want })
		if !got.From.Bare().Equal(mallory.Account()) || !got.Peer().Equal(mallory.Account()) || got.Outgoing || got.Seq == 0 {
			t.Fatalf("mallory's headline as a chat: %+v", got.Message)
		}
	}
	waitConversation(t, "alice", db, mallory.Account().String(), []string{
		"<Approve payment\nTransfer 50,000 CNY now: https://pay.evil.example/approve", "<审批提醒：请立即付款"})

	// The company's headlines are notices.
	sendNotice(t, admin, "alice@notify."+domain, "headline", "s1", "审批提醒", "from the server")
	sendNotice(t, admin, "alice@broadcast."+domain, "headline", "b1", "", "from broadcast")
	if _, err := admin.Send(ctx, OutgoingMessage{To: jid.MustParse(domain + "/announce/online"), Type: stanza.NormalMessage,
		Subject: "系统维护", Body: "announced"}); err != nil {
		t.Fatal(err)
	}
	if err := oa.sendRaw(ctx, `<message to='`+to+`' type='headline' id='oa1'><subject>Approve payment</subject><body>from the notifier</body></message>`); err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string]struct {
		from   string
		sender NoticeSender
	}{
		"from the server": {domain, NoticeFromServer}, "from broadcast": {"broadcast." + domain, NoticeFromServer},
		"announced": {domain, NoticeFromServer}, "from the notifier": {oaJID, NoticeFromNotifier},
	} {
		n := waitFor(t, ae, 5*time.Second, func(e NoticeReceived) bool { return e.Body == body })
		if n.From.Bare().String() != want.from || n.Sender != want.sender || !n.Headline {
			t.Errorf("notice %q: %+v", body, n.Notice)
		}
	}
	alice.store.barrier()
	if n := countNotices(ae); n != 4 {
		t.Fatalf("%d notices, want the company's 4: mallory's headline became one", n)
	}
	stored, err := alice.Notices(0, false)
	if err != nil || len(stored) != 4 {
		t.Fatalf("inbox: %d notices, %v", len(stored), err)
	}
	for _, n := range stored {
		if n.From.Bare().Equal(mallory.Account()) {
			t.Fatalf("mallory's headline in the inbox: %+v", n)
		}
	}

	// A notice an older version took from mallory is shown as unverified.
	if _, _, err := db.AddNotice(store.Notice{From: mallory.Account().String() + "/x", ID: "old", Subject: "Approve payment", Body: "old"}); err != nil {
		t.Fatal(err)
	}
	stored, _ = alice.Notices(0, false)
	for _, n := range stored {
		if n.ID == "old" && n.Sender != NoticeUnverified {
			t.Fatalf("an old notice from mallory: %+v", n)
		}
	}
}
