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
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset")
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
func screenshot(t testing.TB, display, path string) {
	t.Helper()
	cmd := exec.Command("import", "-display", display, "-window", "root", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("screenshot %s: %v %s", path, err, out)
	}
}

// guiTest runs the real binary under Xvfb, on a private session bus with a
// real keyring.
type guiTest struct {
	bin     string
	display string
	shots   string   // where screenshots and the app's log go
	log     string   // the app's output, of every start
	env     []string // the app's: DISPLAY, Chinese, the private bus
}

// newGUITest builds the binary, moves the test onto a private session bus
// and starts Xvfb. It returns false in the process that only started the
// test again on the bus. The app's output goes to logName in the screenshot
// folder (MAGPIE_SCREENSHOTS=DIR keeps it, else a temporary one).
func newGUITest(t *testing.T, logName string) (*guiTest, bool) {
	t.Helper()
	g := &guiTest{bin: guiBinary(t)}
	if !bustest.InPrivateSession(t, true) {
		return nil, false
	}
	g.display = startXvfb(t)
	g.shots = os.Getenv("MAGPIE_SCREENSHOTS")
	if g.shots == "" {
		g.shots = t.TempDir()
	}
	g.log = filepath.Join(g.shots, logName)
	if err := os.WriteFile(g.log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	g.env = append(os.Environ(), "DISPLAY="+g.display, "LANG=zh_CN.UTF-8")
	return g, true
}

// login runs `magpie login` for account, as a user sets the app up; the app
// signs in with it at the next start.
func (g *guiTest) login(t *testing.T, srv *prosodytest.Server, account, password string) {
	t.Helper()
	login := exec.Command(g.bin, "login", "--jid", account, "--server", srv.C2SAddr, "--trust-fingerprint", srv.Fingerprint, "--password-stdin")
	login.Stdin = strings.NewReader(password + "\n")
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("magpie login: %v\n%s", err, out)
	}
}

// start starts the app with args, its output added to the log; the test's
// end stops it.
func (g *guiTest) start(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	logFile, err := os.OpenFile(g.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	gui := exec.Command(g.bin, args...)
	gui.Env = g.env
	gui.Stdout, gui.Stderr = logFile, logFile
	if err := gui.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gui.Process.Kill(); _ = gui.Wait() })
	return gui
}

// fail saves the screen as shot and fails with the app's log.
func (g *guiTest) fail(t *testing.T, shot, format string, args ...any) {
	t.Helper()
	screenshot(t, g.display, filepath.Join(g.shots, shot))
	log, _ := os.ReadFile(g.log)
	t.Fatalf(format+"\n--- app log ---\n%s", append(args, log)...)
}

// signIn signs account in to srv with a client of its own (a colleague, or
// a set-up step), trusting the server's certificate by fingerprint.
func signIn(t *testing.T, ctx context.Context, srv *prosodytest.Server, account, password string, extra ...xmpp.Option) *xmpp.Client {
	t.Helper()
	c, err := xmpp.New(account, append([]xmpp.Option{xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return password, nil })}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGUISignsInAndReceives runs the real binary under Xvfb, with a real
// keyring and Prosody: an account set up with `magpie login` is signed in
// automatically at the next start, and a message from a colleague arrives.
// MAGPIE_SCREENSHOTS=DIR keeps the screenshots.
func TestGUISignsInAndReceives(t *testing.T) {
	g, ok := newGUITest(t, "gui.log")
	if !ok {
		return
	}
	srv := prosodytest.Start(t, prosodytest.Options{})
	alice := srv.AddUser(t, "alice", "alice-pw")
	bob := srv.AddUser(t, "bob", "bob-pw")

	// alice and bob are contacts of each other.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bobClient := signIn(t, ctx, srv, bob, "bob-pw")
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
	aliceSetup := signIn(t, ctx, srv, alice, "alice-pw", xmpp.WithResource("setup"))
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

	g.login(t, srv, alice, "alice-pw")
	gui := g.start(t)

	var guiJID jid.JID
	select {
	case guiJID = <-bobOnline:
	case <-time.After(30 * time.Second):
		g.fail(t, "failed.png", "the app did not sign in by itself with the account from 'magpie login'")
	}
	time.Sleep(time.Second)
	screenshot(t, g.display, filepath.Join(g.shots, "contacts.png"))

	notified := watchNotify(t)
	if _, err := bobClient.SendMessage(ctx, jid.MustParse(alice), "你好 Alice！下午三点开会，请看 https://oa.example/meeting/42"); err != nil {
		t.Fatal(err)
	}
	// The message raises a notification titled with the sender's name
	// and carrying the text. (A second one sent with it would be
	// collapsed with it: "2 条新消息".)
	for seen, deadline := []string{}, time.After(10*time.Second); ; {
		select {
		case call := <-notified:
			if !strings.Contains(call, "你好 Alice！下午三点开会") {
				seen = append(seen, call)
				continue
			}
			if !strings.Contains(call, `string "Bob 鲍勃"`) {
				t.Fatalf("Notify call without the sender:\n%s", call)
			}
		case <-deadline:
			t.Fatalf("no Notify call with the first message reached org.freedesktop.Notifications; others: %q", seen)
		}
		break
	}
	if _, err := bobClient.SendMessage(ctx, jid.MustParse(alice), "Shall we go through the budget first?"); err != nil {
		t.Fatal(err)
	}
	// The messages wait unread: the tray menu (StatusNotifierItem with a
	// dbusmenu, as desktop trays read it) shows the total.
	waitTray(t, "未读消息：2")
	screenshot(t, g.display, filepath.Join(g.shots, "unread.png"))
	// The app's session is the real client core: it answers as Magpie.
	name, _, _, err := bobClient.SoftwareVersion(ctx, guiJID)
	if err != nil || name != "Magpie" {
		t.Fatalf("version of the app's session: %q, %v", name, err)
	}
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
	ready := make(chan struct{})
	go func() {
		// A header line per message, then its arguments indented; Notify's
		// last argument is the int32 timeout. dbus-monitor first prints the
		// NameLost signal it gets once it has become a monitor: from then
		// on no call is missed.
		sc := bufio.NewScanner(out)
		var call strings.Builder
		inNotify, monitoring := false, false
		for sc.Scan() {
			line := sc.Text()
			if !monitoring && strings.Contains(line, "member=NameLost") {
				close(ready)
				monitoring = true
			}
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
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-monitor did not become a monitor")
	}
	return calls
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
	entries, _ := trayMenu(t)
	return entries
}

// trayMenu reads the tray menu: each entry's id by label, and the labels
// of the ticked entries.
func trayMenu(t *testing.T) (entries map[string]int32, ticked map[string]bool) {
	t.Helper()
	conn, item := trayItem(t)
	if item == "" {
		return nil, nil
	}
	var revision uint32
	var root []any
	call := conn.Object(item, "/StatusNotifierMenu").Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{"label", "toggle-state"})
	if err := call.Store(&revision, &root); err != nil {
		t.Fatalf("read the tray menu: %v", err)
	}
	entries, ticked = map[string]int32{}, map[string]bool{}
	var walk func(node []any)
	walk = func(node []any) {
		if len(node) != 3 {
			return
		}
		id, _ := node[0].(int32)
		if props, ok := node[1].(map[string]dbus.Variant); ok {
			if label, ok := props["label"].Value().(string); ok {
				entries[label] = id
				if v, ok := props["toggle-state"]; ok && fmt.Sprint(v.Value()) == "1" {
					ticked[label] = true
				}
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
	return entries, ticked
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
