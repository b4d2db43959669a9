package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"reflect"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

var (
	_ Event = InvitationReceived{}
	_ Event = InvitationDeclined{}
)

// The invitations and declines of TestParseInvitation, as servers and
// clients send them.
const (
	// Prosody 0.12 forwarding alice's mediated invitation (captured from
	// TestInvitations with mod_stanza_debug): a clone of hers with the
	// inviter's full JID, the password, a body for clients that know
	// neither kind and a jabber:x:conference element with the reason as
	// text; archived (stanza-id).
	prosodyMediated = `<message to='bob@magpie.test' id='0c89f280c6e2cca21713b813' type='normal' from='board@conference.magpie.test' xml:lang='en'>` +
		`<x xmlns='http://jabber.org/protocol/muc#user'><invite from='alice@magpie.test/magpie-5186f6b1'><reason>budget</reason></invite><password>s3cret</password></x>` +
		`<body>alice@magpie.test/magpie-5186f6b1 invited you to the room board@conference.magpie.test (budget)</body>` +
		`<x xmlns='jabber:x:conference' jid='board@conference.magpie.test'>budget</x>` +
		`<stanza-id id='bcqTn6RYk0Botw15CYto5Ghe' xmlns='urn:xmpp:sid:0' by='bob@magpie.test'/></message>`
	// Openfire (LocalMUCRoom.sendInvitation): no type, the inviter's bare
	// JID, the password, a jabber:x:conference element without reason.
	openfireMediated = `<message xmlns='jabber:client' from='board@conference.example.org' to='bob@example.org/spark'>` +
		`<x xmlns='http://jabber.org/protocol/muc#user'><invite from='alice@example.org'><reason>budget</reason></invite>` +
		`<password>s3cret</password></x>` +
		`<x xmlns='jabber:x:conference' jid='board@conference.example.org'/></message>`
	// Openfire when the room itself invites (admin console): no from.
	openfireByRoom = `<message xmlns='jabber:client' from='board@conference.example.org' to='bob@example.org'>` +
		`<x xmlns='http://jabber.org/protocol/muc#user'><invite><reason>welcome</reason></invite></x>` +
		`<x xmlns='jabber:x:conference' jid='board@conference.example.org'/></message>`
	// A direct invitation as Gajim and Magpie send it (XEP-0249).
	directInvite = `<message xmlns='jabber:client' type='normal' id='d1' from='alice@magpie.test/gajim' to='bob@magpie.test'>` +
		`<x xmlns='jabber:x:conference' jid='lunch@conference.magpie.test' password='pw' reason='lunch?' continue='true' thread='t1'/></message>`
	// An old-style direct invitation with the reason as text, and a body.
	legacyDirect = `<message xmlns='jabber:client' from='alice@magpie.test/old' to='bob@magpie.test'>` +
		`<body>Join lunch@conference.magpie.test</body>` +
		`<x xmlns='jabber:x:conference' jid='lunch@conference.magpie.test'>lunch?</x></message>`
	// Prosody forwarding dave's decline to alice (captured likewise).
	prosodyDecline = `<message to='alice@magpie.test' id='6d28e6e18eb9e1f285463e9c' from='board@conference.magpie.test' type='normal' xml:lang='en'>` +
		`<x xmlns='http://jabber.org/protocol/muc#user'><decline from='dave@magpie.test/magpie-69c89b2d'><reason>busy</reason></decline></x>` +
		`<body>dave@magpie.test/magpie-69c89b2d declined your invite to the room board@conference.magpie.test (busy)</body>` +
		`<stanza-id id='--pee_OY-9TUu97MdzJ-9YI4' xmlns='urn:xmpp:sid:0' by='alice@magpie.test'/></message>`
)

