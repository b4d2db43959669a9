package xmpp

import (
	"context"
	"encoding/xml"
	"reflect"
	"testing"
	"time"

	"magpie/xmpp/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// TestPrivateMessageRouting feeds private messages through a room (XEP-0045
// §7.5) to the message handler, live, as carbons and from the archive: each
// is one-to-one (MessageReceived), marked Private, never a notice or a room
// message, and stored under the occupant's full JID, apart from the room's
// history; what is no private message keeps its bare peer.
func TestPrivateMessageRouting(t *testing.T) {
	db := openStore(t)
	c, err := New("bob@magpie.test", WithPassword(func(context.Context) (string, error) { return "", nil }),
		WithStore(db), WithNoticeSenders("alerts@conference.magpie.test"))
	if err != nil {
		t.Fatal(err)
	}
	rec := record(c)
	t.Cleanup(func() { c.Close() })
	office := jid.MustParse("office@conference.magpie.test") // joined
	c.mu.Lock()
	c.rooms[office.String()] = &roomState{room: office, nick: "Bob", joined: true, occupants: map[string]Occupant{}}
	c.mamQueries["q1"] = false
	c.mu.Unlock()
	// The server's group chat service, as the client looks it up before
	// the archive.
	c.kinds.noteService(jid.MustParse("conference.magpie.test"))

	const x = `<x xmlns='http://jabber.org/protocol/muc#user'/>`
	for _, s := range []string{
		// Live, from an occupant of the joined room, without the muc#user
		// element (not every server adds it).
		`<message xmlns='jabber:client' type='chat' id='live1' from='office@conference.magpie.test/Alice' to='bob@magpie.test/r'><body>psst</body></message>`,
		// Live, with the element, from a room not joined (here).
		`<message xmlns='jabber:client' type='chat' id='live2' from='lunch@conference.magpie.test/Carol' to='bob@magpie.test/r'>` + x + `<body>noon?</body></message>`,
		// Type normal from a notifier account's occupant JID: still private.
		`<message xmlns='jabber:client' type='normal' id='live3' from='alerts@conference.magpie.test/bot' to='bob@magpie.test/r'>` + x + `<body>ping</body></message>`,
		// A colleague's resource: a chat, with the bare JID as peer.
		`<message xmlns='jabber:client' type='chat' id='chat1' from='carol@magpie.test/phone' to='bob@magpie.test/r'><body>hi</body></message>`,
		// Strangers who add the element, on the own server and another
		// one the client knows nothing of: chats with them.
		`<message xmlns='jabber:client' type='chat' id='chat3' from='mallory@magpie.test/CEO' to='bob@magpie.test/r'>` + x + `<body>as if through a room</body></message>`,
		`<message xmlns='jabber:client' to='bob@magpie.test/r'><result xmlns='urn:xmpp:mam:2' queryid='q1' id='A3'><forwarded xmlns='urn:xmpp:forward:0'>` +
			`<delay xmlns='urn:xmpp:delay' stamp='2024-05-01T09:00:00Z'/>` +
			`<message xmlns='jabber:client' type='chat' id='chat4' from='eve@elsewhere.test/CEO' to='bob@magpie.test/r'>` + x + `<body>archived, as if through a room</body></message></forwarded></result></message>`,
		// An occupant of a room not joined, without the element: nothing
		// tells it from a chat.
		`<message xmlns='jabber:client' type='chat' id='chat2' from='lunch@conference.magpie.test/Dave' to='bob@magpie.test/r'><body>unknown</body></message>`,
		// Carbons: one another device of bob sent, one it received.
		`<message xmlns='jabber:client' from='bob@magpie.test' to='bob@magpie.test/r'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>` +
			`<message xmlns='jabber:client' type='chat' id='cs1' from='bob@magpie.test/phone' to='office@conference.magpie.test/Alice'>` + x + `<body>from my phone</body></message></forwarded></sent></message>`,
		`<message xmlns='jabber:client' from='bob@magpie.test' to='bob@magpie.test/r'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>` +
			`<message xmlns='jabber:client' type='chat' id='cr1' from='lunch@conference.magpie.test/Carol' to='bob@magpie.test/phone'>` + x + `<body>to my phone</body></message></forwarded></received></message>`,
		// The own archive, of a room not joined (yet): both directions.
		`<message xmlns='jabber:client' to='bob@magpie.test/r'><result xmlns='urn:xmpp:mam:2' queryid='q1' id='A1'><forwarded xmlns='urn:xmpp:forward:0'>` +
			`<delay xmlns='urn:xmpp:delay' stamp='2024-05-01T10:00:00Z'/>` +
			`<message xmlns='jabber:client' type='chat' id='ar1' from='ops@conference.magpie.test/Erin' to='bob@magpie.test/r'>` + x + `<body>archived in</body></message></forwarded></result></message>`,
		`<message xmlns='jabber:client' to='bob@magpie.test/r'><result xmlns='urn:xmpp:mam:2' queryid='q1' id='A2'><forwarded xmlns='urn:xmpp:forward:0'>` +
			`<delay xmlns='urn:xmpp:delay' stamp='2024-05-01T10:01:00Z'/>` +
			`<message xmlns='jabber:client' type='chat' id='ar2' from='bob@magpie.test/old' to='ops@conference.magpie.test/Erin'>` + x + `<body>archived out</body></message></forwarded></result></message>`,
		// A public message in the joined room.
		`<message xmlns='jabber:client' type='groupchat' id='pub1' from='office@conference.magpie.test/Alice' to='bob@magpie.test/r'><body>public</body></message>`,
		`<message xmlns='jabber:client' type='chat' id='end' from='carol@magpie.test/phone' to='bob@magpie.test/r'><body>done</body></message>`,
	} {
		var w wireMessage
		if err := xml.Unmarshal([]byte(s), &w); err != nil {
			t.Fatal(err)
		}
		c.onMessage(w, nil)
	}
	waitFor(t, rec, 5*time.Second, func(e MessageReceived) bool { return e.ID == "end" })

	type got struct {
		Private, Outgoing bool
		Peer              string
	}
	want := map[string]got{
		"live1": {true, false, "office@conference.magpie.test/Alice"},
		"live2": {true, false, "lunch@conference.magpie.test/Carol"},
		"live3": {true, false, "alerts@conference.magpie.test/bot"},
		"chat1": {false, false, "carol@magpie.test"},
		"chat3": {false, false, "mallory@magpie.test"},
		"chat4": {false, false, "eve@elsewhere.test"},
		"chat2": {false, false, "lunch@conference.magpie.test"},
		"cs1":   {true, true, "office@conference.magpie.test/Alice"},
		"cr1":   {true, false, "lunch@conference.magpie.test/Carol"},
		"ar1":   {true, false, "ops@conference.magpie.test/Erin"},
		"ar2":   {true, true, "ops@conference.magpie.test/Erin"},
		"end":   {false, false, "carol@magpie.test"},
	}
	seen := map[string]got{}
	rec.mu.Lock()
	for _, e := range rec.events {
		switch e := e.(type) {
		case MessageReceived:
			if _, dup := seen[e.ID]; dup {
				t.Errorf("%s reported twice", e.ID)
			}
			seen[e.ID] = got{e.Private, e.Outgoing, e.Peer().String()}
		case NoticeReceived:
			t.Errorf("a notice: %+v", e.Notice)
		case RoomMessage:
			if e.ID != "pub1" || e.Private || !e.Room.Equal(office) {
				t.Errorf("room message %+v", e)
			}
		}
	}
	rec.mu.Unlock()
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("reported\n%+v\nwant\n%+v", seen, want)
	}

	c.store.barrier()
	for i, tc := range []struct {
		peer string
		want []string
	}{
		{"office@conference.magpie.test/Alice", []string{"<psst", ">from my phone"}},
		{"office@conference.magpie.test", []string{"<public"}},
		{"lunch@conference.magpie.test/Carol", []string{"<noon?", "<to my phone"}},
		{"lunch@conference.magpie.test", []string{"<unknown"}},
		{"ops@conference.magpie.test/Erin", []string{"<archived in", ">archived out"}},
		{"ops@conference.magpie.test", nil},
		{"alerts@conference.magpie.test/bot", []string{"<ping"}},
		{"mallory@magpie.test", []string{"<as if through a room"}},
		{"eve@elsewhere.test", []string{"<archived, as if through a room"}},
	} {
		if got := bodies(t, db, tc.peer); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%d: %s holds %q, want %q", i, tc.peer, got, tc.want)
		}
	}

	// Read back: History takes the occupant's JID, the messages come back
	// Private with the same Peer; a search hit too.
	alice := jid.MustParse("office@conference.magpie.test/Alice")
	hist, err := c.History(alice, store.Cursor{}, 10)
	if err != nil || len(hist) != 2 {
		t.Fatalf("History(%s) = %+v, %v", alice, hist, err)
	}
	for _, m := range hist {
		if !m.Private || !m.Peer().Equal(alice) {
			t.Errorf("from the store: %+v (Peer %s)", m, m.Peer())
		}
	}
	if room, _ := c.History(office, store.Cursor{}, 10); len(room) != 1 || room[0].Private || room[0].Body != "public" {
		t.Errorf("History(room) = %+v", room)
	}
	// A room left since: the stored conversation still answers to the
	// occupant's JID.
	erin := jid.MustParse("ops@conference.magpie.test/Erin")
	if ms, err := c.HistoryAfter(erin, store.Cursor{}, 10); err != nil || len(ms) != 2 || !ms[0].Private || !ms[1].Outgoing {
		t.Errorf("HistoryAfter(%s) = %+v, %v", erin, ms, err)
	}
	hits, err := c.SearchHistory("psst", alice, 10)
	if err != nil || len(hits) != 1 || !hits[0].Private || !hits[0].Peer().Equal(alice) {
		t.Errorf("SearchHistory = %+v, %v", hits, err)
	}
	if hits, _ := c.SearchHistory("psst", office, 10); len(hits) != 0 {
		t.Errorf("the room's search finds the private message: %+v", hits)
	}

	// Sending to an occupant of the joined room (offline: it waits in the
	// outbox) stores it under the occupant's JID; the server's ack and
	// the occupant's receipt move it on, reported with that Peer.
	mark := rec.mark()
	id, err := c.SendMessage(ctxT(t), alice, "are you there?")
	if err != nil {
		t.Fatal(err)
	}
	c.store.barrier()
	out, err := c.Outbox()
	if err != nil || len(out) != 1 || out[0].OriginID != id || !out[0].Private || !out[0].Peer().Equal(alice) || out[0].Type != stanza.ChatMessage {
		t.Fatalf("outbox %+v, %v", out, err)
	}
	if got := bodies(t, db, alice.String()); len(got) != 3 || got[2] != ">are you there?" {
		t.Fatalf("stored %q", got)
	}
	c.onAcked([]smItem{{msgID: id, to: alice.String()}})
	var w wireMessage
	receipt := `<message xmlns='jabber:client' type='chat' id='rc1' from='office@conference.magpie.test/Alice' to='bob@magpie.test/r'>` +
		`<received xmlns='urn:xmpp:receipts' id='` + id + `'/>` + x + `</message>`
	if err := xml.Unmarshal([]byte(receipt), &w); err != nil {
		t.Fatal(err)
	}
	c.onMessage(w, nil)
	for _, st := range []DeliveryState{DeliverySent, DeliveryDelivered} {
		waitFrom(t, rec, mark, 5*time.Second, func(e MessageStateChanged) bool {
			return e.ID == id && e.State == st && e.Peer.Equal(alice)
		})
	}
	// A chat to the room's bare JID stays a chat with the room's JID.
	if id, err := c.SendMessage(ctxT(t), office, "to the room itself"); err != nil {
		t.Fatal(err)
	} else if out, _ := c.Outbox(); len(out) != 1 || out[0].OriginID != id || out[0].Private || !out[0].Peer().Equal(office) {
		t.Fatalf("outbox %+v", out)
	}
}

