package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
)

// readonlySharedModule makes Prosody refuse changes to the contacts listed
// in readonly_contacts with not-acceptable, as Openfire refuses changes to
// members of its shared groups. (Prosody's own mod_groups accepts such a
// change and puts the contact back at the next sign-in.)
const readonlySharedModule = `local st = require "util.stanza";
local readonly = module:get_option_set("readonly_contacts", {});
module:hook("iq/self/jabber:iq:roster:query", function(event)
	local stanza = event.stanza;
	if stanza.attr.type ~= "set" then return; end
	local item = stanza.tags[1]:get_child("item");
	if item and readonly:contains(item.attr.jid) then
		event.origin.send(st.error_reply(stanza, "cancel", "not-acceptable", "Shared group members cannot be changed"));
		return true;
	end
end, 10);
`

// TestSharedContactEditRefused: with a shared group of 200 colleagues from
// Prosody's mod_groups, whose members the server refuses to change (as
// Openfire does), renaming, regrouping or removing one of them shows that
// the contact is managed by the company directory, in the contacts window,
// and nothing changes: not in the window, not in the client, not on the
// server.
func TestSharedContactEditRefused(t *testing.T) {
	const members = 200
	dir := t.TempDir()
	var groups strings.Builder
	groups.WriteString("[研发部]\n")
	var readonly []string
	for i := range members {
		fmt.Fprintf(&groups, "user%04d@magpie.test=同事%04d\n", i, i)
		readonly = append(readonly, fmt.Sprintf("%q", fmt.Sprintf("user%04d@magpie.test", i)))
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "groups.txt"), []byte(groups.String()), 0o644))
	must(os.WriteFile(filepath.Join(dir, "mod_readonly_shared.lua"), []byte(readonlySharedModule), 0o644))
	srv := prosodytest.Start(t, prosodytest.Options{
		Modules: []string{"groups", "readonly_shared"},
		ExtraConfig: fmt.Sprintf("plugin_paths = { %q }\ngroups_file = %q\nreadonly_contacts = { %s }",
			dir, filepath.Join(dir, "groups.txt"), strings.Join(readonly, ", ")),
	})
	account := srv.AddUser(t, "user0000", "pw0000")
	client, err := xmpp.New(account, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return "pw0000", nil }))
	must(err)
	// The controller is driven from this goroutine: events are applied
	// and background work is run here (Fyne's test driver does not
	// serialise fyne.Do), so the test reads the window without races.
	c := testController(t)
	c.client, c.account = client, xmpp.AccountConfig{JID: account}
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	q := &workQueue{}
	c.chats.run = q.run
	t.Cleanup(func() { client.Close(); c.chats.close(); c.main.close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must(client.Connect(ctx))
	events := client.Events()
	// until applies events until done reports true, for up to 10 s.
	until := func(done func() bool) bool {
		for deadline := time.Now().Add(10 * time.Second); !done(); {
			select {
			case e := <-events:
				c.handle(e)
			case <-time.After(10 * time.Millisecond):
				if time.Now().After(deadline) {
					return false
				}
			}
		}
		return true
	}

	colleague := jid.MustParse("user0001@magpie.test")
	shown := func() (name string, count int) {
		v := c.main.roster
		if e := v.contacts[colleague.String()]; e != nil {
			name = e.name
		}
		return name, len(v.contacts)
	}
	if !until(func() bool { name, n := shown(); return n == members-1 && name == "同事0001" }) {
		name, n := shown()
		t.Fatalf("the contacts window shows %d contacts (%s as %q), want %d", n, colleague, name, members-1)
	}

	for _, edit := range []struct {
		name   string
		change func(context.Context) error
	}{
		{"rename", func(ctx context.Context) error { return client.RenameContact(ctx, colleague, "老王") }},
		{"move", func(ctx context.Context) error { return client.SetGroups(ctx, colleague, []string{"朋友"}) }},
		{"remove", func(ctx context.Context) error { return client.RemoveContact(ctx, colleague) }},
	} {
		t.Run(edit.name, func(t *testing.T) {
			c.main.rosterChange(edit.change)
			q.flush() // the change goes to the server, and its answer comes back
			if text := dialogTexts(c.main.win); !strings.Contains(text, "managed by the company directory") {
				t.Fatalf("the window shows %q", text)
			}
			overlays := c.main.win.Canvas().Overlays()
			overlays.Remove(overlays.Top())
			// A roster push, had the server made the change, arrives in
			// well under half a second.
			settle := time.Now().Add(500 * time.Millisecond)
			until(func() bool { return time.Now().After(settle) })
			if name, n := shown(); name != "同事0001" || n != members-1 {
				t.Fatalf("after the refusal the window shows %q among %d contacts", name, n)
			}
			for _, ct := range client.Roster() {
				if ct.JID.Equal(colleague) && (ct.Name != "同事0001" || len(ct.Groups) != 1 || ct.Groups[0] != "研发部") {
					t.Fatalf("the client's roster changed: %+v", ct)
				}
			}
		})
	}

	// The server kept the contact as it was: a second device sees it.
	other, err := xmpp.New(account, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithResource("other"), xmpp.WithPassword(func(context.Context) (string, error) { return "pw0000", nil }))
	must(err)
	must(other.Connect(ctx))
	defer other.Close()
	found := false
	for _, ct := range other.Roster() {
		if ct.JID.Equal(colleague) {
			found = ct.Name == "同事0001" && len(ct.Groups) == 1 && ct.Groups[0] == "研发部"
		}
	}
	if !found || len(other.Roster()) != members-1 {
		t.Fatalf("the server's roster changed: %d contacts, colleague as before: %v", len(other.Roster()), found)
	}
}