func TestParseInvitation(t *testing.T) {
	board := jid.MustParse("board@conference.magpie.test")
	lunch := jid.MustParse("lunch@conference.magpie.test")
	ofBoard := jid.MustParse("board@conference.example.org")
	for name, tc := range map[string]struct {
		stanza  string
		invite  *InvitationReceived
		decline *InvitationDeclined
	}{
		"prosody mediated": {stanza: prosodyMediated, invite: &InvitationReceived{
			Room: board, From: jid.MustParse("alice@magpie.test"), Reason: "budget", Password: "s3cret"}},
		"openfire mediated": {stanza: openfireMediated, invite: &InvitationReceived{
			Room: ofBoard, From: jid.MustParse("alice@example.org"), Reason: "budget", Password: "s3cret"}},
		"openfire by the room": {stanza: openfireByRoom, invite: &InvitationReceived{Room: ofBoard, Reason: "welcome"}},
		"direct": {stanza: directInvite, invite: &InvitationReceived{
			Room: lunch, From: jid.MustParse("alice@magpie.test"), Reason: "lunch?", Password: "pw", Direct: true}},
		"legacy direct": {stanza: legacyDirect, invite: &InvitationReceived{
			Room: lunch, From: jid.MustParse("alice@magpie.test"), Reason: "lunch?", Direct: true}},
		"anonymous room": {
			stanza: `<message xmlns='jabber:client' from='board@conference.magpie.test' to='bob@magpie.test'>` +
				`<x xmlns='http://jabber.org/protocol/muc#user'><invite from='board@conference.magpie.test/Alice'/></x></message>`,
			invite: &InvitationReceived{Room: board, From: jid.MustParse("board@conference.magpie.test/Alice")}},
		"prosody decline": {stanza: prosodyDecline, decline: &InvitationDeclined{
			Room: board, From: jid.MustParse("dave@magpie.test"), Reason: "busy"}},
		"a chat": {stanza: `<message xmlns='jabber:client' type='chat' from='alice@magpie.test/r' to='bob@magpie.test'><body>hi</body></message>`},
		"room status": {stanza: `<message xmlns='jabber:client' type='groupchat' from='board@conference.magpie.test' to='bob@magpie.test/r'>` +
			`<x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x></message>`},
		"invitation as groupchat": {stanza: `<message xmlns='jabber:client' type='groupchat' from='board@conference.magpie.test/Alice' to='bob@magpie.test/r'>` +
			`<x xmlns='jabber:x:conference' jid='lunch@conference.magpie.test'/><body>see lunch</body></message>`},
		"bounce of a direct invitation": {stanza: `<message xmlns='jabber:client' type='error' id='d1' from='nobody@magpie.test' to='alice@magpie.test/r'>` +
			`<x xmlns='jabber:x:conference' jid='lunch@conference.magpie.test'/>` +
			`<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`},
		"direct without a room": {stanza: `<message xmlns='jabber:client' from='alice@magpie.test/r' to='bob@magpie.test'>` +
			`<x xmlns='jabber:x:conference' jid='conference.magpie.test'/></message>`},
		"mediated from no room": {stanza: `<message xmlns='jabber:client' from='magpie.test' to='bob@magpie.test'>` +
			`<x xmlns='http://jabber.org/protocol/muc#user'><invite from='alice@magpie.test'/></x></message>`},
	} {
		t.Run(name, func(t *testing.T) {
			var w wireMessage
			if err := xml.Unmarshal([]byte(tc.stanza), &w); err != nil {
				t.Fatal(err)
			}
			inv, dec := parseInvitation(w, jid.MustParse(w.From))
			if !reflect.DeepEqual(inv, tc.invite) {
				t.Errorf("invitation %+v, want %+v", inv, tc.invite)
			}
			if !reflect.DeepEqual(dec, tc.decline) {
				t.Errorf("decline %+v, want %+v", dec, tc.decline)
			}
		})
	}
}

