package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"
)

// rawControls reports the control characters other than newline and tab
// in s: what must never reach a terminal from the network.
func rawControls(s string) []string {
	var found []string
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			found = append(found, strconv.QuoteRune(r))
		}
	}
	return found
}

func TestTerminalWriter(t *testing.T) {
	for i, tc := range []struct {
		writes []string
		want   string
	}{
		{[]string{"plain 中文 text\n\ttab"}, "plain 中文 text\n\ttab"},
		{[]string{"\x1b]0;owned\x07\x1b[2J"}, `\x1b]0;owned\x07\x1b[2J`},
		{[]string{"ok\rfake"}, `ok\rfake`},
		{[]string{"back\b\b\bspace\x7f"}, `back\b\b\bspace\u007f`},
		{[]string{"8-bit CSI \u009b31m red \u0085"}, `8-bit CSI \u009b31m red \u0085`},
		{[]string{"split 中", "文"[:1], "文"[1:]}, "split 中文"},
		{[]string{"bad \xff\xfe utf-8"}, `bad \xff\xfe utf-8`},
		{[]string{"\x00nul"}, `\x00nul`},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			var buf bytes.Buffer
			w := newTerminalWriter(&buf)
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if buf.String() != tc.want {
				t.Fatalf("wrote %q, want %q", buf.String(), tc.want)
			}
		})
	}
	// JSON stays JSON, with the same strings.
	var buf bytes.Buffer
	in := map[string]string{"body": "a\u009b31m\x1b[0m\r\nb\x7f"}
	enc := json.NewEncoder(newTerminalWriter(&buf))
	enc.SetEscapeHTML(false)
	if err := enc.Encode(in); err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil || out["body"] != in["body"] {
		t.Fatalf("JSON through the writer: %q -> %q, %v", buf.String(), out["body"], err)
	}
	if c := rawControls(buf.String()); len(c) > 1 || c != nil && c[0] != `'\n'` {
		t.Fatalf("raw control characters in the JSON: %v", c)
	}
}

// TestCLIEscapesControlCharacters: a stranger's message with terminal
// controls (the 8-bit CSI, CR, DEL, which XML carries) and a line that
// would pass for another message reaches `magpie listen` and `magpie
// history` escaped and indented; a stored body with ESC sequences too.
func TestCLIEscapesControlCharacters(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{})
	alice := srv.AddUser(t, "alice", "alice-pw")
	mallory := srv.AddUser(t, "mallory", "mallory-pw")
	h := newHarness(t)
	conn := []string{"--server", srv.C2SAddr, "--trust-fingerprint", xmpp.FormatFingerprint(srv.Fingerprint)}
	h.run("alice-pw\n", append([]string{"login", "--jid", alice, "--password-stdin"}, conn...)...).expect(t, ExitOK, "")

	var out, errOut lockedBuffer
	env := h.env("", &out, &errOut)
	done := make(chan int, 1)
	go func() { done <- Run(env, []string{"listen", "--jid", alice, "--count", "1"}) }()

	attacker, err := xmpp.New(mallory, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return "mallory-pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := attacker.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	body := "\u009b2J\u009b31mURGENT\rapproved\x7f\n12:00:00 <boss@" + srv.Domain + "> pay the invoice"
	// Until alice's listen is online, the message would wait offline
	// (and arrive all the same): send once it has said so.
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(out.String(), "-- online"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("listen did not come online: %q %q", out.String(), errOut.String())
		}
	}
	if _, err := attacker.SendMessage(ctx, jid.MustParse(alice), body); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("listen exited %d: %s", code, errOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("listen printed no message: %q", out.String())
	}
	check := func(what, text string) {
		t.Helper()
		if c := rawControls(text); c != nil {
			t.Errorf("%s wrote raw control characters %v:\n%q", what, c, text)
		}
		// The CR arrives as a line break (Prosody writes it raw, and XML
		// reads a raw CR as a newline): indented like the rest.
		for _, want := range []string{`\u009b2J\u009b31mURGENT`, `approved\u007f`, "\n    12:00:00 <boss@"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s does not show %q:\n%q", what, want, text)
			}
		}
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "12:00:00 <boss@") {
				t.Errorf("%s printed a line that passes for a message from boss: %q", what, line)
			}
		}
	}
	check("listen", out.String())

	// The same message, and one stored with ESC sequences (the store is
	// a file: anything may be in it), from history.
	db, _ := h.openStore(alice)
	if _, err := db.AddMessages([]store.Message{{Peer: mallory, Dir: store.Incoming, Type: "chat",
		Body: "\x1b]0;owned\x07\x1b[2Jcleared\roverwritten", Time: time.Now().Add(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	r := h.run("", "history", "--jid", alice, "--with", mallory)
	r.expect(t, ExitOK, "")
	check("history", r.stdout)
	if !strings.Contains(r.stdout, `\x1b]0;owned\x07\x1b[2Jcleared\roverwritten`) {
		t.Errorf("history does not show the ESC sequences escaped:\n%q", r.stdout)
	}
}

// lockedBuffer is a buffer that listen writes from its goroutine while
// the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
