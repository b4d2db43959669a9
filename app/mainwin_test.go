package app

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
)

// testController is a controller on Fyne's test app, signed out.
func testController(t *testing.T) *controller {
	t.Helper()
	a := test.NewTempApp(t)
	return newController(a, "test", xmpp.NewAccountStore(t.TempDir()+"/accounts.json"), keyring.NewStore(nil))
}

func TestMainWindowConnectionState(t *testing.T) {
	c := testController(t)
	c.account = xmpp.AccountConfig{JID: "zhangsan@oa.example"}
	m := newMainWindow(c)
	defer m.win.Close()
	for i, tc := range []struct {
		event xmpp.StateChanged
		want  string
	}{
		0: {xmpp.StateChanged{State: xmpp.Connecting}, "Connecting…"},
		1: {xmpp.StateChanged{State: xmpp.Online}, "Online"},
		2: {xmpp.StateChanged{State: xmpp.Reconnecting, Err: errors.New("EOF"), RetryIn: 8 * time.Second}, "Connection lost; reconnecting in 8 s"},
		3: {xmpp.StateChanged{State: xmpp.Offline, Err: &xmpp.AuthError{Condition: "not-authorized"}}, "Offline: Wrong user name or password."},
		4: {xmpp.StateChanged{State: xmpp.Offline}, "Offline"},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			m.setState(tc.event)
			if m.state.Text != tc.want {
				t.Fatalf("state shows %q, want %q", m.state.Text, tc.want)
			}
		})
	}
	m.setState(xmpp.StateChanged{State: xmpp.Online}) // stops the countdown ticker
	if got := strings.Join(statusChoices(), ","); got != "Available,Away,Do not disturb,Appear offline" {
		t.Fatalf("status choices %s", got)
	}
}

// findButton returns the button with the given text in o's tree.
func findButton(o fyne.CanvasObject, text string) *widget.Button {
	for _, obj := range test.LaidOutObjects(o) {
		if b, ok := obj.(*widget.Button); ok && b.Text == text {
			return b
		}
	}
	return nil
}

// dialogTexts is the text of every label, entry and button in the
// window's top overlay (the open dialog).
func dialogTexts(w fyne.Window) string {
	var b strings.Builder
	top := w.Canvas().Overlays().Top()
	if top == nil {
		return ""
	}
	for _, obj := range test.LaidOutObjects(top) {
		if !obj.Visible() {
			continue
		}
		switch o := obj.(type) {
		case *widget.Label:
			b.WriteString(o.Text + "\n")
		case *widget.RichText:
			b.WriteString(o.String() + "\n")
		case *widget.Entry:
			b.WriteString(o.Text + "\n")
		case *widget.Button:
			b.WriteString("[" + o.Text + "]\n")
		}
	}
	return b.String()
}

func TestCertificateDialog(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	ce := &xmpp.CertificateError{Domain: "oa.example", Fingerprint: fp, Reason: errors.New("x509: certificate signed by unknown authority")}
	for name, tc := range map[string]struct {
		pinned      []string
		title, want string
		confirm     string
	}{
		"first time":   {nil, "Untrusted certificate", "presented a certificate that this computer does not trust", "Trust this certificate"},
		"changed cert": {[]string{strings.Repeat("cd", 32)}, "Warning: the server's certificate has changed", "Someone may be intercepting", "Trust the new certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			c := testController(t)
			cfg := xmpp.AccountConfig{JID: "zhangsan@oa.example", Fingerprints: tc.pinned}
			c.showLogin(cfg, "")
			var retried *xmpp.AccountConfig
			c.askTrust(cfg, ce, func(pinned xmpp.AccountConfig) { retried = &pinned })
			text := dialogTexts(c.loginWin)
			if !strings.Contains(text, tc.want) || !strings.Contains(text, xmpp.FormatFingerprint(fp)) {
				t.Fatalf("dialog shows:\n%s\nwant %q and the fingerprint", text, tc.want)
			}
			confirm := findButton(c.loginWin.Canvas().Overlays().Top(), tc.confirm)
			if confirm == nil {
				t.Fatalf("no %q button in:\n%s", tc.confirm, text)
			}
			test.Tap(confirm)
			if retried == nil || len(retried.Fingerprints) != 1 || retried.Fingerprints[0] != fp {
				t.Fatalf("confirming did not pin the fingerprint (alone): %+v", retried)
			}
		})
	}
	// Cancel says why the user is not signed in.
	c := testController(t)
	c.showLogin(xmpp.AccountConfig{JID: "zhangsan@oa.example"}, "")
	c.askTrust(xmpp.AccountConfig{JID: "zhangsan@oa.example"}, ce, func(xmpp.AccountConfig) { t.Fatal("retried after Cancel") })
	test.Tap(findButton(c.loginWin.Canvas().Overlays().Top(), "Cancel"))
	if c.login.message.Text != "Not signed in: the server's certificate is not trusted." {
		t.Fatalf("after Cancel the form says %q", c.login.message.Text)
	}
}

