package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// linkFixture is a signed-in controller (not connected) whose debug log
// goes to log.
func linkFixture(t *testing.T) (*controller, *bytes.Buffer) {
	t.Helper()
	c := testController(t)
	client, err := xmpp.New(me.String(), xmpp.WithPassword(func(context.Context) (string, error) { return "pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	c.account = xmpp.AccountConfig{JID: me.String()}
	c.client = client
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	c.chats.run = (&workQueue{}).run
	var log bytes.Buffer
	c.log = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() { c.chats.close(); c.main.close() })
	return c, &log
}

// TestLinkPrefillsDraft: a message link opens the chat, focused, with the
// body in the entry and the caret after it, and sends nothing.
func TestLinkPrefillsDraft(t *testing.T) {
	c, log := linkFixture(t)
	c.openArgs([]string{"xmpp:bob@oa.example?message;body=%E4%BD%A0%E5%A5%BD%EF%BC%8CBob"})
	tab, ok := c.chats.chats[bob.String()]
	if !ok {
		t.Fatalf("no chat with bob; chats: %v", c.chats.chats)
	}
	v := tab.view
	if got := v.Draft(); got != "你好，Bob" {
		t.Fatalf("draft %q", got)
	}
	if !c.chats.visible || c.chats.tabs.Selected() != tab.item {
		t.Fatal("the chat is not shown")
	}
	if c.chats.win.Canvas().Focused() != v.entry {
		t.Fatal("the entry does not have the focus")
	}
	if v.send.Disabled() {
		t.Fatal("Send is disabled with a draft in the entry")
	}
	if len(v.msgs) != 0 {
		t.Fatalf("a link sent a message: %+v", v.msgs)
	}
	if !strings.Contains(log.String(), `msg="xmpp link opened chat" to=bob@oa.example action=message draft=你好，Bob`) {
		t.Fatalf("debug log:\n%s", log)
	}
	// The caret is at the end: typing goes after the text.
	test.Type(v.entry, "!")
	if got := v.Draft(); got != "你好，Bob!" {
		t.Fatalf("after typing: %q", got)
	}
	// A second link to the same chat never changes what the user has
	// typed: the draft stays as it is, and a dialog over the chat shows
	// the link's text.
	c.openArgs([]string{"xmpp:bob@oa.example?message;body=Second%20%E7%AC%AC%E4%BA%8C"})
	if got := v.Draft(); got != "你好，Bob!" {
		t.Fatalf("after a second link the draft is %q", got)
	}
	text := dialogTexts(c.chats.win)
	for _, want := range []string{"Your draft was kept", "the text of the link was not put in", "Second 第二", "[Close]"} {
		if !strings.Contains(text, want) {
			t.Errorf("the dialog over the chat lacks %q:\n%s", want, text)
		}
	}
	test.Tap(findButton(c.chats.win.Canvas().Overlays().Top(), "Close"))
	if len(c.chats.chats) != 1 {
		t.Fatalf("%d chats open", len(c.chats.chats))
	}
	// Spaces alone are no draft: the link's text goes in.
	v.entry.SetText("  ")
	c.openArgs([]string{"xmpp:bob@oa.example?message;body=Third"})
	if got := v.Draft(); got != "Third" {
		t.Fatalf("over spaces: %q", got)
	}
	if text := dialogTexts(c.chats.win); text != "" {
		t.Fatalf("a dialog over the chat: %q", text)
	}
	// An IRI with a Chinese user name, and a link without a body, open
	// their chats too; the second with an empty entry.
	c.openArgs([]string{"xmpp:张三@oa.example?message;body=明天见", "xmpp:carol@oa.example"})
	if tab := c.chats.chats["张三@oa.example"]; tab == nil || tab.view.Draft() != "明天见" {
		t.Fatalf("chat with 张三: %+v", tab)
	}
	if tab := c.chats.chats[carol.String()]; tab == nil || tab.view.Draft() != "" || c.chats.tabs.Selected() != tab.item {
		t.Fatal("the chat with carol is not the one shown")
	}
	if text := dialogTexts(c.main.win); text != "" {
		t.Fatalf("a dialog over the contacts window: %q", text)
	}
}

// TestLinkBeforeSignIn: a link that comes while signed out waits, with the
// login window forward, and is applied at sign-in.
func TestLinkBeforeSignIn(t *testing.T) {
	c := testController(t)
	c.newIdleSource = nil
	c.toUI = func(func()) {} // the pump's work is not what this test is about
	c.showLogin(xmpp.AccountConfig{JID: me.String()}, "")
	c.openArgs([]string{"xmpp:bob@oa.example?message;body=%E4%BD%A0%E5%A5%BD"})
	if len(c.pendingLinks) != 1 || c.chats != nil {
		t.Fatalf("pending %v, chats %v", c.pendingLinks, c.chats)
	}
	client, err := xmpp.New(me.String(), xmpp.WithPassword(func(context.Context) (string, error) { return "pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c.signedIn(client, nil, xmpp.AccountConfig{JID: me.String()}, nil)
	t.Cleanup(func() { c.chats.close(); c.main.close() })
	tab := c.chats.chats[bob.String()]
	if tab == nil || tab.view.Draft() != "你好" || !c.chats.visible {
		t.Fatalf("after sign-in: chat %+v", tab)
	}
	if len(c.pendingLinks) != 0 {
		t.Fatalf("still pending: %v", c.pendingLinks)
	}
}

// TestLinkOffersContact: ?roster and ?subscribe open the add-contact form,
// filled in from the link; nothing is added before the user says so.
func TestLinkOffersContact(t *testing.T) {
	for name, tc := range map[string]struct {
		link string
		want []string
	}{
		"roster": {"xmpp:carol@oa.example?roster;name=Carol%20%E5%8D%A1%E7%BD%97;group=%E7%A0%94%E5%8F%91%E9%83%A8",
			[]string{"Add contact", "carol@oa.example", "Carol 卡罗", "研发部", "[Add]"}},
		"subscribe": {"xmpp:lisi@oa.example?subscribe", []string{"Add contact", "lisi@oa.example", "[Add]"}},
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := linkFixture(t)
			c.openArgs([]string{tc.link})
			text := dialogTexts(c.main.win)
			for _, want := range tc.want {
				if !strings.Contains(text, want) {
					t.Errorf("the form does not show %q:\n%s", want, text)
				}
			}
			if len(c.chats.chats) != 0 {
				t.Error("a chat was opened")
			}
		})
	}
}

// TestLinkJoin: a group chat link opens the join dialog filled in from
// the link (room, the nickname from its resource, the password), and joins
// nothing by itself.
func TestLinkJoin(t *testing.T) {
	c, log := linkFixture(t)
	c.openArgs([]string{"xmpp:dev@conference.oa.example/%E5%BC%A0%E4%B8%89?join;password=secret"})
	text := dialogTexts(c.main.win)
	for _, want := range []string{"dev@conference.oa.example\n", "张三\n", "secret\n", "[Join]"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the join dialog lacks %q; it shows %q", want, text)
		}
	}
	if len(c.chats.chats) != 0 {
		t.Fatal("the link opened a room by itself")
	}
	if !strings.Contains(log.String(), "offers to join") {
		t.Fatalf("debug log:\n%s", log)
	}
}

// TestLinkProblems: a link that cannot be used says why, over the window
// in front; signed out too.
func TestLinkProblems(t *testing.T) {
	for name, tc := range map[string]struct {
		link, want string
	}{
		"invalid":       {"xmpp:bob@?message;body=hi", "Magpie cannot open the link xmpp:bob@?message;body=hi: address \"bob@\": no domain"},
		"bad encoding":  {"xmpp:bob@oa.example?message;body=%FF", "is not UTF-8 text"},
		"other account": {"xmpp://lisi@oa.example/bob@oa.example?message;body=hi", "This link is meant for the account lisi@oa.example, but you are signed in as me@oa.example."},
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := linkFixture(t)
			c.openArgs([]string{tc.link})
			if text := dialogTexts(c.main.win); !strings.Contains(text, tc.want) {
				t.Fatalf("the window shows %q, want %q", text, tc.want)
			}
			if len(c.chats.chats) != 0 {
				t.Fatal("a chat was opened")
			}
		})
	}
	t.Run("signed out", func(t *testing.T) {
		c := testController(t)
		c.showLogin(xmpp.AccountConfig{}, "")
		c.openArgs([]string{"xmpp:"})
		if text := dialogTexts(c.loginWin); !strings.Contains(text, "Cannot open the link") {
			t.Fatalf("the login window shows %q", text)
		}
		if len(c.pendingLinks) != 0 {
			t.Fatal("an invalid link was kept")
		}
	})
}

