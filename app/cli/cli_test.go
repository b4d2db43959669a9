package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/keyring/keyringtest"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"
)

type result struct {
	code           int
	stdout, stderr string
}

// harness runs commands in-process with one keyring and accounts file, as
// one user's machine would have. The keyring is in memory; the real Secret
// Service is exercised by the end-to-end test of the built binary (package
// main).
type harness struct {
	t        *testing.T
	keyring  *keyringtest.Memory
	accounts *xmpp.AccountStore
}

func newHarness(t *testing.T) *harness {
	t.Setenv("XDG_DATA_HOME", t.TempDir()) // the message history
	return &harness{t: t, keyring: &keyringtest.Memory{},
		accounts: xmpp.NewAccountStore(filepath.Join(t.TempDir(), "accounts.json"))}
}

func (h *harness) env(stdin string, stdout io.Writer, stderr io.Writer) *Env {
	return &Env{Stdin: strings.NewReader(stdin), Stdout: stdout, Stderr: stderr,
		Keyring: h.keyring, Accounts: h.accounts, Version: "test", Interrupt: make(chan struct{})}
}

func (h *harness) run(stdin string, args ...string) result {
	var out, errOut bytes.Buffer
	code := Run(h.env(stdin, &out, &errOut), args)
	return result{code, out.String(), errOut.String()}
}

func (r result) expect(t *testing.T, code int, stderrHas string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, stderrHas) {
		t.Fatalf("exit %d, stderr %q, stdout %q; want exit %d with %q", r.code, r.stderr, r.stdout, code, stderrHas)
	}
}

// openStore opens the message store that commands for account use (in the
// harness's XDG_DATA_HOME), to fill it before a command reads it.
func (h *harness) openStore(account string) (*store.DB, string) {
	h.t.Helper()
	path, err := store.DefaultPath(account)
	if err != nil {
		h.t.Fatal(err)
	}
	db, err := store.Open(path)
	if err != nil {
		h.t.Fatal(err)
	}
	return db, path
}

// listening is a `listen --json` running in the background.
type listening struct {
	t      *testing.T
	lines  <-chan map[string]any
	stderr bytes.Buffer
	done   chan int
}

// listen runs `listen args...` (with --json among them) in the background
// and reads the JSON lines it prints.
func (h *harness) listen(stdin string, args ...string) *listening {
	t := h.t
	out, w := io.Pipe()
	l := &listening{t: t, done: make(chan int, 1)}
	go func() {
		l.done <- Run(h.env(stdin, w, &l.stderr), append([]string{"listen"}, args...))
		w.Close()
	}()
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("listen printed a line that is not JSON: %q", sc.Text())
				continue
			}
			lines <- m
		}
		close(lines)
	}()
	l.lines = lines
	return l
}

// next returns the next line that matches, passing over the others; what
// names it in the failure.
func (l *listening) next(what string, match func(map[string]any) bool) map[string]any {
	l.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-l.lines:
			if !ok {
				l.t.Fatalf("listen ended before %s; stderr %q", what, l.stderr.String())
			}
			if match(m) {
				return m
			}
		case <-timeout:
			l.t.Fatalf("listen printed no %s; stderr %q", what, l.stderr.String())
		}
	}
}

// exited checks that listen ends by itself (--count), with ExitOK.
func (l *listening) exited() {
	l.t.Helper()
	select {
	case code := <-l.done:
		if code != ExitOK {
			l.t.Fatalf("listen exited %d: %s", code, l.stderr.String())
		}
	case <-time.After(10 * time.Second):
		l.t.Fatal("listen did not exit after --count lines")
	}
}

