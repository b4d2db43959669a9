package xmpp

import (
	"slices"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// TestRosterVersioning signs in three times with one store. The second
// sign-in, with the roster unchanged, gets nothing from the server
// (XEP-0237) and shows the cached roster, even before it is online; after
// another device changed the roster, the third gets the new one.
func TestRosterVersioning(t *testing.T) {
	srv := startProsody(t)
	db := openStore(t)
	ctx := ctxT(t)
	first, fe := online(t, srv, "alice", WithStore(db))
	if !first.currentLink().rosterVer {
		t.Fatal("Prosody did not offer roster versioning")
	}
	for _, who := range []string{"bob", "carol"} {
		if err := first.AddContact(ctx, jid.MustParse(who+"@"+srv.Domain), who, []string{"研发部"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fe, 5*time.Second, func(e RosterUpdated) bool { return len(e.Contacts) == 1 && e.Contacts[0].Name == who })
	}
	// Every push the server sent before this answer is handled (and cached).
	if err := first.Ping(ctx, jid.JID{}); err != nil {
		t.Fatal(err)
	}
	first.Close()
	ver, items, err := db.Roster()
	if err != nil || ver == "" || len(items) != 2 {
		t.Fatalf("cached roster: ver %q, %d items, %v", ver, len(items), err)
	}

	second, se := onlineAs(t, srv, "alice", WithStore(db))
	if !second.rosterFromCache.Load() {
		t.Fatal("the unchanged roster was downloaded again")
	}
	if names := contactNames(second.Roster()); !slices.Equal(names, []string{"bob", "carol"}) {
		t.Fatalf("roster from the cache: %q", names)
	}
	// The cached roster was shown before the client was online.
	se.mu.Lock()
	shownEarly := false
	for _, e := range se.events {
		if s, ok := e.(StateChanged); ok && s.State == Online {
			break
		}
		if r, ok := e.(RosterUpdated); ok && r.Full && len(r.Contacts) == 2 {
			shownEarly = true
		}
	}
	se.mu.Unlock()
	if !shownEarly {
		t.Fatal("the cached roster was not shown before the sign-in finished")
	}
	second.Close()

	// Another device (no store) adds dave meanwhile.
	other, oe := onlineAs(t, srv, "alice", WithResource("phone"))
	if err := other.AddContact(ctx, jid.MustParse("dave@"+srv.Domain), "dave", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, oe, 5*time.Second, func(e RosterUpdated) bool { return len(e.Contacts) == 1 && e.Contacts[0].Name == "dave" })
	other.Close()

	third, _ := onlineAs(t, srv, "alice", WithStore(db))
	if third.rosterFromCache.Load() {
		t.Fatal("a changed roster was taken from the cache")
	}
	if names := contactNames(third.Roster()); !slices.Equal(names, []string{"bob", "carol", "dave"}) {
		t.Fatalf("roster after the change: %q", names)
	}
	third.store.barrier()
	if newVer, items, _ := db.Roster(); newVer == ver || len(items) != 3 {
		t.Fatalf("cache after the change: ver %q (was %q), %d items", newVer, ver, len(items))
	}
}

func contactNames(cs []Contact) []string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// currentLink returns the live session's link, or nil.
func (c *Client) currentLink() *link {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.link
}
