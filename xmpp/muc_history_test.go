package xmpp

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

var stanzaErrorNotAcceptable = stanza.Error{Type: stanza.Cancel, Condition: stanza.NotAcceptable}

func TestMentions(t *testing.T) {
	for i, tc := range []struct {
		body, nick string
		want       bool
	}{
		{"hi Alice", "Alice", true},
		{"hi alice!", "Alice", true},
		{"@ALICE can you look?", "Alice", true},
		{"alice: ok", "Alice", true},
		{"alice's turn", "Alice", true},
		{"Alice", "Alice", true},
		{"Alicent is here", "Alice", false},
		{"malice", "Alice", false},
		{"alice_bot says", "Alice", false},
		{"alice2", "Alice", false},
		{"bob", "Alice", false},
		{"", "Alice", false},
		{"hi", "", false},
		{"Mary Ann, lunch?", "mary ann", true},
		{"李四你好", "李四", true},
		{"@李四 请看一下", "李四", true},
		{"张三和李四", "李四", true},
		{"王五", "李四", false},
		{"Bob你好", "Bob", true},
		{"你好Bob，在吗", "bob", true},
		{"你好Bobby", "bob", false},
		{"田中さん、お願いします", "田中", true},
		{"민수야 어디야", "민수", true},
		{"straße", "STRASSE", false}, // simple folding only: no ß → ss
		{"Ωmega", "ωmega", true},
		{"[bot] done", "[bot]", true},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			if got := Mentions(tc.body, tc.nick); got != tc.want {
				t.Fatalf("Mentions(%q, %q) = %v, want %v", tc.body, tc.nick, got, tc.want)
			}
		})
	}
}

func TestJoinHistory(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, tc := range []struct {
		archived bool
		newest   time.Time
		want     string
	}{
		{true, time.Time{}, "maxstanzas=0"},
		{true, now.Add(-time.Hour), "maxstanzas=0"},
		{false, time.Time{}, "maxstanzas=25"},
		{false, now.Add(-time.Minute), "seconds=65"},
		{false, now.Add(time.Minute), "seconds=5"}, // a stamp ahead of the clock
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			h := joinHistory(tc.archived, roomAnchor{newest: tc.newest}, 25, now)
			var got []string
			for _, a := range h.Attr {
				got = append(got, a.Name.Local+"="+a.Value)
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("history %v, want %s", got, tc.want)
			}
		})
	}
}

// TestOwnRoomMessage checks how room messages are told to be the
// account's own: by what the room vouches for (its occupant ids, the nick
// it stamps, the real JIDs its presence and its archive give), never by
// what the sender put in the message.
func TestOwnRoomMessage(t *testing.T) {
	c := &Client{account: jid.MustParse("alice@example.com")}
	room := jid.MustParse("office@conference.example.com")
	occupants := map[string]Occupant{
		"Carol": {Nick: "Carol", JID: jid.MustParse("alice@example.com/phone")},
		"Bob":   {Nick: "Bob", JID: jid.MustParse("bob@example.com/pc")},
	}
	plain := &roomState{room: room, nick: "Alicia", occupants: occupants}
	public := &roomState{room: room, nick: "Alicia", occupants: occupants, nonAnonymous: true}
	withIDs := &roomState{room: room, nick: "Alicia", occupants: occupants, occupantIDs: true, selfOccupantID: "me"}
	msg := func(oid string, jids ...string) wireMessage {
		var w wireMessage
		if oid != "" {
			w.OccupantID = &wireOccupantID{ID: oid}
		}
		if len(jids) > 0 {
			w.MUCUser = &wireMUCUserMessage{}
			for _, j := range jids {
				w.MUCUser.Items = append(w.MUCUser.Items, wireMUCItem{JID: j})
			}
		}
		return w
	}
	const live, history, archived = 0, 1, 2
	for i, tc := range []struct {
		r    *roomState
		w    wireMessage
		nick string
		kind int
		want bool
	}{
		{plain, msg(""), "Alicia", live, true},
		{plain, msg(""), "Alice", live, false}, // an earlier nick: anyone may have it now
		{plain, msg(""), "Carol", live, true},  // the room's presence gave the account's JID
		{plain, msg(""), "Bob", live, false},
		{plain, msg("", "alice@example.com"), "Bob", live, false},     // the sender's own element
		{plain, msg("me"), "Bob", live, false},                        // an occupant id the room does not vouch for
		{plain, msg(""), "Alicia", history, false},                    // history: the nick says nothing of then
		{plain, msg("", "alice@example.com"), "Bob", archived, false}, // the room shows no real JIDs: not the archive's
		{public, msg("", "alice@example.com/phone"), "Bob", archived, true},
		{public, msg("", "alice@example.com", "bob@example.com"), "Bob", archived, false}, // the archive's item is the last
		{public, msg("", "alice@example.com"), "Bob", history, false},                     // join history keeps the sender's element
		{withIDs, msg("me"), "Bob", live, true},
		{withIDs, msg("me"), "Old nick", archived, true},
		{withIDs, msg("you"), "Alicia", archived, false},
		{withIDs, msg("you", "alice@example.com"), "Bob", live, false},
		{withIDs, msg(""), "Alicia", live, true}, // no id (another server's history): the nick
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			from, _ := room.WithResource(tc.nick)
			m := Message{From: from, Delayed: tc.kind != live, Archived: tc.kind == archived}
			if got := c.ownRoomMessage(tc.r, tc.w, m, tc.kind != live, tc.kind == archived); got != tc.want {
				t.Fatalf("own = %v, want %v", got, tc.want)
			}
		})
	}
}

