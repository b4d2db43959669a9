package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/provision"
)

// writeProvisioning puts a provisioning file for srv where Magpie looks for
// the user's: $XDG_CONFIG_HOME/magpie/provisioning.toml.
func writeProvisioning(t *testing.T, config string, srv *prosodytest.Server, fingerprint string, remember bool) string {
	t.Helper()
	host, port, err := net.SplitHostPort(srv.C2SAddr)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(config, "magpie", provision.FileName)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("domain = %q\n\n[server]\nhost = %q\nport = %s\ntls = \"starttls\"\n\n[trust]\nfingerprints = [%q]\n\n[passwords]\nremember = %v\n",
		srv.Domain, host, port, fingerprint, remember)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProvisionedCommands: with the provisioning file in the user's
// configuration folder, the commands take the user name alone and reach
// the provisioned server, trusting the provisioned certificate.
func TestProvisionedCommands(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{})
	alice := srv.AddUser(t, "alice", "alice-pw")
	bob := srv.AddUser(t, "bob", "bob-pw")
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	path := writeProvisioning(t, config, srv, srv.Fingerprint, true)
	h := newHarness(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bobClient, err := xmpp.New(bob, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return "bob-pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := bobClient.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer bobClient.Close()

	// Only the user name and the password.
	h.run("alice-pw\n", "login", "--jid", "alice", "--password-stdin").expect(t, ExitOK, "")
	if pw, err := h.keyring.Get(keyring.Service, alice); pw != "alice-pw" || err != nil {
		t.Fatalf("keyring: %q, %v", pw, err)
	}
	h.run("", "send", "--jid", "alice", bob, "你好 from the provisioned server").expect(t, ExitOK, "")
	for got := false; !got; {
		select {
		case e := <-bobClient.Events():
			if m, ok := e.(xmpp.MessageReceived); ok {
				if m.Body != "你好 from the provisioned server" || m.From.Bare().String() != alice {
					t.Fatalf("bob received %+v", m.Message)
				}
				got = true
			}
		case <-ctx.Done():
			t.Fatal("bob received nothing")
		}
	}

	// The check command names the file and what it gives.
	r := h.run("", "provisioning")
	r.expect(t, ExitOK, "")
	for _, want := range []string{path, "domain:            " + srv.Domain, "server:            " + srv.C2SAddr + " (starttls)", srv.Fingerprint} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("provisioning printed %q, want %q in it", r.stdout, want)
		}
	}
	// The file is the user's, not IT's: that it decides trust is said.
	if !strings.Contains(r.stderr, "warning: "+path+":9: trust.fingerprints: your own provisioning file, not IT's, decides which server certificates are trusted") {
		t.Fatalf("provisioning warned %q, want the user's trust named", r.stderr)
	}

	// IT pins another certificate: the command refuses, and says so.
	writeProvisioning(t, config, srv, strings.Repeat("ab", 32), true)
	h.run("", "send", "--jid", "alice", bob, "hi").expect(t, ExitCertificate, "does not match the one your IT department provisioned")

	// Passwords may not be remembered: login checks without saving, and
	// the other commands want the password on standard input.
	writeProvisioning(t, config, srv, srv.Fingerprint, false)
	if err := h.keyring.Delete(keyring.Service, alice); err != nil {
		t.Fatal(err)
	}
	h.run("alice-pw\n", "login", "--jid", "alice", "--password-stdin").expect(t, ExitOK, "")
	if h.keyring.Has(keyring.Service, alice) {
		t.Fatal("login saved the password although the provisioning forbids it")
	}
	h.run("", "send", "--jid", "alice", bob, "hi").expect(t, ExitUsage, "--password-stdin")
	h.run("alice-pw\n", "send", "--jid", "alice", "--password-stdin", bob, "hi").expect(t, ExitOK, "")

	// A broken file is reported with its line; the command goes on
	// without it (and then needs a full account).
	if err := os.WriteFile(path, []byte("domain = \""+srv.Domain+"\"\n[server]\nhost = \"127.0.0.1\"\nport = 70000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = h.run("", "send", "--jid", "alice", bob, "hi")
	r.expect(t, ExitUsage, path+":4:1: server.port: 70000 is not a port (1 to 65535)")
	if !strings.Contains(r.stderr, `--jid "alice" is not an account`) {
		t.Fatalf("stderr %q", r.stderr)
	}
	h.run("", "provisioning").expect(t, ExitError, path+":4:1: server.port")
	h.run("", "provisioning", filepath.Join(config, "nothing.toml")).expect(t, ExitOK, "")
}
