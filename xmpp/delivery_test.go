package xmpp

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"magpie/xmpp/store"

	"mellium.im/xmpp/jid"
)

// expectConversation fails unless the store holds exactly want for peer, in
// this order.
func expectConversation(t *testing.T, who string, db *store.DB, peer string, want []string) {
	t.Helper()
	got := bodies(t, db, peer)
	if !slices.Equal(got, want) {
		t.Fatalf("%s's history with %s:\n got  %q\n want %q", who, peer, got, want)
	}
}

// waitConversation waits until the store holds want for peer.
func waitConversation(t *testing.T, who string, db *store.DB, peer string, want []string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if slices.Equal(bodies(t, db, peer), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	expectConversation(t, who, db, peer, want)
}

// TestDeliveryStates follows one message: sent (the server acknowledged it;
// bob is offline, so no receipt can come yet), then delivered once bob
// signs in and his client confirms it.
func TestDeliveryStates(t *testing.T) {
	srv := startProsody(t)
	aliceDB, bobDB := openStore(t), openStore(t)
	alice, ae := online(t, srv, "alice", WithStore(aliceDB))
	bobAccount := jid.MustParse(srv.AddUser(t, "bob", "bob-pw"))
	if !alice.sm.isEnabled() {
		t.Fatal("stream management is not enabled with Prosody's mod_smacks")
	}
	id, err := alice.SendMessage(ctxT(t), bobAccount, "你好 bob")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ae, 5*time.Second, func(e MessageStateChanged) bool { return e.ID == id && e.State == DeliverySent })
	if hist, _ := alice.History(bobAccount, store.Cursor{}, 10); len(hist) != 1 || hist[0].State != DeliverySent {
		t.Fatalf("alice's history before bob is online: %+v", hist)
	}
	_, be := onlineAs(t, srv, "bob", WithStore(bobDB))
	got := waitFor(t, be, 5*time.Second, func(e MessageReceived) bool { return e.ID == id })
	if got.Seq == 0 || got.Outgoing || got.State != DeliveryReceived || !got.Delayed {
		t.Fatalf("bob's event: %+v", got.Message)
	}
	waitFor(t, ae, 5*time.Second, func(e MessageStateChanged) bool { return e.ID == id && e.State == DeliveryDelivered })
	hist, err := alice.History(bobAccount, store.Cursor{}, 10)
	if err != nil || len(hist) != 1 || hist[0].State != DeliveryDelivered || !hist[0].Outgoing {
		t.Fatalf("alice's history: %+v, %v", hist, err)
	}
	expectConversation(t, "bob", bobDB, alice.Account().String(), []string{"<你好 bob"})
}

// TestResumeAfterCut cuts alice's TCP connection mid-conversation. She
// writes while cut off; bob writes to her meanwhile. Her client resumes the
// stream: the server replays what it held for her, her outbox goes out,
// and both histories hold every message exactly once, in order.
func TestResumeAfterCut(t *testing.T) {
	srv := startProsody(t)
	proxy := newNetProxy(t, srv.C2SAddr)
	aliceDB, bobDB := openStore(t), openStore(t)
	alice, ae := online(t, srv, "alice", WithStore(aliceDB), WithServer(proxy.Addr()))
	bob, be := online(t, srv, "bob", WithStore(bobDB))
	follow(t, alice, bob, be)
	waitFor(t, ae, 5*time.Second, func(e PresenceChanged) bool { return e.From.Bare().Equal(bob.Account()) && e.Available() })
	ctx := ctxT(t)
	send := func(c *Client, to *Client, body string) {
		t.Helper()
		if _, err := c.SendMessage(ctx, to.Account(), body); err != nil {
			t.Fatal(err)
		}
	}
	send(alice, bob, "a1")
	waitConversation(t, "bob", bobDB, alice.Account().String(), []string{"<a1"})
	send(bob, alice, "b1")
	waitConversation(t, "alice", aliceDB, bob.Account().String(), []string{">a1", "<b1"})

	mark := ae.mark()
	proxy.Down() // (not Cut: she must not get back before the three are sent)
	waitFrom(t, ae, mark, 5*time.Second, func(e StateChanged) bool { return e.State == Reconnecting })
	send(bob, alice, "b2") // held by the server for alice's hibernating session
	send(alice, bob, "a2") // waits in alice's outbox
	send(bob, alice, "b3")
	waitConversation(t, "bob", bobDB, alice.Account().String(), []string{"<a1", ">b1", ">b2", ">b3"})
	proxy.Up()
	waitFrom(t, ae, mark, 15*time.Second, func(e StateChanged) bool { return e.State == Online })
	if !alice.linkResumed() {
		t.Fatal("the stream was not resumed")
	}
	send(alice, bob, "a3")
	// Each side's history is in the order messages reached it: alice
	// typed a2 before b2 and b3 reached her; bob got a2 after he wrote b3.
	want := []string{">a1", "<b1", ">a2", "<b2", "<b3", ">a3"}
	wantBob := []string{"<a1", ">b1", ">b2", ">b3", "<a2", "<a3"}
	waitConversation(t, "alice", aliceDB, bob.Account().String(), want)
	waitConversation(t, "bob", bobDB, alice.Account().String(), wantBob)
	// No presence was lost: alice still sees bob online.
	if _, ok := alice.BestPresence(bob.Account()); !ok {
		t.Fatal("after the resumption alice no longer sees bob online")
	}
}

