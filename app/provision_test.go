package app

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/keyring/keyringtest"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/provision"
)

// provisioningFor writes a provisioning file for the test server and
// returns its path; extra is appended (more keys, or other tables).
func provisioningFor(t *testing.T, srv *prosodytest.Server, fingerprint, extra string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(srv.C2SAddr)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), provision.FileName)
	text := fmt.Sprintf(`company = "Test Trading Co."
domain = %q

[server]
host = %q
port = %s
tls = "starttls"

[trust]
fingerprints = [%q]

[passwords]
remember = false
%s`, srv.Domain, host, port, xmpp.FormatFingerprint(fingerprint), extra)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// provisionedController is a signed-out controller with the provisioning
// at path, whose background work comes back to the test through ui.
func provisionedController(t *testing.T, path string, secrets *keyringtest.Memory) (*controller, chan func()) {
	t.Helper()
	a := test.NewTempApp(t)
	dir := t.TempDir()
	c := newController(a, "test", xmpp.NewAccountStore(filepath.Join(dir, "accounts.json")), keyring.NewStore(secrets))
	c.provision, c.provisionErr = provision.Load(path)
	c.storePath = func(account string) (string, error) { return filepath.Join(dir, account+".db"), nil }
	c.newIdleSource = func() (idleSource, error) { return nil, errNoIdleSource }
	ui := make(chan func(), 256)
	c.toUI = func(f func()) { ui <- f }
	t.Cleanup(func() {
		if c.client != nil {
			c.signOut("")
		}
		// Anything the pump still hands over is dropped.
		go func() {
			for range ui {
			}
		}()
	})
	return c, ui
}

// runUI runs the UI's share of the work until done reports true.
func runUI(t *testing.T, ui chan func(), timeout time.Duration, done func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for !done() {
		select {
		case f := <-ui:
			f()
		case <-deadline:
			t.Fatalf("not done within %v", timeout)
		}
	}
}

// TestProvisionedSignIn: with a provisioning file, the login window asks
// only for the user name and the password; the server, TLS mode and trust
// come from the file, no certificate question is asked, and the password
// is not kept because the file forbids it.
func TestProvisionedSignIn(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{})
	account := srv.AddUser(t, "alice", "alice-pw")
	path := provisioningFor(t, srv, srv.Fingerprint, "")
	secrets := &keyringtest.Memory{}
	if err := secrets.Set(keyring.Service, account, "an old password"); err != nil {
		t.Fatal(err)
	}
	c, ui := provisionedController(t, path, secrets)
	if c.provisionErr != nil {
		t.Fatal(c.provisionErr)
	}
	// alice signed in on this desk before, with a remembered password.
	if err := c.accounts.Save(xmpp.AccountConfig{JID: account}); err != nil {
		t.Fatal(err)
	}
	c.app.Preferences().SetString(prefLastAccount, account)
	c.app.Preferences().SetBool(prefAutoSignIn, true)
	c.firstSignIn() // would sign in automatically, were passwords remembered
	f := c.login
	if c.cancelSignIn != nil || f.signIn.Disabled() {
		t.Fatal("signing in automatically although the provisioning forbids remembering passwords")
	}

	// The form: the company, the user name beside the domain, no server,
	// no remembering.
	if f.title.Text != "Sign in to Test Trading Co." || f.accountItem.Text != "User name" ||
		!f.suffix.Visible() || f.suffix.Text != "@"+srv.Domain {
		t.Fatalf("form: title %q, account label %q, suffix %q (visible %v)", f.title.Text, f.accountItem.Text, f.suffix.Text, f.suffix.Visible())
	}
	if f.advanced.Visible() || f.remember.Visible() || f.auto.Visible() || f.provisionNote.Visible() {
		t.Fatalf("shown: advanced %v, remember %v, auto %v, note %v", f.advanced.Visible(), f.remember.Visible(), f.auto.Visible(), f.provisionNote.Visible())
	}

	if f.account.Text != "alice" {
		t.Fatalf("the last account shows as %q, want its user name", f.account.Text)
	}
	test.Type(f.password, "alice-pw")
	test.Tap(f.signIn)
	runUI(t, ui, 30*time.Second, func() bool {
		if c.main == nil && c.cancelSignIn == nil && f.message.Visible() {
			t.Fatalf("sign-in failed: %s", f.message.Text)
		}
		if top := c.loginWin.Canvas().Overlays().Top(); top != nil {
			t.Fatalf("a dialog was shown:\n%s", dialogTexts(c.loginWin))
		}
		return c.main != nil && c.pending == nil // the server accepted the sign-in
	})
	if c.account.JID != account || c.account.Server != srv.C2SAddr || c.account.DirectTLS ||
		len(c.account.Fingerprints) != 1 || c.account.Fingerprints[0] != srv.Fingerprint {
		t.Fatalf("signed in with %+v", c.account)
	}
	if c.client.State() != xmpp.Online {
		t.Fatalf("client state %v", c.client.State())
	}
	if c.app.Preferences().Bool(prefRemember) || c.app.Preferences().Bool(prefAutoSignIn) {
		t.Fatal("remember or auto sign-in saved as on")
	}
	// The password the keyring had from before is removed, not replaced.
	for deadline := time.Now().Add(5 * time.Second); secrets.Has(keyring.Service, account); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the keyring still holds a password for the account")
		}
	}
	// Settings cannot turn automatic sign-in on.
	c.main.showSettings()
	if sf := c.main.settingsForm; sf == nil || !sf.auto.Disabled() || sf.auto.Checked {
		t.Fatal("the settings offer automatic sign-in without remembered passwords")
	}
}