// startMUCProsodyWith is startMUCProsody with extra global and group chat
// service configuration.
func startMUCProsodyWith(t *testing.T, global, service string) (*prosodytest.Server, string) {
	t.Helper()
	srv := prosodytest.Start(t, prosodytest.Options{ExtraConfig: global, Components: []prosodytest.Component{{
		Domain: "conference.magpie.test",
		Module: "muc",
		Config: `	modules_enabled = { "muc_mam" }
	muc_room_default_persistent = true
	muc_log_by_default = true
	muc_log_all_rooms = true
	max_history_messages = 50
` + service,
	}}})
	return srv, "conference." + srv.Domain
}

// roomEvents returns the RoomMessage events of room recorded since mark.
func roomEvents(r *recorder, mark int, room jid.JID) []RoomMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []RoomMessage
	for _, e := range r.events[mark:] {
		if m, ok := e.(RoomMessage); ok && m.Room.Equal(room) {
			out = append(out, m)
		}
	}
	return out
}

// countEvents counts the recorded events since mark that match.
func countEvents[T Event](r *recorder, mark int, match func(T) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events[mark:] {
		if ev, ok := e.(T); ok && match(ev) {
			n++
		}
	}
	return n
}

// talk has the clients say n numbered messages in turn ("prefix 1", ...),
// each after the previous one was echoed, so the room's order is known.
func talk(t *testing.T, room jid.JID, prefix string, n int, speakers []*Client, events []*recorder) []string {
	t.Helper()
	var said []string
	for i := 1; i <= n; i++ {
		k := (i - 1) % len(speakers)
		body := fmt.Sprintf("%s %d", prefix, i)
		mark := events[k].mark()
		id, err := speakers[k].SendRoomMessage(ctxT(t), room, body)
		if err != nil {
			t.Fatalf("send %q: %v", body, err)
		}
		// The own copy is stored when sent; the room's echo marks it sent.
		waitFrom(t, events[k], mark, 10*time.Second, func(e MessageStateChanged) bool { return e.ID == id && e.State == DeliverySent })
		said = append(said, body)
	}
	return said
}

func prefixed(p string, bodies []string) []string {
	out := make([]string, len(bodies))
	for i, b := range bodies {
		out[i] = p + b
	}
	return out
}