// TestResumeAfterFailedAttempt: a reconnect attempt that fails while the
// network is still down does not forget the contacts' presences when the
// stream can still be resumed: the resumption that follows brings no
// presences again, so alice would see bob offline until he changed his.
func TestResumeAfterFailedAttempt(t *testing.T) {
	srv := startProsody(t)
	proxy := newNetProxy(t, srv.C2SAddr)
	alice, ae := online(t, srv, "alice", WithStore(openStore(t)), WithServer(proxy.Addr()))
	bob, be := online(t, srv, "bob")
	follow(t, alice, bob, be)
	waitFor(t, ae, 5*time.Second, func(e PresenceChanged) bool { return e.From.Bare().Equal(bob.Account()) && e.Available() })
	mark := ae.mark()
	proxy.Down()
	// Reconnecting, an attempt that fails, Reconnecting again.
	waitFrom(t, ae, mark, 5*time.Second, func(e StateChanged) bool { return e.State == Connecting })
	mark = ae.mark()
	waitFrom(t, ae, mark, 5*time.Second, func(e StateChanged) bool { return e.State == Reconnecting })
	proxy.Up()
	waitFrom(t, ae, mark, 15*time.Second, func(e StateChanged) bool { return e.State == Online })
	if !alice.linkResumed() {
		t.Fatal("the stream was not resumed")
	}
	if _, ok := alice.BestPresence(bob.Account()); !ok {
		t.Fatal("after the resumption alice no longer sees bob online")
	}
}

