package app

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// rosterFixture is a roster view in a test window, recording what it opens.
type rosterFixture struct {
	view   *rosterView
	window fyne.Window
	opened []string
}

func newRosterFixture(t testing.TB) *rosterFixture {
	t.Helper()
	test.NewTempApp(t)
	f := &rosterFixture{}
	f.view = newRosterView(func(j jid.JID) { f.opened = append(f.opened, j.String()) })
	f.window = test.NewTempWindow(t, f.view.Object())
	f.window.Resize(fyne.NewSize(320, 1200))
	return f
}

func testContact(addr, name string, groups ...string) xmpp.Contact {
	return xmpp.Contact{JID: jid.MustParse(addr), Name: name, Groups: groups}
}

func presenceShowing(show xmpp.Show) xmpp.Presence { return xmpp.Presence{Show: show} }

// rowsOf describes the list's rows: "# group online/total" for a header
// and "  name" for a contact.
func rowsOf(v *rosterView) []string {
	var out []string
	for _, r := range v.rows {
		if r.contact == nil {
			out = append(out, fmt.Sprintf("# %s %d/%d", r.group.name, r.group.online, len(r.group.members)))
		} else {
			out = append(out, "  "+r.contact.name)
		}
	}
	return out
}

// renderedRows walks the window's widgets for the visible contact rows and
// group headers, keyed by JID and by group name.
func renderedRows(w fyne.Window) (contacts map[string]*contactRow, headers map[string]*groupHeader) {
	contacts, headers = map[string]*contactRow{}, map[string]*groupHeader{}
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if !o.Visible() {
			return
		}
		switch o := o.(type) {
		case *contactRow:
			contacts[o.view.rows[o.id].contact.key] = o
		case *groupHeader:
			headers[o.view.rows[o.id].group.name] = o
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(o).Objects() {
				walk(c)
			}
		}
	}
	walk(w.Content())
	return contacts, headers
}

