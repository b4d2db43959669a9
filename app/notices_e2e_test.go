package app

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"magpie/xmpp"
	"magpie/xmpp/bustest"
	"magpie/xmpp/prosodytest"
)

// TestGUINotices runs the real binary under Xvfb with a real keyring, a
// private session bus and Prosody, and watches the bus for desktop
// notifications (dbus-monitor): 12 notices the server kept while the user
// was away raise one summary at sign-in; an announcement from the server
// (mod_announce) raises one notification; after the user picks "do not
// disturb" (in the tray menu, over D-Bus as a tray host would) notices
// raise none, yet the tray counts them unread. The tray's Notices entry
// opens the inbox. MAGPIE_SCREENSHOTS=DIR keeps the screenshots.
func TestGUINotices(t *testing.T) {
	if os.Getenv(guiBinEnv) == "" {
		bin := filepath.Join(t.TempDir(), "magpie")
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, "..")...).CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		t.Setenv(guiBinEnv, bin)
	}
	if !bustest.InPrivateSession(t, true) {
		return
	}
	bin := os.Getenv(guiBinEnv)
	display := startXvfb(t)
	shots := os.Getenv("MAGPIE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	opts, err := prosodytest.NoticeOptions(prosodytest.Options{}, "admin", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := prosodytest.Start(t, opts)
	alice := srv.AddUser(t, "alice", "alice-pw")
	adminJID := srv.AddUser(t, "admin", "admin-pw")
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	admin, err := xmpp.New(adminJID, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return "admin-pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range admin.Events() {
		}
	}()
	if err := admin.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
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

	login := exec.Command(bin, "login", "--jid", alice, "--server", srv.C2SAddr, "--trust-fingerprint", srv.Fingerprint, "--password-stdin")
	login.Stdin = strings.NewReader("alice-pw\n")
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("magpie login: %v\n%s", err, out)
	}
	notified := watchNotify(t)

	gui := exec.Command(bin)
	gui.Env = append(os.Environ(), "DISPLAY="+display, "LANG=zh_CN.UTF-8")
	guiLog, err := os.Create(filepath.Join(shots, "gui-notices.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer guiLog.Close()
	gui.Stdout, gui.Stderr = guiLog, guiLog
	if err := gui.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gui.Process.Kill(); _ = gui.Wait() })
	failed := func(format string, args ...any) {
		t.Helper()
		screenshot(t, display, filepath.Join(shots, "notices-failed.png"))
		log, _ := os.ReadFile(guiLog.Name())
		t.Fatalf(format+"\n--- app log ---\n%s", append(args, log)...)
	}

	// One summary for the twelve, once the sign-in burst is over.
	select {
	case call := <-notified:
		if !strings.Contains(call, "你离开期间收到 12 条通知") {
			failed("the first notification is not the summary:\n%s", call)
		}
	case <-time.After(30 * time.Second):
		failed("no summary of the 12 notices reached org.freedesktop.Notifications")
	}
	expectNoNotify(t, notified, 3*time.Second, "after the summary")
	waitTray(t, "未读消息：12", "通知（12）")
	screenshot(t, display, filepath.Join(shots, "notices-summary.png"))

	// A live announcement: one notification with its subject and text.
	announce("系统维护", "今晚 22:00 系统维护，请提前保存工作。")
	select {
	case call := <-notified:
		if !strings.Contains(call, `string "系统维护"`) || !strings.Contains(call, "今晚 22:00 系统维护") {
			failed("the announcement's notification:\n%s", call)
		}
	case <-time.After(10 * time.Second):
		failed("no notification for the announcement")
	}
	expectNoNotify(t, notified, time.Second, "after the announcement")

	// Do not disturb, chosen in the tray: no notifications, unread counts on.
	trayClick(t, "请勿打扰")
	time.Sleep(500 * time.Millisecond)
	announce("午餐", "今天食堂有饺子")
	announce("提醒", "下午三点消防演练")
	waitTray(t, "未读消息：15", "通知（15）")
	expectNoNotify(t, notified, 3*time.Second, "in do-not-disturb")

	// The tray's entry opens the inbox.
	trayClick(t, "通知（15）")
	time.Sleep(1500 * time.Millisecond)
	screenshot(t, display, filepath.Join(shots, "notices-inbox.png"))
	if gui.ProcessState != nil {
		t.Fatalf("the app exited: %v", gui.ProcessState)
	}
}

// watchNotify reports each desktop notification sent on the session bus
// (org.freedesktop.Notifications.Notify, as dbus-monitor prints it).
func watchNotify(t *testing.T) <-chan string {
	t.Helper()
	monitor := exec.Command("dbus-monitor", "--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'")
	out, err := monitor.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := monitor.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = monitor.Process.Kill(); _ = monitor.Wait() })
	calls := make(chan string, 64)
	go func() {
		// A header line per message, then its arguments indented; Notify's
		// last argument is the int32 timeout.
		sc := bufio.NewScanner(out)
		var call strings.Builder
		inNotify := false
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, " ") {
				inNotify = strings.HasPrefix(line, "method call") && strings.Contains(line, "member=Notify")
				call.Reset()
			}
			if !inNotify {
				continue
			}
			call.WriteString(line + "\n")
			if strings.HasPrefix(strings.TrimSpace(line), "int32") {
				calls <- call.String()
				inNotify = false
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // dbus-monitor has subscribed
	return calls
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

// waitTray waits until the tray menu shows every one of labels.
func waitTray(t *testing.T, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries := trayEntries(t)
		missing := ""
		for _, l := range labels {
			if _, ok := entries[l]; !ok {
				missing = l
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tray menu does not show %q: %v", missing, entries)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// trayEntries reads the app's tray menu (StatusNotifierItem with a dbusmenu,
// as tray hosts read it): label -> item id.
func trayEntries(t *testing.T) map[string]int32 {
	t.Helper()
	conn, item := trayItem(t)
	if item == "" {
		return nil
	}
	var revision uint32
	var root []any
	call := conn.Object(item, "/StatusNotifierMenu").Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{"label"})
	if err := call.Store(&revision, &root); err != nil {
		t.Fatalf("read the tray menu: %v", err)
	}
	entries := map[string]int32{}
	var walk func(node []any)
	walk = func(node []any) {
		if len(node) != 3 {
			return
		}
		id, _ := node[0].(int32)
		if props, ok := node[1].(map[string]dbus.Variant); ok {
			if label, ok := props["label"].Value().(string); ok {
				entries[label] = id
			}
		}
		children, _ := node[2].([]dbus.Variant)
		for _, child := range children {
			if c, ok := child.Value().([]any); ok {
				walk(c)
			}
		}
	}
	walk(root)
	return entries
}

// trayClick clicks the tray menu's entry labelled label, as a tray host
// does (com.canonical.dbusmenu.Event "clicked").
func trayClick(t *testing.T, label string) {
	t.Helper()
	id, ok := trayEntries(t)[label]
	if !ok {
		t.Fatalf("no tray menu entry %q in %v", label, trayEntries(t))
	}
	conn, item := trayItem(t)
	call := conn.Object(item, "/StatusNotifierMenu").Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix()))
	if call.Err != nil {
		t.Fatalf("click %q in the tray menu: %v", label, call.Err)
	}
}

// trayItem finds the app's StatusNotifierItem on the session bus ("" when
// there is none yet).
func trayItem(t *testing.T) (*dbus.Conn, string) {
	t.Helper()
	conn, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := conn.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "org.kde.StatusNotifierItem-") {
			return conn, n
		}
	}
	return conn, ""
}
