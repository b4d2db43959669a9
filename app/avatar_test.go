package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strconv"
	"testing"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

func TestAvatarInitials(t *testing.T) {
	for i, tc := range []struct{ name, want string }{
		0:  {"张三丰", "三丰"},  // the given name, as Chinese messengers show it
		1:  {"李四", "李四"},   // two characters: both
		2:  {"王", "王"},     // one
		3:  {"欧阳娜娜", "娜娜"}, // a compound surname
		4:  {"李四 Li Si", "李四"},
		5:  {"小助手 Assistant", "助手"},
		6:  {"Li Si", "LS"},
		7:  {"bob", "B"},
		8:  {"alice@example.org", "A"}, // an address: its user part
		9:  {"mary-jane watson", "MJ"},
		10: {"Ågot Ødegård", "ÅØ"},
		11: {"  ", ""},
		12: {"😀 Party", "😀"},
		13: {"(Bob) Smith", "BS"},
		14: {"user00001", "U"},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			if got := avatarInitials(tc.name); got != tc.want {
				t.Errorf("avatarInitials(%q) = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}

func TestAvatarColorStable(t *testing.T) {
	if avatarColor("lisi@oa.example") != avatarColor("LiSi@oa.example") {
		t.Error("colour depends on case")
	}
	// The colour follows from the address alone: the same on every start
	// and computer (FNV-1a), so these never change.
	if avatarColor("lisi@oa.example") != avatarPalette[6] || avatarColor("zhangsan@oa.example") != avatarPalette[3] {
		t.Error("colours changed: every user's placeholders would change colour")
	}
	used := map[color.NRGBA]bool{}
	for i := range 100 {
		used[avatarColor(fmt.Sprintf("user%d@oa.example", i))] = true
	}
	if len(used) < len(avatarPalette)-1 {
		t.Errorf("100 addresses use only %d of %d colours", len(used), len(avatarPalette))
	}
}

// testPNG is a w x h picture: opaque red, or with a transparent left half.
func testPNG(t testing.TB, w, h int, transparent bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{0xd0, 0x20, 0x20, 0xff}
			if transparent && x < w/2 {
				c.A = 0
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeAvatar(t *testing.T) {
	var jpg bytes.Buffer
	src := image.NewYCbCr(image.Rect(0, 0, 90, 120), image.YCbCrSubsampleRatio420)
	for i := range src.Y {
		src.Y[i] = 0x80
	}
	for i := range src.Cb {
		src.Cb[i], src.Cr[i] = 0x80, 0x80
	}
	if err := jpeg.Encode(&jpg, src, nil); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		data   []byte
		px     int
		wantPx int
		center color.RGBA
	}{
		0: {testPNG(t, 300, 200, false), 64, 64, color.RGBA{0xd0, 0x20, 0x20, 0xff}}, // scaled down, cut square
		1: {testPNG(t, 40, 40, false), 64, 40, color.RGBA{0xd0, 0x20, 0x20, 0xff}},   // never scaled up
		2: {jpg.Bytes(), 64, 64, color.RGBA{0x80, 0x80, 0x80, 0xff}},                 // JPEG (YCbCr)
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			img, err := decodeAvatar(tc.data, tc.px, true)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tc.wantPx || b.Dy() != tc.wantPx {
				t.Fatalf("size %v, want %d square", b, tc.wantPx)
			}
			if c := img.RGBAAt(0, 0); c.A != 0 {
				t.Errorf("corner %v: not cut round", c)
			}
			c := img.RGBAAt(tc.wantPx/2, tc.wantPx/2)
			if diff(c.R, tc.center.R) > 2 || diff(c.G, tc.center.G) > 2 || diff(c.B, tc.center.B) > 2 || c.A != 0xff {
				t.Errorf("centre %v, want %v", c, tc.center)
			}
		})
	}
	if _, err := decodeAvatar([]byte("not a picture"), 64, true); err == nil {
		t.Error("garbage decoded")
	}
	// A PNG header claiming 50,000 x 50,000 pixels is refused before decoding.
	huge := testPNG(t, 1, 1, false)
	copy(huge[16:24], []byte{0, 0, 0xc3, 0x50, 0, 0, 0xc3, 0x50})
	if _, err := decodeAvatar(huge, 64, true); err == nil {
		t.Error("a 50,000 x 50,000 photo was accepted")
	}
}

func diff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestPrepareOwnPhoto(t *testing.T) {
	for i, tc := range []struct {
		data     []byte
		wantType string
		wantPx   int
	}{
		0: {testPNG(t, 1600, 1200, false), "image/jpeg", ownPhotoMax}, // a photo: JPEG, the middle square
		1: {testPNG(t, 800, 800, true), "image/png", ownPhotoMax},     // transparency kept
		2: {testPNG(t, 100, 80, false), "image/jpeg", 80},             // small ones stay small
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			out, mimeType, err := prepareOwnPhoto(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if mimeType != tc.wantType || "image/"+format != tc.wantType || cfg.Width != tc.wantPx || cfg.Height != tc.wantPx {
				t.Errorf("%s (%s) %dx%d, want %s %d square", mimeType, format, cfg.Width, cfg.Height, tc.wantType, tc.wantPx)
			}
			if len(out) > 100<<10 {
				t.Errorf("%d bytes: too large for a vCard", len(out))
			}
		})
	}
}

// fakeAvatars is an avatar source that counts what it is asked.
type fakeAvatars struct {
	photos   map[string][]byte // by hash
	profiles map[string]xmpp.Profile
	avatars  map[string]int // calls, by JID
	lookups  map[string]int
	fail     error
}

func newFakeAvatars() *fakeAvatars {
	return &fakeAvatars{photos: map[string][]byte{}, profiles: map[string]xmpp.Profile{}, avatars: map[string]int{}, lookups: map[string]int{}}
}

func (f *fakeAvatars) Avatar(_ context.Context, who jid.JID, hash string) ([]byte, error) {
	f.avatars[who.String()]++
	if f.fail != nil {
		return nil, f.fail
	}
	return f.photos[hash], nil
}

func (f *fakeAvatars) Profile(_ context.Context, who jid.JID) (xmpp.Profile, error) {
	f.lookups[who.String()]++
	if f.fail != nil {
		return xmpp.Profile{}, f.fail
	}
	return f.profiles[who.String()], nil
}

func (f *fakeAvatars) calls() int {
	n := 0
	for _, c := range f.avatars {
		n += c
	}
	for _, c := range f.lookups {
		n += c
	}
	return n
}

// avatarFixture is a contacts list whose rows fetch avatars from a fake
// source, through a queue the test runs.
type avatarFixture struct {
	*rosterFixture
	src   *fakeAvatars
	q     *workQueue
	cache *avatarCache
}

func newAvatarFixture(t testing.TB, contacts []xmpp.Contact) *avatarFixture {
	t.Helper()
	f := &avatarFixture{rosterFixture: newRosterFixture(t), src: newFakeAvatars(), q: &workQueue{}}
	f.cache = newAvatarCache(f.src, f.q.run)
	f.view.setAvatars(f.cache)
	f.view.SetContacts(contacts)
	return f
}

// shownAvatars is the image each rendered row shows, by JID.
func (f *avatarFixture) shownAvatars() map[string]image.Image {
	rows, _ := renderedRows(f.window)
	out := map[string]image.Image{}
	for key, r := range rows {
		out[key] = r.avatar.img
	}
	return out
}

func TestRowFetchesAvatarOnceAndShowsIt(t *testing.T) {
	ann, ben := jid.MustParse("ann@oa.example"), jid.MustParse("ben@oa.example")
	f := newAvatarFixture(t, nil)
	f.src.photos["aa11"] = testPNG(t, 200, 200, false)
	f.cache.setHash(ann, "aa11") // from her presence
	f.view.SetContacts([]xmpp.Contact{testContact(ann.String(), "Ann", "Team"), testContact(ben.String(), "李四", "Team")})
	f.q.flush()
	if f.src.avatars["ann@oa.example"] != 1 || f.src.lookups["ann@oa.example"] != 0 {
		t.Fatalf("ann: %d fetches, %d lookups; want one fetch by hash", f.src.avatars["ann@oa.example"], f.src.lookups["ann@oa.example"])
	}
	// Ben announced nothing (offline): his profile is asked for, once.
	if f.src.lookups["ben@oa.example"] != 1 {
		t.Fatalf("ben: %d lookups, want 1", f.src.lookups["ben@oa.example"])
	}
	shown := f.shownAvatars()
	if shown["ann@oa.example"] == nil {
		t.Fatal("ann's row does not show her photo after it arrived")
	}
	if shown["ben@oa.example"] != nil {
		t.Fatal("ben, without a photo, shows one")
	}
	rows, _ := renderedRows(f.window)
	if got := rows["ben@oa.example"].avatar.initials.Text; got != "李四" {
		t.Errorf("ben's placeholder shows %q", got)
	}
	// Redraws, presence changes, filtering and rebinding fetch nothing again.
	calls := f.src.calls()
	f.view.SetPresence(ann, presenceShowing(xmpp.ShowAway), true)
	f.view.SetFilter("be")
	f.view.SetFilter("")
	f.view.list.Refresh()
	f.cache.setHash(ann, "aa11") // the same hash again, from another resource
	f.q.flush()
	if f.src.calls() != calls {
		t.Fatalf("%d more fetches after rebinding", f.src.calls()-calls)
	}
	if f.shownAvatars()["ann@oa.example"] == nil {
		t.Fatal("ann's photo is gone after rebinding")
	}
}

func TestAvatarNewHashAndRemoval(t *testing.T) {
	ann := jid.MustParse("ann@oa.example")
	f := newAvatarFixture(t, []xmpp.Contact{testContact(ann.String(), "Ann", "Team")})
	f.src.photos["aa11"], f.src.photos["bb22"] = testPNG(t, 64, 64, false), testPNG(t, 64, 64, true)
	f.cache.setHash(ann, "aa11")
	f.q.flush()
	old := f.shownAvatars()["ann@oa.example"]
	f.cache.setHash(ann, "bb22") // a new photo (PEP or presence)
	if got := f.shownAvatars()["ann@oa.example"]; got != old {
		t.Fatal("the old photo should show until the new one arrives")
	}
	f.q.flush()
	if got := f.shownAvatars()["ann@oa.example"]; got == nil || got == old || f.src.avatars["ann@oa.example"] != 2 {
		t.Fatalf("new photo not shown (%d fetches)", f.src.avatars["ann@oa.example"])
	}
	f.cache.setHash(ann, "") // removed
	if got := f.shownAvatars()["ann@oa.example"]; got != nil {
		t.Fatal("a removed photo still shows")
	}
}

func TestAvatarFailureIsNotRetriedUntilReconnect(t *testing.T) {
	ann := jid.MustParse("ann@oa.example")
	f := newAvatarFixture(t, []xmpp.Contact{testContact(ann.String(), "Ann", "Team")})
	f.src.fail = errors.New("offline")
	f.cache.setHash(ann, "aa11")
	f.q.flush()
	f.view.SetFilter("an")
	f.view.SetFilter("")
	f.q.flush()
	if n := f.src.avatars["ann@oa.example"]; n != 1 {
		t.Fatalf("%d fetches after a failure, want 1", n)
	}
	f.src.fail = nil
	f.src.photos["aa11"] = testPNG(t, 64, 64, false)
	f.cache.retryFailed() // online again
	f.q.flush()
	if f.src.avatars["ann@oa.example"] != 2 || f.shownAvatars()["ann@oa.example"] == nil {
		t.Fatal("not fetched again after the reconnect")
	}
}

// TestAvatarsOnlyForRowsShown: with 10,000 contacts, only the rows on
// screen fetch, at most maxAvatarFetches at a time; what scrolled away
// before its turn is not fetched; scrolling back fetches nothing again;
// and the thumbnails kept stay within avatarCacheSize.
func TestAvatarsOnlyForRowsShown(t *testing.T) {
	roster := bigRoster(10000, 50)
	f := newAvatarFixture(t, nil)
	photo := testPNG(t, 96, 96, false)
	for i, ct := range roster {
		hash := fmt.Sprintf("%040x", i)
		f.src.photos[hash] = photo
		f.cache.setHash(ct.JID, hash) // as sign-in presences do: no fetch yet
	}
	if f.src.calls() != 0 || len(f.q.loads) != 0 {
		t.Fatal("presences alone started fetches")
	}
	f.view.SetContacts(roster)
	if n := len(f.q.loads); n != maxAvatarFetches {
		t.Fatalf("%d fetches started at once, want %d", n, maxAvatarFetches)
	}
	f.q.flush()
	first := f.src.calls()
	shown := len(f.shownAvatars())
	if first == 0 || first > shown+30 { // the list keeps a few rows off screen too
		t.Fatalf("%d fetches for %d rows on screen", first, shown)
	}
	for key, img := range f.shownAvatars() {
		if img == nil {
			t.Fatalf("%s: no photo after the fetches", key)
		}
	}

	// Scrolling fast past 2,000 rows: only where it stops is fetched.
	for y := float32(0); y < 100000; y += 5000 {
		f.view.list.ScrollToOffset(y)
	}
	f.q.flush()
	far := f.src.calls() - first
	if far > shown+30 {
		t.Fatalf("%d fetches after a fast scroll, want only the rows where it stopped", far)
	}
	// Back to the top: those are still cached.
	before := f.src.calls()
	f.view.list.ScrollToOffset(0)
	f.q.flush()
	if f.src.calls() != before {
		t.Fatalf("%d fetches again after scrolling back", f.src.calls()-before)
	}
	// Scrolling through a thousand contacts keeps the thumbnails bounded.
	for y := float32(0); y < 50000; y += 1100 {
		f.view.list.ScrollToOffset(y)
		f.q.flush()
	}
	if n := f.cache.thumbs.len(); n > avatarCacheSize {
		t.Fatalf("%d thumbnails kept, limit %d", n, avatarCacheSize)
	}
	if f.src.calls() < 2*avatarCacheSize {
		t.Fatalf("only %d fetches while scrolling through 10,000 contacts", f.src.calls())
	}
}

func TestThumbLRU(t *testing.T) {
	l := newThumbLRU(3)
	for i := range 5 {
		l.put(strconv.Itoa(i), thumbnail{hash: strconv.Itoa(i)})
	}
	if l.len() != 3 {
		t.Fatalf("%d kept, limit 3", l.len())
	}
	if _, ok := l.get("1"); ok {
		t.Error("the least recently used was kept")
	}
	l.get("2") // now the most recent
	l.put("5", thumbnail{})
	if _, ok := l.peek("2"); !ok {
		t.Error("a recently used one was evicted")
	}
	if _, ok := l.peek("3"); ok {
		t.Error("the least recently used was kept")
	}
}

// BenchmarkRosterScroll scrolls a 10,000-contact list by about two rows
// at a time: with the first 200 contacts' photos cached, and with
// placeholders only (no avatar cache). Compare with the same loop before
// avatars to see what binding avatars costs.
func BenchmarkRosterScroll(b *testing.B) {
	roster := bigRoster(10000, 50)
	scroll := func(b *testing.B, f *rosterFixture, flush func()) {
		for y := float32(0); y < 12000; y += 600 {
			f.view.list.ScrollToOffset(y)
			flush()
		}
		y := float32(0)
		for b.Loop() {
			if y += 97; y > 12000 {
				y = 0
			}
			f.view.list.ScrollToOffset(y)
			flush()
		}
	}
	b.Run("Photos", func(b *testing.B) {
		f := newAvatarFixture(b, nil)
		photo := testPNG(b, 96, 96, false)
		for i, ct := range roster[:200] {
			hash := fmt.Sprintf("%040x", i)
			f.src.photos[hash] = photo
			f.cache.setHash(ct.JID, hash)
		}
		f.view.SetContacts(roster)
		scroll(b, f.rosterFixture, f.q.flush)
	})
	b.Run("Placeholders", func(b *testing.B) {
		f := newRosterFixture(b)
		f.view.SetContacts(roster)
		scroll(b, f, func() {})
	})
}

// TestAvatarLookupThenPresence: the cached roster shows before presences
// arrive, so an offline-looking contact's profile is asked for; when her
// presence then announces the photo the profile had, it is not fetched
// again.
func TestAvatarLookupThenPresence(t *testing.T) {
	ann := jid.MustParse("ann@oa.example")
	f := newAvatarFixture(t, []xmpp.Contact{testContact(ann.String(), "Ann", "Team")})
	f.src.profiles[ann.String()] = xmpp.Profile{JID: ann, Photo: testPNG(t, 80, 80, false), PhotoHash: "aa11"}
	f.cache.setHash(ann, "aa11") // while the lookup is under way
	f.q.flush()
	if f.src.lookups[ann.String()] != 1 || f.src.avatars[ann.String()] != 0 || f.shownAvatars()[ann.String()] == nil {
		t.Fatalf("%d lookups, %d fetches; want the lookup's photo used", f.src.lookups[ann.String()], f.src.avatars[ann.String()])
	}
}