// TestLinkOffersServerAddress: a ?roster link to a server, not a user,
// fills the form in, and Add says what is wrong instead of failing.
func TestLinkOffersServerAddress(t *testing.T) {
	c, _ := linkFixture(t)
	c.openArgs([]string{"xmpp:oa.example?roster"})
	var add *widget.Button
	for _, obj := range test.LaidOutObjects(c.main.win.Canvas().Overlays().Top()) {
		if b, ok := obj.(*widget.Button); ok && b.Text == "Add" {
			add = b
		}
	}
	if add == nil {
		t.Fatalf("no Add button in %q", dialogTexts(c.main.win))
	}
	test.Tap(add)
	if text := dialogTexts(c.main.win); !strings.Contains(text, "The address oa.example is not a user's address (name@domain).") {
		t.Fatalf("after Add the window shows %q", text)
	}
}

// countingAvatars passes the avatar cache's requests to the real client
// and counts them, by JID.
type countingAvatars struct {
	*xmpp.Client
	asked map[string]int
}

func (a *countingAvatars) Avatar(ctx context.Context, who jid.JID, hash string) ([]byte, error) {
	a.asked[who.Bare().String()]++
	return a.Client.Avatar(ctx, who, hash)
}

func (a *countingAvatars) Profile(ctx context.Context, who jid.JID) (xmpp.Profile, error) {
	a.asked[who.Bare().String()]++
	return a.Client.Profile(ctx, who)
}

