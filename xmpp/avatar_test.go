package xmpp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"magpie/xmpp/prosodytest"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// testPNG makes a PNG of noise, w×h pixels (a few KB at 40×40: noise does
// not compress).
func testPNG(t *testing.T, w, h int, seed uint64) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, 1))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(r.Uint32()), uint8(r.Uint32()), uint8(r.Uint32()), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDecodeAvatarData: data is accepted only when its SHA-1 is the hash it
// is published under; base64 may be folded or unpadded.
func TestDecodeAvatarData(t *testing.T) {
	photo := []byte("not really a png, but bytes all the same")
	other := []byte("someone else's picture")
	b64 := base64.StdEncoding.EncodeToString(photo)
	for i, tc := range []struct {
		data, hash string
		ok         bool
	}{
		0: {b64, photoHash(photo), true},
		1: {b64[:10] + "\n  " + b64[10:30] + "\r\n" + b64[30:], photoHash(photo), true},
		2: {base64.RawStdEncoding.EncodeToString(photo), photoHash(photo), true},
		3: {b64, " " + string(bytes.ToUpper([]byte(photoHash(photo)))), true},
		4: {b64, photoHash(other), false}, // forged: another image's name
		5: {b64, "", false},
		6: {"!!! not base64 !!!", photoHash(photo), false},
		7: {"", photoHash(nil), false},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			got, err := decodeAvatarData(tc.data, tc.hash)
			if tc.ok != (err == nil) || (tc.ok && !bytes.Equal(got, photo)) {
				t.Fatalf("decodeAvatarData = %q, %v; want ok=%v", got, err, tc.ok)
			}
			if i == 4 && !errors.Is(err, errAvatarHash) {
				t.Fatalf("forged hash: %v, want errAvatarHash", err)
			}
		})
	}
}

// TestPhotoByteCap: a photo above maxPhotoBytes, from a vCard or a PEP
// data node, is refused before it is decoded; one at the cap, folded into
// lines as vCards fold it, is taken.
func TestPhotoByteCap(t *testing.T) {
	fold := func(s string) string {
		var b strings.Builder
		for len(s) > 76 {
			b.WriteString(s[:76] + "\r\n ")
			s = s[76:]
		}
		return b.String() + s
	}
	atCap := bytes.Repeat([]byte{0xa5}, maxPhotoBytes)
	over := bytes.Repeat([]byte{0xa5}, maxPhotoBytes+1)
	huge := bytes.Repeat([]byte{0xa5}, 20<<20)
	for i, tc := range []struct {
		photo  []byte
		folded bool
		ok     bool
	}{
		0: {atCap, false, true},
		1: {atCap, true, true},
		2: {over, false, false},
		3: {over, true, false},
		4: {huge, false, false},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			b64 := base64.StdEncoding.EncodeToString(tc.photo)
			if tc.folded {
				b64 = fold(b64)
			}
			got, err := decodeAvatarData(b64, photoHash(tc.photo))
			if tc.ok != (err == nil) || (tc.ok && !bytes.Equal(got, tc.photo)) {
				t.Fatalf("PEP data of %d bytes: %d bytes, %v; want ok=%v", len(tc.photo), len(got), err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, errPhotoTooLarge) {
				t.Fatalf("PEP data of %d bytes: %v, want errPhotoTooLarge", len(tc.photo), err)
			}
			var v wireVCard
			vcard := `<vCard xmlns="vcard-temp"><FN>Mallory</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>` + b64 + `</BINVAL></PHOTO></vCard>`
			if err := xml.Unmarshal([]byte(vcard), &v); err != nil {
				t.Fatal(err)
			}
			p := v.profile(jid.MustParse("mallory@example.com"))
			if p.FullName != "Mallory" {
				t.Fatalf("the rest of the vCard is lost: %+v", p)
			}
			if tc.ok != (p.Photo != nil) || (!tc.ok && p.PhotoHash != "") {
				t.Fatalf("vCard photo of %d bytes: kept %d bytes, hash %q; want kept=%v", len(tc.photo), len(p.Photo), p.PhotoHash, tc.ok)
			}
		})
	}
}