func TestCommandLine(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{})
	alice := srv.AddUser(t, "alice", "alice-pw")
	bob := srv.AddUser(t, "bob", "bob-pw")
	h := newHarness(t)
	conn := []string{"--server", srv.C2SAddr, "--trust-fingerprint", xmpp.FormatFingerprint(srv.Fingerprint)}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()

	// Failures first, each with its exit status and a plain sentence.
	h.run("wrong\n", append([]string{"login", "--jid", alice, "--password-stdin"}, conn...)...).expect(t, ExitAuth, "wrong user name or password")
	h.run("alice-pw\n", "login", "--jid", alice, "--password-stdin", "--server", srv.C2SAddr).
		expect(t, ExitCertificate, "--trust-fingerprint "+xmpp.FormatFingerprint(srv.Fingerprint))
	// A pin is exclusive: a CA vouching for the certificate does not help.
	h.run("alice-pw\n", "login", "--jid", alice, "--password-stdin", "--server", srv.C2SAddr, "--ca-file", srv.CertFile,
		"--trust-fingerprint", strings.Repeat("ab", 32)).expect(t, ExitCertificate, "has changed: it is not the one pinned")
	h.run("alice-pw\n", "login", "--jid", alice, "--password-stdin", "--server", deadAddr).expect(t, ExitUnreachable, "cannot reach the server")
	h.run("", "send", "--jid", alice, "--server", srv.C2SAddr, bob, "hi").expect(t, ExitError, "no password is saved")
	h.run("", "send", "--jid", alice).expect(t, ExitUsage, "needs a recipient")
	h.run("", "frobnicate").expect(t, ExitUsage, "unknown command")
	h.run("", "login", "--jid", "not a jid").expect(t, ExitUsage, "--jid")
	if _, err := h.keyring.Get(keyring.Service, alice); err == nil {
		t.Fatal("a failed login stored the password")
	}

	// A good login stores the password in the keyring and the settings in the
	// accounts file, so later commands need only --jid.
	r := h.run("alice-pw\n", append([]string{"login", "--jid", alice, "--password-stdin"}, conn...)...)
	r.expect(t, ExitOK, "")
	if pw, err := h.keyring.Get(keyring.Service, alice); pw != "alice-pw" || err != nil {
		t.Fatalf("keyring after login: %q, %v", pw, err)
	}
	cfg, ok, err := h.accounts.Get(alice)
	if !ok || err != nil || cfg.Server != srv.C2SAddr || len(cfg.Fingerprints) != 1 || cfg.Fingerprints[0] != srv.Fingerprint {
		t.Fatalf("saved account = %+v, %v, %v", cfg, ok, err)
	}
	// The strongest sign-in the server offered is remembered: PLAIN alone
	// will be refused from now on.
	if cfg.SASLFloor != "SCRAM-SHA-1" {
		t.Fatalf("saved account = %+v, want the SASL floor SCRAM-SHA-1", cfg)
	}

	// bob listens (password on stdin, settings on the command line).
	listen := h.listen("bob-pw\n", append([]string{"--jid", bob, "--password-stdin", "--json", "--count", "2",
		"--show", "away", "--status", "在开会"}, conn...)...)
	listen.next("online state", func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "online" })

	// alice sends with only --jid: settings from the file, password from the keyring.
	h.run("", "send", "--jid", alice, bob, "你好", "Bob!").expect(t, ExitOK, "")
	got := listen.next("message", func(m map[string]any) bool { return m["type"] == "message" })
	if got["body"] != "你好 Bob!" || !strings.HasPrefix(got["from"].(string), alice+"/") || got["id"] == "" {
		t.Fatalf("listen printed %v", got)
	}
	// A profile: bob has published none.
	if r := h.run("", "profile", "--jid", alice, bob); r.code != ExitOK || !strings.Contains(r.stdout, "(no profile)") {
		t.Fatalf("profile: %+v", r)
	}
	// The text can come from standard input too, e.g. from a script.
	h.run("第二行\nline two\n", "send", "--jid", alice, bob).expect(t, ExitOK, "")
	got = listen.next("message", func(m map[string]any) bool { return m["type"] == "message" })
	if got["body"] != "第二行\nline two" {
		t.Fatalf("listen printed %v", got)
	}
	listen.exited()

	// A message to nobody is reported as not delivered.
	h.run("", "send", "--jid", alice, "nobody@"+srv.Domain, "hello?").expect(t, ExitError, "not delivered")

	// roster: bob becomes alice's contact with presence.
	bobClient, err := xmpp.New(bob, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return "bob-pw", nil }), xmpp.WithPresence(xmpp.ShowDND, "忙", 0))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for e := range bobClient.Events() {
			if req, ok := e.(xmpp.SubscriptionRequest); ok {
				_ = bobClient.ApproveSubscription(context.Background(), req.From)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bobClient.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer bobClient.Close()
	aliceClient, err := xmpp.New(alice, append(cfg.Options(),
		xmpp.WithPassword(func(context.Context) (string, error) { return "alice-pw", nil }), xmpp.WithoutPresence())...)
	if err != nil {
		t.Fatal(err)
	}
	if err := aliceClient.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := aliceClient.AddContact(ctx, jid.MustParse(bob), "鲍勃", []string{"研发部"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ct, _ := aliceClient.Contact(jid.MustParse(bob))
		if ct.Subscription == "to" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Bob did not approve Alice's subscription: %+v", ct)
		}
	}
	aliceClient.Close()
	r = h.run("", "roster", "--jid", alice, "--json")
	r.expect(t, ExitOK, "")
	var contact map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &contact); err != nil {
		t.Fatalf("roster --json printed %q: %v", r.stdout, err)
	}
	if contact["jid"] != bob || contact["name"] != "鲍勃" || contact["subscription"] != "to" ||
		contact["presence"] != "dnd" || contact["status"] != "忙" {
		t.Fatalf("roster --json = %v", contact)
	}
	r = h.run("", "roster", "--jid", alice)
	r.expect(t, ExitOK, "")
	if !strings.Contains(r.stdout, "研发部") || !strings.Contains(r.stdout, "鲍勃") || !strings.Contains(r.stdout, "dnd") {
		t.Fatalf("roster printed %q", r.stdout)
	}

	// logout forgets the password; a send then says so.
	h.run("", "logout", "--jid", alice).expect(t, ExitOK, "")
	if _, err := h.keyring.Get(keyring.Service, alice); err == nil {
		t.Fatal("password still in the keyring after logout")
	}
	h.run("", "send", "--jid", alice, bob, "hi").expect(t, ExitError, "no password is saved")
}

// TestListenEndsWhenThePasswordChanges: when the password changes while
// listening, the reconnect after a server restart is refused and listen
// exits with the authentication status instead of waiting forever.
func TestListenEndsWhenThePasswordChanges(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{})
	bob := srv.AddUser(t, "bob", "bob-pw")
	h := newHarness(t)
	out, w := io.Pipe()
	var errOut bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- Run(h.env("bob-pw\n", w, &errOut), []string{"listen", "--jid", bob, "--password-stdin", "--json",
			"--server", srv.C2SAddr, "--trust-fingerprint", srv.Fingerprint})
		w.Close()
	}()
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), `"state":"online"`) {
	}
	go func() {
		for sc.Scan() {
		}
	}()
	srv.AddUser(t, "bob", "changed-by-IT") // overwrites the account: a new password
	srv.Restart(t)
	select {
	case c := <-code:
		if c != ExitAuth || !strings.Contains(errOut.String(), "wrong user name or password") {
			t.Fatalf("listen exited %d: %q", c, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("listen still running after the password change; stderr %q", errOut.String())
	}
}