// TestLinkDoesNotFetchStrangers: a ?vcard or ?message link naming someone
// who is not a contact asks their server for nothing (which would tell
// whoever made the link that this account opened it) until the user acts:
// Load profile on the card, a tap on the chat's header, or a message. A
// contact's profile loads as before. Real Prosody, real profiles.
func TestLinkDoesNotFetchStrangers(t *testing.T) {
	srv := vcardServer(t)
	alice, mallory, eve, bobClient := connectTo(t, srv, "alice"), connectTo(t, srv, "mallory"), connectTo(t, srv, "eve"), connectTo(t, srv, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for cl, name := range map[*xmpp.Client]string{mallory: "Mallory 马", eve: "Eve 夏娃", bobClient: "Bob 鲍勃"} {
		if err := cl.SetProfile(ctx, xmpp.Profile{FullName: name, Photo: testPNG(t, 64, 64, false), PhotoType: "image/png"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.SetContact(ctx, bobClient.Account(), "Bob", nil); err != nil {
		t.Fatal(err)
	}
	f := newProfileFixture(t, alice)
	c := f.c
	spy := &countingAvatars{Client: alice, asked: map[string]int{}}
	c.avatars = newAvatarCache(spy, f.q.run)
	c.main.roster.setAvatars(c.avatars)
	link := func(who *xmpp.Client, query string) string { return "xmpp:" + who.Account().String() + "?" + query }

	// ?vcard of a stranger: the card, with nothing asked.
	c.openArgs([]string{link(mallory, "vcard")})
	f.q.flush()
	text := dialogTexts(c.main.win)
	if strings.Contains(text, "Mallory 马") || !strings.Contains(text, "[Load profile]") ||
		!strings.Contains(text, "Magpie asks their server for it only when you want") {
		t.Fatalf("the card of a stranger from a link:\n%s", text)
	}
	if n := spy.asked[mallory.Account().String()]; n != 0 {
		t.Fatalf("the photo of a stranger was asked for %d times on a link's word", n)
	}
	test.Tap(findButton(c.main.win.Canvas().Overlays().Top(), "Load profile"))
	f.q.flush()
	if text := dialogTexts(c.main.win); !strings.Contains(text, "Mallory 马") || strings.Contains(text, "[Load profile]") {
		t.Fatalf("after Load profile:\n%s", text)
	}
	test.Tap(findButton(c.main.win.Canvas().Overlays().Top(), "Close"))

	// ?message of a stranger: the chat, its header asking nothing, until
	// the user taps the header.
	c.openArgs([]string{link(eve, "message;body=hello")})
	f.q.flush()
	tab := c.chats.chats[eve.Account().String()]
	if tab == nil || tab.view.Draft() != "hello" {
		t.Fatalf("no chat with eve and the link's text: %+v", tab)
	}
	if n := spy.asked[eve.Account().String()]; n != 0 {
		t.Fatalf("eve's profile was asked for %d times on a link's word", n)
	}
	tab.view.onProfile()
	f.q.flush()
	if text := dialogTexts(c.chats.win); !strings.Contains(text, "Eve 夏娃") {
		t.Fatalf("the card opened from the header did not load:\n%s", text)
	}
	if n := spy.asked[eve.Account().String()]; n == 0 {
		t.Fatal("the header's photo was not fetched once the user asked")
	}

	// A contact's profile loads at once, from a link too.
	c.openArgs([]string{link(bobClient, "vcard")})
	f.q.flush()
	if text := dialogTexts(c.main.win); !strings.Contains(text, "Bob 鲍勃") || strings.Contains(text, "[Load profile]") {
		t.Fatalf("a contact's card from a link:\n%s", text)
	}
}