func TestErrorWording(t *testing.T) {
	for i, tc := range []struct {
		err  error
		want string
	}{
		0: {&xmpp.AuthError{Condition: "not-authorized"}, "Wrong user name or password."},
		1: {fmt.Errorf("%w: im.oa.example:5222: connection refused", xmpp.ErrUnreachable), "Cannot reach the server (im.oa.example:5222: connection refused)."},
		2: {keyring.ErrNotFound, "Enter your password to sign in."},
		3: {fmt.Errorf("%w: locked", keyring.ErrUnavailable), "The system keyring is unavailable"},
		4: {&xmpp.DowngradeError{Floor: "SCRAM-SHA-256", Offered: "PLAIN"}, "Magpie did not sign in: the server now allows only PLAIN, a weaker sign-in than SCRAM-SHA-256"},
		5: {&xmpp.SCRAMIterationsError{Count: 2000000000, Max: 1000000}, "Magpie did not sign in: the server asked for 2000000000 rounds of password hashing"},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			if got := describeError(tc.err); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("describeError = %q, want it to start with %q", got, tc.want)
			}
		})
	}
	for i, tc := range []struct {
		err  error
		want string
	}{
		0: {&xmpp.StanzaError{Condition: "not-acceptable"}, "This contact is managed by the company directory"},
		1: {&xmpp.StanzaError{Condition: "not-allowed"}, "This contact is managed by the company directory"},
		2: {errors.New("timeout"), "The contact could not be changed: timeout"},
	} {
		t.Run("roster"+strconv.Itoa(i), func(t *testing.T) {
			if got := describeRosterError(tc.err); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("describeRosterError = %q", got)
			}
		})
	}
	if got := strings.Join(splitGroups(" 研发部, ,Friends ,"), "|"); got != "研发部|Friends" {
		t.Fatalf("splitGroups = %q", got)
	}
}

// TestClosingTheContactsWindow: with a tray host the window hides (and
// Magpie keeps running, with a one-time hint); without one it quits.
func TestClosingTheContactsWindow(t *testing.T) {
	c := testController(t)
	c.account = xmpp.AccountConfig{JID: "zhangsan@oa.example"}
	var hints []*fyne.Notification
	c.notifyHook = func(n *fyne.Notification) { hints = append(hints, n) }
	c.trayHost.Store(true)
	m := newMainWindow(c)
	m.win.Show()
	m.onCloseRequest() // the user clicks the window's close button
	m.onCloseRequest()
	if len(hints) != 1 || !strings.Contains(hints[0].Content, "system tray") {
		t.Fatalf("hints: %+v; want exactly one, the first time", hints)
	}
}

// TestProblemsShowInTheWindow: a failure that does not end the session (a
// store write, the archive catch-up) shows in the contacts window until
// dismissed.
func TestProblemsShowInTheWindow(t *testing.T) {
	c := testController(t)
	c.account = xmpp.AccountConfig{JID: "zhangsan@oa.example"}
	c.main = newMainWindow(c)
	defer c.main.win.Close()
	if c.main.problemBox.Visible() {
		t.Fatal("a problem shows before there is one")
	}
	c.handle(xmpp.HistorySynced{Added: 3})
	if c.main.problemBox.Visible() {
		t.Fatal("a successful catch-up shows as a problem")
	}
	c.handle(xmpp.HistorySynced{Err: errors.New("archive query: item-not-found")})
	if !c.main.problemBox.Visible() || !strings.Contains(c.main.problem.Text, "could not be fetched") {
		t.Fatalf("catch-up failure shows %q (visible %v)", c.main.problem.Text, c.main.problemBox.Visible())
	}
	c.handle(xmpp.ErrorOccurred{Err: errors.New("store 3 messages: disk full")})
	if !strings.Contains(c.main.problem.Text, "disk full") || strings.Contains(c.main.problem.Text, "sign in") {
		t.Fatalf("store failure shows %q", c.main.problem.Text)
	}
	for _, obj := range test.LaidOutObjects(c.main.problemBox) {
		if b, ok := obj.(*widget.Button); ok {
			test.Tap(b)
		}
	}
	if c.main.problemBox.Visible() {
		t.Fatal("dismissing did not hide the problem")
	}
}