// TestInvitationRouting feeds invitations through the message handler: each
// is reported once (the direct and the mediated copy of one invitation
// too), none becomes a chat message or a notice, copies of the account's
// own invitations (carbons) and archived ones are dropped, and a chat sent
// afterwards still gets through.
func TestInvitationRouting(t *testing.T) {
	c, err := New("bob@magpie.test", WithPassword(func(context.Context) (string, error) { return "", nil }),
		WithNoticeSenders("alice@magpie.test")) // her normal messages are notices, her invitations not

	if err != nil {
		t.Fatal(err)
	}
	rec := record(c)
	t.Cleanup(func() { c.Close() })
	// The room's disco#info said it is one (only a room's mediated
	// invitations and declines count).
	c.kinds.noteJID(jid.MustParse("board@conference.magpie.test"), true)
	// A colleague who sends one of her own, naming alice as the inviter
	// and carrying a direct invitation: the direct one counts, from her.
	forged := `<message xmlns='jabber:client' from='mallory@magpie.test/CEO' to='bob@magpie.test' id='f1'>` +
		`<x xmlns='http://jabber.org/protocol/muc#user'><invite from='alice@magpie.test'/><password>pw</password></x>` +
		`<x xmlns='jabber:x:conference' jid='tea@conference.magpie.test'/></message>`
	forgedDecline := `<message xmlns='jabber:client' from='mallory@magpie.test/CEO' to='bob@magpie.test' id='f2'>` +
		`<x xmlns='http://jabber.org/protocol/muc#user'><decline from='carol@magpie.test'/></x></message>`
	aliceDirect := `<message xmlns='jabber:client' type='normal' id='d2' from='alice@magpie.test/magpie-6f2a' to='bob@magpie.test'>` +
		`<x xmlns='jabber:x:conference' jid='board@conference.magpie.test' password='s3cret' reason='budget'/></message>`
	sentCarbon := `<message xmlns='jabber:client' from='bob@magpie.test' to='bob@magpie.test/r'><sent xmlns='urn:xmpp:carbons:2'>` +
		`<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='bob@magpie.test/phone' to='carol@magpie.test' type='normal' id='o1'>` +
		`<x xmlns='jabber:x:conference' jid='ops@conference.magpie.test'/><body>join ops</body></message></forwarded></sent></message>`
	receivedCarbon := `<message xmlns='jabber:client' from='bob@magpie.test' to='bob@magpie.test/r'><received xmlns='urn:xmpp:carbons:2'>` +
		`<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='carol@magpie.test/r' to='bob@magpie.test/phone' type='chat' id='o2'>` +
		`<x xmlns='jabber:x:conference' jid='coffee@conference.magpie.test'/><body>coffee?</body></message></forwarded></received></message>`
	// The twin of aliceDirect through a room that hides real JIDs: Prosody
	// names the inviter by her occupant JID.
	occupantMediated := `<message xmlns='jabber:client' from='board@conference.magpie.test' to='bob@magpie.test' id='m9'>` +
		`<x xmlns='http://jabber.org/protocol/muc#user'><invite from='board@conference.magpie.test/爱丽丝'><reason>budget</reason></invite>` +
		`<password>s3cret</password></x><body>爱丽丝 invites you to the room board@conference.magpie.test</body></message>`
	for _, m := range []string{aliceDirect, occupantMediated, prosodyMediated, directInvite, legacyDirect, prosodyDecline, sentCarbon, receivedCarbon,
		forged, forgedDecline,
		`<message xmlns='jabber:client' type='chat' id='end' from='alice@magpie.test/r' to='bob@magpie.test'><body>done</body></message>`} {
		var w wireMessage
		if err := xml.Unmarshal([]byte(m), &w); err != nil {
			t.Fatal(err)
		}
		c.onMessage(w, nil)
	}
	waitFor(t, rec, 5*time.Second, func(e MessageReceived) bool { return e.ID == "end" })
	var invitations []InvitationReceived
	var declines []InvitationDeclined
	rec.mu.Lock()
	for _, e := range rec.events {
		switch e := e.(type) {
		case InvitationReceived:
			e.Time = time.Time{}
			invitations = append(invitations, e)
		case InvitationDeclined:
			declines = append(declines, e)
		case MessageReceived:
			if e.ID != "end" {
				t.Errorf("stored as a chat: %+v", e.Message)
			}
		case NoticeReceived:
			t.Errorf("a notice: %+v", e.Notice)
		}
	}
	rec.mu.Unlock()
	alice := jid.MustParse("alice@magpie.test")
	want := []InvitationReceived{
		{Room: jid.MustParse("board@conference.magpie.test"), From: alice, Reason: "budget", Password: "s3cret", Direct: true},
		{Room: jid.MustParse("lunch@conference.magpie.test"), From: alice, Reason: "lunch?", Password: "pw", Direct: true},
		{Room: jid.MustParse("coffee@conference.magpie.test"), From: jid.MustParse("carol@magpie.test"), Direct: true},
		{Room: jid.MustParse("tea@conference.magpie.test"), From: jid.MustParse("mallory@magpie.test"), Direct: true},
	}
	if !reflect.DeepEqual(invitations, want) {
		t.Errorf("invitations:\n%+v\nwant\n%+v", invitations, want)
	}
	if len(declines) != 1 || declines[0].From.String() != "dave@magpie.test" || declines[0].Reason != "busy" {
		t.Errorf("declines %+v", declines)
	}
}

