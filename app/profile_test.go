package app

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"image"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
)

// profileFixture is a signed-in controller whose background work runs when
// the test flushes its queue.
type profileFixture struct {
	c *controller
	q *workQueue
}

func newProfileFixture(t *testing.T, client *xmpp.Client) *profileFixture {
	t.Helper()
	c := testController(t)
	f := &profileFixture{c: c, q: &workQueue{}}
	c.account = xmpp.AccountConfig{JID: client.Account().String()}
	c.client = client
	c.avatars = newAvatarCache(client, f.q.run)
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	c.chats.run = f.q.run
	c.main.win.Resize(fyne.NewSize(480, 720))
	t.Cleanup(func() { c.chats.close(); c.main.close() })
	return f
}

// TestProfileCardLayout: a card shows every field of a profile, the
// address always, and leaves out what is empty.
func TestProfileCardLayout(t *testing.T) {
	client, err := xmpp.New(me.String(), xmpp.WithPassword(func(context.Context) (string, error) { return "pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	f := newProfileFixture(t, client)
	card := f.c.showProfile(bob, f.c.main.win)
	text := dialogTexts(f.c.main.win)
	if !strings.Contains(text, "Loading…") || !strings.Contains(text, "bob@oa.example") || !strings.Contains(text, "[Add to contacts]") {
		t.Fatalf("card before the profile arrives:\n%s", text)
	}
	card.fill(xmpp.Profile{JID: bob, FullName: "鲍勃 Bob", Nickname: "老鲍", Unit: "研发部", Title: "工程师",
		Org: "示例公司", Phone: "+86 10 1234 5678", Email: "bob@oa.example"})
	text = dialogTexts(f.c.main.win)
	for _, want := range []string{"鲍勃 Bob", "鲍勃 Bob\n老鲍\n", "Department\n研发部", "Title\n工程师", "Organisation\n示例公司",
		"Phone\n+86 10 1234 5678", "Email\nbob@oa.example", "Address\nbob@oa.example", "[Message]"} {
		if !strings.Contains(text, want) {
			t.Errorf("card lacks %q:\n%s", want, text)
		}
	}
	if got := card.avatar.initials.Text; got != "鲍勃" {
		t.Errorf("placeholder initials %q", got)
	}
	card.fill(xmpp.Profile{JID: bob})
	if text = dialogTexts(f.c.main.win); strings.Contains(text, "Department") || !strings.Contains(text, "Address\nbob@oa.example") {
		t.Errorf("empty profile:\n%s", text)
	}
	// Offline, the card says so in itself.
	f.q.flush()
	if text = dialogTexts(f.c.main.win); !strings.Contains(text, "Not connected: the profile cannot be loaded now.") {
		t.Errorf("no error in the card:\n%s", text)
	}
}

// TestChatHeaderOpensProfile: the chat's header shows the peer's avatar,
// and a tap on it opens their card.
func TestChatHeaderOpensProfile(t *testing.T) {
	client, err := xmpp.New(me.String(), xmpp.WithPassword(func(context.Context) (string, error) { return "pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	f := newProfileFixture(t, client)
	f.c.openChat(bob)
	tab := f.c.chats.chats[bob.String()]
	if tab.view.avatar.key != bob.String() || tab.view.avatar.initials.Text != "B" {
		t.Fatalf("header avatar bound to %q showing %q", tab.view.avatar.key, tab.view.avatar.initials.Text)
	}
	var header *tapArea
	for _, o := range test.LaidOutObjects(tab.view.Object()) {
		if ta, ok := o.(*tapArea); ok {
			header = ta
		}
	}
	if header == nil {
		t.Fatal("no tappable header")
	}
	test.Tap(header)
	if text := dialogTexts(f.c.chats.win); !strings.Contains(text, "Address\nbob@oa.example") {
		t.Fatalf("no profile card over the chat:\n%s", text)
	}
}

// vcardServer is Prosody with mod_vcard, which keeps vcard-temp as sent
// (department included), as Openfire does.
func vcardServer(t *testing.T) *prosodytest.Server {
	return prosodytest.Start(t, prosodytest.Options{Modules: []string{"vcard"},
		ExtraConfig: `modules_disabled = { "http", "bosh", "websocket", "vcard_legacy" }`})
}

func connectTo(t *testing.T, srv *prosodytest.Server, user string) *xmpp.Client {
	t.Helper()
	account := srv.AddUser(t, user, user+"-pw")
	c, err := xmpp.New(account, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return user + "-pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestProfileCardFromServer: bob publishes his profile on a real server;
// alice's card for him shows it, photo included, offers to add him, and
// opens a chat; opened again it shows the profile before the server answers.
func TestProfileCardFromServer(t *testing.T) {
	srv := vcardServer(t)
	alice, bobClient := connectTo(t, srv, "alice"), connectTo(t, srv, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bobs := xmpp.Profile{FullName: "鲍勃 Bob", Nickname: "老鲍", Org: "示例公司", Unit: "研发部", Title: "工程师",
		Phone: "+86 10 1234 5678", Email: "bob@oa.example", Photo: testPNG(t, 300, 300, false), PhotoType: "image/png"}
	if err := bobClient.SetProfile(ctx, bobs); err != nil {
		t.Fatal(err)
	}
	peer := bobClient.Account()
	f := newProfileFixture(t, alice)
	card := f.c.showProfile(peer, f.c.main.win)
	f.q.flush()
	text := dialogTexts(f.c.main.win)
	for _, want := range []string{"鲍勃 Bob", "鲍勃 Bob\n老鲍\n", "Department\n研发部", "Title\n工程师", "Organisation\n示例公司",
		"Phone\n+86 10 1234 5678", "Email\nbob@oa.example", "Address\n" + peer.String(), "[Add to contacts]", "[Message]"} {
		if !strings.Contains(text, want) {
			t.Errorf("card lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Loading…") {
		t.Errorf("still loading:\n%s", text)
	}
	if card.avatar.large == nil || f.c.avatars.image(peer.String()) == nil {
		t.Error("the photo is not shown, or not handed to the contacts list")
	}

	test.Tap(findButton(f.c.main.win.Canvas().Overlays().Top(), "Message"))
	if _, ok := f.c.chats.chats[peer.String()]; !ok || f.c.main.win.Canvas().Overlays().Top() != nil {
		t.Fatal("Message did not open the chat and close the card")
	}

	// Opened again: what was fetched shows at once.
	f.c.showProfile(peer, f.c.main.win)
	if text := dialogTexts(f.c.main.win); !strings.Contains(text, "Department\n研发部") {
		t.Fatalf("the card opened again does not show the known profile at once:\n%s", text)
	}
	test.Tap(findButton(f.c.main.win.Canvas().Overlays().Top(), "Add to contacts"))
	f.q.flush()
	if _, ok := alice.Contact(peer); !ok {
		t.Fatal("Add to contacts did not add bob")
	}
	if text := dialogTexts(f.c.main.win); strings.Contains(text, "[Add to contacts]") || !strings.Contains(text, "Added.") {
		t.Fatalf("after adding:\n%s", text)
	}
}

// TestOwnProfileEditor: alice edits her profile and picks a large PNG;
// it is cut square and scaled down to 256 pixels before upload, bob sees
// the new profile, the own avatar shows it, and removing the photo keeps
// the rest.
func TestOwnProfileEditor(t *testing.T) {
	srv := vcardServer(t)
	alice, bobClient := connectTo(t, srv, "alice"), connectTo(t, srv, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := alice.SetProfile(ctx, xmpp.Profile{FullName: "Alice", Org: "示例公司", Title: "Engineer"}); err != nil {
		t.Fatal(err)
	}
	f := newProfileFixture(t, alice)
	f.c.main.editProfile()
	e := f.c.main.editor
	if !e.fullName.Disabled() || !e.save.Disabled() {
		t.Fatal("the editor can be used before the profile is loaded")
	}
	f.q.flush()
	if e.fullName.Text != "Alice" || e.title.Text != "Engineer" || e.save.Disabled() {
		t.Fatalf("editor after loading: name %q title %q", e.fullName.Text, e.title.Text)
	}
	e.fullName.SetText("Alice 爱丽丝")
	e.unit.SetText("研发部")
	large := testPNG(t, 2000, 1500, false)
	e.usePhotoFrom(io.NopCloser(bytes.NewReader(large)))
	f.q.flush()
	if len(e.photo) == 0 || len(e.photo) >= len(large) || e.avatar.large == nil {
		t.Fatalf("photo not prepared: %d bytes", len(e.photo))
	}
	test.Tap(e.save)
	f.q.flush()
	if f.c.main.editor != nil || !e.closed {
		t.Fatalf("the editor stays open: %q", e.state.Text)
	}
	got, err := bobClient.FetchProfile(ctx, alice.Account())
	if err != nil {
		t.Fatal(err)
	}
	if got.FullName != "Alice 爱丽丝" || got.Unit != "研发部" || got.Org != "示例公司" || got.Title != "Engineer" {
		got.Photo = nil
		t.Fatalf("profile as bob sees it: %+v", got)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(got.Photo))
	if err != nil || cfg.Width != ownPhotoMax || cfg.Height != ownPhotoMax || format != "jpeg" || got.PhotoType != "image/jpeg" {
		t.Fatalf("uploaded photo: %dx%d %s (%s), %v", cfg.Width, cfg.Height, format, got.PhotoType, err)
	}
	if f.c.main.avatar.img == nil {
		t.Error("the own avatar at the top does not show the new photo")
	}
	// The new photo went out through PEP (XEP-0084) too, although the name
	// changed with it: the server tells alice's own client of it.
	sum := sha1.Sum(got.Photo)
	want := hex.EncodeToString(sum[:])
	for deadline := time.After(10 * time.Second); ; {
		var e xmpp.Event
		select {
		case e = <-alice.Events():
		case <-deadline:
			t.Fatalf("no PEP avatar %s announced for the new photo", want)
		}
		if a, ok := e.(xmpp.AvatarChanged); ok && a.JID.Equal(alice.Account()) && a.Hash == want {
			break
		}
	}

	// Removing only the photo keeps the rest (SetAvatar).
	f.c.main.editProfile()
	e = f.c.main.editor
	f.q.flush()
	if e.remove.Disabled() {
		t.Fatal("Remove photo is disabled with a photo")
	}
	test.Tap(e.remove)
	test.Tap(e.save)
	f.q.flush()
	got, err = bobClient.FetchProfile(ctx, alice.Account())
	if err != nil || len(got.Photo) != 0 || got.FullName != "Alice 爱丽丝" {
		t.Fatalf("after removing the photo: %q with %d bytes of photo, %v", got.FullName, len(got.Photo), err)
	}
	if f.c.main.avatar.img != nil {
		t.Error("the own avatar still shows the removed photo")
	}
}

// TestEditorRefusesGarbage: a file that is not a picture is reported in
// the editor, which stays usable.
func TestEditorRefusesGarbage(t *testing.T) {
	client, err := xmpp.New(me.String(), xmpp.WithPassword(func(context.Context) (string, error) { return "pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	f := newProfileFixture(t, client)
	f.c.main.editProfile()
	e := f.c.main.editor
	f.q.flush() // offline: the load fails, and says so
	if !strings.Contains(e.state.Text, "Not connected") || !e.save.Disabled() {
		t.Fatalf("offline editor: %q, save enabled %v", e.state.Text, !e.save.Disabled())
	}
	e.usePhotoFrom(io.NopCloser(strings.NewReader("not a picture")))
	f.q.flush()
	if !strings.Contains(e.state.Text, "This picture cannot be used") || e.photoChanged {
		t.Fatalf("garbage photo: %q", e.state.Text)
	}
}

// TestMailtoLink: a vCard's e-mail becomes a mailto: link only when it is
// one plain address; anything that would make the mail program do more
// (more recipients, a subject or body, headers) is shown as text only.
func TestMailtoLink(t *testing.T) {
	for i, tc := range []struct {
		email, want string // want "": no link
	}{
		{"zhangsan@oa.example.com", "mailto:zhangsan@oa.example.com"},
		{"li.si+approvals@oa.example.com", "mailto:li.si+approvals@oa.example.com"},
		{"o'brien@example.ie", "mailto:o'brien@example.ie"},
		{"张三@公司.中国", "mailto:张三@公司.中国"},
		{"", ""},
		{"zhangsan", ""},
		{"zhangsan@", ""},
		{"@oa.example.com", ""},
		{"boss@oa.example.com?cc=all@oa.example.com", ""},
		{"boss@oa.example.com?subject=Approve&body=Yes", ""},
		{"a?body=Pay%20now@oa.example.com", ""},
		{"a&b=c@oa.example.com", ""},
		{"one@oa.example.com,two@oa.example.com", ""},
		{"one@oa.example.com; two@oa.example.com", ""},
		{"Zhang San <zhangsan@oa.example.com>", ""},
		{"<zhangsan@oa.example.com>", ""},
		{"\"a b\"@oa.example.com", ""},
		{"zhangsan@oa.example.com\r\nBcc: x@evil.example", ""},
		{"zhangsan@oa.example.com#x", ""},
		{"javascript:alert(1)//@oa.example.com", ""},
		{"user@[127.0.0.1]", ""},
		{"zhangsan@oa.example.com (work)", ""},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			got := ""
			if u := mailtoURL(tc.email); u != nil {
				got = u.String()
			}
			if got != tc.want {
				t.Fatalf("mailtoURL(%q) = %q, want %q", tc.email, got, tc.want)
			}
		})
	}
}