// TestRoomHistoryFromArchive: a client that left a room and comes back
// gets exactly what it missed from the room's archive (more than the
// room's join history would give), once, in order; mentions are marked
// for the mentioned only; the room is searchable; "sent" is reported once.
func TestRoomHistoryFromArchive(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("archive@" + service)
	dbA := openStore(t)
	alice, aliceEv := online(t, srv, "alice", WithStore(dbA))
	bob, bobEv := online(t, srv, "bob", WithStore(openStore(t)))
	carol, carolEv := online(t, srv, "carol", WithStore(openStore(t)))
	const wait = 10 * time.Second

	joinAll(t, srv, room, []*Client{alice, bob, carol}, "Alice", "Bob", "李四")
	waitFor(t, aliceEv, wait, func(e OccupantChanged) bool { return e.Occupant.Nick == "李四" })

	// Own message: "sent" once, though both the echo and the server's
	// acknowledgement confirm it.
	mark := aliceEv.mark()
	id, err := alice.SendRoomMessage(ctxT(t), room, "morning all")
	if err != nil {
		t.Fatal(err)
	}
	waitFrom(t, aliceEv, mark, wait, func(e MessageStateChanged) bool { return e.ID == id && e.State == DeliverySent })
	waitFor(t, bobEv, wait, func(e RoomMessage) bool { return e.Body == "morning all" })
	talk(t, room, "second", 1, []*Client{alice}, []*recorder{aliceEv}) // a ping/ack round after the first
	time.Sleep(300 * time.Millisecond)
	if n := countEvents(aliceEv, mark, func(e MessageStateChanged) bool { return e.ID == id && e.State == DeliverySent }); n != 1 {
		t.Errorf("DeliverySent reported %d times for one room message", n)
	}

	// Mentions: for the mentioned only, never for the sender.
	markA, markC := aliceEv.mark(), carolEv.mark()
	if _, err := bob.SendRoomMessage(ctxT(t), room, "@alice can you check? 李四你也看看"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		r    *recorder
		mark int
		want bool
	}{{aliceEv, markA, true}, {carolEv, markC, true}} {
		m := waitFrom(t, tc.r, tc.mark, wait, func(e RoomMessage) bool { return strings.HasPrefix(e.Body, "@alice") })
		if m.Mention != tc.want {
			t.Errorf("Mention = %v, want %v (%+v)", m.Mention, tc.want, m)
		}
	}
	if _, err := bob.SendRoomMessage(ctxT(t), room, "nothing for anyone"); err != nil {
		t.Fatal(err)
	}
	if m := waitFrom(t, aliceEv, markA, wait, func(e RoomMessage) bool { return e.Body == "nothing for anyone" }); m.Mention {
		t.Errorf("a message without the nick is a mention: %+v", m)
	}

	// Alice leaves; Bob and 李四 say 60 things (more than the room's join
	// history of 50); Alice comes back and gets exactly those, from the
	// archive.
	if err := alice.LeaveRoom(ctxT(t), room); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bobEv, wait, func(e OccupantChanged) bool { return e.Occupant.Nick == "Alice" && e.Left })
	before := bodies(t, dbA, room.String())
	said := talk(t, room, "while away", 60, []*Client{bob, carol}, []*recorder{bobEv, carolEv})
	mark = aliceEv.mark()
	if err := alice.JoinRoom(ctxT(t), room, "Alice"); err != nil {
		t.Fatal(err)
	}
	// JoinRoom returns once the archive filled the room (the events may
	// still be on their way to the recorder).
	alice.store.barrier()
	waitFrom(t, aliceEv, mark, wait, func(e RoomMessage) bool { return e.Body == said[len(said)-1] })
	got := roomEvents(aliceEv, mark, room)
	var gotBodies []string
	for _, m := range got {
		gotBodies = append(gotBodies, m.Body)
		if !m.Delayed || !m.Archived || m.Outgoing || m.StanzaID == "" {
			t.Errorf("from the archive: %+v", m)
		}
	}
	if !reflect.DeepEqual(gotBodies, said) {
		t.Fatalf("reported after the rejoin:\n%q\nwant\n%q", gotBodies, said)
	}
	want := append(before, prefixed("<", said)...)
	if stored := bodies(t, dbA, room.String()); !reflect.DeepEqual(stored, want) {
		t.Fatalf("stored:\n%q\nwant\n%q", stored, want)
	}

	// Live again, and nothing fetched twice on the next join.
	if _, err := bob.SendRoomMessage(ctxT(t), room, "welcome back"); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, aliceEv, mark, wait, func(e RoomMessage) bool { return e.Body == "welcome back" })
	if err := alice.LeaveRoom(ctxT(t), room); err != nil {
		t.Fatal(err)
	}
	mark = aliceEv.mark()
	if err := alice.JoinRoom(ctxT(t), room, "Alice"); err != nil {
		t.Fatal(err)
	}
	talk(t, room, "marker", 1, []*Client{bob}, []*recorder{bobEv})
	waitFrom(t, aliceEv, mark, wait, func(e RoomMessage) bool { return e.Body == "marker 1" })
	if again := roomEvents(aliceEv, mark, room); len(again) != 1 {
		t.Fatalf("a rejoin with nothing missed reported %d messages: %+v", len(again), again)
	}
	alice.store.barrier()
	if n := len(bodies(t, dbA, room.String())); n != len(want)+2 {
		t.Fatalf("stored %d messages, want %d", n, len(want)+2)
	}

	// Room messages are found by the history search, in the room and in
	// all conversations.
	for i, peer := range []jid.JID{room, {}} {
		hits, err := alice.SearchHistory("while away 42", peer, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 1 || hits[0].Body != "while away 42" || !hits[0].Peer().Equal(room) {
			t.Errorf("%d: search found %+v", i, hits)
		}
		if hits, _ := alice.SearchHistory("李四你", peer, 10); len(hits) != 1 {
			t.Errorf("%d: search for Chinese found %+v", i, hits)
		}
	}
}

