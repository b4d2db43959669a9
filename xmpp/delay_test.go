package xmpp

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"
)

// TestTrustedDelay: which delay stamps (XEP-0203) set a message's time.
// Only one the own server (its domain, or the own bare JID for stream
// management) added counts on a one-to-one message, only the room's on a
// group chat message; a stamp is never later than the arrival.
func TestTrustedDelay(t *testing.T) {
	c, err := New("alice@magpie.test", WithPassword(func(context.Context) (string, error) { return "", nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hourAgo := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	stamp := func(from string, at time.Time) string {
		if from != "" {
			from = ` from='` + from + `'`
		}
		return `<delay xmlns='urn:xmpp:delay'` + from + ` stamp='` + at.Format(time.RFC3339) + `'/>`
	}
	future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	past := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	const chat = `<message xmlns='jabber:client' type='chat' from='mallory@magpie.test/x' to='alice@magpie.test/r'><body>b</body>%s</message>`
	const room = `<message xmlns='jabber:client' type='groupchat' from='office@conference.magpie.test/Mallory' to='alice@magpie.test/r'><body>b</body>%s</message>`
	for i, tc := range []struct {
		msg, delays string
		want        time.Time // zero: the arrival, not delayed
	}{
		0:  {chat, "", time.Time{}},
		1:  {chat, stamp("mallory@magpie.test/x", future), time.Time{}}, // the sender's own word
		2:  {chat, stamp("", past), time.Time{}},                        // nobody's
		3:  {chat, stamp("mallory@magpie.test", hourAgo), time.Time{}},
		4:  {chat, stamp("magpie.test", hourAgo), hourAgo},                 // offline storage
		5:  {chat, stamp("MAGPIE.TEST", hourAgo), hourAgo},                 // any case
		6:  {chat, stamp("alice@magpie.test", hourAgo), hourAgo},           // stream management
		7:  {chat, stamp("alice@magpie.test/phone", hourAgo), time.Time{}}, // an own device: a client's word
		8:  {chat, stamp("magpie.test.evil.example", hourAgo), time.Time{}},
		9:  {chat, stamp("conference.magpie.test", hourAgo), time.Time{}},
		10: {chat, stamp("magpie.test", future), time.Time{}.Add(1)}, // trusted, yet not from the future: the arrival
		11: {chat, stamp("mallory@magpie.test", past) + stamp("magpie.test", hourAgo), hourAgo},
		12: {chat, stamp("magpie.test", hourAgo) + stamp("mallory@magpie.test", past), hourAgo}, // order does not matter
		13: {chat, `<delay xmlns='urn:xmpp:delay' from='magpie.test' stamp='garbage'/>`, time.Time{}},
		14: {chat, stamp("mallory@magpie.test", past) + `<delay xmlns='urn:xmpp:delay' from='magpie.test' stamp='` +
			hourAgo.Add(250*time.Millisecond).Format(time.RFC3339Nano) + `'/>`, hourAgo.Add(250 * time.Millisecond)}, // fractions
		15: {room, stamp("office@conference.magpie.test", hourAgo), hourAgo}, // join history
		16: {room, stamp("office@conference.magpie.test/Mallory", past), time.Time{}},
		17: {room, stamp("magpie.test", past), time.Time{}}, // the server does not speak for the room
		18: {room, stamp("other@conference.magpie.test", past), time.Time{}},
		19: {room, stamp("office@conference.magpie.test", future), time.Time{}.Add(1)},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			var w wireMessage
			if err := xml.Unmarshal(fmt.Appendf(nil, tc.msg, tc.delays), &w); err != nil {
				t.Fatal(err) // a stamp that does not parse must not lose the message
			}
			before := time.Now()
			m, ok := c.translate(w)
			after := time.Now()
			if !ok {
				t.Fatal("not translated")
			}
			switch {
			case tc.want.Equal(time.Time{}.Add(1)): // the arrival, delayed
				if !m.Delayed || m.Time.Before(before) || m.Time.After(after) {
					t.Fatalf("time %v delayed %v, want the arrival (clamped)", m.Time, m.Delayed)
				}
			case tc.want.IsZero():
				if m.Delayed || m.Time.Before(before) || m.Time.After(after) {
					t.Fatalf("time %v delayed %v, want the arrival", m.Time, m.Delayed)
				}
			default:
				if !m.Delayed || !m.Time.Equal(tc.want) {
					t.Fatalf("time %v delayed %v, want %v", m.Time, m.Delayed, tc.want)
				}
			}
		})
	}
}

// TestPeerDelayIgnored, against Prosody: mallory, an ordinary account,
// dates chat messages 2099 and 1970 with delay stamps of her own, and one
// 2099 in the server's name. Each is stored with the time it arrived
// (never later), so her conversation is not pinned above bob's, and the
// archive catch-up's bookmark keeps the arrival time. Later, while alice is
// away, her archive is reset (so the catch-up has to go by time), mallory
// writes again and alice's phone sends bob a message: at sign-in the
// offline message keeps the server's stamp (it is not dragged after a
// stamp of mallory's), and the catch-up still brings the phone's message.
func TestPeerDelayIgnored(t *testing.T) {
	srv := startProsody(t)
	domain := srv.Domain
	db := openStore(t)
	mallory, _ := online(t, srv, "mallory")
	bob, _ := online(t, srv, "bob")
	alice, ae := online(t, srv, "alice", WithStore(db))
	waitFor(t, ae, 10*time.Second, func(e HistorySynced) bool { return e.Err == nil })
	ctx := ctxLong(t)
	to := alice.Account().String()

	if _, err := bob.SendMessage(ctx, alice.Account(), "bob first"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ae, 5*time.Second, func(e MessageReceived) bool { return e.Body == "bob first" })
	before := time.Now()
	attack := func(body, delay string) {
		t.Helper()
		raw := `<message to='` + to + `' type='chat' id='` + randomHex(6) + `'><body>` + body + `</body>` + delay + `</message>`
		if err := mallory.sendRaw(ctx, raw); err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, ae, 5*time.Second, func(e MessageReceived) bool { return e.Body == body })
		if got.Time.Before(before) || got.Time.After(time.Now()) {
			t.Errorf("%q reported at %v, want its arrival", body, got.Time)
		}
	}
	attack("from 2099", `<delay xmlns='urn:xmpp:delay' from='mallory@`+domain+`/x' stamp='2099-01-01T00:00:00Z'/>`)
	attack("from 1970", `<delay xmlns='urn:xmpp:delay' stamp='1970-01-01T00:00:00Z'/>`)
	if _, err := bob.SendMessage(ctx, alice.Account(), "bob later"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ae, 5*time.Second, func(e MessageReceived) bool { return e.Body == "bob later" })
	alice.store.barrier()
	if convs, _ := db.Conversations(0); len(convs) != 2 || convs[0].Peer != bob.Account().String() {
		t.Errorf("conversations %+v: bob wrote last, so his comes first", convs)
	}
	// The last word, dated in the server's name (mallory forges that as
	// easily), is taken as the server's, yet never from the future; the
	// catch-up's bookmark has the arrival time.
	attack("2099 in the server's name", `<delay xmlns='urn:xmpp:delay' from='`+domain+`' stamp='2099-06-01T00:00:00Z'/>`)
	alice.store.barrier()
	now := time.Now()
	for _, m := range mustHistory(t, db, mallory.Account().String()) {
		if m.Time.Before(before) || m.Time.After(now) {
			t.Errorf("%q stored at %v, want its arrival (after %v)", m.Body, m.Time, before)
		}
	}
	if id, at, err := db.ArchiveCursor(); err != nil || id == "" || at.Before(before) || at.After(now) {
		t.Errorf("archive cursor %q at %v (%v), want the arrival of the newest message", id, at, err)
	}

	// Alice signs out; her archive is reset (expired, or wiped by the
	// administrator): the id her catch-up would start after is gone.
	alice.Close()
	files, _ := filepath.Glob(filepath.Join(srv.Dir, "data", "*", "archive*", "alice.*"))
	if len(files) == 0 {
		t.Fatalf("no archive file of alice's under %s", srv.Dir)
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // the server stamps whole seconds: after what alice has
	sent := time.Now().Truncate(time.Second)
	if _, err := mallory.SendMessage(ctx, alice.Account(), "while you were away"); err != nil {
		t.Fatal(err)
	}
	// Alice's phone, without presence (so mallory's message went to
	// offline storage), writes to bob: only the archive has that.
	phone, _ := onlineAs(t, srv, "alice", WithResource("phone"), WithoutPresence())
	if _, err := phone.SendMessage(ctx, bob.Account(), "from my phone"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Client{mallory, phone} {
		if err := c.Ping(ctx, jid.MustParse(domain)); err != nil {
			t.Fatal(err)
		}
	}
	phone.Close()
	time.Sleep(1100 * time.Millisecond) // the offline stamp is then clearly before the sign-in
	signIn := time.Now()

	_, again := onlineAs(t, srv, "alice", WithStore(db))
	got := waitFor(t, again, 10*time.Second, func(e MessageReceived) bool { return e.Body == "while you were away" })
	if !got.Delayed || got.Time.Before(sent) || !got.Time.Before(signIn) {
		t.Errorf("the offline message at %v (delayed %v), want the server's stamp %v, before the sign-in at %v", got.Time, got.Delayed, sent, signIn)
	}
	waitFor(t, again, 10*time.Second, func(e HistorySynced) bool { return true })
	waitConversation(t, "alice", db, bob.Account().String(), []string{"<bob first", "<bob later", ">from my phone"})
	for _, m := range mustHistory(t, db, mallory.Account().String()) {
		if m.Time.After(time.Now()) {
			t.Errorf("%q stored at %v, in the future", m.Body, m.Time)
		}
	}
}

// TestRoomDelayStamps, against Prosody, in a room without an archive (its
// join history is the history): mallory, an occupant, dates group chat
// messages 2099 and 1970, in her own name, nobody's, the server's and the
// room's. Each is taken at its arrival, so the room's newest stored time
// stays true; alice leaves, bob talks, and when alice comes back the join
// history, stamped by the room, keeps the room's times.
func TestRoomDelayStamps(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{Components: []prosodytest.Component{{
		Domain: "conference.magpie.test", Module: "muc",
		Config: "\tmuc_room_default_persistent = true\n\tmax_history_messages = 50\n",
	}}})
	room := jid.MustParse("office@conference." + srv.Domain)
	db := openStore(t)
	alice, ae := online(t, srv, "alice", WithStore(db))
	bob, be := online(t, srv, "bob")
	mallory, _ := online(t, srv, "mallory")
	joinAll(t, srv, room, []*Client{alice, bob, mallory}, "Alice", "Bob", "Mallory")
	ctx := ctxLong(t)

	before := time.Now()
	for _, tc := range []struct{ body, delay string }{
		{"from 2099", `<delay xmlns='urn:xmpp:delay' from='` + room.String() + `/Mallory' stamp='2099-01-01T00:00:00Z'/>`},
		{"from 1970", `<delay xmlns='urn:xmpp:delay' stamp='1970-01-01T00:00:00Z'/>`},
		{"1970 in the server's name", `<delay xmlns='urn:xmpp:delay' from='` + srv.Domain + `' stamp='1970-01-01T00:00:00Z'/>`},
		{"2099 in the room's name", `<delay xmlns='urn:xmpp:delay' from='` + room.String() + `' stamp='2099-01-01T00:00:00Z'/>`},
	} {
		raw := `<message to='` + room.String() + `' type='groupchat' id='` + randomHex(6) + `'><body>` + tc.body + `</body>` + tc.delay + `</message>`
		if err := mallory.sendRaw(ctx, raw); err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, ae, 5*time.Second, func(e RoomMessage) bool { return e.Body == tc.body })
		if got.Delayed || got.Time.Before(before) || got.Time.After(time.Now()) {
			t.Errorf("%q at %v (delayed %v), want its arrival", tc.body, got.Time, got.Delayed)
		}
	}

	if err := alice.LeaveRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ae, 5*time.Second, func(e RoomLeft) bool { return e.Room.Equal(room) })
	said := time.Now().Truncate(time.Second)
	missed := talk(t, room, "while alice was out", 2, []*Client{bob}, []*recorder{be})
	rejoin := time.Now()
	mark := ae.mark()
	if err := alice.JoinRoom(ctx, room, "Alice"); err != nil {
		t.Fatal(err)
	}
	for _, body := range missed {
		got := waitFrom(t, ae, mark, 10*time.Second, func(e RoomMessage) bool { return e.Body == body })
		if !got.Delayed || got.Time.Before(said) || !got.Time.Before(rejoin) {
			t.Errorf("%q from the join history at %v (delayed %v), want the room's stamp, after %v and before the rejoin at %v",
				body, got.Time, got.Delayed, said, rejoin)
		}
	}
	alice.store.barrier()
	now := time.Now()
	for _, m := range mustHistory(t, db, room.String()) {
		if m.Time.Before(before) || m.Time.After(now) {
			t.Errorf("%q stored at %v", m.Body, m.Time)
		}
	}
}

