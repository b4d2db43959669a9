package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"

	"mellium.im/xmlstream"
	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
)

// Attacks by ordinary accounts of a real Prosody: a room occupant (or a
// stranger) sends raw XML to make Magpie take what it says for what only
// the room, the archive or the real peer may say.

// storedState returns the delivery state of the own message id stored
// under peer.
func storedState(t *testing.T, db *store.DB, peer, id string) store.State {
	t.Helper()
	msgs, err := db.History(peer, store.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Dir == store.Outgoing && m.OriginID == id {
			return m.State
		}
	}
	t.Fatalf("%s holds no own message %s", peer, id)
	return 0
}

// TestForgedOwnRoomMessage: an occupant cannot make her messages the
// user's own. Prosody relays a muc#user element with the user's JID that
// the occupant put in her groupchat message (and keeps it in the archive,
// before the archive's own item); an occupant who takes a nick the user
// gave up can claim an old time with a delay element of her own. Neither
// makes a message outgoing, live or from the archive on a new device,
// while the user's own messages, under the current and an earlier nick,
// are still told by what the room vouches for (XEP-0421 occupant id, the
// archive's real JID). A status code 104 from an occupant (not from the
// room) does not make the client ask the room about itself again.
func TestForgedOwnRoomMessage(t *testing.T) {
	t.Parallel()
	for name, service := range map[string]string{
		"occupant ids": "",
		// Without occupant ids, the archive's real JID tells the own
		// messages under the earlier nick.
		"no occupant ids": "\tmuc_occupant_id = false\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testForgedOwnRoomMessage(t, service)
		})
	}
}