// TestIsPrivate: which messages are private messages through a room.
func TestIsPrivate(t *testing.T) {
	c, err := New("bob@magpie.test", WithPassword(func(context.Context) (string, error) { return "", nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	office := jid.MustParse("office@conference.magpie.test")
	c.mu.Lock()
	c.rooms[office.String()] = &roomState{room: office}
	c.mu.Unlock()
	c.kinds.noteService(jid.MustParse("conference.magpie.test"))
	c.kinds.noteJID(jid.MustParse("team@muc.example.org"), true)
	c.kinds.noteJID(jid.MustParse("eve@example.org"), false)
	for i, tc := range []struct {
		from, to, typ string
		x, want       bool
	}{
		{"office@conference.magpie.test/Alice", "bob@magpie.test/r", "chat", false, true},
		{"office@conference.magpie.test/Alice", "bob@magpie.test/r", "normal", false, true},
		{"office@conference.magpie.test/Alice", "bob@magpie.test/r", "", false, true},
		{"office@conference.magpie.test/Alice", "bob@magpie.test/r", "groupchat", false, false},
		{"office@conference.magpie.test/Alice", "bob@magpie.test/r", "headline", true, true}, // an occupant's headline: no notice, a private chat
		{"office@conference.magpie.test/Alice", "bob@magpie.test/r", "error", true, false},
		{"office@conference.magpie.test", "bob@magpie.test/r", "chat", false, false}, // the room itself
		{"lunch@conference.magpie.test/Carol", "bob@magpie.test/r", "chat", true, true},
		{"lunch@conference.magpie.test/Carol", "bob@magpie.test/r", "chat", false, false},
		{"lunch@conference.magpie.test", "bob@magpie.test/r", "normal", true, false}, // e.g. a mediated invitation
		{"conference.magpie.test/x", "bob@magpie.test/r", "chat", true, false},       // a service: rooms have a local part
		{"carol@magpie.test/phone", "bob@magpie.test/r", "chat", false, false},
		// The element from someone who is no room the client knows.
		{"carol@magpie.test/phone", "bob@magpie.test/r", "chat", true, false},
		{"eve@example.org/CEO", "bob@magpie.test/r", "chat", true, false},
		{"someone@unknown.example/CEO", "bob@magpie.test/r", "chat", true, false},
		{"team@muc.example.org/Dan", "bob@magpie.test/r", "chat", true, true},                 // a room by its disco#info
		{"bob@magpie.test/phone", "office@conference.magpie.test/Alice", "chat", false, true}, // own, from another device
		{"bob@magpie.test/phone", "lunch@conference.magpie.test/Carol", "chat", true, true},
		{"bob@magpie.test/phone", "lunch@conference.magpie.test/Carol", "chat", false, false},
		{"bob@magpie.test/phone", "office@conference.magpie.test", "chat", false, false},
		{"bob@magpie.test/phone", "bob@magpie.test/r", "chat", true, false}, // between own devices
	} {
		w := wireMessage{From: tc.from, To: tc.to, Type: tc.typ}
		if tc.x {
			w.MUCUser = &wireMUCUserMessage{}
		}
		m, ok := c.translate(w)
		if !ok {
			t.Fatalf("%d: translate failed", i)
		}
		if m.Private != tc.want {
			t.Errorf("%d: %s -> %s (%q, x %v): Private = %v, want %v", i, tc.from, tc.to, tc.typ, tc.x, m.Private, tc.want)
		}
	}
}

// TestPeerOfPrivateMessage: Peer is the occupant's full JID for private
// messages, the bare JID otherwise.
func TestPeerOfPrivateMessage(t *testing.T) {
	me := jid.MustParse("bob@magpie.test/r")
	alice := jid.MustParse("office@conference.magpie.test/Alice")
	for i, tc := range []struct {
		m    Message
		want string
	}{
		{Message{From: alice, To: me, Private: true}, alice.String()},
		{Message{From: me, To: alice, Private: true, Outgoing: true}, alice.String()},
		{Message{From: alice, To: me}, "office@conference.magpie.test"},
		{Message{From: me, To: alice, Outgoing: true}, "office@conference.magpie.test"},
	} {
		if got := tc.m.Peer().String(); got != tc.want {
			t.Errorf("%d: Peer() = %s, want %s", i, got, tc.want)
		}
	}
}

// TestPrivateMessages runs private messages through a room of a real
// Prosody: bob and alice in a room write each other privately; each gets
// the other's message once, marked Private, from the other's occupant JID;
// both stores keep them as a conversation of their own, apart from the
// room's, where a public message said meanwhile lands alone. The server's
// ack marks them sent, the other's receipt (through the room) delivered.
// A new device of alice's catches the conversation up from her archive
// before it joins the room, by the muc#user element both directions carry.
func TestPrivateMessages(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("whisper@" + service)
	roomAlice, roomBob := jid.MustParse(room.String()+"/Alice"), jid.MustParse(room.String()+"/Bob")
	dbA, dbB := openStore(t), openStore(t)
	alice, aliceEv := online(t, srv, "alice", WithStore(dbA))
	bob, bobEv := online(t, srv, "bob", WithStore(dbB))
	const wait = 10 * time.Second

	if err := alice.JoinRoom(ctxT(t), room, "Alice"); err != nil {
		t.Fatalf("alice joins: %v\n%s", err, srv.Log())
	}
	if err := bob.JoinRoom(ctxT(t), room, "Bob"); err != nil {
		t.Fatalf("bob joins: %v", err)
	}
	waitFor(t, aliceEv, wait, func(e OccupantChanged) bool { return e.Occupant.Nick == "Bob" && !e.Left })

	// Bob to Alice, privately.
	markA := aliceEv.mark()
	id, err := bob.SendMessage(ctxT(t), roomAlice, "psst")
	if err != nil {
		t.Fatal(err)
	}
	got := waitFrom(t, aliceEv, markA, wait, func(e MessageReceived) bool { return e.Body == "psst" })
	if !got.Private || !got.From.Equal(roomBob) || !got.Peer().Equal(roomBob) || got.Outgoing || got.OriginID != id {
		t.Fatalf("alice got %+v (Peer %s)", got.Message, got.Peer())
	}
	// Delivered, by Alice's receipt through the room. (Sent comes from the
	// server's ack, which may arrive after the receipt: then the state goes
	// straight to delivered and "sent" is never reported.)
	waitFor(t, bobEv, wait, func(e MessageStateChanged) bool {
		return e.ID == id && e.State == DeliveryDelivered && e.Peer.Equal(roomAlice)
	})

	// A public message in between.
	if _, err := bob.SendRoomMessage(ctxT(t), room, "public"); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, aliceEv, markA, wait, func(e RoomMessage) bool { return e.Body == "public" })

	// Alice answers privately.
	markB := bobEv.mark()
	reply, err := alice.SendMessage(ctxT(t), roomBob, "yes?")
	if err != nil {
		t.Fatal(err)
	}
	got = waitFrom(t, bobEv, markB, wait, func(e MessageReceived) bool { return e.Body == "yes?" })
	if !got.Private || !got.From.Equal(roomAlice) || !got.Peer().Equal(roomAlice) || got.Outgoing || got.OriginID != reply {
		t.Fatalf("bob got %+v (Peer %s)", got.Message, got.Peer())
	}
	waitFor(t, aliceEv, wait, func(e MessageStateChanged) bool {
		return e.ID == reply && (e.State == DeliverySent || e.State == DeliveryDelivered) && e.Peer.Equal(roomBob)
	})

	// A last public message: once it is in, everything before it is too.
	over, err := alice.SendRoomMessage(ctxT(t), room, "over")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, bobEv, wait, func(e RoomMessage) bool { return e.Body == "over" })
	waitFor(t, aliceEv, wait, func(e MessageStateChanged) bool { return e.ID == over && e.State == DeliverySent })
	time.Sleep(500 * time.Millisecond) // a stray copy would arrive meanwhile
	alice.store.barrier()
	bob.store.barrier()

	for _, r := range []*recorder{aliceEv, bobEv} {
		if n := countEvents(r, 0, func(e MessageReceived) bool { return e.Body == "psst" || e.Body == "yes?" }); n != 1 {
			t.Errorf("%d private messages reported, want 1", n)
		}
		if n := countEvents(r, 0, func(e RoomMessage) bool { return e.Body == "psst" || e.Body == "yes?" }); n != 0 {
			t.Errorf("%d private messages reported as room messages", n)
		}
	}
	for i, tc := range []struct {
		got, want []string
	}{
		{bodies(t, dbA, roomBob.String()), []string{"<psst", ">yes?"}},
		{bodies(t, dbB, roomAlice.String()), []string{">psst", "<yes?"}},
		{bodies(t, dbA, room.String()), []string{"<public", ">over"}},
		{bodies(t, dbB, room.String()), []string{">public", "<over"}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%d: stored %q, want %q", i, tc.got, tc.want)
		}
	}
	if hist, err := alice.History(roomBob, store.Cursor{}, 10); err != nil || len(hist) != 2 ||
		!hist[0].Private || !hist[1].Private || !hist[1].Outgoing || hist[1].State != DeliverySent && hist[1].State != DeliveryDelivered {
		t.Errorf("alice's History(%s) = %+v, %v", roomBob, hist, err)
	}

	// Alice's new device, not in the room: the first sync from her archive
	// files both directions under Bob's occupant JID.
	dbA2 := openStore(t)
	_, alice2Ev := onlineAs(t, srv, "alice", WithStore(dbA2))
	if synced := waitFor(t, alice2Ev, wait, func(HistorySynced) bool { return true }); synced.Err != nil {
		t.Fatalf("sync: %v", synced.Err)
	}
	for i, tc := range []struct {
		got, want []string
	}{
		{bodies(t, dbA2, roomBob.String()), []string{"<psst", ">yes?"}},
		{bodies(t, dbA2, room.String()), nil},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("new device %d: stored %q, want %q", i, tc.got, tc.want)
		}
	}
}
