package xmpp

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"magpie/xmpp/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Joins, rejoins and the room outbox under the races a user meets: a leave
// during a rejoin, two rejoins of one room, a temporary error from a
// restarting MUC service, messages typed while a room is rejoined.

// roomStateOf returns the client's state of room (nil when it has none).
func (c *Client) roomStateOf(room jid.JID) *roomState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rooms[room.String()]
}

// waitRoomState waits until cond holds for room's state (read under c.mu;
// nil while the client does not hold the room).
func waitRoomState(t *testing.T, c *Client, room jid.JID, what string, cond func(*roomState) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c.mu.Lock()
		ok := cond(c.rooms[room.String()])
		c.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// joinGate holds a client's first join, once armed, just before its join
// presence until open is called; reached is closed when it stops there.
// calls counts the joins that got that far.
type joinGate struct {
	armed   atomic.Bool
	calls   atomic.Int32
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

// holdJoin puts a joinGate in c's joins.
func holdJoin(c *Client) *joinGate {
	g := &joinGate{reached: make(chan struct{}), release: make(chan struct{})}
	c.mu.Lock()
	c.beforeJoinPresence = func(jid.JID) {
		if !g.armed.Load() {
			return
		}
		if g.calls.Add(1) == 1 {
			close(g.reached)
			<-g.release
		}
	}
	c.mu.Unlock()
	return g
}

func (g *joinGate) open() { g.once.Do(func() { close(g.release) }) }

// TestLeaveDuringRejoin: the user leaves a room while its rejoin after a
// reconnect is under way (here: between the room's disco#info and the join
// presence). The join presence must not go out after the leave: the
// server would keep the account in a room the client has forgotten.
func TestLeaveDuringRejoin(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsodyWith(t, "smacks_hibernation_time = 1\n", "")
	room := jid.MustParse("leave-rejoin@" + service)
	gate := newNetProxy(t, srv.C2SAddr)
	srv.AddUser(t, "alice", "alice-pw")
	alice, aliceEv := onlineAs(t, srv, "alice", WithStore(openStore(t)), WithServer(gate.Addr()), WithBackoff(200*time.Millisecond, 400*time.Millisecond))
	bob, bobEv := online(t, srv, "bob", WithStore(openStore(t)))
	hold := holdJoin(alice)
	t.Cleanup(hold.open)
	joinAll(t, srv, room, []*Client{alice, bob}, "Alice", "Bob")

	hold.armed.Store(true)
	gate.Down()
	waitFor(t, bobEv, 10*time.Second, func(e OccupantChanged) bool { return e.Occupant.Nick == "Alice" && e.Left })
	mark := bobEv.mark()
	gate.Up()
	select {
	case <-hold.reached:
	case <-time.After(20 * time.Second):
		t.Fatal("no rejoin after the reconnect")
	}
	if err := alice.LeaveRoom(ctxT(t), room); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 5*time.Second, func(e RoomLeft) bool { return e.Room.Equal(room) && e.Reason == LeftByUser })
	hold.open()

	// Whatever the join would send goes out at once; the pings make sure
	// the server has passed it on to Bob before his events are read.
	time.Sleep(500 * time.Millisecond)
	if err := alice.Ping(ctxT(t), jid.JID{}); err != nil {
		t.Fatal(err)
	}
	if err := bob.Ping(ctxT(t), jid.JID{}); err != nil {
		t.Fatal(err)
	}
	if n := countEvents(bobEv, mark, func(e OccupantChanged) bool { return e.Occupant.Nick == "Alice" && !e.Left }); n != 0 {
		t.Fatalf("Alice came back into the room after leaving it (%d presences)", n)
	}
	if rs := alice.Rooms(); len(rs) != 0 {
		t.Fatalf("alice lists %+v after leaving", rs)
	}
}

// TestConcurrentRejoins: two rejoins reaching one room at once (a rejoin
// scheduled in the session, and the reconnect's) must not both run: the
// second would overwrite the first's pending join and reset its held
// messages, and the first's end would clear the second's fill.
func TestConcurrentRejoins(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("twice@" + service)
	// The in-session rejoin that onRoomError schedules waits a minute:
	// the test runs the rejoins itself.
	alice, aliceEv := online(t, srv, "alice", WithStore(openStore(t)), WithBackoff(time.Minute, time.Minute))
	bob, bobEv := online(t, srv, "bob", WithStore(openStore(t)))
	hold := holdJoin(alice)
	t.Cleanup(hold.open)
	joinAll(t, srv, room, []*Client{alice, bob}, "Alice", "Bob")

	alice.onMessage(wireMessage{From: room.String(), Type: "error", ID: "x1", Error: &stanzaErrorNotAcceptable}, nil)
	r, l := alice.roomStateOf(room), alice.currentLink()
	mark := aliceEv.mark()
	hold.armed.Store(true)
	first := make(chan bool, 1)
	go func() { first <- alice.rejoin(l, r) }()
	select {
	case <-hold.reached:
	case <-time.After(10 * time.Second):
		t.Fatal("the first rejoin did not start")
	}
	second := make(chan bool, 1)
	go func() { second <- alice.rejoin(l, r) }()
	select {
	case ok := <-second:
		if ok {
			t.Fatal("the second rejoin ran beside the first")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second rejoin is still running")
	}
	if n := hold.calls.Load(); n != 1 {
		t.Fatalf("%d joins reached the join presence, want 1", n)
	}
	hold.open()
	select {
	case ok := <-first:
		if !ok {
			t.Fatal("the first rejoin failed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first rejoin never got the room's answer")
	}
	if n := countEvents(aliceEv, mark, func(e RoomJoined) bool { return e.Rejoin && e.Room.Equal(room) }); n != 1 {
		t.Fatalf("%d RoomJoined events, want 1", n)
	}
	// The room's fill ended cleanly: a live message arrives.
	talk(t, room, "after", 1, []*Client{bob}, []*recorder{bobEv})
	waitFrom(t, aliceEv, mark, 10*time.Second, func(e RoomMessage) bool { return e.Body == "after 1" })
}

// TestRejoinTemporaryError: a rejoin answered with a temporary error (an
// external MUC component that is restarting: the server answers
// service-unavailable) keeps the room and tries again later; only a
// definite refusal gives it up.
func TestRejoinTemporaryError(t *testing.T) {
	t.Parallel()
	// A component Prosody knows but that is not connected: what a
	// client meets while an external MUC service restarts.
	srv, _ := startMUCProsodyWith(t, "Component \"down.magpie.test\"\n\tcomponent_secret = \"unused\"\n", "")
	room := jid.MustParse("office@down.magpie.test")
	alice, aliceEv := online(t, srv, "alice", WithStore(openStore(t)), WithBackoff(time.Minute, time.Minute))
	r := &roomState{room: room, nick: "Alice", everJoined: true, occupants: map[string]Occupant{}}
	alice.mu.Lock()
	alice.rooms[room.String()] = r
	alice.mu.Unlock()
	l := alice.currentLink()

	_, err := alice.join(ctxT(t), l, r, 50, true)
	var re *RoomError
	if !errors.As(err, &re) || re.definite() {
		t.Fatalf("join: %v, want a temporary RoomError\n%s", err, srv.Log())
	}
	t.Logf("the server answers %q", re.Condition)
	mark := aliceEv.mark()
	if alice.rejoin(l, r) {
		t.Fatal("rejoin succeeded")
	}
	if alice.roomStateOf(room) != r {
		t.Fatalf("a %s forgot the room", re.Condition)
	}
	alice.mu.Lock()
	scheduled := r.rejoining
	alice.mu.Unlock()
	if !scheduled {
		t.Fatal("no later rejoin scheduled")
	}
	if n := countEvents(aliceEv, mark, func(e RoomLeft) bool { return e.Room.Equal(room) }); n != 0 {
		t.Fatal("RoomLeft reported for a temporary error")
	}

	for i, tc := range []struct {
		cond     string
		definite bool
	}{
		{"forbidden", true}, {"registration-required", true}, {"not-authorized", true}, {"conflict", true},
		{"item-not-found", true}, {"gone", true}, {"not-allowed", true}, {"banned", true},
		{"service-unavailable", false}, {"remote-server-not-found", false}, {"remote-server-timeout", false},
		{"internal-server-error", false}, {"shutdown", false}, {"left", false}, {"undefined-condition", false},
	} {
		if got := (&RoomError{Condition: tc.cond}).definite(); got != tc.definite {
			t.Errorf("%d: %s definite = %v", i, tc.cond, got)
		}
	}
}

// roomRejoining makes alice's room think the room service forgot her
// (XEP-0410): she is in c.rooms but not joined until the scheduled
// rejoin (her back-off's first wait).
func roomRejoining(c *Client, room jid.JID) {
	c.onMessage(wireMessage{From: room.String(), Type: "error", ID: randomHex(4), Error: &stanzaErrorNotAcceptable}, nil)
}

// TestRoomMessageWhileRejoining: a message typed while the room is being
// rejoined waits in the outbox and goes out once the room is back.
func TestRoomMessageWhileRejoining(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("typing@" + service)
	dbA := openStore(t)
	alice, aliceEv := online(t, srv, "alice", WithStore(dbA), WithBackoff(2*time.Second, 2*time.Second))
	bob, bobEv := online(t, srv, "bob", WithStore(openStore(t)))
	joinAll(t, srv, room, []*Client{alice, bob}, "Alice", "Bob")

	mark := aliceEv.mark()
	roomRejoining(alice, room)
	if rs := alice.Rooms(); len(rs) != 1 || rs[0].Joined {
		t.Fatalf("rooms while rejoining: %+v", rs)
	}
	id, err := alice.SendRoomMessage(ctxT(t), room, "typed while rejoining")
	if err != nil {
		t.Fatalf("SendRoomMessage while rejoining: %v", err)
	}
	if out, _ := alice.Outbox(); len(out) != 1 || out[0].ID != id {
		t.Fatalf("outbox %+v, want the message", out)
	}
	waitFrom(t, aliceEv, mark, 10*time.Second, func(e RoomJoined) bool { return e.Rejoin })
	m := waitFor(t, bobEv, 10*time.Second, func(e RoomMessage) bool { return e.Body == "typed while rejoining" })
	if m.Nick != "Alice" {
		t.Fatalf("bob got %+v", m)
	}
	waitFrom(t, aliceEv, mark, 10*time.Second, func(e MessageStateChanged) bool { return e.ID == id && e.State == DeliverySent })

	if _, err := alice.SendRoomMessage(ctxT(t), jid.MustParse("elsewhere@"+service), "x"); !errors.Is(err, ErrNotInRoom) {
		t.Fatalf("a room never joined: %v, want ErrNotInRoom", err)
	}
}

// TestRoomOutboxFailsWhenLeft: messages waiting for a room fail, with a
// reason, when the room is given up; they do not stay "sending".
func TestRoomOutboxFailsWhenLeft(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("giveup@" + service)
	db := openStore(t)
	alice, aliceEv := online(t, srv, "alice", WithStore(db), WithBackoff(time.Minute, time.Minute))
	joinAll(t, srv, room, []*Client{alice}, "Alice")

	roomRejoining(alice, room)
	id, err := alice.SendRoomMessage(ctxT(t), room, "never sent")
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.LeaveRoom(ctxT(t), room); err != nil {
		t.Fatal(err)
	}
	e := waitFor(t, aliceEv, 10*time.Second, func(e MessageStateChanged) bool { return e.ID == id && e.State == DeliveryFailed })
	if e.Err == nil || !e.Peer.Equal(room) {
		t.Fatalf("failure reported as %+v", e)
	}
	alice.store.barrier()
	msgs, err := db.History(room.String(), store.Cursor{}, 10)
	if err != nil || len(msgs) != 1 || msgs[0].State != store.Failed || msgs[0].Error == "" {
		t.Fatalf("stored %+v, %v; want the message failed with a reason", msgs, err)
	}
	if out, _ := alice.Outbox(); len(out) != 0 {
		t.Fatalf("outbox still holds %+v", out)
	}
}

// TestRoomOutboxAfterJoin: a room message left pending by an earlier run
// (typed while the room was rejoined, then the app quit) goes out when the
// next run joins the room.
func TestRoomOutboxAfterJoin(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("later@" + service)
	db := openStore(t)
	alice, _ := online(t, srv, "alice", WithStore(db), WithBackoff(time.Minute, time.Minute))
	bob, bobEv := online(t, srv, "bob", WithStore(openStore(t)))
	joinAll(t, srv, room, []*Client{alice, bob}, "Alice", "Bob")
	roomRejoining(alice, room)
	id, err := alice.SendRoomMessage(ctxT(t), room, "from the last run")
	if err != nil {
		t.Fatal(err)
	}
	alice.Close()

	again, againEv := onlineAs(t, srv, "alice", WithStore(db))
	if err := again.JoinRoom(ctxT(t), room, "Alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bobEv, 10*time.Second, func(e RoomMessage) bool { return e.Body == "from the last run" })
	waitFor(t, againEv, 10*time.Second, func(e MessageStateChanged) bool { return e.ID == id && e.State == DeliverySent })
}

// TestChangeNickSuperseded: a second ChangeNick answers the first at once,
// and a dropped connection ends the wait at once.
func TestChangeNickSuperseded(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("nicks@" + service)
	proxy := newNetProxy(t, srv.C2SAddr)
	srv.AddUser(t, "alice", "alice-pw")
	alice, _ := onlineAs(t, srv, "alice", WithServer(proxy.Addr()), WithBackoff(time.Minute, time.Minute))
	joinAll(t, srv, room, []*Client{alice}, "Alice")

	proxy.Freeze() // the room's answers never come
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	firstErr, secondErr := make(chan error, 1), make(chan error, 1)
	go func() { firstErr <- alice.ChangeNick(ctx, room, "Ally") }()
	waitRoomState(t, alice, room, "the first ChangeNick to wait", func(r *roomState) bool { return r != nil && r.nickWait != nil })
	go func() { secondErr <- alice.ChangeNick(ctx, room, "Alison") }()
	select {
	case err := <-firstErr:
		if !errors.Is(err, errNickSuperseded) {
			t.Fatalf("first ChangeNick: %v, want superseded", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the first ChangeNick still waits after a second one replaced it")
	}
	// (The second waits now: replacing the first is how it began to.)
	proxy.Cut()
	select {
	case err := <-secondErr:
		if !errors.Is(err, ErrNotConnected) {
			t.Fatalf("second ChangeNick: %v, want ErrNotConnected", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ChangeNick still waits after the connection dropped")
	}
}

// TestRoomNotifyCached: Rooms and RoomNotify read each room's setting from
// the store once, then from memory (the app calls them on its UI thread),
// and SetRoomNotify keeps that memory current.
func TestRoomNotifyCached(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	quiet, open := jid.MustParse("quiet@conference.example"), jid.MustParse("open@conference.example")
	if err := db.SetRoomNotify(quiet.String(), string(NotifyNone)); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRoomMembersOnly(open.String(), false); err != nil {
		t.Fatal(err)
	}
	c, err := New("alice@example", WithStore(db), WithPassword(func(context.Context) (string, error) { return "", nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.mu.Lock()
	for _, room := range []jid.JID{quiet, open} {
		c.rooms[room.String()] = &roomState{room: room, nick: "alice", occupants: map[string]Occupant{}}
	}
	c.mu.Unlock()
	check := func(step string, want ...NotifyLevel) {
		t.Helper()
		rs := c.Rooms()
		if len(rs) != 2 || rs[0].Notify != want[0] || rs[1].Notify != want[1] {
			t.Fatalf("%s: Rooms() = %+v, want open %q, quiet %q", step, rs, want[0], want[1])
		}
	}
	check("first read", NotifyMentions, NotifyNone)
	if err := c.SetRoomNotify(open, NotifyAll); err != nil {
		t.Fatal(err)
	}
	check("after SetRoomNotify", NotifyAll, NotifyNone)
	// No more I/O: with the store gone the answers stay.
	db.Close()
	check("store closed", NotifyAll, NotifyNone)
	if got := c.RoomNotify(quiet); got != NotifyNone {
		t.Fatalf("RoomNotify(quiet) = %q", got)
	}
}

// TestAutojoinSkipsLeftRoom: a room the user left stays left when the
// network drops and the client signs in again, although its bookmark says
// autojoin; the next Client (the next start of the app) joins it again.
func TestAutojoinSkipsLeftRoom(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsodyWith(t, "smacks_hibernation_time = 1\n", "")
	left, watch, marker := jid.MustParse("aaa-left@"+service), jid.MustParse("mid@"+service), jid.MustParse("zzz-marker@"+service)
	gate := newNetProxy(t, srv.C2SAddr)
	srv.AddUser(t, "alice", "alice-pw")
	phone, _ := onlineAs(t, srv, "alice", WithResource("phone"))
	if err := phone.SetBookmark(ctxT(t), Bookmark{Room: left, Autojoin: true, Nick: "Alice"}); err != nil {
		t.Fatal(err)
	}
	desk, deskEv := onlineAs(t, srv, "alice", WithResource("desk"), WithAutojoin(),
		WithServer(gate.Addr()), WithBackoff(200*time.Millisecond, 400*time.Millisecond))
	waitFor(t, deskEv, 10*time.Second, func(e RoomJoined) bool { return e.Room.Equal(left) })
	bob, bobEv := online(t, srv, "bob")
	joinAll(t, srv, watch, []*Client{desk, bob}, "Alice", "Bob")
	if err := desk.LeaveRoom(ctxT(t), left); err != nil {
		t.Fatal(err)
	}
	// A bookmark the desk learns of only at its next sign-in (private
	// storage sends no notifications): its join shows that the autojoin
	// has run, and passed the left room (bookmarks are joined in order).
	if err := phone.SetBookmark(ctxT(t), Bookmark{Room: marker, Autojoin: true, Nick: "Alice"}); err != nil {
		t.Fatal(err)
	}

	mark := deskEv.mark()
	gate.Down()
	// The server drops the session (and its occupants): the next one is
	// new, not resumed, and runs the autojoin.
	waitFor(t, bobEv, 10*time.Second, func(e OccupantChanged) bool { return e.Occupant.Nick == "Alice" && e.Left })
	gate.Up()
	waitFrom(t, deskEv, mark, 30*time.Second, func(e RoomJoined) bool { return e.Room.Equal(marker) })
	if n := countEvents(deskEv, mark, func(e RoomJoined) bool { return e.Room.Equal(left) }); n != 0 {
		t.Fatal("the reconnect joined the room the user left")
	}
	for _, r := range desk.Rooms() {
		if r.JID.Equal(left) {
			t.Fatalf("rooms after the reconnect: %+v", desk.Rooms())
		}
	}
	desk.Close()

	_, laptopEv := onlineAs(t, srv, "alice", WithResource("laptop"), WithAutojoin())
	waitFor(t, laptopEv, 10*time.Second, func(e RoomJoined) bool { return e.Room.Equal(left) })
}

// TestRoomBounceResent: a message the room refused with not-acceptable
// (XEP-0410: the room had forgotten the client, as after its service
// restarted) does not fail: the client rejoins and sends it again, as the
// same message, and it reaches the room once. Prosody forgets an occupant
// only when the room service restarts, so the message is one written on
// the session that the room never took, and the room's refusal is fed in
// directly, as in TestRoomRejoinInSession; the rejoin and the resent
// message go through Prosody.
func TestRoomBounceResent(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("bounce@" + service)
	dbA := openStore(t)
	alice, aliceEv := online(t, srv, "alice", WithStore(dbA))
	bob, bobEv := online(t, srv, "bob", WithStore(openStore(t)))
	joinAll(t, srv, room, []*Client{alice, bob}, "Alice", "Bob")
	const wait = 10 * time.Second
	const body = "被退回的消息 bounced"

	l := alice.currentLink()
	l.sendMu.Lock()
	rec, err := alice.storeOutgoing(OutgoingMessage{To: room, Body: body, Type: stanza.GroupChatMessage})
	if err == nil {
		l.written[rec.OriginID] = true
	}
	l.sendMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// A stream management ack may have marked it sent before the refusal.
	alice.setDelivery(room, rec.OriginID, DeliverySent, "")
	alice.store.barrier()

	mark, bobMark := aliceEv.mark(), bobEv.mark()
	alice.onMessage(wireMessage{From: room.String(), Type: "error", ID: rec.OriginID, Error: &stanzaErrorNotAcceptable}, nil)
	// The stream management ack of the refused copy, which comes after the
	// refusal, does not make it sent: it would then never go again.
	alice.setDelivery(room, rec.OriginID, DeliverySent, "")
	waitFrom(t, aliceEv, mark, wait, func(e RoomJoined) bool { return e.Rejoin && e.Room.Equal(room) })
	waitFrom(t, bobEv, bobMark, wait, func(e RoomMessage) bool { return e.Body == body })
	// The room's echo marks it sent again.
	waitFrom(t, aliceEv, mark, wait, func(e MessageStateChanged) bool { return e.ID == rec.OriginID && e.State == DeliverySent })

	// Once more through the room, so that a second copy would be here.
	talk(t, room, "after", 1, []*Client{bob}, []*recorder{bobEv})
	waitFrom(t, aliceEv, mark, wait, func(e RoomMessage) bool { return e.Body == "after 1" })
	if n := countEvents(bobEv, bobMark, func(e RoomMessage) bool { return e.Body == body }); n != 1 {
		t.Fatalf("Bob got the resent message %d times, want once", n)
	}
	if n := countEvents(aliceEv, mark, func(e MessageFailed) bool { return e.ID == rec.OriginID }) +
		countEvents(aliceEv, mark, func(e MessageStateChanged) bool { return e.ID == rec.OriginID && e.State == DeliveryFailed }); n != 0 {
		t.Fatal("the refused message was reported failed")
	}
	alice.store.barrier()
	if got, want := bodies(t, dbA, room.String()), []string{">" + body, "<after 1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	if m, ok, err := dbA.SetState(room.String(), rec.OriginID, store.Sent, ""); err != nil || !ok || m.State != store.Sent {
		t.Fatalf("the resent message is stored as %v (%v, %v), want sent", m.State, ok, err)
	}
	if out, err := alice.Outbox(); err != nil || len(out) != 0 {
		t.Fatalf("outbox after the resend: %+v, %v", out, err)
	}

	// Refused a second time, it fails as a bounce does (a room that refuses
	// it for another reason must not be rejoined for ever).
	mark = aliceEv.mark()
	alice.onMessage(wireMessage{From: room.String(), Type: "error", ID: rec.OriginID, Error: &stanzaErrorNotAcceptable}, nil)
	waitFrom(t, aliceEv, mark, wait, func(e MessageFailed) bool { return e.ID == rec.OriginID })
	alice.store.barrier()
	if out, err := alice.Outbox(); err != nil || len(out) != 0 {
		t.Fatalf("outbox after the second refusal: %+v, %v", out, err)
	}
}

// TestRejoinAfterResumption: a room being rejoined (the room forgot the
// client) when the link drops is rejoined on the resumed session. The
// resumed session is still in its other rooms, so only that one needs it;
// before, its rejoin died with the old link and the room stayed out.
func TestRejoinAfterResumption(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room, other := jid.MustParse("resumed@"+service), jid.MustParse("steady@"+service)
	proxy := newNetProxy(t, srv.C2SAddr)
	srv.AddUser(t, "alice", "alice-pw")
	// The rejoin waits 2 s: the link drops before it starts.
	alice, aliceEv := onlineAs(t, srv, "alice", WithStore(openStore(t)), WithServer(proxy.Addr()), WithBackoff(2*time.Second, 2*time.Second))
	joinAll(t, srv, room, []*Client{alice}, "Alice")
	joinAll(t, srv, other, []*Client{alice}, "Alice")

	mark := aliceEv.mark()
	alice.onMessage(wireMessage{From: room.String(), Type: "error", ID: "x1", Error: &stanzaErrorNotAcceptable}, nil)
	proxy.Cut()
	waitFrom(t, aliceEv, mark, 20*time.Second, func(e StateChanged) bool { return e.State == Online })
	if !alice.linkResumed() {
		t.Fatal("the stream was not resumed")
	}
	waitFrom(t, aliceEv, mark, 20*time.Second, func(e RoomJoined) bool { return e.Rejoin && e.Room.Equal(room) })
	if n := countEvents(aliceEv, mark, func(e RoomJoined) bool { return e.Room.Equal(other) }); n != 0 {
		t.Fatalf("the room the resumed session is still in was joined again (%d times)", n)
	}
	for _, r := range alice.Rooms() {
		if !r.Joined {
			t.Fatalf("after the resumption: %+v", alice.Rooms())
		}
	}
}
