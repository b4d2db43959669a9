package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"
)

// TestRooms drives group chat from the command line against Prosody with a
// group chat service and XEP-0402 bookmarks: listen joins bob's autojoin
// bookmark and reports what `send --room` says there; rooms lists the
// bookmark and the service's rooms.
func TestRooms(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{Modules: []string{"bookmarks"},
		Components: []prosodytest.Component{{Domain: "conference.magpie.test", Module: "muc",
			Config: "\tmuc_room_default_persistent = true\n\tmuc_room_default_public = true"}}})
	alice := srv.AddUser(t, "alice", "alice-pw")
	bob := srv.AddUser(t, "bob", "bob-pw")
	office := "office@conference." + srv.Domain
	h := newHarness(t)
	conn := []string{"--server", srv.C2SAddr, "--trust-fingerprint", xmpp.FormatFingerprint(srv.Fingerprint)}
	for user, account := range map[string]string{"alice": alice, "bob": bob} {
		h.run(user+"-pw\n", append([]string{"login", "--jid", account, "--password-stdin"}, conn...)...).expect(t, ExitOK, "")
	}

	// bob bookmarks the office with autojoin (from another device).
	bobClient, err := xmpp.New(bob, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return "bob-pw", nil }), xmpp.WithoutPresence())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bobClient.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	err = bobClient.SetBookmark(ctx, xmpp.Bookmark{Room: jid.MustParse(office), Name: "Office", Autojoin: true, Nick: "Bob"})
	bobClient.Close()
	if err != nil {
		t.Fatal(err)
	}

	listen := h.listen("", "--jid", bob, "--json", "--count", "1")
	listen.next("room joined", func(m map[string]any) bool { return m["type"] == "room_joined" && m["room"] == office })

	h.run("", "send", "--jid", alice, "--room", office, "大家好,", "office").expect(t, ExitOK, "")
	got := listen.next("groupchat", func(m map[string]any) bool { return m["type"] == "groupchat" })
	if got["room"] != office || got["nick"] != "alice" || got["body"] != "大家好, office" {
		t.Fatalf("listen printed %v", got)
	}
	listen.exited()

	h.run("", "send", "--jid", alice, "--room", "not a room").expect(t, ExitUsage, "is not a room")

	r := h.run("", "rooms", "--jid", bob, "--json")
	r.expect(t, ExitOK, "")
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("rooms --json printed %q", r.stdout)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 || lines[0]["type"] != "bookmark" || lines[0]["room"] != office || lines[0]["autojoin"] != true ||
		lines[0]["name"] != "Office" || lines[1]["type"] != "room" || lines[1]["room"] != office || lines[1]["bookmarked"] != true {
		t.Fatalf("rooms --json:\n%s", r.stdout)
	}
	if _, ok := lines[0]["password"]; ok {
		t.Fatal("rooms --json printed a password field")
	}

	r = h.run("", "rooms", "--jid", alice)
	r.expect(t, ExitOK, "")
	if !strings.Contains(r.stdout, "No bookmarked rooms.") || !strings.Contains(r.stdout, "Rooms on conference."+srv.Domain) ||
		!strings.Contains(r.stdout, office) {
		t.Fatalf("rooms:\n%s", r.stdout)
	}
}

// TestRoomMessageText checks the text line listen prints for a room message.
func TestRoomMessageText(t *testing.T) {
	var out strings.Builder
	m := xmpp.RoomMessage{Room: jid.MustParse("office@conference.example"), Nick: "alice"}
	m.Body, m.Time = "hi all", time.Now()
	newPrinter(&out, false).event(m)
	if want := "[office@conference.example] <alice> hi all\n"; !strings.HasSuffix(out.String(), want) {
		t.Fatalf("printed %q, want it to end in %q", out.String(), want)
	}
}

// TestSendRoomBesideOtherDevice: `send --room` while another client of the
// same account (the desktop app, sharing the message store) is in the room,
// under another nick and under the same one: it exits 0 as soon as the room
// has the message, although the other client records that in the shared
// store first (the command's link is the slower one here, so it always
// does).
func TestSendRoomBesideOtherDevice(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{Components: []prosodytest.Component{{
		Domain: "conference.magpie.test", Module: "muc", Config: "\tmodules_enabled = { \"muc_mam\" }\n\tmuc_room_default_persistent = true\n"}}})
	alice := srv.AddUser(t, "alice", "alice-pw")
	office := jid.MustParse("office@conference." + srv.Domain)
	h := newHarness(t)
	slow := slowLink(t, srv.C2SAddr, 100*time.Millisecond)
	conn := []string{"--server", slow, "--trust-fingerprint", xmpp.FormatFingerprint(srv.Fingerprint)}
	h.run("alice-pw\n", append([]string{"login", "--jid", alice, "--password-stdin"}, conn...)...).expect(t, ExitOK, "")

	db, _ := h.openStore(alice)
	defer db.Close()
	desk, err := xmpp.New(alice, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return "alice-pw", nil }),
		xmpp.WithResource("desk"), xmpp.WithStore(db))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range desk.Events() {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := desk.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer desk.Close()
	for i, nick := range []string{"Alice", "alice"} { // the command's nick is the local part
		if err := desk.JoinRoom(ctx, office, nick); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("from the command line %d", i)
		h.run("", "send", "--jid", alice, "--room", office.String(), body).expect(t, ExitOK, "")
		// The shared store holds it once, as sent.
		deadline := time.Now().Add(10 * time.Second)
		for {
			msgs, err := db.History(office.String(), store.Cursor{}, 100)
			if err != nil {
				t.Fatal(err)
			}
			var found []store.Message
			for _, m := range msgs {
				if m.Body == body {
					found = append(found, m)
				}
			}
			if len(found) == 1 && found[0].Dir == store.Outgoing && found[0].State == store.Sent {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the store holds %+v", found)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := desk.LeaveRoom(ctx, office); err != nil {
			t.Fatal(err)
		}
	}
}

// slowLink forwards TCP to target and delivers what the server sends
// after delay (in order), like a link with that much latency one way.
func slowLink(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() {
				type chunk struct {
					at   time.Time
					data []byte
				}
				chunks := make(chan chunk, 1024)
				go func() {
					defer close(chunks)
					for {
						buf := make([]byte, 32*1024)
						n, err := out.Read(buf)
						if n > 0 {
							chunks <- chunk{time.Now(), buf[:n]}
						}
						if err != nil {
							return
						}
					}
				}()
				defer in.Close()
				for c := range chunks {
					time.Sleep(time.Until(c.at.Add(delay)))
					if _, err := in.Write(c.data); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