// mustHistory is the whole stored conversation with peer, oldest first.
func mustHistory(t *testing.T, db *store.DB, peer string) []store.Message {
	t.Helper()
	msgs, err := db.History(peer, store.Cursor{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestStampedAfterPoisonedHistory: a store that an older version let a
// peer's stamp date 2099 does not drag the next stamped message (an
// offline one, with the server's stamp) after it.
func TestStampedAfterPoisonedHistory(t *testing.T) {
	db := openStore(t)
	if _, err := db.AddMessages([]store.Message{{Peer: "mallory@magpie.test", Dir: store.Incoming, ID: "old", Type: "chat",
		Body: "from 2099", Time: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	c, err := New("alice@magpie.test", WithPassword(func(context.Context) (string, error) { return "", nil }), WithStore(db))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := record(c)
	sent := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	var w wireMessage
	if err := xml.Unmarshal([]byte(`<message xmlns='jabber:client' type='chat' id='off' from='mallory@magpie.test/x' to='alice@magpie.test/r'>`+
		`<body>while you were away</body><delay xmlns='urn:xmpp:delay' from='magpie.test' stamp='`+sent.Format(time.RFC3339)+`'/></message>`), &w); err != nil {
		t.Fatal(err)
	}
	c.onMessage(w, nil)
	got := waitFor(t, rec, 5*time.Second, func(e MessageReceived) bool { return e.ID == "off" })
	if !got.Time.Equal(sent) {
		t.Fatalf("the offline message stored at %v, want the server's stamp %v", got.Time, sent)
	}
}