// TestAvatarMeta: the description of a PNG carries its hash, size, type
// and dimensions; bytes Go cannot read are refused unless typed.
func TestAvatarMeta(t *testing.T) {
	img := testPNG(t, 40, 30, 1)
	in, err := avatarMeta(img, "")
	if err != nil || in.ID != photoHash(img) || in.Bytes != strconv.Itoa(len(img)) || in.Type != "image/png" || in.Width != "40" || in.Height != "30" {
		t.Fatalf("avatarMeta = %+v, %v", in, err)
	}
	if _, err := avatarMeta([]byte("garbage"), ""); err == nil {
		t.Fatal("garbage without a type accepted")
	}
	if in, err := avatarMeta([]byte("webp bytes"), "image/webp"); err != nil || in.Type != "image/webp" || in.Width != "" {
		t.Fatalf("typed unknown format: %+v, %v", in, err)
	}
}

// TestPubsubEventDispatch feeds messages to the message handler: avatar
// notifications become AvatarChanged (once per change, "" for removals),
// never chats or notices, also with a fallback body; a notification from a
// full JID is dropped. A notice from the server after them shows the
// handler does emit notices, so the absence of the others means something.
func TestPubsubEventDispatch(t *testing.T) {
	c, err := New("me@example.org", WithPassword(func(context.Context) (string, error) { return "", nil }))
	if err != nil {
		t.Fatal(err)
	}
	rec := record(c)
	t.Cleanup(func() { c.Close() })
	const h1, h2 = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	event := func(from, typ, body, inner string) string {
		if body != "" {
			body = "<body>" + body + "</body>"
		}
		return fmt.Sprintf(`<message xmlns='jabber:client' from='%s' to='me@example.org/r' type='%s' id='x'>%s`+
			`<event xmlns='http://jabber.org/protocol/pubsub#event'>%s</event></message>`, from, typ, body, inner)
	}
	meta := func(id string, infos ...string) string {
		s := `<items node='urn:xmpp:avatar:metadata'><item id='` + id + `'><metadata xmlns='urn:xmpp:avatar:metadata'>`
		for _, in := range infos {
			s += `<info id='` + in + `' bytes='12' type='image/png' width='x'/>`
		}
		return s + `</metadata></item></items>`
	}
	for _, m := range []string{
		event("alice@example.org", "headline", "", meta(h1, h1)),
		event("alice@example.org", "headline", "", meta(h1, h1)), // again: no change
		event("bob@example.org", "normal", "fallback text", meta(h2, h2)),
		event("bob@example.org", "chat", "fallback chat", `<items node='urn:xmpp:avatar:metadata'><item id='`+h2+`'/></items>`),
		event("carol@example.org/forger", "headline", "", meta(h1, h1)),
		event("alice@example.org", "headline", "", `<items node='urn:xmpp:microblog:0'><item id='z'/></items>`),
		event("alice@example.org", "headline", "", meta("ignored")), // empty metadata: removed
		event("bob@example.org", "headline", "", `<purge node='urn:xmpp:avatar:metadata'/>`),
		event("", "headline", "", meta(h2, h2)), // the own account
		`<message xmlns='jabber:client' from='example.org' type='normal' id='y'><body>a notice</body></message>`,
	} {
		var w wireMessage
		if err := xml.Unmarshal([]byte(m), &w); err != nil {
			t.Fatal(err)
		}
		c.onMessage(w, nil)
	}
	waitFor(t, rec, 5*time.Second, func(e NoticeReceived) bool { return e.Body == "a notice" })
	var got []string
	rec.mu.Lock()
	for _, e := range rec.events {
		switch e := e.(type) {
		case AvatarChanged:
			got = append(got, e.JID.String()+"="+e.Hash)
		case MessageReceived, NoticeReceived:
			got = append(got, fmt.Sprintf("%T", e))
		}
	}
	rec.mu.Unlock()
	want := []string{"alice@example.org=" + h1, "bob@example.org=" + h2, "alice@example.org=", "bob@example.org=",
		"me@example.org=" + h2, "xmpp.NoticeReceived"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
	if h, _ := c.avatars.pepHash(jid.MustParse("bob@example.org")); h != "" {
		t.Fatalf("bob's PEP hash after the purge: %q", h)
	}
}

// TestAvatarPEP runs the PEP avatar flow against Prosody, with the vCard
// conversion of vcard_legacy (which publishes the vCard photo to PEP too,
// on open nodes) and with plain mod_vcard (where only Magpie's publishing
// reaches PEP, on nodes for presence subscribers).
func TestAvatarPEP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    prosodytest.Options
		private bool // the nodes are readable by presence subscribers only
	}{
		{"vcard_legacy", prosodytest.Options{}, false},
		{"vcard", prosodytest.Options{Modules: []string{"vcard"},
			ExtraConfig: `modules_disabled = { "http", "bosh", "websocket", "vcard_legacy" }`}, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testAvatarPEP(t, prosodytest.Start(t, tc.opts), tc.private) })
	}
}