// TestRoomOwnHistory: a new device of an account (an empty store) joining
// a room that shows real JIDs takes the account's messages from the
// archive as outgoing, also those sent under an earlier nick.
func TestRoomOwnHistory(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsodyWith(t, "", "\tmuc_room_default_public_jids = true\n")
	room := jid.MustParse("open@" + service)
	alice, aliceEv := online(t, srv, "alice", WithStore(openStore(t)))
	bob, bobEv := online(t, srv, "bob", WithStore(openStore(t)))
	const wait = 10 * time.Second
	if err := alice.JoinRoom(ctxT(t), room, "Alice"); err != nil {
		t.Fatal(err)
	}
	if err := bob.JoinRoom(ctxT(t), room, "Bob"); err != nil {
		t.Fatal(err)
	}
	talk(t, room, "first", 1, []*Client{alice}, []*recorder{aliceEv})
	talk(t, room, "reply", 1, []*Client{bob}, []*recorder{bobEv})
	if err := alice.ChangeNick(ctxT(t), room, "Alicia"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, wait, func(e OccupantChanged) bool { return e.Self && e.NewNick == "Alicia" })
	talk(t, room, "renamed", 1, []*Client{alice}, []*recorder{aliceEv})

	dbPhone := openStore(t)
	phone, phoneEv := onlineAs(t, srv, "alice", WithStore(dbPhone), WithResource("phone"))
	if err := phone.JoinRoom(ctxT(t), room, "Alice (phone)"); err != nil {
		t.Fatal(err)
	}
	phone.store.barrier()
	want := []string{">first 1", "<reply 1", ">renamed 1"}
	if got := bodies(t, dbPhone, room.String()); !reflect.DeepEqual(got, want) {
		t.Fatalf("the new device stored %q, want %q", got, want)
	}
	for _, m := range roomEvents(phoneEv, 0, room) {
		if m.Outgoing != (m.Nick != "Bob") {
			t.Errorf("reported %+v", m)
		}
	}
}

// TestRoomNotifySetting: the level is stored per room and survives a new
// Client on the same store; the default depends on the kind of room.
func TestRoomNotifySetting(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("notify@" + service)
	other := jid.MustParse("other@" + service)
	db := openStore(t)
	alice, _ := online(t, srv, "alice", WithStore(db))
	if got := alice.RoomNotify(room); got != NotifyAll {
		t.Fatalf("a room never joined: %q, want all", got)
	}
	for _, r := range []jid.JID{room, other} {
		if err := alice.JoinRoom(ctxT(t), r, "Alice"); err != nil {
			t.Fatalf("%v\n%s", err, srv.Log())
		}
	}
	if err := alice.LeaveRoom(ctxT(t), room); err != nil { // (leaves and re-enters: the room now exists)
		t.Fatal(err)
	}
	if err := alice.JoinRoom(ctxT(t), room, "Alice"); err != nil {
		t.Fatalf("%v\n%s", err, srv.Log())
	}
	if got := alice.RoomNotify(room); got != NotifyMentions {
		t.Fatalf("an open room: %q, want mentions", got)
	}
	if err := alice.SetRoomNotify(room, NotifyNone); err != nil {
		t.Fatal(err)
	}
	if err := alice.SetRoomNotify(other, NotifyAll); err != nil {
		t.Fatal(err)
	}
	if err := alice.SetRoomNotify(room, "loud"); err == nil {
		t.Fatal("an unknown level was accepted")
	}
	rooms := alice.Rooms()
	if len(rooms) != 2 || rooms[0].Notify != NotifyNone || rooms[1].Notify != NotifyAll {
		t.Fatalf("Rooms() = %+v", rooms)
	}
	alice.Close()

	again, _ := onlineAs(t, srv, "alice", WithStore(db))
	if got := again.RoomNotify(room); got != NotifyNone {
		t.Fatalf("after a restart: %q, want none", got)
	}
	if err := again.SetRoomNotify(other, NotifyDefault); err != nil {
		t.Fatal(err)
	}
	if got := again.RoomNotify(other); got != NotifyMentions {
		t.Fatalf("back to the default: %q, want mentions (known to be open)", got)
	}
	if err := (&Client{}).SetRoomNotify(room, NotifyAll); !errors.Is(err, ErrNoStore) {
		t.Fatalf("without a store: %v", err)
	}
}