func testForgedOwnRoomMessage(t *testing.T, serviceConfig string) {
	srv, service := startMUCProsodyWith(t, "", "\tmuc_room_default_public_jids = true\n"+serviceConfig)
	room := jid.MustParse("open@" + service)
	dbA := openStore(t)
	alice, aliceEv := online(t, srv, "alice", WithStore(dbA))
	mallory, malloryEv := online(t, srv, "mallory")
	const wait = 10 * time.Second
	if err := alice.JoinRoom(ctxT(t), room, "Alice"); err != nil {
		t.Fatalf("alice joins: %v\n%s", err, srv.Log())
	}
	if err := mallory.JoinRoom(ctxT(t), room, "Mallory"); err != nil {
		t.Fatal(err)
	}
	alice.mu.Lock()
	ids := alice.rooms[room.String()].occupantIDs
	alice.mu.Unlock()
	if want := serviceConfig == ""; ids != want {
		t.Fatalf("the room gives occupant ids: %v, want %v", ids, want)
	}
	talk(t, room, "mine", 1, []*Client{alice}, []*recorder{aliceEv})
	// say has mallory send raw XML to the room and waits until alice got
	// it, by a plain message after it.
	marker := 0
	say := func(stanza string) {
		t.Helper()
		if err := mallory.sendRaw(ctxT(t), stanza); err != nil {
			t.Fatal(err)
		}
		marker++
		body := fmt.Sprintf("marker %d", marker)
		if _, err := mallory.SendRoomMessage(ctxT(t), room, body); err != nil {
			t.Fatal(err)
		}
		waitFor(t, aliceEv, wait, func(e RoomMessage) bool { return e.Body == body })
	}
	forgedItem := `<x xmlns='http://jabber.org/protocol/muc#user'><item jid='alice@` + srv.Domain + `' affiliation='owner' role='moderator'/></x>`
	forgedID := `<occupant-id xmlns='urn:xmpp:occupant-id:0' id='forged'/>`
	say(`<message type='groupchat' to='` + room.String() + `' id='f1'><body>forged item</body>` + forgedItem + forgedID + `</message>`)

	// A forged status code 104: the client would ask the room for its
	// disco#info, and store what it says (not members-only).
	alice.store.barrier()
	if err := dbA.SetRoomMembersOnly(room.String(), true); err != nil {
		t.Fatal(err)
	}
	say(`<message type='groupchat' to='` + room.String() + `' id='f2'><body>config?</body><x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x></message>`)

	// Alice moves to another nick; mallory takes her old one and claims
	// a time when it was still Alice's.
	before := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if err := alice.ChangeNick(ctxT(t), room, "Alicia"); err != nil {
		t.Fatal(err)
	}
	talk(t, room, "renamed", 1, []*Client{alice}, []*recorder{aliceEv})
	if err := mallory.ChangeNick(ctxT(t), room, "Alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, malloryEv, wait, func(e OccupantChanged) bool { return e.Self && e.NewNick == "Alice" })
	say(`<message type='groupchat' to='` + room.String() + `' id='f3'><body>old nick, live</body></message>`)
	say(`<message type='groupchat' to='` + room.String() + `' id='f4'><body>old nick, old time</body>` +
		`<delay xmlns='urn:xmpp:delay' stamp='` + before + `'/>` + forgedItem + `</message>`)

	for _, m := range roomEvents(aliceEv, 0, room) {
		if own := m.Body == "mine 1" || m.Body == "renamed 1"; m.Outgoing != own {
			t.Errorf("live: %q from %s reported with Outgoing %v", m.Body, m.Nick, m.Outgoing)
		}
	}
	alice.store.barrier()
	want := []string{">mine 1", "<forged item", "<marker 1", "<config?", "<marker 2", ">renamed 1",
		"<old nick, live", "<marker 3", "<old nick, old time", "<marker 4"}
	if got := bodies(t, dbA, room.String()); !reflect.DeepEqual(got, want) {
		t.Errorf("alice stored\n%q\nwant\n%q", got, want)
	}
	// Given time to ask, the client asked nothing: the store still says
	// what the test wrote.
	time.Sleep(time.Second)
	alice.store.barrier()
	if s, err := dbA.RoomSettings(room.String()); err != nil || !s.MembersOnly {
		t.Errorf("after an occupant's status 104 the room info was fetched again: %+v, %v", s, err)
	}

	// A new device of alice's (an empty store) fills the room from its
	// archive: the room's word decides, not the occupant's element.
	dbPhone := openStore(t)
	phone, phoneEv := onlineAs(t, srv, "alice", WithStore(dbPhone), WithResource("phone"))
	if err := phone.JoinRoom(ctxT(t), room, "Phone"); err != nil {
		t.Fatal(err)
	}
	phone.store.barrier()
	want = []string{">mine 1", "<forged item", "<marker 1", "<config?", "<marker 2", ">renamed 1",
		"<old nick, live", "<marker 3", "<old nick, old time", "<marker 4"}
	if got := bodies(t, dbPhone, room.String()); !reflect.DeepEqual(got, want) {
		t.Errorf("the new device stored\n%q\nwant\n%q", got, want)
	}
	for _, m := range roomEvents(phoneEv, 0, room) {
		if own := m.Body == "mine 1" || m.Body == "renamed 1"; m.Outgoing != own || !m.Archived {
			t.Errorf("archive: %q from %s reported with Outgoing %v", m.Body, m.Nick, m.Outgoing)
		}
	}
}

// TestRoomDeliveryForgedByOccupant: only the room can fail or confirm a
// room message, and only the peer a chat message. An occupant who read
// the id of alice's room message (the room relays it) sends her a private
// error and a private receipt with it, and an error with the id of her
// mediated invitation (which the room forwards with it); as a stranger,
// she does the same straight to alice's device for a chat message alice
// sent to carol (guessed ids, say). None of it moves a message on or is
// reported, and the stored states stay.
func TestRoomDeliveryForgedByOccupant(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("office@" + service)
	dbA := openStore(t)
	alice, aliceEv := online(t, srv, "alice", WithStore(dbA))
	mallory, malloryEv := online(t, srv, "mallory")
	const wait = 10 * time.Second
	if err := alice.JoinRoom(ctxT(t), room, "Alice"); err != nil {
		t.Fatalf("alice joins: %v\n%s", err, srv.Log())
	}
	if err := mallory.JoinRoom(ctxT(t), room, "Mallory"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, wait, func(e OccupantChanged) bool { return e.Occupant.Nick == "Mallory" && !e.Left })

	mark := aliceEv.mark()
	roomMsg, err := alice.SendRoomMessage(ctxT(t), room, "the plan")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, wait, func(e MessageStateChanged) bool { return e.ID == roomMsg && e.State == DeliverySent })
	seen := waitFor(t, malloryEv, wait, func(e RoomMessage) bool { return e.Body == "the plan" })
	if seen.ID != roomMsg {
		t.Fatalf("mallory saw the id %q, alice sent %q", seen.ID, roomMsg)
	}
	carol := jid.MustParse(srv.AddUser(t, "carol", "carol-pw")) // offline: no receipt comes
	chatMsg, err := alice.SendMessage(ctxT(t), carol, "just for you")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, wait, func(e MessageStateChanged) bool { return e.ID == chatMsg && e.State == DeliverySent })
	if err := alice.InviteMediated(ctxT(t), room, carol, ""); err != nil {
		t.Fatal(err)
	}
	alice.roomOps.mu.Lock()
	var inviteID string
	for id := range alice.roomOps.sent {
		inviteID = id // the room forwards it with this id: the invitee learns it
	}
	alice.roomOps.mu.Unlock()

	aliceInRoom := room.String() + "/Alice"
	aliceDevice := alice.Account().String() + "/" + alice.resource
	errorWith := func(to, id string) string {
		return `<message type='error' to='` + to + `' id='` + id + `'><error type='cancel'>` +
			`<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>` +
			`<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Your message was removed by the administrator</text></error></message>`
	}
	receiptFor := func(to, id string) string {
		return `<message type='chat' to='` + to + `' id='r` + id + `'><received xmlns='urn:xmpp:receipts' id='` + id + `'/></message>`
	}
	for _, s := range []string{
		// Through the room, as an occupant.
		errorWith(aliceInRoom, roomMsg),
		receiptFor(aliceInRoom, roomMsg),
		errorWith(aliceInRoom, inviteID),
		// Straight to alice's device, as a stranger.
		errorWith(aliceDevice, chatMsg),
		receiptFor(aliceDevice, chatMsg),
		errorWith(aliceDevice, roomMsg),
	} {
		if err := mallory.sendRaw(ctxT(t), s); err != nil {
			t.Fatal(err)
		}
	}
	// A private message after them: once it is in, they are handled.
	if _, err := mallory.SendMessage(ctxT(t), jid.MustParse(aliceInRoom), "done"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, wait, func(e MessageReceived) bool { return e.Body == "done" })
	time.Sleep(300 * time.Millisecond)
	alice.store.barrier()

	aliceEv.mu.Lock()
	for _, e := range aliceEv.events[mark:] {
		switch e := e.(type) {
		case MessageFailed:
			t.Errorf("reported %+v", e)
		case MessageStateChanged:
			if e.State == DeliveryFailed || e.State == DeliveryDelivered {
				t.Errorf("reported %+v", e)
			}
		case ErrorOccurred:
			var rre *RoomRequestError
			if errors.As(e.Err, &rre) {
				t.Errorf("reported %v", e.Err)
			}
		}
	}
	aliceEv.mu.Unlock()
	if st := storedState(t, dbA, room.String(), roomMsg); st != store.Sent {
		t.Errorf("the room message is %v, want sent", st)
	}
	if st := storedState(t, dbA, carol.String(), chatMsg); st != store.Sent {
		t.Errorf("the chat message is %v, want sent", st)
	}

	// The room itself still fails a message: a private message to a nick
	// that left comes back from the occupant's JID and fails that one.
	gone := jid.MustParse(room.String() + "/Nobody")
	pm, err := alice.SendMessage(ctxT(t), gone, "anyone?")
	if err != nil {
		t.Fatal(err)
	}
	f := waitFor(t, aliceEv, wait, func(e MessageFailed) bool { return e.ID == pm })
	if !f.To.Equal(gone) {
		t.Errorf("the bounce names %s", f.To)
	}
}

