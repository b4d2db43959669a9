package app

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/bustest"
	"magpie/xmpp/prosodytest"
)

const guiBinEnv = "MAGPIE_GUI_E2E_BIN"

// raceEnabled is set under -race; the binary is built the same way so the
// compiled packages come from the build cache.
var raceEnabled bool

// startXvfb starts an X server on a free display and returns its name.
func startXvfb(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Xvfb is needed in CI: %v", err)
		}
		t.Skipf("Xvfb not installed: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	return ":" + strings.TrimSpace(line)
}

// guiBinary builds the app (unless MAGPIE_GUI_E2E_BIN names one) and returns
// its path. Call it before bustest.InPrivateSession: the child on the
// private bus finds the binary through the variable.
func guiBinary(t *testing.T) string {
	t.Helper()
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
	return os.Getenv(guiBinEnv)
}

// screenshot saves the whole X screen to dir/name (ImageMagick's import).
func screenshot(t *testing.T, display, path string) {
	t.Helper()
	cmd := exec.Command("import", "-display", display, "-window", "root", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("screenshot %s: %v %s", path, err, out)
	}
}

// TestGUISignsInAndReceives runs the real binary under Xvfb, with a real
// keyring and Prosody: an account set up with `magpie login` is signed in
// automatically at the next start, and a message from a colleague arrives.
// MAGPIE_SCREENSHOTS=DIR keeps the screenshots.
func TestGUISignsInAndReceives(t *testing.T) {
	guiBinary(t)
	if !bustest.InPrivateSession(t, true) {
		return
	}
	bin := os.Getenv(guiBinEnv)
	display := startXvfb(t)
	shots := os.Getenv("MAGPIE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	srv := prosodytest.Start(t, prosodytest.Options{})
	alice := srv.AddUser(t, "alice", "alice-pw")
	bob := srv.AddUser(t, "bob", "bob-pw")

	// alice and bob are contacts of each other.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	connect := func(account, pw string, extra ...xmpp.Option) *xmpp.Client {
		c, err := xmpp.New(account, append([]xmpp.Option{xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
			xmpp.WithPassword(func(context.Context) (string, error) { return pw, nil })}, extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		return c
	}
	bobClient := connect(bob, "bob-pw")
	defer bobClient.Close()
	bobOnline := make(chan jid.JID, 1)
	go func() {
		for e := range bobClient.Events() {
			switch e := e.(type) {
			case xmpp.SubscriptionRequest:
				_ = bobClient.ApproveSubscription(ctx, e.From)
				_ = bobClient.AddContact(ctx, e.From, "Alice 爱丽丝", []string{"研发部"})
			case xmpp.PresenceChanged:
				if e.From.Bare().String() == alice && e.Available() && e.From.Resourcepart() != "setup" {
					select {
					case bobOnline <- e.From:
					default:
					}
				}
			}
		}
	}()
	aliceSetup := connect(alice, "alice-pw", xmpp.WithResource("setup"))
	mutual := make(chan struct{})
	go func() {
		for e := range aliceSetup.Events() {
			switch e := e.(type) {
			case xmpp.SubscriptionRequest:
				_ = aliceSetup.ApproveSubscription(ctx, e.From)
			case xmpp.RosterUpdated:
				for _, ct := range e.Contacts {
					if ct.Subscription == "both" {
						close(mutual)
						return
					}
				}
			}
		}
	}()
	if err := aliceSetup.AddContact(ctx, bobClient.Account(), "Bob 鲍勃", []string{"研发部"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-mutual:
	case <-time.After(10 * time.Second):
		t.Fatal("alice and bob did not become mutual contacts")
	}
	aliceSetup.Close()

	login := exec.Command(bin, "login", "--jid", alice, "--server", srv.C2SAddr, "--trust-fingerprint", srv.Fingerprint, "--password-stdin")
	login.Stdin = strings.NewReader("alice-pw\n")
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("magpie login: %v\n%s", err, out)
	}

	gui := exec.Command(bin)
	gui.Env = append(os.Environ(), "DISPLAY="+display, "LANG=zh_CN.UTF-8")
	guiLog, err := os.Create(filepath.Join(shots, "gui.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer guiLog.Close()
	gui.Stdout, gui.Stderr = guiLog, guiLog
	if err := gui.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gui.Process.Kill(); _ = gui.Wait() })

	var guiJID jid.JID
	select {
	case guiJID = <-bobOnline:
	case <-time.After(30 * time.Second):
		screenshot(t, display, filepath.Join(shots, "failed.png"))
		log, _ := os.ReadFile(guiLog.Name())
		t.Fatalf("the app did not sign in by itself with the account from 'magpie login'\n%s", log)
	}
	time.Sleep(time.Second)
	screenshot(t, display, filepath.Join(shots, "contacts.png"))

	// Watch the session bus for desktop notifications.
	monitor := exec.Command("dbus-monitor", "--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'")
	monitorOut, err := monitor.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := monitor.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = monitor.Process.Kill(); _ = monitor.Wait() })
	notified := make(chan string, 16)
	go func() {
		// dbus-monitor prints a header line per message, then its arguments
		// indented; Notify's last argument is the int32 timeout.
		sc := bufio.NewScanner(monitorOut)
		var call strings.Builder
		inNotify := false
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, " ") { // a new message
				inNotify = strings.HasPrefix(line, "method call") && strings.Contains(line, "member=Notify")
				call.Reset()
			}
			if !inNotify {
				continue
			}
			call.WriteString(line + "\n")
			if strings.HasPrefix(strings.TrimSpace(line), "int32") {
				notified <- call.String()
				inNotify = false
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // dbus-monitor has subscribed

	for _, body := range []string{"你好 Alice！下午三点开会，请看 https://oa.example/meeting/42", "Shall we go through the budget first?"} {
		if _, err := bobClient.SendMessage(ctx, jid.MustParse(alice), body); err != nil {
			t.Fatal(err)
		}
	}
	// The first message raises a notification titled with the sender's name
	// and carrying the text.
	select {
	case call := <-notified:
		if !strings.Contains(call, `string "Bob 鲍勃"`) || !strings.Contains(call, "你好 Alice！下午三点开会") {
			t.Fatalf("Notify call without the sender and text:\n%s", call)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no Notify call reached org.freedesktop.Notifications")
	}
	// The messages wait unread: the tray menu (StatusNotifierItem with a
	// dbusmenu, as desktop trays read it) shows the total.
	deadline := time.Now().Add(10 * time.Second)
	for layout := ""; !strings.Contains(layout, "未读消息：2"); layout = trayMenu(t) {
		if time.Now().After(deadline) {
			t.Fatalf("the tray menu does not show 2 unread messages:\n%s", layout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	screenshot(t, display, filepath.Join(shots, "unread.png"))
	// The app's session is the real client core: it answers as Magpie.
	name, _, _, err := bobClient.SoftwareVersion(ctx, guiJID)
	if err != nil || name != "Magpie" {
		t.Fatalf("version of the app's session: %q, %v", name, err)
	}
	if gui.ProcessState != nil {
		t.Fatalf("the app exited: %v", gui.ProcessState)
	}
}

// trayMenu returns the labels of the app's tray menu, read over D-Bus.
func trayMenu(t *testing.T) string {
	t.Helper()
	names, err := exec.Command("dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
		"/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames").Output()
	if err != nil {
		t.Fatalf("list bus names: %v", err)
	}
	var item string
	for _, f := range strings.Fields(string(names)) {
		if strings.Contains(f, "org.kde.StatusNotifierItem-") {
			item = strings.Trim(f, `"`)
		}
	}
	if item == "" {
		return "(no tray item on the bus)"
	}
	out, _ := exec.Command("dbus-send", "--session", "--print-reply", "--dest="+item, "/StatusNotifierMenu",
		"com.canonical.dbusmenu.GetLayout", "int32:0", "int32:-1", "array:string:label").Output()
	return string(out)
}