func TestRosterGrouping(t *testing.T) {
	for i, tc := range []struct {
		contacts []xmpp.Contact
		want     []string
	}{
		0: { // no group goes under "Contacts"; name falls back to the localpart
			contacts: []xmpp.Contact{testContact("bob@example.org", ""), testContact("ann@example.org", "Ann", "Friends")},
			want:     []string{"# Contacts 0/1", "  bob", "# Friends 0/1", "  Ann"},
		},
		1: { // a contact in two groups shows in both; groups sorted ignoring case
			contacts: []xmpp.Contact{
				testContact("zoe@example.org", "Zoe", "work", "Friends"),
				testContact("al@example.org", "al", "work"),
				testContact("Ben@example.org", "Ben", "work"),
			},
			want: []string{"# Friends 0/1", "  Zoe", "# work 0/3", "  al", "  Ben", "  Zoe"},
		},
		2: { // blank and repeated groups are cleaned up; a removed item is skipped
			contacts: []xmpp.Contact{
				testContact("cy@example.org", "Cy", " ", "A", "A"),
				{JID: jid.MustParse("gone@example.org"), Removed: true},
			},
			want: []string{"# A 0/1", "  Cy"},
		},
		3: { // Chinese names and groups
			contacts: []xmpp.Contact{testContact("zhangsan@example.cn", "张三", "研发部"), testContact("lisi@example.cn", "李四", "研发部")},
			want:     []string{"# 研发部 0/2", "  李四", "  张三"},
		},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			f := newRosterFixture(t)
			f.view.SetContacts(tc.contacts)
			if got := rowsOf(f.view); !slices.Equal(got, tc.want) {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestRosterOnlineFirst(t *testing.T) {
	f := newRosterFixture(t)
	// Presence that arrives before the roster is remembered.
	f.view.SetPresence(jid.MustParse("dnd@example.org/phone"), presenceShowing(xmpp.ShowDND), true)
	f.view.SetContacts([]xmpp.Contact{
		testContact("off@example.org", "A offline", "G"),
		testContact("dnd@example.org", "B dnd", "G"),
		testContact("xa@example.org", "C xa", "G"),
		testContact("away@example.org", "D away", "G"),
		testContact("chat@example.org", "E chat", "G"),
		testContact("avail@example.org", "F available", "G"),
	})
	for _, p := range []struct {
		addr string
		show xmpp.Show
	}{{"xa@example.org", xmpp.ShowXA}, {"away@example.org", xmpp.ShowAway}, {"chat@example.org", xmpp.ShowChat}, {"avail@example.org", xmpp.ShowAvailable}} {
		f.view.SetPresence(jid.MustParse(p.addr), presenceShowing(p.show), true)
	}
	want := []string{"# G 5/6", "  E chat", "  F available", "  D away", "  C xa", "  B dnd", "  A offline"}
	if got := rowsOf(f.view); !slices.Equal(got, want) {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	f.view.SetPresence(jid.MustParse("chat@example.org"), xmpp.Presence{Status: "gone fishing"}, false)
	want = []string{"# G 4/6", "  F available", "  D away", "  C xa", "  B dnd", "  A offline", "  E chat"}
	if got := rowsOf(f.view); !slices.Equal(got, want) {
		t.Fatalf("after going offline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	contacts, _ := renderedRows(f.window)
	if row := contacts["chat@example.org"]; row == nil || dimTextOf(row.status).Text != "gone fishing" || row.shown.rank != rankOffline {
		t.Errorf("offline row %+v: want grey with the status it left with", row)
	}
}

func TestRosterFilter(t *testing.T) {
	roster := []xmpp.Contact{
		testContact("zhangsan@example.cn", "张三", "研发部"),
		testContact("lisi@example.cn", "李四", "研发部", "Friends"),
		testContact("alice@wonderland.example", "Alice", "Friends"),
	}
	for i, tc := range []struct {
		typed   string
		want    []string
		noMatch bool
	}{
		0: {typed: "ALI", want: []string{"# Friends 0/2", "  Alice"}},
		1: {typed: "李", want: []string{"# Friends 0/2", "  李四", "# 研发部 0/2", "  李四"}},
		2: {typed: "example.cn", want: []string{"# Friends 0/2", "  李四", "# 研发部 0/2", "  李四", "  张三"}},
		3: {typed: "zhangsan@", want: []string{"# 研发部 0/2", "  张三"}},
		4: {typed: "nobody", want: nil, noMatch: true},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			f := newRosterFixture(t)
			f.view.SetContacts(roster)
			// A collapsed group opens while filtering.
			f.view.setCollapsed("研发部", true)
			test.Type(f.view.search, tc.typed)
			if got := rowsOf(f.view); !slices.Equal(got, tc.want) {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if f.view.noMatch.Visible() != tc.noMatch {
				t.Errorf("no-match label visible = %v", f.view.noMatch.Visible())
			}

			f.view.SetFilter("")
			if f.view.search.Text != "" || f.view.noMatch.Visible() {
				t.Errorf("clearing left search %q, no-match visible %v", f.view.search.Text, f.view.noMatch.Visible())
			}
			want := []string{"# Friends 0/2", "  Alice", "  李四", "# 研发部 0/2"}
			if got := rowsOf(f.view); !slices.Equal(got, want) {
				t.Errorf("after clearing:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestRosterUnread(t *testing.T) {
	f := newRosterFixture(t)
	bob := jid.MustParse("bob@example.org")
	f.view.SetUnread(bob, 3) // before bob is in the roster
	f.view.SetContacts([]xmpp.Contact{testContact("bob@example.org", "Bob")})

	contacts, _ := renderedRows(f.window)
	row := contacts["bob@example.org"]
	if row == nil || !row.badge.Visible() || row.count.Text != "3" || !row.name.TextStyle.Bold {
		t.Fatalf("with 3 unread: row %+v, want a badge with 3 and a bold name", row)
	}
	f.view.SetUnread(jid.MustParse("bob@example.org/phone"), 0) // any resource clears
	if row.badge.Visible() || row.count.Visible() || row.name.TextStyle.Bold {
		t.Errorf("after clearing: badge visible %v, bold %v", row.badge.Visible(), row.name.TextStyle.Bold)
	}
}

func TestRosterCollapseSurvivesUpdates(t *testing.T) {
	f := newRosterFixture(t)
	roster := []xmpp.Contact{testContact("a@example.org", "A", "One"), testContact("b@example.org", "B", "Two")}
	f.view.SetContacts(roster)
	_, headers := renderedRows(f.window)
	test.Tap(headers["One"])

	for i, tc := range []struct {
		step func()
		want []string
	}{
		0: {func() {}, []string{"# One 0/1", "# Two 0/1", "  B"}},
		1: {func() { f.view.SetContacts(roster) }, []string{"# One 0/1", "# Two 0/1", "  B"}},
		2: {func() { f.view.UpdateContacts([]xmpp.Contact{testContact("c@example.org", "C", "One")}) }, []string{"# One 0/2", "# Two 0/1", "  B"}},
		3: {func() { f.view.SetFilter("a@") }, []string{"# One 0/2", "  A"}},
		4: {func() { f.view.SetFilter("") }, []string{"# One 0/2", "# Two 0/1", "  B"}},
	} {
		tc.step()
		if got := rowsOf(f.view); !slices.Equal(got, tc.want) {
			t.Errorf("%d: rows:\n%s\nwant:\n%s", i, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}

	_, headers = renderedRows(f.window)
	test.Tap(headers["One"])
	if got := rowsOf(f.view); len(got) != 5 {
		t.Errorf("tapping again should open the group: %q", got)
	}
}

func TestRosterOpen(t *testing.T) {
	roster := []xmpp.Contact{testContact("ann@example.org", "Ann", "G"), testContact("bob@example.org", "Bob", "G")}
	for i, tc := range []struct {
		name string
		do   func(f *rosterFixture)
		want []string
	}{
		{"double tap", func(f *rosterFixture) {
			contacts, _ := renderedRows(f.window)
			test.DoubleTap(contacts["bob@example.org"])
		}, []string{"bob@example.org"}},
		{"single tap only selects", func(f *rosterFixture) {
			contacts, _ := renderedRows(f.window)
			test.Tap(contacts["bob@example.org"])
			if f.view.selected != 2 {
				t.Errorf("selected row %d, want 2", f.view.selected)
			}
		}, nil},
		{"tap then Enter", func(f *rosterFixture) {
			contacts, _ := renderedRows(f.window)
			test.Tap(contacts["ann@example.org"])
			f.window.Canvas().Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		}, []string{"ann@example.org"}},
		{"arrows then Enter", func(f *rosterFixture) {
			f.window.Canvas().Focus(f.view.list)
			for _, k := range []fyne.KeyName{fyne.KeyDown, fyne.KeyDown, fyne.KeyDown, fyne.KeyUp, fyne.KeyEnter} {
				f.view.list.TypedKey(&fyne.KeyEvent{Name: k})
			}
		}, []string{"ann@example.org"}},
		{"search submit opens the first match", func(f *rosterFixture) {
			test.Type(f.view.search, "b")
			f.view.search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		}, []string{"bob@example.org"}},
		{"search submit with no match", func(f *rosterFixture) {
			test.Type(f.view.search, "zzz")
			f.view.search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		}, nil},
	} {
		t.Run(fmt.Sprint(i, "_", tc.name), func(t *testing.T) {
			f := newRosterFixture(t)
			f.view.SetContacts(roster)
			tc.do(f)
			if !slices.Equal(f.opened, tc.want) {
				t.Errorf("opened %q, want %q", f.opened, tc.want)
			}
		})
	}
}

func TestRosterSelectionFollowsContact(t *testing.T) {
	f := newRosterFixture(t)
	f.view.SetContacts([]xmpp.Contact{testContact("ann@example.org", "Ann", "G"), testContact("bob@example.org", "Bob", "G")})
	f.view.list.Select(2) // Bob
	f.view.SetPresence(jid.MustParse("bob@example.org"), presenceShowing(xmpp.ShowAvailable), true)
	if f.view.selected != 1 || f.view.rows[1].contact.name != "Bob" {
		t.Errorf("selected row %d, want Bob's new row 1", f.view.selected)
	}
	f.view.UpdateContacts([]xmpp.Contact{{JID: jid.MustParse("bob@example.org"), Removed: true}})
	if f.view.selected != -1 {
		t.Errorf("selected row %d after Bob was removed, want none", f.view.selected)
	}
}

func TestRosterPushRemoves(t *testing.T) {
	f := newRosterFixture(t)
	f.view.SetContacts([]xmpp.Contact{testContact("ann@example.org", "Ann", "G"), testContact("bob@example.org", "Bob", "H")})
	f.view.SetPresence(jid.MustParse("ann@example.org"), presenceShowing(xmpp.ShowAway), true)

	for i, tc := range []struct {
		push []xmpp.Contact
		want []string
	}{
		0: {[]xmpp.Contact{{JID: jid.MustParse("bob@example.org"), Removed: true}}, []string{"# G 1/1", "  Ann"}},
		1: {[]xmpp.Contact{testContact("ann@example.org", "Anna", "K")}, []string{"# K 1/1", "  Anna"}},
		2: {[]xmpp.Contact{{JID: jid.MustParse("nobody@example.org"), Removed: true}}, []string{"# K 1/1", "  Anna"}},
		3: {[]xmpp.Contact{{JID: jid.MustParse("ann@example.org"), Removed: true}}, nil},
	} {
		f.view.UpdateContacts(tc.push)
		if got := rowsOf(f.view); !slices.Equal(got, tc.want) {
			t.Errorf("%d: rows:\n%s\nwant:\n%s", i, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
	if contacts, _ := renderedRows(f.window); len(contacts) != 0 {
		t.Errorf("rendered rows left: %v", contacts)
	}
}

func TestRosterRecyclesRows(t *testing.T) {
	f := newRosterFixture(t)
	f.view.SetContacts(bigRoster(10000, 50))
	contacts, headers := renderedRows(f.window)
	if n := len(contacts) + len(headers); n == 0 || n > 100 {
		t.Errorf("%d rows rendered for 10,000 contacts in a 1200px window", n)
	}
}

func bigRoster(n, groups int) []xmpp.Contact {
	roster := make([]xmpp.Contact, n)
	for i := range roster {
		roster[i] = testContact(fmt.Sprintf("user%05d@example.org", i), fmt.Sprintf("User %d", n-i), fmt.Sprintf("Group %02d", i%groups))
	}
	return roster
}

// BenchmarkRosterFilter measures a full roster load and one search
// keystroke on 10,000 contacts in 50 groups, with the list on screen.
func BenchmarkRosterFilter(b *testing.B) {
	roster := bigRoster(10000, 50)
	b.Run("SetContacts", func(b *testing.B) {
		f := newRosterFixture(b)
		for b.Loop() {
			f.view.SetContacts(roster)
		}
	})
	b.Run("Keystroke", func(b *testing.B) {
		f := newRosterFixture(b)
		f.view.SetContacts(roster)
		typed := []string{"u", "us", "use", "user0", "user01", "user012"}
		i := 0
		for b.Loop() {
			f.view.SetFilter(typed[i%len(typed)])
			i++
		}
	})
	b.Run("Presence", func(b *testing.B) {
		f := newRosterFixture(b)
		f.view.SetContacts(roster)
		i := 0
		for b.Loop() {
			f.view.SetPresence(roster[i%len(roster)].JID, presenceShowing(xmpp.ShowAway), i%2 == 0)
			i++
		}
	})
	b.Run("Collapse", func(b *testing.B) { // one group collapsed or expanded
		f := newRosterFixture(b)
		f.view.SetContacts(roster)
		collapsed := false
		for b.Loop() {
			collapsed = !collapsed
			f.view.setCollapsed("Group 07", collapsed)
		}
	})
	// The sign-in flood: every one of the 10,000 comes online, handed over
	// in the controller's batches of 2,000 (one hold/release each).
	flood := func(b *testing.B, batch int) {
		f := newRosterFixture(b)
		f.view.SetContacts(roster)
		online := true
		for b.Loop() {
			for start := 0; start < len(roster); start += batch {
				f.view.hold()
				for _, ct := range roster[start:min(start+batch, len(roster))] {
					f.view.SetPresence(ct.JID, presenceShowing(xmpp.ShowAvailable), online)
				}
				f.view.release()
			}
			online = !online
		}
	}
	b.Run("PresenceFlood", func(b *testing.B) { flood(b, maxEventBatch) })
	b.Run("PresenceFloodUnbatched", func(b *testing.B) { flood(b, 1) })
}

// TestRosterHoldDefersRedraws: presences applied while held show after the
// release, in the right order, with one rebuild.
func TestRosterHoldDefersRedraws(t *testing.T) {
	f := newRosterFixture(t)
	roster := []xmpp.Contact{
		testContact("a@example.org", "Anna", "Team"),
		testContact("b@example.org", "Ben", "Team"),
	}
	f.view.SetContacts(roster)
	order := func() []string {
		var names []string
		for _, r := range f.view.rows {
			if r.contact != nil {
				names = append(names, r.contact.name)
			}
		}
		return names
	}
	f.view.hold()
	f.view.SetPresence(roster[1].JID, presenceShowing(xmpp.ShowAvailable), true)
	if got := order(); !slices.Equal(got, []string{"Anna", "Ben"}) || !f.view.pendingRebuild {
		t.Fatalf("rows while held: %q (rebuild pending %v)", got, f.view.pendingRebuild)
	}
	f.view.release()
	if got := order(); !slices.Equal(got, []string{"Ben", "Anna"}) || f.view.pendingRebuild {
		t.Fatalf("after release: %q; online Ben should lead", got)
	}
}

// TestRosterIgnoresUnchangedPresence: the answers to the presence probes at
// sign-in say "offline" for every offline colleague; they change nothing
// and must not redraw the list (with 20,000 contacts each redraw of a
// flood cost the app time and memory).
func TestRosterIgnoresUnchangedPresence(t *testing.T) {
	f := newRosterFixture(t)
	anna := testContact("a@example.org", "Anna", "Team")
	f.view.SetContacts([]xmpp.Contact{anna})
	f.view.hold()
	f.view.SetPresence(anna.JID, xmpp.Presence{}, false)
	if f.view.pendingRedraw || f.view.pendingRebuild {
		t.Fatal("an offline contact reported offline asks for a redraw")
	}
	f.view.SetPresence(anna.JID, presenceShowing(xmpp.ShowAvailable), true)
	if !f.view.pendingRebuild {
		t.Fatal("a contact coming online does not move in the list")
	}
	f.view.release()
	f.view.hold()
	f.view.SetPresence(anna.JID, presenceShowing(xmpp.ShowAvailable), true)
	if f.view.pendingRedraw || f.view.pendingRebuild {
		t.Fatal("the same presence again asks for a redraw")
	}
	f.view.release()
}
