package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"
)

// submit presses Enter in the directory's search box.
func (d *directoryWindow) submit(text string) {
	d.entry.SetText("")
	test.Type(d.entry, text)
	d.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
}

// row returns the drawn row showing name.
func (d *directoryWindow) row(t *testing.T, name string) *directoryRow {
	t.Helper()
	return drawnRow(t, d.list, d.rows, name, d.results)
}

// drawnRow returns the row of a search window's list that is on screen
// and shows name; listed is what the window holds, for the failure.
func drawnRow[R interface{ shows() string }](t *testing.T, list *widget.List, rows map[fyne.CanvasObject]R, name string, listed any) R {
	t.Helper()
	list.Refresh()
	for _, o := range test.LaidOutObjects(list) {
		if r, ok := rows[o]; ok && o.Visible() && r.shows() == name {
			return r
		}
	}
	t.Fatalf("no row shows %q; listed: %v", name, listed)
	var none R
	return none
}

func (r *actionRow) shows() string { return r.name.Text }

// TestDirectoryFindColleagues drives Find colleagues against Prosody's directory
// (mod_vjud on search.DOMAIN): Ctrl+K opens it, Enter searches, the
// results show name, address and department; a one-letter query shows the
// server's refusal; Chat opens the chat; Add to contacts fills in the add
// form, which adds the colleague and asks for their presence.
func TestDirectoryFindColleagues(t *testing.T) {
	prosodytest.RequireModule(t, "vjud")
	srv := prosodytest.Start(t, prosodytest.DirectoryModules(prosodytest.Options{}))
	for user, card := range map[string]prosodytest.VCard{
		"zhangsan": {FullName: "张三", Family: "张", Given: "三", Email: "zhangsan@oa.example", Unit: "研发部", Title: "工程师"},
		"zhangwei": {FullName: "张伟", Family: "张", Given: "伟", Email: "zhangwei@oa.example", Unit: "财务部"},
		"wangwei":  {FullName: "Wei Wang", Family: "Wang", Given: "Wei", Email: "wei.wang@oa.example", Unit: "Sales"},
	} {
		srv.AddUser(t, user, user+"-pw")
		if err := srv.SetVCard(user, card); err != nil {
			t.Fatal(err)
		}
	}
	account := srv.AddUser(t, "alice", "alice-pw")
	zhangsan := jid.MustParse("zhangsan@" + srv.Domain)

	c := testController(t)
	db, err := store.Open(filepath.Join(t.TempDir(), "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	client, err := xmpp.New(account, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return "alice-pw", nil }), xmpp.WithStore(db))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c.account = xmpp.AccountConfig{JID: account}
	c.client, c.store = client, db
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	q := &workQueue{}
	c.chats.run = q.run
	t.Cleanup(func() { c.chats.close(); c.main.close() })

	c.main.win.Canvas().(interface{ TypedShortcut(fyne.Shortcut) }).TypedShortcut(findColleaguesShortcut)
	d := c.main.directory
	if d == nil {
		t.Fatal("Ctrl+K did not open Find colleagues")
	}
	d.run = q.run
	d.win.Resize(fyne.NewSize(520, 560))
	if d.win.Canvas().Focused() != d.entry {
		t.Error("the search box does not have the keyboard")
	}

	d.submit("张")
	if d.status.Text != "Searching…" {
		t.Errorf("while searching the window says %q", d.status.Text)
	}
	q.flush()
	if d.status.Text != "2 colleagues found:" || len(d.results) != 2 {
		t.Fatalf("search 张: %q, %v", d.status.Text, d.results)
	}
	r := d.row(t, "张三")
	if r.detail.Text != "zhangsan@"+srv.Domain+" · 研发部 · 工程师" || r.add.Disabled() {
		t.Fatalf("row of 张三: %q, add disabled %v", r.detail.Text, r.add.Disabled())
	}

	for i, tc := range []struct{ query, want string }{
		0: {"x", "The directory refused this search (not-acceptable: All fields were empty or too short). Type more of the name."},
		1: {"nobody", "No colleagues match."},
		2: {"wang wei", "1 colleague found:"},
	} {
		d.submit(tc.query)
		q.flush()
		if d.status.Text != tc.want {
			t.Errorf("%d: search %q shows %q, want %q", i, tc.query, d.status.Text, tc.want)
		}
	}

	// Chat opens the chat with the colleague.
	d.submit("张三")
	q.flush()
	test.Tap(d.row(t, "张三").chat)
	if _, ok := c.chats.chats[zhangsan.String()]; !ok {
		t.Fatal("Chat did not open a chat with 张三")
	}

	// Add to contacts: the add form, filled in, over this window.
	test.Tap(d.row(t, "张三").add)
	form := dialogTexts(d.win)
	for _, want := range []string{zhangsan.String(), "张三", "研发部"} {
		if !strings.Contains(form, want) {
			t.Fatalf("the add form shows:\n%s\nwant %q", form, want)
		}
	}
	test.Tap(findButton(d.win.Canvas().Overlays().Top(), "Add"))
	if r := d.row(t, "张三"); r.add.Text != "Added" || !r.add.Disabled() {
		t.Fatalf("after adding, the button says %q (disabled %v)", r.add.Text, r.add.Disabled())
	}
	deadline := time.Now().Add(15 * time.Second) // the add allows itself 10 s
	for {
		ct, ok := client.Contact(zhangsan)
		if ok && ct.Name == "张三" && len(ct.Groups) == 1 && ct.Groups[0] == "研发部" && ct.Pending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("contact after adding: %+v, %v; want 张三 in 研发部, subscription asked", ct, ok)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Opened again, the window knows 张三 is a contact now.
	d.win.Close()
	if c.main.directory != nil {
		t.Fatal("the closed window is still remembered")
	}
	c.main.findColleagues()
	d = c.main.directory
	d.run = q.run
	d.submit("张")
	q.flush()
	if r := d.row(t, "张三"); r.add.Text != "In contacts" || !r.add.Disabled() {
		t.Fatalf("a contact's button says %q (disabled %v)", r.add.Text, r.add.Disabled())
	}
	if r := d.row(t, "张伟"); r.add.Text != "Add to contacts" || r.add.Disabled() {
		t.Fatalf("a stranger's button says %q (disabled %v)", r.add.Text, r.add.Disabled())
	}
}

// TestDirectoryMessages: each failure in plain words, and an older
// search's answer does not replace a newer one's.
func TestDirectoryMessages(t *testing.T) {
	c := testController(t)
	for i, tc := range []struct {
		err  error
		want string
	}{
		0: {xmpp.ErrNoDirectory, "This server has no company directory."},
		1: {fmt.Errorf("xmpp: look for the company directory: %w", context.DeadlineExceeded), "The directory did not answer in time. Try again later."},
		2: {&xmpp.StanzaError{Condition: "not-allowed"}, "The directory does not let this account search (not-allowed)."},
		3: {xmpp.ErrNotConnected, "Not connected. Search again when Magpie is online."},
		4: {errors.New("boom"), "Search failed: boom"},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			q := &workQueue{}
			d := newDirectoryWindow(c.app.NewWindow("test"), func(context.Context, string) ([]xmpp.DirectoryEntry, error) {
				return nil, tc.err
			}, q.run)
			defer d.win.Close()
			d.submit("wang")
			q.flush()
			if d.status.Text != tc.want {
				t.Fatalf("shows %q, want %q", d.status.Text, tc.want)
			}
		})
	}

	q := &workQueue{}
	d := newDirectoryWindow(c.app.NewWindow("test"), func(_ context.Context, query string) ([]xmpp.DirectoryEntry, error) {
		return []xmpp.DirectoryEntry{{JID: jid.MustParse(query + "@oa.example")}}, nil
	}, q.run)
	defer d.win.Close()
	d.submit("old")
	d.submit("new")
	q.flush()
	if len(d.results) != 1 || d.results[0].JID.Localpart() != "new" || d.status.Text != "1 colleague found:" {
		t.Fatalf("after two searches: %v, %q", d.results, d.status.Text)
	}
	d.submit("   ")
	if len(q.loads) != 0 {
		t.Fatal("a blank query was searched")
	}
}
