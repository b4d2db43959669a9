package xmpp

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestRecentKeys: a key counts its notes within the window; the memory
// stays within max however many keys come, the oldest going first.
func TestRecentKeys(t *testing.T) {
	r := recentKeys{window: time.Minute, max: 100}
	t0 := time.Now()
	if n := r.note("a", t0); n != 1 {
		t.Fatalf("first note counts %d", n)
	}
	if n := r.note("a", t0.Add(30*time.Second)); n != 2 {
		t.Fatalf("second note counts %d", n)
	}
	if n := r.note("a", t0.Add(61*time.Second)); n != 1 {
		t.Fatalf("a note after the window counts %d", n)
	}
	for i := range 10_000 {
		r.note(strconv.Itoa(i), t0.Add(62*time.Second))
	}
	if n := r.len(); n != 100 {
		t.Fatalf("%d keys remembered, want at most 100", n)
	}
	if n := r.note("9999", t0.Add(63*time.Second)); n != 2 {
		t.Fatalf("the newest key was forgotten (%d)", n)
	}
	if n := r.note("0", t0.Add(63*time.Second)); n != 1 {
		t.Fatalf("the oldest key was kept (%d)", n)
	}
	if len(r.order) > 2*r.max {
		t.Fatalf("the order holds %d entries", len(r.order))
	}
	r.forget("9999")
	if n := r.note("9999", t0.Add(64*time.Second)); n != 1 {
		t.Fatalf("a forgotten key counts %d", n)
	}
}

// presenceEntries counts the presences the client keeps, by bare JID.
func (c *Client) presenceEntries() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for bare, byRes := range c.presences {
		out[bare] = len(byRes)
	}
	return out
}