func testAvatarPEP(t *testing.T, srv *prosodytest.Server, private bool) {
	alice, ae := online(t, srv, "alice", WithStore(openStore(t)))
	bobDB := openStore(t)
	bob, be := online(t, srv, "bob", WithStore(bobDB))
	follow(t, bob, alice, ae)
	follow(t, alice, bob, be)
	ctx := ctxLong(t)
	// PEP subscriptions follow presence: wait until each sees the other.
	waitFor(t, be, 5*time.Second, func(e PresenceChanged) bool { return e.From.Bare().Equal(alice.Account()) && e.Available() })
	waitFor(t, ae, 5*time.Second, func(e PresenceChanged) bool { return e.From.Bare().Equal(bob.Account()) && e.Available() })

	img := testPNG(t, 40, 40, 7)
	hash := photoHash(img)
	mark, aliceMark := be.mark(), ae.mark()
	if err := alice.SetAvatar(ctx, img, "image/png"); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, be, mark, 5*time.Second, func(e AvatarChanged) bool { return e.JID.Equal(alice.Account()) && e.Hash == hash })
	// The own account is notified as well (other devices learn of it so).
	waitFrom(t, ae, aliceMark, 5*time.Second, func(e AvatarChanged) bool { return e.JID.Equal(alice.Account()) && e.Hash == hash })

	// The description is Magpie's, with the dimensions.
	desc, err := pepItems(ctx, bob, alice.Account(), nsAvatarMetadata)
	if err != nil {
		t.Fatal(err)
	}
	if len(desc) != 1 || desc[0].ID != hash || desc[0].Metadata == nil || len(desc[0].Metadata.Info) != 1 ||
		desc[0].Metadata.Info[0] != (wireAvatarInfo{ID: hash, Bytes: strconv.Itoa(len(img)), Type: "image/png", Width: "40", Height: "40"}) {
		t.Fatalf("published description: %+v", desc)
	}

	// Fetched once, checked, kept in the store; then served from there.
	if _, found, _ := bobDB.Avatar(hash); found {
		t.Fatal("the store has the image before anyone asked for it")
	}
	got, err := bob.Avatar(ctx, alice.Account(), hash)
	if err != nil || !bytes.Equal(got, img) {
		t.Fatalf("avatar: %d bytes, %v", len(got), err)
	}
	if stored, found, _ := bobDB.Avatar(hash); !found || !bytes.Equal(stored, img) {
		t.Fatal("the fetched image is not in the store")
	}
	if n := bob.avatars.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for one image", n)
	}
	if got, err := bob.Avatar(ctx, alice.Account(), hash); err != nil || !bytes.Equal(got, img) || bob.avatars.fetches.Load() != 1 {
		t.Fatalf("second call: %d bytes, %v, %d fetches", len(got), err, bob.avatars.fetches.Load())
	}
	// The PEP path itself, without the vCard fallback.
	if got, err := bob.pepAvatar(ctx, alice.Account(), hash); err != nil || !bytes.Equal(got, img) {
		t.Fatalf("from PEP: %d bytes, %v", len(got), err)
	}
	// The vCard carries the photo too, for XEP-0153-only clients.
	if p, err := bob.FetchProfile(ctx, alice.Account()); err != nil || !bytes.Equal(p.Photo, img) {
		t.Fatalf("vCard photo: %d bytes, %v", len(p.Photo), err)
	}

	// Someone who does not see alice's presence cannot read the image
	// when the node is private.
	eve, _ := online(t, srv, "eve")
	if _, err := eve.pepAvatar(ctx, alice.Account(), hash); private != (err != nil) {
		t.Fatalf("a stranger fetching the image: %v (private nodes: %v)", err, private)
	}

	// Another device of bob signing in later learns the current avatar
	// from the last item, and concurrent calls for it share one fetch.
	bob2, be2 := onlineAs(t, srv, "bob", WithStore(openStore(t)), WithResource("second"))
	waitFor(t, be2, 5*time.Second, func(e AvatarChanged) bool { return e.JID.Equal(alice.Account()) && e.Hash == hash })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			got, err := bob2.Avatar(ctx, alice.Account(), hash)
			if err == nil && !bytes.Equal(got, img) {
				err = errors.New("other bytes")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := bob2.avatars.fetches.Load(); n != 1 {
		t.Fatalf("8 concurrent calls made %d fetches", n)
	}

	// Removing it: bob hears so, and the vCard has no photo any more.
	mark = be.mark()
	if err := alice.SetAvatar(ctx, nil, ""); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, be, mark, 5*time.Second, func(e AvatarChanged) bool { return e.JID.Equal(alice.Account()) && e.Hash == "" })
	if p, err := bob.FetchProfile(ctx, alice.Account()); err != nil || p.Photo != nil {
		t.Fatalf("vCard after removal: %d bytes, %v", len(p.Photo), err)
	}
	desc, err = pepItems(ctx, bob, alice.Account(), nsAvatarMetadata)
	if err != nil || len(desc) > 1 || (len(desc) == 1 && (desc[0].Metadata == nil || len(desc[0].Metadata.Info) != 0)) {
		t.Fatalf("description after removal: %+v, %v", desc, err)
	}
	// Her next presence announces no photo either (Prosody's vcard_legacy
	// takes the hash for it from the last metadata item's id).
	mark = be.mark()
	if err := alice.SetPresence(ctx, ShowAway, "after removal"); err != nil {
		t.Fatal(err)
	}
	if p := waitFrom(t, be, mark, 5*time.Second, func(e PresenceChanged) bool {
		return e.From.Bare().Equal(alice.Account()) && e.Status == "after removal"
	}); p.AvatarHash != "" {
		t.Fatalf("presence after removal announces photo %q", p.AvatarHash)
	}

	// A forged item: an image published under another image's hash is
	// announced, but refused, and not stored.
	forged := photoHash([]byte("some other image"))
	mark = be.mark()
	if err := alice.sendRaw(ctx, `<iq type='set' id='forge1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>`+
		`<publish node='urn:xmpp:avatar:data'><item id='`+forged+`'><data xmlns='urn:xmpp:avatar:data'>`+
		base64.StdEncoding.EncodeToString(img)+`</data></item></publish></pubsub></iq>`); err != nil {
		t.Fatal(err)
	}
	if err := alice.sendRaw(ctx, `<iq type='set' id='forge2'><pubsub xmlns='http://jabber.org/protocol/pubsub'>`+
		`<publish node='urn:xmpp:avatar:metadata'><item id='`+forged+`'><metadata xmlns='urn:xmpp:avatar:metadata'>`+
		`<info id='`+forged+`' bytes='`+strconv.Itoa(len(img))+`' type='image/png'/></metadata></item></publish></pubsub></iq>`); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, be, mark, 5*time.Second, func(e AvatarChanged) bool { return e.JID.Equal(alice.Account()) && e.Hash == forged })
	if got, err := bob.Avatar(ctx, alice.Account(), forged); err == nil {
		t.Fatalf("forged avatar accepted: %d bytes", len(got))
	} else if _, err := bob.pepAvatar(ctx, alice.Account(), forged); !errors.Is(err, errAvatarHash) {
		t.Fatalf("forged avatar from PEP: %v, want errAvatarHash", err)
	}
	if _, found, _ := bobDB.Avatar(forged); found {
		t.Fatal("forged avatar stored")
	}

	// A pubsub event message with a fallback body is not a notice, nor a
	// chat; the normal message after it is a chat (from a colleague).
	if err := alice.sendRaw(ctx, `<message to='`+bob.Account().String()+`' type='normal' id='ev1'><body>fallback text</body>`+
		`<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:avatar:metadata'>`+
		`<item id='`+hash+`'><metadata xmlns='urn:xmpp:avatar:metadata'/></item></items></event></message>`); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, OutgoingMessage{To: bob.Account(), Body: "marker", Type: stanza.NormalMessage}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, be, 5*time.Second, func(e MessageReceived) bool { return e.Body == "marker" })
	be.mu.Lock()
	defer be.mu.Unlock()
	for _, e := range be.events {
		switch e := e.(type) {
		case MessageReceived:
			if e.Body != "marker" {
				t.Errorf("a message came out as %T: %+v", e, e.Message)
			}
		case NoticeReceived:
			t.Errorf("a message came out as %T: %+v", e, e.Notice)
		}
	}
}

// pepItems reads the items of a PEP node as c.
func pepItems(ctx context.Context, c *Client, owner jid.JID, node string) ([]wireAvatarItem, error) {
	sess, err := c.session()
	if err != nil {
		return nil, err
	}
	var resp wirePubsub
	err = sess.UnmarshalIQElement(ctx, xmlPayload(wirePubsub{Items: &wirePubsubItems{Node: node}}),
		stanza.IQ{Type: stanza.GetIQ, To: owner}, &resp)
	if err != nil {
		return nil, stanzaErr(err)
	}
	if resp.Items == nil {
		return nil, nil
	}
	return resp.Items.Items, nil
}
