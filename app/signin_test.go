package app

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"magpie/xmpp"
	"magpie/xmpp/keyring/keyringtest"
	"magpie/xmpp/prosodytest"
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
	runUI(t, ui, 30*time.Second, func() bool { return c.main != nil || (c.cancelSignIn == nil && c.login.message.Visible()) })
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
		runUI(t, ui, 30*time.Second, func() bool { return c.main != nil || (c.cancelSignIn == nil && c.login.message.Visible()) })
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