// TestStrangerPresencesNotKept: a stranger floods alice with directed
// presences from several resources; alice's client keeps and reports none
// of them, while her contact's presence and her own other resource's are
// kept. The flood is measured in entries kept, not in memory.
func TestStrangerPresencesNotKept(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	alice, aliceEv := online(t, srv, "alice")
	bob, bobEv := online(t, srv, "bob")
	follow(t, alice, bob, bobEv)
	waitFor(t, aliceEv, 5*time.Second, func(e PresenceChanged) bool { return e.From.Bare().Equal(bob.Account()) })
	alice2, _ := onlineAs(t, srv, "alice")
	waitFor(t, aliceEv, 5*time.Second, func(e PresenceChanged) bool { return e.From.Equal(alice2.LocalAddr()) })

	srv.AddUser(t, "mallory", "mallory-pw")
	ctx := ctxLong(t)
	const perResource = 300
	var mallories []*Client
	for range 3 {
		m, _ := onlineAs(t, srv, "mallory")
		mallories = append(mallories, m)
	}
	to := alice.LocalAddr()
	for i := range perResource {
		for _, m := range mallories {
			p := fmt.Sprintf(`<presence to='%s'><show>chat</show><status>flood %d</status><priority>%d</priority></presence>`, to, i, i%100)
			if err := m.sendRaw(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A message after the flood, from each resource: once alice has it,
	// she has processed the presences sent before it.
	for i, m := range mallories {
		if err := m.sendRaw(ctx, fmt.Sprintf(`<message to='%s' type='chat' id='after-%d'><body>done</body></message>`, to, i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range mallories {
		waitFor(t, aliceEv, 20*time.Second, func(e MessageReceived) bool { return e.ID == fmt.Sprintf("after-%d", i) })
	}

	entries := alice.presenceEntries()
	if n := entries[mallories[0].Account().String()]; n != 0 {
		t.Errorf("alice keeps %d presences of the stranger", n)
	}
	// The account's own: this session's, which the server reflects, and
	// the other one's.
	if len(entries) != 2 || entries[bob.Account().String()] != 1 || entries[alice.Account().String()] != 2 {
		t.Errorf("presences kept: %v; want bob's and alice's own two only", entries)
	}
	if got := alice.Presences(mallories[0].Account()); len(got) != 0 {
		t.Errorf("Presences(mallory) = %v", got)
	}
	aliceEv.mu.Lock()
	reported := 0
	for _, e := range aliceEv.events {
		if p, ok := e.(PresenceChanged); ok && p.From.Bare().Equal(mallories[0].Account()) {
			reported++
		}
	}
	aliceEv.mu.Unlock()
	if reported != 0 {
		t.Errorf("%d presences of the stranger reported", reported)
	}

	// A contact removed: what was kept of them goes, reported gone.
	mark := aliceEv.mark()
	if err := alice.RemoveContact(ctx, bob.Account()); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, aliceEv, mark, 5*time.Second, func(e PresenceChanged) bool {
		return e.From.Bare().Equal(bob.Account()) && !e.Available()
	})
	if n := alice.presenceEntries()[bob.Account().String()]; n != 0 {
		t.Errorf("bob, removed, still has %d presences kept", n)
	}
}

// TestSubscriptionRequestsOnce: a stranger asks fifty times (withdrawing
// in between, so that the server passes each on); alice is asked once.
// Another stranger's request still comes through.
func TestSubscriptionRequestsOnce(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	alice, aliceEv := online(t, srv, "alice")
	mallory, _ := online(t, srv, "mallory")
	carol, _ := online(t, srv, "carol")
	ctx := ctxLong(t)
	for i := range 50 {
		if err := mallory.sendRaw(ctx, fmt.Sprintf(`<presence to='%s' type='subscribe'><status>please %d</status></presence>`, alice.Account(), i)); err != nil {
			t.Fatal(err)
		}
		if err := mallory.sendRaw(ctx, fmt.Sprintf(`<presence to='%s' type='unsubscribe'/>`, alice.Account())); err != nil {
			t.Fatal(err)
		}
	}
	if err := mallory.sendRaw(ctx, fmt.Sprintf(`<message to='%s' type='chat' id='after'><body>done</body></message>`, alice.Account())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 20*time.Second, func(e MessageReceived) bool { return e.ID == "after" })
	if err := carol.Subscribe(ctx, alice.Account()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 5*time.Second, func(e SubscriptionRequest) bool { return e.From.Equal(carol.Account()) })
	aliceEv.mu.Lock()
	asked := 0
	for _, e := range aliceEv.events {
		if r, ok := e.(SubscriptionRequest); ok && r.From.Equal(mallory.Account()) {
			asked++
		}
	}
	aliceEv.mu.Unlock()
	if asked != 1 {
		t.Fatalf("mallory's fifty requests made %d, want 1", asked)
	}
}

// TestInvitationFloodLimited: one account sends direct invitations to
// twenty rooms; alice is told of the first invitationsPerInviter only,
// and another inviter's still comes through.
func TestInvitationFloodLimited(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	alice, aliceEv := online(t, srv, "alice")
	mallory, _ := online(t, srv, "mallory")
	carol, _ := online(t, srv, "carol")
	ctx := ctxLong(t)
	for i := range 20 {
		inv := fmt.Sprintf(`<message to='%s'><x xmlns='jabber:x:conference' jid='spam%d@conference.%s' reason='join %d'/></message>`,
			alice.Account(), i, srv.Domain, i)
		if err := mallory.sendRaw(ctx, inv); err != nil {
			t.Fatal(err)
		}
	}
	if err := mallory.sendRaw(ctx, fmt.Sprintf(`<message to='%s' type='chat' id='after'><body>done</body></message>`, alice.Account())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 20*time.Second, func(e MessageReceived) bool { return e.ID == "after" })
	inv := fmt.Sprintf(`<message to='%s'><x xmlns='jabber:x:conference' jid='board@conference.%s'/></message>`, alice.Account(), srv.Domain)
	if err := carol.sendRaw(ctx, inv); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 5*time.Second, func(e InvitationReceived) bool { return e.From.Equal(carol.Account()) })
	aliceEv.mu.Lock()
	told := 0
	for _, e := range aliceEv.events {
		if r, ok := e.(InvitationReceived); ok && r.From.Equal(mallory.Account()) {
			told++
		}
	}
	aliceEv.mu.Unlock()
	if told != invitationsPerInviter {
		t.Fatalf("mallory's twenty invitations made %d reports, want %d", told, invitationsPerInviter)
	}
}