// TestServerRestartMidConversation restarts the server between messages:
// resumption is refused (the server forgot the session), the client starts
// a new one, catches up from the archive and offline storage, and sends its
// outbox, with nothing lost or doubled.
func TestServerRestartMidConversation(t *testing.T) {
	srv := startProsody(t)
	aliceDB, bobDB := openStore(t), openStore(t)
	alice, ae := online(t, srv, "alice", WithStore(aliceDB))
	bob, be := online(t, srv, "bob", WithStore(bobDB))
	ctx := ctxLong(t)
	var want, wantBob []string
	for i := range 5 {
		if _, err := alice.SendMessage(ctx, bob.Account(), "a"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		want, wantBob = append(want, ">a"+strconv.Itoa(i)), append(wantBob, "<a"+strconv.Itoa(i))
	}
	waitConversation(t, "bob", bobDB, alice.Account().String(), wantBob)
	am, bm := ae.mark(), be.mark()
	srv.Restart(t)
	waitFrom(t, ae, am, 10*time.Second, func(e HistorySynced) bool { return true })
	waitFrom(t, be, bm, 10*time.Second, func(e HistorySynced) bool { return true })
	if alice.linkResumed() {
		t.Fatal("resumed a session the restarted server cannot know")
	}
	for i := range 5 {
		if _, err := bob.SendMessage(ctx, alice.Account(), "b"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		want, wantBob = append(want, "<b"+strconv.Itoa(i)), append(wantBob, ">b"+strconv.Itoa(i))
	}
	waitConversation(t, "alice", aliceDB, bob.Account().String(), want)
	waitConversation(t, "bob", bobDB, alice.Account().String(), wantBob)
	// A second catch-up finds nothing new.
	time.Sleep(200 * time.Millisecond)
	expectConversation(t, "alice", aliceDB, bob.Account().String(), want)
}

// TestTwoResources signs one account in twice (a desktop and a laptop, each
// with its own store). A message to the account reaches both; a message one
// device sends shows on the other as sent by the account, in the chat with
// the peer; nothing is stored twice.
func TestTwoResources(t *testing.T) {
	srv := startProsody(t)
	deskDB, laptopDB, bobDB := openStore(t), openStore(t), openStore(t)
	desk, de := online(t, srv, "alice", WithStore(deskDB), WithResource("desk"))
	laptop, le := onlineAs(t, srv, "alice", WithStore(laptopDB), WithResource("laptop"))
	bob, _ := online(t, srv, "bob", WithStore(bobDB))
	ctx := ctxT(t)
	if _, err := bob.SendMessage(ctx, desk.Account(), "hi both"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, de, 5*time.Second, func(e MessageReceived) bool { return e.Body == "hi both" })
	if _, err := desk.SendMessage(ctx, bob.Account(), "from the desk"); err != nil {
		t.Fatal(err)
	}
	sent := waitFor(t, le, 5*time.Second, func(e MessageReceived) bool { return e.Body == "from the desk" })
	if !sent.Outgoing || !sent.Carbon || !sent.Peer().Equal(bob.Account()) {
		t.Fatalf("the laptop's copy of the desk's message: %+v", sent.Message)
	}
	want := []string{"<hi both", ">from the desk"}
	waitConversation(t, "desk", deskDB, bob.Account().String(), want)
	waitConversation(t, "laptop", laptopDB, bob.Account().String(), want)
	waitConversation(t, "bob", bobDB, desk.Account().String(), []string{">hi both", "<from the desk"})
	// A forged carbon (from bob, claiming to be a copy of alice's message)
	// is dropped.
	forged := `<message from='` + bob.Account().String() + `' to='` + laptop.LocalAddr().String() + `' type='chat'>` +
		`<sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>` +
		`<message xmlns='jabber:client' from='` + laptop.Account().String() + `/x' to='` + bob.Account().String() + `' type='chat' id='f1'><body>forged</body></message>` +
		`</forwarded></sent></message>`
	if err := bob.sendRaw(ctx, forged); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SendMessage(ctx, laptop.Account(), "after the forgery"); err != nil {
		t.Fatal(err)
	}
	waitConversation(t, "laptop", laptopDB, bob.Account().String(), append(want, "<after the forgery"))
}

// TestNewMachinePullsRecentHistory signs in with an empty store after a
// conversation happened elsewhere: the recent history comes from the
// archive, in order, once.
func TestNewMachinePullsRecentHistory(t *testing.T) {
	srv := startProsody(t)
	alice, _ := online(t, srv, "alice", WithStore(openStore(t)))
	bob, _ := online(t, srv, "bob", WithStore(openStore(t)))
	ctx := ctxT(t)
	var want []string
	for i := range 20 {
		from, to, dir := alice, bob, ">"
		if i%3 == 0 {
			from, to, dir = bob, alice, "<"
		}
		if _, err := from.SendMessage(ctx, to.Account(), "m"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		want = append(want, dir+"m"+strconv.Itoa(i))
		time.Sleep(1100 * time.Millisecond / 20) // archive stamps have 1 s precision
	}
	time.Sleep(300 * time.Millisecond)
	fresh := openStore(t)
	_, fe := onlineAs(t, srv, "alice", WithStore(fresh), WithResource("new-laptop"))
	synced := waitFor(t, fe, 10*time.Second, func(e HistorySynced) bool { return true })
	if synced.Err != nil {
		t.Fatal(synced.Err)
	}
	expectConversation(t, "the new machine", fresh, bob.Account().String(), want)
	if id, _, err := fresh.ArchiveCursor(); err != nil || id == "" {
		t.Fatalf("archive cursor after the first sync: %q, %v", id, err)
	}
}

// TestOutboxWhileServerDown: messages typed while the server is down wait
// in the outbox as pending and go out in order when it is back.
func TestOutboxWhileServerDown(t *testing.T) {
	srv := startProsody(t)
	aliceDB, bobDB := openStore(t), openStore(t)
	alice, ae := online(t, srv, "alice", WithStore(aliceDB))
	bob, _ := online(t, srv, "bob", WithStore(bobDB))
	ctx := ctxT(t)
	mark := ae.mark()
	srv.Stop(t)
	waitFrom(t, ae, mark, 5*time.Second, func(e StateChanged) bool { return e.State == Reconnecting })
	var ids []string
	for i := range 3 {
		id, err := alice.SendMessage(ctx, bob.Account(), "queued "+strconv.Itoa(i))
		if err != nil {
			t.Fatalf("send while the server is down: %v", err)
		}
		ids = append(ids, id)
	}
	out, err := alice.Outbox()
	if err != nil || len(out) != 3 || out[0].State != DeliveryPending {
		t.Fatalf("outbox while down: %+v, %v", out, err)
	}
	srv.Relaunch(t)
	for _, id := range ids {
		// bob's receipt can overtake the server's ack: either proves it left.
		waitFrom(t, ae, mark, 15*time.Second, func(e MessageStateChanged) bool {
			return e.ID == id && (e.State == DeliverySent || e.State == DeliveryDelivered)
		})
	}
	want := []string{"<queued 0", "<queued 1", "<queued 2"}
	waitConversation(t, "bob", bobDB, alice.Account().String(), want)
	if out, _ := alice.Outbox(); len(out) != 0 {
		t.Fatalf("outbox after sending: %+v", out)
	}
}

// TestNoticesAndRosterStored: a colleague's headline is his chat message,
// stored once (a repeat with the same id is dropped), not a notice; and
// the roster is cached in the store.
func TestNoticesAndRosterStored(t *testing.T) {
	srv := startProsody(t)
	aliceDB := openStore(t)
	alice, ae := online(t, srv, "alice", WithStore(aliceDB))
	bob, _ := online(t, srv, "bob", WithStore(openStore(t)))
	ctx := ctxT(t)
	headline := `<message to='` + alice.Account().String() + `' type='headline' id='n1'><subject>审批提醒</subject><body>You have 3 requests waiting</body></message>`
	for range 2 {
		if err := bob.sendRaw(ctx, headline); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bob.SendMessage(ctx, alice.Account(), "after the headlines"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ae, 5*time.Second, func(e MessageReceived) bool { return e.Body == "after the headlines" })
	alice.store.barrier()
	notices, err := aliceDB.Notices(10)
	if err != nil || len(notices) != 0 || countNotices(ae) != 0 {
		t.Fatalf("notices from a colleague: %+v, %v", notices, err)
	}
	if n := countEvents(ae, 0, func(e MessageReceived) bool { return e.ID == "n1" }); n != 1 {
		t.Fatalf("%d MessageReceived events for one headline sent twice", n)
	}
	expectConversation(t, "alice", aliceDB, bob.Account().String(), []string{"<审批提醒\nYou have 3 requests waiting", "<after the headlines"})

	if err := alice.AddContact(ctx, bob.Account(), "Bob", []string{"研发部"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ae, 5*time.Second, func(e RosterUpdated) bool { return len(e.Contacts) == 1 && e.Contacts[0].Name == "Bob" })
	alice.store.barrier()
	_, items, err := aliceDB.Roster()
	if err != nil || len(items) != 1 || items[0].Name != "Bob" || len(items[0].Groups) != 1 || items[0].Groups[0] != "研发部" {
		t.Fatalf("cached roster: %+v, %v", items, err)
	}
}

// TestResendAfterFailure: a message that bounced is sent again as the same
// message, and the history holds it once.
func TestResendAfterFailure(t *testing.T) {
	srv := startProsody(t)
	aliceDB := openStore(t)
	alice, ae := online(t, srv, "alice", WithStore(aliceDB))
	ctx := ctxT(t)
	ghost := jid.MustParse("ghost@" + srv.Domain)
	id, err := alice.SendMessage(ctx, ghost, "are you there?")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ae, 5*time.Second, func(e MessageFailed) bool { return e.ID == id })
	alice.store.barrier()
	// ghost registers; the retry reaches them.
	srv.AddUser(t, "ghost", "ghost-pw")
	gdb := openStore(t)
	_, ge := onlineAs(t, srv, "ghost", WithStore(gdb))
	mark := ae.mark()
	if err := alice.Resend(ctx, ghost, id); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, ae, mark, 5*time.Second, func(e MessageStateChanged) bool { return e.ID == id && e.State == DeliveryDelivered })
	waitFor(t, ge, 5*time.Second, func(e MessageReceived) bool { return e.ID == id })
	expectConversation(t, "alice", aliceDB, ghost.String(), []string{">are you there?"})
	if err := alice.Resend(ctx, ghost, "no-such-id"); !errors.Is(err, ErrUnknownMessage) {
		t.Fatalf("resend of an unknown id: %v", err)
	}
}
