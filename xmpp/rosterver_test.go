package xmpp

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"magpie/xmpp/prosodytest"

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

// TestCompanyRosterVersioning: a company-sized roster (5,000 colleagues,
// as a directory import writes it) comes complete at the first sign-in,
// and the second, with the roster unchanged, downloads none of it.
func TestCompanyRosterVersioning(t *testing.T) {
	const n = 5000
	srv := startProsody(t)
	srv.AddUser(t, "alice", "alice-pw")
	items := make([]prosodytest.RosterItem, n)
	for i := range items {
		items[i] = prosodytest.RosterItem{JID: fmt.Sprintf("u%05d@%s", i, srv.Domain), Name: fmt.Sprintf("同事%05d", i),
			Groups: []string{fmt.Sprintf("部门%02d", i%50)}}
	}
	if err := srv.SetRoster("alice", 7, items); err != nil {
		t.Fatal(err)
	}
	db := openStore(t)
	for round, fromCache := range []bool{false, true} {
		c, _ := onlineAs(t, srv, "alice", WithStore(db), WithoutPresence())
		if got := c.rosterFromCache.Load(); got != fromCache {
			t.Fatalf("sign-in %d: roster from the cache %v, want %v", round+1, got, fromCache)
		}
		roster := c.Roster()
		if len(roster) != n {
			t.Fatalf("sign-in %d: %d contacts, want %d", round+1, len(roster), n)
		}
		for _, ct := range roster {
			if ct.JID.String() == "u01234@"+srv.Domain && (ct.Name != "同事01234" || !slices.Equal(ct.Groups, []string{"部门34"})) {
				t.Fatalf("sign-in %d: %+v", round+1, ct)
			}
		}
		c.store.barrier()
		c.Close()
		if ver, cached, err := db.Roster(); ver != "7" || len(cached) != n || err != nil {
			t.Fatalf("sign-in %d: cache ver %q with %d items, %v", round+1, ver, len(cached), err)
		}
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

// TestSharedGroupRoster: a company roster pushed by the server from a
// shared group (Prosody's mod_groups, as an OA server's LDAP groups would)
// arrives complete, with names and the group. Prosody's mod_groups voids
// roster versioning (it sets the version to true), so each sign-in gets the
// whole roster again: nothing is taken from a stale cache.
func TestSharedGroupRoster(t *testing.T) {
	const members = 3000
	var groups strings.Builder
	groups.WriteString("[研发部]\n")
	for i := range members {
		fmt.Fprintf(&groups, "user%04d@magpie.test=同事%04d\n", i, i)
	}
	groupsFile := filepath.Join(t.TempDir(), "groups.txt")
	if err := os.WriteFile(groupsFile, []byte(groups.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := prosodytest.Start(t, prosodytest.Options{Modules: []string{"groups"}, ExtraConfig: fmt.Sprintf("groups_file = %q", groupsFile),
		LogLevel: "info"}) // (a debug log of 3,000 presence probes slows the sign-in)
	srv.AddUser(t, "user0000", "user0000-pw")
	db := openStore(t)
	for round := range 2 {
		began := time.Now()
		c, _ := onlineAs(t, srv, "user0000", WithStore(db))
		t.Logf("sign-in %d with %d shared contacts: %v", round, members-1, time.Since(began))
		roster := c.Roster()
		if len(roster) != members-1 {
			t.Fatalf("sign-in %d: %d contacts, want %d", round, len(roster), members-1)
		}
		for _, ct := range roster {
			if len(ct.Groups) != 1 || ct.Groups[0] != "研发部" || !strings.HasPrefix(ct.Name, "同事") || ct.Subscription != "both" {
				t.Fatalf("shared contact %+v", ct)
			}
		}
		if c.rosterFromCache.Load() {
			t.Fatal("a roster whose version the server voids was taken from the cache")
		}
		c.Close()
	}
	if _, items, err := db.Roster(); err != nil || len(items) != members-1 {
		t.Fatalf("cached roster: %d items, %v", len(items), err)
	}
}
