package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"

	"mellium.im/xmpp/jid"
)

// TestKilledDuringBurst kills `magpie listen` with SIGKILL in the middle of
// a burst of messages, starts it again, and then checks with `magpie
// history` that its store holds every message exactly once, in order: what
// the killed process never stored comes back from the archive (and offline
// storage), and what it had stored is not added twice.
func TestKilledDuringBurst(t *testing.T) {
	if os.Getenv(binEnv) == "" {
		t.Setenv(binEnv, buildMagpie(t))
	}
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	srv := prosodytest.Start(t, prosodytest.Options{})
	alice := srv.AddUser(t, "alice", "alice-pw")
	bob := srv.AddUser(t, "bob", "bob-pw")
	conn := []string{"--server", srv.C2SAddr, "--trust-fingerprint", srv.Fingerprint, "--password-stdin"}

	// alice is an in-process client with her own store.
	aliceDB, err := store.Open(filepath.Join(t.TempDir(), "alice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer aliceDB.Close()
	sender, err := xmpp.New(alice, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return "alice-pw", nil }), xmpp.WithStore(aliceDB))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range sender.Events() {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sender.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer sender.Close()

	// listen starts, signs in, and prints messages as JSON lines.
	listen := func() (*exec.Cmd, <-chan map[string]any) {
		cmd := exec.Command(os.Getenv(binEnv), append([]string{"listen", "--jid", bob, "--json"}, conn...)...)
		cmd.Stdin = strings.NewReader("bob-pw\n")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, jsonLines(out)
	}
	await := func(lines <-chan map[string]any, what string, match func(map[string]any) bool) {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case m, ok := <-lines:
				if !ok {
					t.Fatalf("listen ended before %s", what)
				}
				if match(m) {
					return
				}
			case <-timeout:
				t.Fatalf("listen printed no %s", what)
			}
		}
	}
	isType := func(typ string) func(map[string]any) bool {
		return func(m map[string]any) bool { return m["type"] == typ }
	}

	bobJID := jid.MustParse(bob)
	const total = 2000
	first, lines := listen()
	await(lines, "online", func(m map[string]any) bool { return m["type"] == "state" && m["state"] == "online" })
	await(lines, "history sync", isType("history_synced"))
	burstDone := make(chan error, 1)
	go func() {
		for i := range total {
			if _, err := sender.SendMessage(ctx, bobJID, fmt.Sprintf("burst %04d 消息", i)); err != nil {
				burstDone <- err
				return
			}
		}
		burstDone <- nil
	}()
	// Kill it once it has printed a few hundred messages: mid-burst.
	for got := 0; got < 300; {
		await(lines, "burst message", isType("message"))
		got++
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if err := <-burstDone; err != nil {
		t.Fatal(err)
	}
	// Until the server has taken all of alice's burst (her outbox is
	// empty), some of it is not in the archive yet.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		out, err := aliceDB.Outbox()
		if err != nil {
			t.Fatal(err)
		}
		if len(out) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's outbox still holds %d messages", len(out))
		}
	}

	second, lines := listen()
	await(lines, "history sync after the restart", isType("history_synced"))
	if err := second.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = second.Wait()

	r := magpie(t, "", "history", "--jid", bob, "--with", alice, "--json")
	if r.code != 0 {
		t.Fatalf("history: %+v", r)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("history line %q: %v", line, err)
		}
		got = append(got, m["body"].(string))
	}
	if len(got) != total {
		t.Fatalf("bob's history holds %d messages, want %d", len(got), total)
	}
	for i, body := range got {
		if want := fmt.Sprintf("burst %04d 消息", i); body != want {
			t.Fatalf("bob's history[%d] = %q, want %q", i, body, want)
		}
	}
	// alice's side: every message stored once, none left pending.
	mine, err := aliceDB.History(bob, store.Cursor{}, 2*total)
	if err != nil || len(mine) != total {
		t.Fatalf("alice's history: %d messages, %v", len(mine), err)
	}
	if out, _ := aliceDB.Outbox(); len(out) != 0 {
		t.Fatalf("alice's outbox still holds %d messages", len(out))
	}
}