// TestRoomRejoinInSession: the room service restarting (a 332 "shutdown"
// removal, or a room answering that the client is not an occupant) while
// the connection stays up makes the client rejoin within the session.
func TestRoomRejoinInSession(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("restart@" + service)
	dbA := openStore(t)
	alice, aliceEv := online(t, srv, "alice", WithStore(dbA))
	bob, bobEv := online(t, srv, "bob", WithStore(openStore(t)))
	const wait = 10 * time.Second
	if err := alice.JoinRoom(ctxT(t), room, "Alice"); err != nil {
		t.Fatal(err)
	}
	if err := bob.JoinRoom(ctxT(t), room, "Bob"); err != nil {
		t.Fatal(err)
	}
	talk(t, room, "before", 2, []*Client{bob}, []*recorder{bobEv})
	waitFor(t, aliceEv, wait, func(e RoomMessage) bool { return e.Body == "before 2" })

	// What a room service sends its occupants as it shuts down. (Prosody
	// sends nothing on a restart; the handler is fed directly.)
	mark := aliceEv.mark()
	self, _ := room.WithResource("Alice")
	shutdown := &wireMUCUser{}
	for _, code := range []string{"110", "332"} {
		shutdown.Statuses = append(shutdown.Statuses, struct {
			Code string `xml:"code,attr"`
		}{code})
	}
	alice.onRoomPresence(wirePresence{Type: "unavailable", MUCUser: shutdown}, self)
	waitFrom(t, aliceEv, mark, wait, func(e OccupantChanged) bool { return e.Self && e.Left && e.Reason == LeftShutdown })
	waitFrom(t, aliceEv, mark, wait, func(e RoomJoined) bool { return e.Rejoin && e.Room.Equal(room) })
	if rs := alice.Rooms(); len(rs) != 1 || !rs[0].Joined {
		t.Fatalf("after the rejoin: %+v", rs)
	}

	// The room forgot her (XEP-0410: a message bounces with
	// not-acceptable): she rejoins too.
	mark = aliceEv.mark()
	alice.onMessage(wireMessage{From: room.String(), Type: "error", ID: "x1",
		Error: &stanzaErrorNotAcceptable}, nil)
	waitFrom(t, aliceEv, mark, wait, func(e RoomJoined) bool { return e.Rejoin && e.Room.Equal(room) })

	talk(t, room, "after", 1, []*Client{bob}, []*recorder{bobEv})
	waitFor(t, aliceEv, wait, func(e RoomMessage) bool { return e.Body == "after 1" })
	alice.store.barrier()
	if got, want := bodies(t, dbA, room.String()), []string{"<before 1", "<before 2", "<after 1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
}

// TestJoinRoomLinkLost: the connection dropping while a join waits for the
// room fails the join at once, not at its deadline.
func TestJoinRoomLinkLost(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("lost@" + service)
	proxy := newNetProxy(t, srv.C2SAddr)
	srv.AddUser(t, "alice", "alice-pw")
	alice, _ := onlineAs(t, srv, "alice", WithServer(proxy.Addr()), WithBackoff(time.Minute, time.Minute))
	proxy.Freeze()
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- alice.JoinRoom(ctxT(t), room, "Alice") }()
	waitRoomState(t, alice, room, "the join to wait for the room", func(r *roomState) bool { return r != nil && r.pending != nil })
	proxy.Cut()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrNotConnected) {
			t.Fatalf("JoinRoom: %v, want ErrNotConnected", err)
		}
		t.Logf("JoinRoom failed %v after the join began", time.Since(start).Round(time.Millisecond))
	case <-time.After(8 * time.Second): // (its context ends at 10 s)
		t.Fatal("JoinRoom still waiting after the connection dropped")
	}
	if rs := alice.Rooms(); len(rs) != 0 {
		t.Fatalf("a failed join left %+v", rs)
	}
}