// TestForgedInvitations: a stranger's message that looks like a room's
// mediated invitation (or decline) is no invitation from the room it
// names and does not name the inviter it claims; with a direct invitation
// inside, it is that, from its real sender; a chat with an empty muc#user
// element from someone who is no room is a chat with them, not a private
// message through a room. The strangers are mallory, on the user's own
// server, and eve, on another domain (whose JID the client has to ask
// about: disco#info). A room's real mediated invitation still comes
// through, once.
func TestForgedInvitations(t *testing.T) {
	t.Parallel()
	srv := prosodytest.Start(t, prosodytest.Options{Hosts: []string{"other.test"}, Components: []prosodytest.Component{{
		Domain: "conference.magpie.test", Module: "muc", Config: "\tmuc_room_default_persistent = true\n"}}})
	service := "conference." + srv.Domain
	board := jid.MustParse("board@" + service)
	lunch := jid.MustParse("lunch@" + service)
	coffee := jid.MustParse("coffee@" + service)
	dbB := openStore(t)
	alice, _ := online(t, srv, "alice")
	bob, bobEv := online(t, srv, "bob", WithStore(dbB))
	mallory, _ := online(t, srv, "mallory", WithResource("CEO"))
	if _, err := srv.RegisterOn("other.test", "eve", "eve-pw"); err != nil {
		t.Fatal(err)
	}
	eve, err := New("eve@other.test", append(testOptions(srv, "eve-pw"), WithResource("CEO"))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eve.Connect(ctxT(t)); err != nil {
		t.Fatalf("eve signs in: %v\n%s", err, srv.Log())
	}
	t.Cleanup(func() { eve.Close() })
	const wait = 10 * time.Second
	if err := alice.CreateRoom(ctxT(t), board, "Alice", nil); err != nil {
		t.Fatal(err)
	}
	to := bob.Account().String()
	claimed := `<invite from='alice@` + srv.Domain + `'><reason>urgent</reason></invite><password>s3cret</password>`
	forged := func(direct jid.JID, body string) []string {
		return []string{
			`<message to='` + to + `' id='i1'><x xmlns='http://jabber.org/protocol/muc#user'>` + claimed + `</x>` +
				`<body>` + body + `</body></message>`,
			`<message to='` + to + `' id='i2'><x xmlns='http://jabber.org/protocol/muc#user'>` + claimed + `</x>` +
				`<x xmlns='jabber:x:conference' jid='` + direct.String() + `'/></message>`,
			`<message to='` + to + `' id='i3'><x xmlns='http://jabber.org/protocol/muc#user'>` +
				`<decline from='alice@` + srv.Domain + `'><reason>no</reason></decline></x></message>`,
			`<message type='chat' to='` + to + `' id='p1'><x xmlns='http://jabber.org/protocol/muc#user'/><body>privately</body></message>`,
		}
	}
	for _, s := range forged(lunch, "alice invited you") {
		if err := mallory.sendRaw(ctxT(t), s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range forged(coffee, "alice invited you too") {
		if err := eve.sendRaw(ctxT(t), s); err != nil {
			t.Fatal(err)
		}
	}
	// The real thing, through the room.
	if err := alice.InviteMediated(ctxT(t), board, bob.Account(), "budget"); err != nil {
		t.Fatal(err)
	}
	real := waitFor(t, bobEv, wait, func(e InvitationReceived) bool { return e.Room.Equal(board) })
	// (The room hides real JIDs: it names alice by her occupant JID.)
	if real.Direct || !real.From.Equal(jid.MustParse(board.String()+"/Alice")) || real.Reason != "budget" {
		t.Errorf("the room's invitation: %+v", real)
	}
	for _, tc := range []struct {
		room     jid.JID
		stranger *Client
	}{{lunch, mallory}, {coffee, eve}} {
		direct := waitFor(t, bobEv, wait, func(e InvitationReceived) bool { return e.Room.Equal(tc.room) })
		if !direct.Direct || !direct.From.Equal(tc.stranger.Account()) || direct.Password != "" {
			t.Errorf("the direct invitation inside the forged one: %+v", direct)
		}
		from := tc.stranger.Account()
		chat := waitFor(t, bobEv, wait, func(e MessageReceived) bool { return e.Body == "privately" && e.From.Bare().Equal(from) })
		if chat.Private || !chat.Peer().Equal(from) {
			t.Errorf("a chat with a muc#user element from %s: Private %v, Peer %s", from, chat.Private, chat.Peer())
		}
		waitFor(t, bobEv, wait, func(e MessageReceived) bool {
			return strings.HasPrefix(e.Body, "alice invited you") && e.From.Bare().Equal(from)
		})
	}
	// One more invitation through the room, after all of it: once it is
	// in, everything before it was handled.
	if err := alice.CreateRoom(ctxT(t), jid.MustParse("last@"+service), "Alice", nil); err != nil {
		t.Fatal(err)
	}
	if err := alice.InviteMediated(ctxT(t), jid.MustParse("last@"+service), bob.Account(), ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bobEv, wait, func(e InvitationReceived) bool { return e.Room.Localpart() == "last" })
	bob.store.barrier()

	if n := countEvents(bobEv, 0, func(InvitationReceived) bool { return true }); n != 4 {
		t.Errorf("%d invitations reported, want 4 (board, lunch, coffee, last)", n)
	}
	if n := countEvents(bobEv, 0, func(InvitationDeclined) bool { return true }); n != 0 {
		t.Errorf("%d declines reported, want none", n)
	}
	for i, tc := range []struct {
		peer string
		want []string
	}{
		{mallory.Account().String(), []string{"<alice invited you", "<privately"}},
		{eve.Account().String(), []string{"<alice invited you too", "<privately"}},
	} {
		got := bodies(t, dbB, tc.peer)
		sort.Strings(got) // the one asked about may come after the next
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%d: bob stored %q with %s, want %q", i, got, tc.peer, tc.want)
		}
	}
}

// TestRoomQuestionsCapped: strangers on another server send invitation
// shaped messages from twenty JIDs, and their server (the in-memory fake)
// never answers the client's disco#info about them. The client asks about
// at most maxRoomQuestions at once; the others count as no room at once
// (their messages are ordinary chats), and none is an invitation.
func TestRoomQuestionsCapped(t *testing.T) {
	t.Parallel()
	const strangers = 20
	never := make(chan struct{})
	onInfo := func(iq stanza.IQ, t xmlstream.TokenReadEncoder, _ *xml.StartElement) error {
		if iq.To.Domain().String() == "evil.example" {
			<-never // (mellium would answer for a handler that returns)
		}
		_, err := xmlstream.Copy(t, iq.Result(nil))
		return err
	}
	sessions := make(chan *mxmpp.Session, 1)
	srv := startFakeServerMux(t, "secret", nil, func(s *mxmpp.Session) { sessions <- s },
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: disco.NSInfo, Local: "query"}, onInfo))
	c, err := New("bob@fake.test", WithServer(srv.addr), WithTrustedFingerprints(srv.fingerprint),
		WithPassword(func(context.Context) (string, error) { return "secret", nil }), WithoutPresence())
	if err != nil {
		t.Fatal(err)
	}
	rec := record(c)
	t.Cleanup(func() { c.Close() })
	t.Cleanup(func() { close(never) }) // (before Close: the server is stuck until then)
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	sess := <-sessions
	for i := 1; i <= strangers; i++ {
		s := fmt.Sprintf(`<message xmlns='jabber:client' from='s%d@evil.example/r' to='bob@fake.test' id='m%d'>`+
			`<x xmlns='http://jabber.org/protocol/muc#user'><invite from='boss@fake.test'/></x><body>hi %d</body></message>`, i, i, i)
		if err := sess.Send(ctxT(t), xml.NewDecoder(strings.NewReader(s))); err != nil {
			t.Fatal(err)
		}
	}
	// The ones beyond the cap are chats well before a question would
	// time out.
	chats := func() int {
		return countEvents(rec, 0, func(e MessageReceived) bool { return strings.HasPrefix(e.Body, "hi ") })
	}
	deadline := time.Now().Add(discoTimeout / 2)
	for chats() < strangers-maxRoomQuestions {
		if time.Now().After(deadline) {
			t.Fatalf("%d chats, want %d", chats(), strangers-maxRoomQuestions)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.kinds.mu.Lock()
	asking := c.kinds.asking
	c.kinds.mu.Unlock()
	if asking != maxRoomQuestions || chats() != strangers-maxRoomQuestions {
		t.Errorf("%d questions under way and %d chats; want %d and %d", asking, chats(), maxRoomQuestions, strangers-maxRoomQuestions)
	}
	if n := countEvents(rec, 0, func(InvitationReceived) bool { return true }); n != 0 {
		t.Errorf("%d invitations reported", n)
	}
}