// TestProvisionedCertificateMismatch: when the server presents another
// certificate than the provisioned one, nobody is asked to trust it.
func TestProvisionedCertificateMismatch(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{})
	srv.AddUser(t, "alice", "alice-pw")
	path := provisioningFor(t, srv, strings.Repeat("ab", 32), "")
	c, ui := provisionedController(t, path, &keyringtest.Memory{})
	c.showLogin(xmpp.AccountConfig{}, "")
	test.Type(c.login.account, "alice")
	test.Type(c.login.password, "alice-pw")
	test.Tap(c.login.signIn)
	runUI(t, ui, 30*time.Second, func() bool { return c.cancelSignIn == nil })
	if c.main != nil || c.loginWin.Canvas().Overlays().Top() != nil {
		t.Fatal("signed in, or asked the user about the certificate")
	}
	if msg := c.login.message.Text; !strings.Contains(msg, "your IT department's settings do not trust") ||
		!strings.Contains(msg, xmpp.FormatFingerprint(srv.Fingerprint)) {
		t.Fatalf("the form says %q", msg)
	}
}

// TestBrokenProvisioningShown: a broken file is reported in the login
// window with its line, and Magpie stays usable without it.
func TestBrokenProvisioningShown(t *testing.T) {
	path := filepath.Join(t.TempDir(), provision.FileName)
	if err := os.WriteFile(path, []byte("domain = \"oa.example\"\n\n[server]\nhost = \"im.oa.example\"\nport = 70000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := provisionedController(t, path, &keyringtest.Memory{})
	var pe *provision.Error
	if !errors.As(c.provisionErr, &pe) || pe.Line != 5 {
		t.Fatalf("load error %v", c.provisionErr)
	}
	c.showLogin(xmpp.AccountConfig{}, "")
	f := c.login
	want := path + ", line 5: server.port: 70000 is not a port (1 to 65535)"
	if !f.provisionNote.Visible() || !strings.Contains(f.provisionNote.Text, want) {
		t.Fatalf("the login window says %q (visible %v), want it to include %q", f.provisionNote.Text, f.provisionNote.Visible(), want)
	}
	// Without the file: the full account, the server under Advanced.
	if f.suffix.Visible() || !f.advanced.Visible() || !f.remember.Visible() || f.accountItem.Text != "Account" {
		t.Fatal("the form is not the plain one")
	}
	var got *loginRequest
	f.onSubmit = func(r loginRequest) { got = &r }
	test.Type(f.account, "zhangsan@oa.example")
	test.Type(f.password, "pw")
	test.Type(f.server, "im.oa.example:5222")
	test.Tap(f.signIn)
	if got == nil || got.Account != "zhangsan@oa.example" || got.Server != "im.oa.example:5222" {
		t.Fatalf("request %+v; message %q", got, f.message.Text)
	}
}

// TestProvisionedFormAcceptsFullAccount: with a provisioned domain, a full
// address typed is taken as it is, and a saved account of the domain shows
// as its user name.
func TestProvisionedFormAcceptsFullAccount(t *testing.T) {
	test.NewTempApp(t)
	var got *loginRequest
	f := newLoginForm("", func(r loginRequest) { got = &r }, nil)
	f.Provision(&provision.Config{Domain: "oa.example", Host: "im.oa.example", RememberPasswords: true, Files: []string{"p"}}, nil)
	test.NewTempWindow(t, f.Object())
	f.Fill("zhangsan@oa.example", "", false, true, true)
	if f.account.Text != "zhangsan" || !f.remember.Visible() || !f.remember.Checked {
		t.Fatalf("filled %q, remember %v", f.account.Text, f.remember.Checked)
	}
	f.account.SetText("")
	test.Type(f.account, "lisi@partner.example")
	test.Type(f.password, "pw")
	test.Tap(f.signIn)
	if got == nil || got.Account != "lisi@partner.example" || got.Server != "" || !got.Remember {
		t.Fatalf("request %+v; message %q", got, f.message.Text)
	}
}
