package xmpp

import (
	"bytes"
	"testing"
	"time"

	"magpie/xmpp/prosodytest"

	"mellium.im/xmpp/jid"
)

// TestProfiles: alice publishes her profile with a photo; bob fetches it
// from the server (Prosody's vcard_legacy), it is cached, and the cached
// copy (photo included) answers while he is offline. A colleague without a
// vCard has an empty profile, not an error.
func TestProfiles(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     prosodytest.Options
		keepUnit bool
	}{
		// Prosody's vcard_legacy keeps vCards as vCard4 in PEP and drops
		// ORGUNIT on the way; mod_vcard stores vcard-temp as sent, as
		// Openfire does.
		{"vcard_legacy", prosodytest.Options{}, false},
		{"vcard", prosodytest.Options{Modules: []string{"vcard"},
			ExtraConfig: `modules_disabled = { "http", "bosh", "websocket", "vcard_legacy" }`}, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testProfiles(t, prosodytest.Start(t, tc.opts), tc.keepUnit) })
	}
}

func testProfiles(t *testing.T, srv *prosodytest.Server, keepUnit bool) {
	alice, _ := online(t, srv, "alice", WithStore(openStore(t)))
	bobDB := openStore(t)
	bob, _ := online(t, srv, "bob", WithStore(bobDB))
	ctx := ctxT(t)
	photo := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 300)
	mine := Profile{FullName: "张三丰", Org: "示例公司", Unit: "研发部", Title: "工程师", Phone: "+86 10 1234 5678",
		Email: "alice@oa.example", Photo: photo, PhotoType: "image/png"}
	if err := alice.SetProfile(ctx, mine); err != nil {
		t.Fatal(err)
	}
	got, err := bob.Profile(ctx, alice.Account())
	if err != nil {
		t.Fatal(err)
	}
	if got.FullName != mine.FullName || (keepUnit && got.Unit != "研发部") || got.Org != "示例公司" || got.Title != "工程师" ||
		got.Phone != mine.Phone || got.Email != mine.Email || !bytes.Equal(got.Photo, photo) || got.PhotoHash != photoHash(photo) {
		t.Fatalf("profile as bob sees it: %+v", got)
	}
	bob.Close()
	cached, err := bob.Profile(ctx, alice.Account())
	if err != nil || cached.FullName != mine.FullName || !bytes.Equal(cached.Photo, photo) || time.Since(cached.Fetched) > time.Minute {
		t.Fatalf("cached profile while offline: %+v, %v", cached, err)
	}
	carol, _ := online(t, srv, "carol")
	none, err := carol.Profile(ctx, jid.MustParse("dave@"+srv.Domain))
	if err != nil || none.FullName != "" || none.Photo != nil {
		t.Fatalf("profile of someone without a vCard: %+v, %v", none, err)
	}
}

// TestAvatarInPresence: alice sets a photo; bob's view of her presence
// carries its hash (XEP-0153), and Avatar fetches the photo once, then
// answers from the store.
func TestAvatarInPresence(t *testing.T) {
	srv := startProsody(t)
	alice, ae := online(t, srv, "alice", WithStore(openStore(t)))
	bob, be := online(t, srv, "bob", WithStore(openStore(t)))
	follow(t, bob, alice, ae)
	ctx := ctxT(t)
	photo := bytes.Repeat([]byte("photo of alice "), 100)
	mark := be.mark()
	if err := alice.SetProfile(ctx, Profile{FullName: "Alice", Photo: photo, PhotoType: "image/png"}); err != nil {
		t.Fatal(err)
	}
	p := waitFrom(t, be, mark, 5*time.Second, func(e PresenceChanged) bool {
		return e.From.Bare().Equal(alice.Account()) && e.AvatarHash != ""
	})
	if p.AvatarHash != photoHash(photo) {
		t.Fatalf("presence announces photo %q, want %q", p.AvatarHash, photoHash(photo))
	}
	got, err := bob.Avatar(ctx, alice.Account(), p.AvatarHash)
	if err != nil || !bytes.Equal(got, photo) {
		t.Fatalf("avatar: %d bytes, %v", len(got), err)
	}
	bob.Close()
	if got, err := bob.Avatar(ctx, alice.Account(), p.AvatarHash); err != nil || !bytes.Equal(got, photo) {
		t.Fatalf("avatar from the store while offline: %d bytes, %v", len(got), err)
	}
}
