package app

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"magpie/xmpp"
	"magpie/xmpp/keyring/keyringtest"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/provision"
)

// TestPinnedCertificateChanged: an account pinned to one certificate meets
// another that a CA trusted on this computer vouches for (here the account's
// CA file; an interception proxy's CA in the system store looks the same).
// It is not taken silently: the user sees the warning with the new
// fingerprint and the question, and confirming pins the new certificate in
// place of the old one.
func TestPinnedCertificateChanged(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{})
	account := srv.AddUser(t, "alice", "alice-pw")
	c, ui := provisionedController(t, filepath.Join(t.TempDir(), "none.toml"), &keyringtest.Memory{})
	old := strings.Repeat("ab", 32)
	if err := c.accounts.Save(xmpp.AccountConfig{JID: account, Server: srv.C2SAddr, CAFile: srv.CertFile, Fingerprints: []string{old}}); err != nil {
		t.Fatal(err)
	}
	c.showLogin(xmpp.AccountConfig{JID: account, Server: srv.C2SAddr}, "")
	test.Type(c.login.password, "alice-pw")
	test.Tap(c.login.signIn)
	runUI(t, ui, 30*time.Second, func() bool { return c.cancelSignIn == nil })
	if c.main != nil {
		t.Fatal("signed in with a certificate other than the pinned one")
	}
	text := dialogTexts(c.loginWin)
	if !strings.Contains(text, "Warning: the server's certificate has changed") || !strings.Contains(text, xmpp.FormatFingerprint(srv.Fingerprint)) {
		t.Fatalf("the dialog shows:\n%s\nwant the warning and the new fingerprint", text)
	}
	test.Tap(findButton(c.loginWin.Canvas().Overlays().Top(), "Trust the new certificate"))
	runUI(t, ui, 30*time.Second, func() bool {
		return (c.main != nil && c.pending == nil) || (c.cancelSignIn == nil && c.login.message.Visible())
	})
	if c.main == nil {
		t.Fatalf("not signed in after confirming: %s", c.login.message.Text)
	}
	if got := c.account.Fingerprints; len(got) != 1 || got[0] != srv.Fingerprint {
		t.Fatalf("pinned %v, want only the new certificate", got)
	}
}

// TestSignInDowngradeShown: the account signs in once to a server that
// offers SCRAM, which is remembered with the account; when the server (here
// a second Prosody for the same domain that offers only PLAIN, as a man in
// the middle stripping SCRAM would) offers only PLAIN next time, the
// sign-in is refused and the login window says so, naming both.
func TestSignInDowngradeShown(t *testing.T) {
	good := prosodytest.Start(t, prosodytest.Options{})
	account := good.AddUser(t, "alice", "alice-pw")
	stripped := prosodytest.Start(t, prosodytest.Options{ExtraConfig: `disable_sasl_mechanisms = { "SCRAM-SHA-1", "SCRAM-SHA-256", "DIGEST-MD5" }`})
	stripped.AddUser(t, "alice", "alice-pw")
	c, ui := provisionedController(t, filepath.Join(t.TempDir(), "none.toml"), &keyringtest.Memory{})
	if err := c.accounts.Save(xmpp.AccountConfig{JID: account, Fingerprints: []string{good.Fingerprint, stripped.Fingerprint}}); err != nil {
		t.Fatal(err)
	}
	signIn := func(server string) {
		t.Helper()
		c.showLogin(xmpp.AccountConfig{JID: account, Server: server}, "")
		c.login.remember.SetChecked(false)
		test.Type(c.login.password, "alice-pw")
		test.Tap(c.login.signIn)
		runUI(t, ui, 30*time.Second, func() bool {
			return (c.main != nil && c.pending == nil) || (c.cancelSignIn == nil && c.login.message.Visible())
		})
	}
	signIn(good.C2SAddr)
	if c.main == nil {
		t.Fatalf("not signed in: %s", c.login.message.Text)
	}
	if saved, _, _ := c.accounts.Get(account); saved.SASLFloor != "SCRAM-SHA-1" {
		t.Fatalf("saved %+v, want the floor SCRAM-SHA-1", saved)
	}
	c.signOut("")
	c.login.password.SetText("")
	signIn(stripped.C2SAddr)
	if c.main != nil {
		t.Fatal("signed in with PLAIN after the server had offered SCRAM")
	}
	msg := c.login.message.Text
	if !strings.Contains(msg, "the server now allows only PLAIN, a weaker sign-in than SCRAM-SHA-1") || !strings.Contains(msg, "Tell your IT department") {
		t.Fatalf("the login window says %q", msg)
	}
	if strings.Contains(stripped.Log(), "<auth ") {
		t.Fatalf("the client started a sign-in with the stripped server:\n%s", stripped.Log())
	}
}

// TestUserProvisioningWarned: IT's file sets the server; the user's own file
// tries to move it (ignored, and said so) and pins a certificate itself,
// which IT's file leaves open: that applies, but the login window and,
// after signing in, the contacts window warn that the user's file decides
// trust.
func TestUserProvisioningWarned(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{})
	srv.AddUser(t, "alice", "alice-pw")
	host, port, err := net.SplitHostPort(srv.C2SAddr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	system := filepath.Join(dir, "etc", provision.FileName)
	user := filepath.Join(dir, "home", provision.FileName)
	for path, text := range map[string]string{
		system: fmt.Sprintf("domain = %q\n[server]\nhost = %q\nport = %s\n", srv.Domain, host, port),
		user:   fmt.Sprintf("[server]\nhost = \"im.elsewhere.example\"\n[trust]\nfingerprints = [%q]\n", srv.Fingerprint),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, ui := provisionedController(t, filepath.Join(dir, "none.toml"), &keyringtest.Memory{})
	c.provision, c.provisionErr = provision.Load(system, user)
	if c.provisionErr != nil {
		t.Fatal(c.provisionErr)
	}
	c.showLogin(xmpp.AccountConfig{}, "")
	note := c.login.provisionNote.Text
	for _, want := range []string{
		user + ", line 2: server.host is ignored: your IT department's provisioning decides it.",
		"Your own provisioning file " + user + " (line 4, trust.fingerprints) decides which server certificates Magpie trusts",
	} {
		if !c.login.provisionNote.Visible() || !strings.Contains(note, want) {
			t.Fatalf("the login window says %q (visible %v), want %q", note, c.login.provisionNote.Visible(), want)
		}
	}
	test.Type(c.login.account, "alice")
	test.Type(c.login.password, "alice-pw")
	test.Tap(c.login.signIn)
	runUI(t, ui, 30*time.Second, func() bool {
		return (c.main != nil && c.pending == nil) || (c.cancelSignIn == nil && c.login.message.Visible())
	})
	if c.main == nil {
		t.Fatalf("not signed in (IT's server, the user's pin): %s", c.login.message.Text)
	}
	if !c.main.problemBox.Visible() || !strings.Contains(c.main.problem.Text, "decides which server certificates Magpie trusts") {
		t.Fatalf("the contacts window shows %q (visible %v)", c.main.problem.Text, c.main.problemBox.Visible())
	}
}
