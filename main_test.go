package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"magpie/xmpp"
	"magpie/xmpp/bustest"
	"magpie/xmpp/keyring"
	"magpie/xmpp/prosodytest"
)

// raceEnabled is set when the tests run with -race; the binary under test is
// built the same way so the compiled packages come from the build cache.
var raceEnabled bool

const binEnv = "MAGPIE_E2E_BIN"

// buildMagpie builds the real binary once, outside the private session (whose
// fresh HOME would also mean a fresh, cold build cache).
func buildMagpie(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "magpie")
	args := []string{"build", "-o", bin, "-ldflags", "-X main.version=e2e"}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// jsonLines decodes the JSON objects a command prints, one per line, until
// its output ends.
func jsonLines(r io.Reader) <-chan map[string]any {
	lines := make(chan map[string]any, 10000)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
		close(lines)
	}()
	return lines
}

type run struct {
	code           int
	stdout, stderr string
}

func magpie(t *testing.T, stdin string, args ...string) run {
	t.Helper()
	cmd := exec.Command(os.Getenv(binEnv), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return run{code, out.String(), errOut.String()}
}

// TestEndToEndCommandLine drives the built binary as a user would, with the
// password in a real Secret Service (gnome-keyring on a private D-Bus) and a
// real Prosody: login, listen, send, logout.
func TestEndToEndCommandLine(t *testing.T) {
	if os.Getenv(binEnv) == "" {
		t.Setenv(binEnv, buildMagpie(t))
	}
	if !bustest.InPrivateSession(t, true) {
		return
	}
	srv := prosodytest.Start(t, prosodytest.Options{})
	alice := srv.AddUser(t, "alice", "alice-pw")
	bob := srv.AddUser(t, "bob", "bob-pw")
	conn := []string{"--server", srv.C2SAddr, "--trust-fingerprint", srv.Fingerprint}

	if r := magpie(t, "", "version"); r.code != 0 || strings.TrimSpace(r.stdout) != "magpie e2e" {
		t.Fatalf("version: %+v", r)
	}
	// Without a display (the private session has none) the app says so
	// instead of panicking in GLFW.
	if r := magpie(t, ""); r.code != 1 || !strings.Contains(r.stderr, "no graphical display") || strings.Contains(r.stderr, "panic") {
		t.Fatalf("no display: %+v", r)
	}
	r := magpie(t, "alice-pw\n", "login", "--jid", alice, "--password-stdin", "--server", srv.C2SAddr)
	if r.code != 5 || !strings.Contains(r.stderr, xmpp.FormatFingerprint(srv.Fingerprint)) {
		t.Fatalf("login without pin: %+v", r)
	}
	r = magpie(t, "alice-pw\n", append([]string{"login", "--jid", alice, "--password-stdin"}, conn...)...)
	if r.code != 0 {
		t.Fatalf("login: %+v", r)
	}
	if pw, err := keyring.System().Get(keyring.Service, alice); pw != "alice-pw" || err != nil {
		t.Fatalf("password in the Secret Service: %q, %v", pw, err)
	}
	settings, err := os.ReadFile(filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "magpie", "accounts.json"))
	if err != nil || strings.Contains(string(settings), "alice-pw") || !strings.Contains(string(settings), srv.C2SAddr) {
		t.Fatalf("accounts.json (%v): %s", err, settings)
	}

	listen := exec.Command(os.Getenv(binEnv), append([]string{"listen", "--jid", bob, "--password-stdin", "--json", "--count", "1"}, conn...)...)
	listen.Stdin = strings.NewReader("bob-pw\n")
	var listenErr bytes.Buffer
	listen.Stderr = &listenErr
	stdout, err := listen.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := listen.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = listen.Process.Kill() })
	lines := jsonLines(stdout)
	await := func(match func(map[string]any) bool) map[string]any {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for {
			select {
			case m, ok := <-lines:
				if !ok {
					t.Fatalf("listen ended early: %s", listenErr.String())
				}
				if match(m) {
					return m
				}
			case <-timeout:
				t.Fatalf("listen printed nothing matching: %s", listenErr.String())
			}
		}
	}
	await(func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "online" })

	// Only --jid: the server, the pin and the password come from what login saved.
	if r := magpie(t, "", "send", "--jid", alice, bob, "你好，鲍勃 👋"); r.code != 0 {
		t.Fatalf("send: %+v", r)
	}
	msg := await(func(m map[string]any) bool { return m["type"] == "message" })
	if msg["body"] != "你好，鲍勃 👋" || !strings.HasPrefix(msg["from"].(string), alice+"/") {
		t.Fatalf("listen got %v", msg)
	}
	done := make(chan error, 1)
	go func() { done <- listen.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("listen --count 1: %v: %s", err, listenErr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listen --count 1 did not exit")
	}

	// listen runs until interrupted; Ctrl-C (SIGINT) signs out and exits 0.
	interrupted := exec.Command(os.Getenv(binEnv), "listen", "--jid", alice, "--json")
	intOut, err := interrupted.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := interrupted.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = interrupted.Process.Kill() })
	intLines := bufio.NewScanner(intOut)
	for intLines.Scan() && !strings.Contains(intLines.Text(), `"state":"online"`) {
	}
	if err := interrupted.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var last string
	for intLines.Scan() {
		last = intLines.Text()
	}
	exited := make(chan error, 1)
	go func() { exited <- interrupted.Wait() }()
	select {
	case err := <-exited:
		if err != nil || !strings.Contains(last, `"state":"offline"`) {
			t.Fatalf("listen after Ctrl-C: %v; last line %q", err, last)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("listen did not exit on Ctrl-C")
	}

	// Ctrl-C also stops a sign-in that hangs on a silent server, at once.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	stuck := exec.Command(os.Getenv(binEnv), "send", "--jid", alice, "--server", silent.Addr().String(), "--password-stdin", bob, "hello")
	stuck.Stdin = strings.NewReader("x\n")
	var stuckErr bytes.Buffer
	stuck.Stderr = &stuckErr
	if err := stuck.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	sentAt := time.Now()
	_ = stuck.Process.Signal(os.Interrupt)
	err = stuck.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || time.Since(sentAt) > 3*time.Second || !strings.Contains(stuckErr.String(), "interrupted") {
		t.Fatalf("send interrupted during sign-in: %v after %v; stderr %q", err, time.Since(sentAt), stuckErr.String())
	}

	if r := magpie(t, "", "logout", "--jid", alice); r.code != 0 {
		t.Fatalf("logout: %+v", r)
	}
	if r := magpie(t, "", "send", "--jid", alice, bob, "again"); r.code != 1 || !strings.Contains(r.stderr, "no password is saved") {
		t.Fatalf("send after logout: %+v", r)
	}
}