// TestInvitations runs invitations against a real Prosody: alice invites bob
// to her members-only, password-protected room (direct and mediated: he
// gets one invitation, and membership), carol through the room only, and
// dave, who declines; a decline of a direct invitation reaches alice too;
// erin, offline, gets hers at sign-in. Nothing of it lands in the chat
// store, neither live nor from the archive.
func TestInvitations(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	board := jid.MustParse("board@" + service)
	lunch := jid.MustParse("lunch@" + service)
	dbB, dbC := openStore(t), openStore(t)
	alice, aliceEv := online(t, srv, "alice")
	bob, bobEv := online(t, srv, "bob", WithStore(dbB))
	carol, carolEv := online(t, srv, "carol", WithStore(dbC))
	dave, daveEv := online(t, srv, "dave")
	const wait = 10 * time.Second

	cfg := &RoomConfig{Name: "Board", Persistent: true, MembersOnly: true, Password: "s3cret", NonAnonymous: true}
	if err := alice.CreateRoom(ctxT(t), board, "Alice", cfg); err != nil {
		t.Fatalf("create the board room: %v\n%s", err, srv.Log())
	}
	// A round trip to the server: everything the server wrote to the
	// client before its answer has been handled.
	roundTrip := func(c *Client) {
		t.Helper()
		if _, _, _, err := c.SoftwareVersion(ctxT(t), jid.MustParse(srv.Domain)); err != nil {
			t.Fatal(err)
		}
	}
	count := func(r *recorder) (n int) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, e := range r.events {
			if _, ok := e.(InvitationReceived); ok {
				n++
			}
		}
		return n
	}

	// Not a member yet: refused.
	if err := dave.JoinRoom(ctxT(t), board, "Dave", WithRoomPassword("s3cret")); !errors.Is(err, ErrMembersOnly) {
		t.Fatalf("dave joins the members-only room: %v, want ErrMembersOnly", err)
	}

	// Bob: direct and mediated (members-only), reported once.
	if err := alice.Invite(ctxT(t), board, bob.Account(), "budget"); err != nil {
		t.Fatal(err)
	}
	inv := waitFor(t, bobEv, wait, func(e InvitationReceived) bool { return e.Room.Equal(board) })
	if !inv.From.Equal(alice.Account()) || inv.Reason != "budget" || inv.Password != "s3cret" || !inv.Direct {
		t.Fatalf("bob's invitation %+v", inv)
	}
	roundTrip(bob)
	if n := count(bobEv); n != 1 {
		t.Fatalf("bob got %d invitations, want 1\n%s", n, srv.Log())
	}
	if err := bob.JoinRoom(ctxT(t), board, "Bob"); !errors.Is(err, ErrRoomPassword) {
		t.Fatalf("bob joins without the password: %v, want ErrRoomPassword", err)
	}
	if err := bob.JoinRoom(ctxT(t), board, "Bob", WithRoomPassword(inv.Password)); err != nil {
		t.Fatalf("bob joins with the invitation: %v", err)
	}

	// Carol: through the room only.
	if err := alice.InviteMediated(ctxT(t), board, carol.Account(), "join us"); err != nil {
		t.Fatal(err)
	}
	inv = waitFor(t, carolEv, wait, func(e InvitationReceived) bool { return e.Room.Equal(board) })
	if !inv.From.Equal(alice.Account()) || inv.Reason != "join us" || inv.Password != "s3cret" || inv.Direct {
		t.Fatalf("carol's invitation %+v", inv)
	}
	if err := carol.JoinRoom(ctxT(t), board, "Carol", WithRoomPassword(inv.Password)); err != nil {
		t.Fatalf("carol joins with the invitation: %v", err)
	}

	// An invitation to a room one is in already is not shown.
	if err := alice.Invite(ctxT(t), board, bob.Account(), "again"); err != nil {
		t.Fatal(err)
	}
	roundTrip(alice)
	roundTrip(bob)
	if n := count(bobEv); n != 1 {
		t.Fatalf("bob got %d invitations, want 1 (he is in the room)", n)
	}

	// Bob is a member, not an admin: the room refuses his invitation.
	if err := bob.InviteMediated(ctxT(t), board, dave.Account(), ""); err != nil {
		t.Fatal(err)
	}
	refusal := waitFor(t, bobEv, wait, func(e ErrorOccurred) bool { return errors.Is(e.Err, ErrNotAllowed) })
	var rre *RoomRequestError
	if !errors.As(refusal.Err, &rre) || rre.Request != "invite" || !rre.Room.Equal(board) {
		t.Fatalf("bob's refused invitation: %v", refusal.Err)
	}
	if count(daveEv) != 0 {
		t.Fatalf("dave got bob's refused invitation")
	}

	// Dave declines a mediated invitation; alice hears of it.
	if err := alice.InviteMediated(ctxT(t), board, dave.Account(), "please"); err != nil {
		t.Fatal(err)
	}
	inv = waitFor(t, daveEv, wait, func(e InvitationReceived) bool { return e.Room.Equal(board) })
	if err := dave.DeclineInvitation(ctxT(t), inv, "busy"); err != nil {
		t.Fatal(err)
	}
	dec := waitFor(t, aliceEv, wait, func(e InvitationDeclined) bool { return e.Room.Equal(board) })
	if !dec.From.Equal(dave.Account()) || dec.Reason != "busy" {
		t.Fatalf("alice's decline %+v", dec)
	}

	// An open room: a direct invitation only; carol declines it.
	if err := alice.CreateRoom(ctxT(t), lunch, "Alice", nil); err != nil {
		t.Fatal(err)
	}
	if err := alice.Invite(ctxT(t), lunch, carol.Account(), "lunch?"); err != nil {
		t.Fatal(err)
	}
	inv = waitFor(t, carolEv, wait, func(e InvitationReceived) bool { return e.Room.Equal(lunch) })
	if !inv.Direct || inv.Password != "" || inv.Reason != "lunch?" {
		t.Fatalf("carol's lunch invitation %+v", inv)
	}
	roundTrip(carol)
	if n := count(carolEv); n != 2 {
		t.Fatalf("carol got %d invitations, want 2", n)
	}
	if err := carol.DeclineInvitation(ctxT(t), inv, "not hungry"); err != nil {
		t.Fatal(err)
	}
	dec = waitFor(t, aliceEv, wait, func(e InvitationDeclined) bool { return e.Room.Equal(lunch) })
	if !dec.From.Equal(carol.Account()) || dec.Reason != "not hungry" {
		t.Fatalf("alice's lunch decline %+v", dec)
	}

	// Erin is offline when invited: the server keeps the invitation and
	// archives it. At sign-in she gets it once (the offline copy, delayed),
	// and the archive's copy is no chat either.
	srv.AddUser(t, "erin", "erin-pw")
	erin := jid.MustParse("erin@" + srv.Domain)
	if err := alice.Invite(ctxT(t), board, erin, "welcome"); err != nil {
		t.Fatal(err)
	}
	roundTrip(alice)
	dbE := openStore(t)
	erinC, erinEv := onlineAs(t, srv, "erin", WithStore(dbE))
	waitFor(t, erinEv, wait, func(e HistorySynced) bool { return true })
	inv = waitFor(t, erinEv, wait, func(e InvitationReceived) bool { return e.Room.Equal(board) })
	if !inv.Delayed || inv.Password != "s3cret" || !inv.From.Equal(alice.Account()) {
		t.Fatalf("erin's invitation %+v", inv)
	}
	roundTrip(erinC)
	if n := count(erinEv); n != 1 {
		t.Fatalf("erin got %d invitations, want 1", n)
	}
	erinC.store.barrier()
	for _, peer := range []string{alice.Account().String(), board.String()} {
		if got := bodies(t, dbE, peer); len(got) != 0 {
			t.Errorf("erin stored %q with %s", got, peer)
		}
	}

	// None of it is a chat or a notice.
	bob.store.barrier()
	carol.store.barrier()
	for _, r := range []*recorder{bobEv, carolEv, daveEv, aliceEv, erinEv} {
		r.mu.Lock()
		for _, e := range r.events {
			switch e := e.(type) {
			case MessageReceived:
				t.Errorf("a chat message: %+v", e.Message)
			case NoticeReceived:
				t.Errorf("a notice: %+v", e.Notice)
			case RoomMessage:
				t.Errorf("a room message: %+v", e.Message)
			}
		}
		r.mu.Unlock()
	}
	for _, peer := range []string{alice.Account().String(), board.String(), lunch.String()} {
		if got := bodies(t, dbB, peer); len(got) != 0 {
			t.Errorf("bob stored %q with %s", got, peer)
		}
		if got := bodies(t, dbC, peer); len(got) != 0 {
			t.Errorf("carol stored %q with %s", got, peer)
		}
	}
}

// TestWireMUCUserMessage: the muc#user element of a message keeps what
// room presence has (items, status codes; the group chat code reads the
// real JID of a message's sender from it) besides invitations.
func TestWireMUCUserMessage(t *testing.T) {
	var w wireMessage
	s := `<message type='groupchat' from='board@conference.magpie.test/Alice'><body>hi</body>` +
		`<x xmlns='http://jabber.org/protocol/muc#user'><item jid='alice@magpie.test/r' affiliation='owner' role='moderator'/><status code='104'/></x></message>`
	if err := xml.Unmarshal([]byte(s), &w); err != nil {
		t.Fatal(err)
	}
	x := w.MUCUser
	if x == nil || len(x.Items) != 1 || x.Items[0].JID != "alice@magpie.test/r" || !x.has(104) || len(x.Invites) != 0 || x.Decline != nil {
		t.Fatalf("decoded %+v", x)
	}
}
