package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
)

// TestGUINotices runs the real binary under Xvfb with a real keyring, a
// private session bus and Prosody, and watches the bus for desktop
// notifications (dbus-monitor): 12 notices the server kept while the user
// was away raise one summary at sign-in; an announcement from the server
// (mod_announce) raises one notification, marked as the server's and
// naming its address; a headline from the notifier account that
// provisioning names raises one marked as the OA's, naming its address;
// mallory's headline dressed as an approval request raises a chat
// message's notification under her name, without the mark, and is no
// notice. After the user picks "do not disturb" (in the tray menu, over
// D-Bus as a tray host would) notices raise none, yet the tray counts them
// unread. The tray's Notices entry opens the inbox. MAGPIE_SCREENSHOTS=DIR
// keeps the screenshots.
func TestGUINotices(t *testing.T) {
	g, ok := newGUITest(t, "gui-notices.log")
	if !ok {
		return
	}
	opts, err := prosodytest.NoticeOptions(prosodytest.Options{}, "admin", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := prosodytest.Start(t, opts)
	alice := srv.AddUser(t, "alice", "alice-pw")
	adminJID := srv.AddUser(t, "admin", "admin-pw")
	oaJID := srv.AddUser(t, "oa-notify", "oa-pw")
	malloryJID := srv.AddUser(t, "mallory", "mallory-pw")
	// IT provisions the OA system's account as a notifier.
	provisioning := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "magpie", "provisioning.toml")
	if err := os.MkdirAll(filepath.Dir(provisioning), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(provisioning, []byte("[notices]\nsenders = [\""+oaJID+"\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	admin := signIn(t, ctx, srv, adminJID, "admin-pw")
	go func() {
		for range admin.Events() {
		}
	}()
	defer admin.Close()
	oa := signIn(t, ctx, srv, oaJID, "oa-pw")
	mallory := signIn(t, ctx, srv, malloryJID, "mallory-pw")
	for _, c := range []*xmpp.Client{oa, mallory} {
		go func() {
			for range c.Events() {
			}
		}()
		defer c.Close()
	}
	headline := func(from *xmpp.Client, subject, body string) {
		t.Helper()
		if _, err := from.Send(ctx, xmpp.OutgoingMessage{To: jid.MustParse(alice), Type: stanza.HeadlineMessage, Subject: subject, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	announce := func(subject, body string) {
		t.Helper()
		if _, err := admin.Send(ctx, xmpp.OutgoingMessage{To: jid.MustParse(srv.Domain + "/announce/online"),
			Type: stanza.HeadlineMessage, Subject: subject, Body: body}); err != nil {
			t.Fatal(err)
		}
	}

	// While alice is away, the OA system has the server send her 12
	// approval reminders (offline storage keeps them).
	for i := range 12 {
		if _, err := admin.Send(ctx, xmpp.OutgoingMessage{To: jid.MustParse("alice@notify." + srv.Domain), Type: stanza.NormalMessage,
			Subject: "审批提醒", Body: fmt.Sprintf("第 %d 张报销单待您审批：https://oa.example/approve/%d", i+1, 100+i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.Ping(ctx, jid.MustParse(srv.Domain)); err != nil {
		t.Fatal(err)
	}

	g.login(t, srv, alice, "alice-pw")
	notified := watchNotify(t)
	gui := g.start(t)

	// One summary for the twelve, once the sign-in burst is over.
	select {
	case call := <-notified:
		if !strings.Contains(call, `string "✔ 通知"`) || !strings.Contains(call, "你离开期间收到 12 条通知") {
			g.fail(t, "notices-failed.png", "the first notification is not the summary:\n%s", call)
		}
	case <-time.After(30 * time.Second):
		g.fail(t, "notices-failed.png", "no summary of the 12 notices reached org.freedesktop.Notifications")
	}
	expectNoNotify(t, notified, 3*time.Second, "after the summary")
	waitTray(t, "未读消息：12", "通知（12）")
	screenshot(t, g.display, filepath.Join(g.shots, "notices-summary.png"))

	// A live announcement: one notification, marked as the server's, with
	// its subject, the server's address and the text.
	expectNotify := func(what string, want ...string) {
		t.Helper()
		select {
		case call := <-notified:
			for _, w := range want {
				if !strings.Contains(call, w) {
					g.fail(t, "notices-failed.png", "%s: no %q in the notification:\n%s", what, w, call)
				}
			}
			if what == "mallory's headline" && strings.ContainsAny(call, checkLike) {
				g.fail(t, "notices-failed.png", "%s wears the notices' check mark:\n%s", what, call)
			}
		case <-time.After(10 * time.Second):
			g.fail(t, "notices-failed.png", "no notification for %s", what)
		}
		expectNoNotify(t, notified, time.Second, "after "+what)
	}
	announce("系统维护", "今晚 22:00 系统维护，请提前保存工作。")
	expectNotify("the announcement", `string "✔ 服务器 · 系统维护"`, `string "`+srv.Domain+`：今晚 22:00 系统维护`)
	// The provisioned notifier's headline: marked as the OA's.
	headline(oa, "审批提醒", "您有 1 张报销单待审批")
	expectNotify("the notifier's headline", `string "✔ OA · 审批提醒"`, `string "`+oaJID+`：您有 1 张报销单待审批"`)
	// Mallory's headline: her chat message, under her name, unmarked.
	headline(mallory, "Approve payment", "✔ OA: transfer 50,000 CNY https://pay.evil.example")
	expectNotify("mallory's headline", `string "mallory"`, "Approve payment OA: transfer 50,000 CNY")
	waitTray(t, "未读消息：15", "通知（14）")
	screenshot(t, g.display, filepath.Join(g.shots, "notices-marked.png"))

	// Do not disturb, chosen in the tray: no notifications, unread counts on.
	trayClick(t, "请勿打扰")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, ticked := trayMenu(t); ticked["请勿打扰"] {
			break // the window's status is set: the tray follows it
		}
		if time.Now().After(deadline) {
			g.fail(t, "notices-failed.png", "the tray does not tick 请勿打扰 after choosing it")
		}
	}
	announce("午餐", "今天食堂有饺子")
	announce("提醒", "下午三点消防演练")
	waitTray(t, "未读消息：17", "通知（16）")
	expectNoNotify(t, notified, 3*time.Second, "in do-not-disturb")

	// The tray's entry opens the inbox.
	trayClick(t, "通知（16）")
	time.Sleep(1500 * time.Millisecond)
	screenshot(t, g.display, filepath.Join(g.shots, "notices-inbox.png"))
	if gui.ProcessState != nil {
		t.Fatalf("the app exited: %v", gui.ProcessState)
	}
}

// expectNoNotify fails if a notification arrives within d.
func expectNoNotify(t *testing.T, calls <-chan string, d time.Duration, when string) {
	t.Helper()
	select {
	case call := <-calls:
		t.Fatalf("an unexpected notification %s:\n%s", when, call)
	case <-time.After(d):
	}
}