// TestRoomRejoinAfterReconnect: a client away longer than the server keeps
// its session, while two others say more than the room's join history
// holds, rejoins on reconnect and gets every missed message once, in order
// (from the room's archive).
func TestRoomRejoinAfterReconnect(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsodyWith(t, "smacks_hibernation_time = 1\n", "")
	room := jid.MustParse("gap@" + service)
	gate := newNetProxy(t, srv.C2SAddr)
	dbA := openStore(t)
	srv.AddUser(t, "alice", "alice-pw")
	alice, aliceEv := onlineAs(t, srv, "alice", WithStore(dbA), WithServer(gate.Addr()), WithBackoff(200*time.Millisecond, 400*time.Millisecond))
	bob, bobEv := online(t, srv, "bob", WithStore(openStore(t)))
	carol, carolEv := online(t, srv, "carol", WithStore(openStore(t)))
	const wait = 10 * time.Second
	joinAll(t, srv, room, []*Client{alice, bob, carol}, "Alice", "Bob", "Carol")
	before := talk(t, room, "before", 2, []*Client{bob, carol}, []*recorder{bobEv, carolEv})
	waitFor(t, aliceEv, wait, func(e RoomMessage) bool { return e.Body == "before 2" })
	before = append(before, talk(t, room, "before", 1, []*Client{alice}, []*recorder{aliceEv})...)

	mark := aliceEv.mark()
	gate.Down()
	// The server drops her session (and her occupant) after its
	// hibernation time.
	waitFor(t, bobEv, wait, func(e OccupantChanged) bool { return e.Occupant.Nick == "Alice" && e.Left })
	said := talk(t, room, "away", 60, []*Client{bob, carol}, []*recorder{bobEv, carolEv})
	gate.Up()
	waitFrom(t, aliceEv, mark, 30*time.Second, func(e RoomJoined) bool { return e.Rejoin && e.Room.Equal(room) })
	waitFrom(t, aliceEv, mark, wait, func(e RoomMessage) bool { return e.Body == "away 60" })
	talk(t, room, "back", 1, []*Client{alice}, []*recorder{aliceEv})
	alice.store.barrier()

	var gotBodies []string
	for _, m := range roomEvents(aliceEv, mark, room) {
		gotBodies = append(gotBodies, m.Body)
	}
	if want := said; !reflect.DeepEqual(gotBodies, want) { // (the own "back 1" was stored when sent)
		t.Fatalf("reported after the reconnect:\n%q\nwant\n%q", gotBodies, want)
	}
	want := append(append([]string{"<" + before[0], "<" + before[1], ">" + before[2]}, prefixed("<", said)...), ">back 1")
	// (before[2] is "before 1": talk numbers each call from 1)
	if got := bodies(t, dbA, room.String()); !reflect.DeepEqual(got, want) {
		t.Fatalf("stored:\n%q\nwant\n%q", got, want)
	}
	msgs, err := dbA.History(room.String(), store.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Time.Before(msgs[i-1].Time) {
			t.Fatalf("stored out of time order at %d: %v before %v", i, msgs[i].Time, msgs[i-1].Time)
		}
	}
}

// joinAll has each client join room with its nick, in turn.
func joinAll(t *testing.T, srv *prosodytest.Server, room jid.JID, clients []*Client, nicks ...string) {
	t.Helper()
	for i, c := range clients {
		if err := c.JoinRoom(ctxT(t), room, nicks[i]); err != nil {
			t.Fatalf("%s joins: %v\n%s", nicks[i], err, srv.Log())
		}
	}
}
