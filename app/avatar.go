package app

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	_ "image/gif" // photos in vCards are PNG or JPEG, now and then GIF
	"image/jpeg"
	"image/png"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// Avatars: the contacts list, the chat header and the profile card show a
// contact's photo, or a coloured circle with their initials while there is
// none (as Telegram and the Chinese office messengers do).
//
// Photos are fetched lazily: only for a contact that a row on screen shows,
// at most maxAvatarFetches at a time, newest request first, and a request
// whose row scrolled away before its turn is dropped. A contact whose
// presence announced no photo hash (e.g. one who is offline) has their
// profile asked for instead, once. A photo is decoded once, off the UI
// thread, into a small round thumbnail; only thumbnails are kept, at most
// avatarCacheSize of them. The core keeps the photos themselves on disk by
// hash, so a thumbnail evicted here comes back from the store, not the
// network. Results reach the UI through the event pump (deliverTo).

const (
	// avatarThumbPx is the thumbnails' size in pixels: sharp for the 32 px
	// list avatars on a 2x screen, and for the 40 px chat header.
	avatarThumbPx = 64
	// avatarCacheSize bounds the thumbnails kept (64x64 RGBA: 16 KiB each).
	avatarCacheSize = 512
	// maxAvatarFetches is how many photos are fetched at a time.
	maxAvatarFetches = 4
	// maxAvatarQueue is where the queue drops what is no longer shown.
	maxAvatarQueue = 256
	// avatarFetchTimeout bounds one fetch.
	avatarFetchTimeout = 30 * time.Second
	// maxPhotoDecode bounds the memory decoding someone else's photo may
	// take (see decodeCost): 32 MiB, which holds a 2,048 x 2,048 photo
	// with 16 bits per channel, a 2,896 x 2,896 RGBA PNG, or a progressive
	// JPEG of 1,460 x 1,460, far above the 96 to 512 pixels avatars are
	// published at. A PNG of a few hundred KiB can claim 6,000 x 6,000
	// pixels of 8 bytes each (288 MB). Up to maxAvatarFetches photos are
	// decoded at a time.
	maxPhotoDecode = 32 << 20
	// maxOwnPhotoDecode is the same bound for a picture the user chooses
	// as their own photo (from a camera: a 12-megapixel progressive JPEG
	// takes 180 MB while it is decoded).
	maxOwnPhotoDecode = 256 << 20
	// rowAvatarSize is the avatar's size in the contacts list.
	rowAvatarSize = 32
)

// avatarSource is where avatars come from: the client core.
type avatarSource interface {
	// Avatar returns the photo with hash, from the store or the server.
	Avatar(ctx context.Context, who jid.JID, hash string) ([]byte, error)
	// Profile returns the profile, photo included: asked for a contact
	// whose presence has not announced a photo (e.g. one who is offline).
	Profile(ctx context.Context, who jid.JID) (xmpp.Profile, error)
}

var _ avatarSource = (*xmpp.Client)(nil)

// lookupFailed marks in avatarCache.failed a contact whose profile could
// not be fetched (a hash is hex, so it never equals this).
const lookupFailed = "\x00lookup"

// avatarCache maps contacts to their photo's hash and keeps the decoded
// thumbnails. It lives on Fyne's goroutine; fetches run in the background
// and report back through run. A nil cache shows placeholders only.
type avatarCache struct {
	src avatarSource
	run backgroundRunner

	// hashes is the photo hash per bare JID, as presence, PEP or the
	// profile announced it; "" is known to have none. A JID missing has
	// not been heard of: its profile is asked for when a row shows it.
	hashes map[string]string
	thumbs *thumbLRU
	// failed is the hash (or lookupFailed) that could not be fetched, per
	// JID; it is not tried again until a new hash or a reconnect.
	failed map[string]string

	busy    map[string]bool // a fetch is under way, by JID
	queued  map[string]bool
	queue   []string // JIDs waiting for a fetch; the newest is served first
	running int

	// displays are what show avatars: the contacts list, and single views
	// (chat headers, cards). A photo is fetched only while one shows it.
	displays map[avatarDisplay]struct{}
	// held are JIDs whose photo and profile are not asked for until the
	// user acts (hold): a link named someone who is not a contact, and
	// asking their server would tell whoever made the link that this
	// account opened it.
	held   map[string]bool
	closed bool
	done   chan struct{} // closed by close
}

// avatarDisplay is something that shows avatars. The contacts list is one
// display rather than one per row: its rows are recycled, and those the
// list keeps in reserve show nothing (and may be dropped at any time).
type avatarDisplay interface {
	// shows reports whether key's avatar is on screen now.
	shows(key string) bool
	// avatarChanged tells it that key's photo changed ("": any may have).
	avatarChanged(key string)
}

func newAvatarCache(src avatarSource, run backgroundRunner) *avatarCache {
	if run == nil {
		run = runInBackground
	}
	return &avatarCache{
		src:      src,
		run:      run,
		hashes:   map[string]string{},
		thumbs:   newThumbLRU(avatarCacheSize),
		failed:   map[string]string{},
		busy:     map[string]bool{},
		queued:   map[string]bool{},
		displays: map[avatarDisplay]struct{}{},
		held:     map[string]bool{},
		done:     make(chan struct{}),
	}
}

// hold keeps key's photo from being fetched until release.
func (c *avatarCache) hold(key string) {
	if c != nil {
		c.held[key] = true
	}
}

// release lets key's photo be fetched again, and fetches it where it is
// shown.
func (c *avatarCache) release(key string) {
	if c == nil || !c.held[key] {
		return
	}
	delete(c.held, key)
	c.notify(key)
}

// isHeld reports whether key is held.
func (c *avatarCache) isHeld(key string) bool { return c != nil && c.held[key] }

// deliverTo has fetches run in the background and send what they found
// on applies, for the event pump to apply on Fyne's goroutine together
// with the core's events (conventions, rule 3). After close, a result is
// dropped rather than waiting for a pump that has stopped.
func (c *avatarCache) deliverTo(applies chan<- func()) {
	done := c.done
	c.run = func(load func() func()) {
		go func() {
			apply := load()
			select {
			case applies <- apply:
			case <-done:
			}
		}()
	}
}

// addDisplay has d told of photos that arrive, and asked what it shows.
func (c *avatarCache) addDisplay(d avatarDisplay) {
	if c != nil {
		c.displays[d] = struct{}{}
	}
}

func (c *avatarCache) removeDisplay(d avatarDisplay) {
	if c != nil {
		delete(c.displays, d)
	}
}

// shown reports whether any display shows key.
func (c *avatarCache) shown(key string) bool {
	for d := range c.displays {
		if d.shows(key) {
			return true
		}
	}
	return false
}

// image is the thumbnail for key, nil while there is none.
func (c *avatarCache) image(key string) image.Image {
	if c == nil {
		return nil
	}
	if t, ok := c.thumbs.get(key); ok {
		return t.img
	}
	return nil
}

// setHash records the photo a contact announces; "" removes it. A view
// showing the contact gets the new photo when it has been fetched, and
// shows the old one until then.
func (c *avatarCache) setHash(bare jid.JID, hash string) {
	if c == nil || c.closed {
		return
	}
	key := bare.Bare().String()
	if old, known := c.hashes[key]; known && old == hash {
		return
	}
	c.hashes[key] = hash
	delete(c.failed, key)
	if hash == "" {
		if c.thumbs.remove(key) {
			c.notify(key)
		}
		return
	}
	if c.shown(key) {
		c.need(key)
	}
}

// offer hands the cache a photo obtained elsewhere (a profile card, the
// own profile just saved); thumb is nil when there is no photo.
func (c *avatarCache) offer(bare jid.JID, hash string, thumb image.Image) {
	if c == nil || c.closed {
		return
	}
	key := bare.Bare().String()
	c.hashes[key] = hash
	delete(c.failed, key)
	if thumb == nil {
		c.thumbs.remove(key)
	} else {
		c.thumbs.put(key, thumbnail{hash: hash, img: thumb})
	}
	c.notify(key)
}

// retryFailed tries again what failed, e.g. after a reconnect.
func (c *avatarCache) retryFailed() {
	if c == nil || c.closed {
		return
	}
	clear(c.failed)
	c.notify("") // the displays bind again, which asks for what is missing
}

// close drops what is queued; fetches under way end unseen.
func (c *avatarCache) close() {
	if c == nil {
		return
	}
	if !c.closed {
		close(c.done)
	}
	c.closed = true
	c.queue = nil
	clear(c.queued)
}

// need queues a fetch for key, which a display shows, if its photo is
// missing or out of date.
func (c *avatarCache) need(key string) {
	if c == nil || c.src == nil || c.closed || key == "" || c.held[key] || c.busy[key] || c.queued[key] || !c.missing(key) {
		return
	}
	if len(c.queue) >= maxAvatarQueue {
		// A long scroll: drop what went out of sight.
		kept := c.queue[:0]
		for _, k := range c.queue {
			if c.shown(k) {
				kept = append(kept, k)
			} else {
				delete(c.queued, k)
			}
		}
		clear(c.queue[len(kept):])
		c.queue = kept
	}
	c.queued[key] = true
	c.queue = append(c.queue, key)
	c.dispatch()
}

// missing reports whether key's photo is to be fetched.
func (c *avatarCache) missing(key string) bool {
	hash, known := c.hashes[key]
	if !known {
		_, failed := c.failed[key]
		return !failed
	}
	if hash == "" || c.failed[key] == hash {
		return false
	}
	t, ok := c.thumbs.peek(key)
	return !ok || t.hash != hash
}

// dispatch starts queued fetches while fewer than maxAvatarFetches run.
func (c *avatarCache) dispatch() {
	for c.running < maxAvatarFetches && len(c.queue) > 0 {
		key := c.queue[len(c.queue)-1]
		c.queue = c.queue[:len(c.queue)-1]
		delete(c.queued, key)
		if !c.missing(key) || !c.shown(key) {
			continue // no longer needed, or scrolled away before its turn
		}
		c.start(key)
	}
}

func (c *avatarCache) start(key string) {
	who, err := jid.Parse(key)
	if err != nil {
		c.failed[key] = lookupFailed
		return
	}
	hash, known := c.hashes[key]
	c.busy[key] = true
	c.running++
	src := c.src
	c.run(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), avatarFetchTimeout)
		defer cancel()
		var data []byte
		var err error
		got := hash
		if known {
			data, err = src.Avatar(ctx, who, hash)
			if err == nil && len(data) == 0 {
				err = errors.New("no photo")
			}
		} else {
			var p xmpp.Profile
			p, err = src.Profile(ctx, who)
			data, got = p.Photo, p.PhotoHash
		}
		var img image.Image
		if err == nil && len(data) > 0 {
			img, err = decodeAvatar(data, avatarThumbPx, true)
		}
		return func() { c.fetched(key, known, hash, got, img, err) }
	})
}

// fetched applies a fetch's result: asked is the hash that was asked for
// (with known set) and got the one the profile has.
func (c *avatarCache) fetched(key string, known bool, asked, got string, img image.Image, err error) {
	c.running--
	delete(c.busy, key)
	if c.closed {
		return
	}
	cur, nowKnown := c.hashes[key]
	// A newer announcement came meanwhile, unless the profile answered
	// with the very photo it announces.
	stale := nowKnown && (known && cur != asked || !known && cur != got)
	switch {
	case stale:
	case err != nil:
		if known {
			c.failed[key] = asked
		} else {
			c.failed[key] = lookupFailed
		}
	default:
		c.hashes[key] = got
		if img != nil {
			c.thumbs.put(key, thumbnail{hash: got, img: img})
		} else {
			c.thumbs.remove(key)
		}
		c.notify(key)
	}
	if c.shown(key) {
		c.need(key) // a newer hash came while this one was fetched
	}
	c.dispatch()
}

// notify tells the displays that key's photo changed ("": any).
func (c *avatarCache) notify(key string) {
	for d := range c.displays {
		d.avatarChanged(key)
	}
}

// thumbnail is a decoded photo and the hash it was decoded from.
type thumbnail struct {
	hash string
	img  image.Image
}

// thumbLRU keeps the most recently used thumbnails.
type thumbLRU struct {
	max   int
	order *list.List // of *lruItem, most recent first
	items map[string]*list.Element
}

type lruItem struct {
	key string
	thumbnail
}

func newThumbLRU(max int) *thumbLRU {
	return &thumbLRU{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (l *thumbLRU) get(key string) (thumbnail, bool) {
	e, ok := l.items[key]
	if !ok {
		return thumbnail{}, false
	}
	l.order.MoveToFront(e)
	return e.Value.(*lruItem).thumbnail, true
}

func (l *thumbLRU) peek(key string) (thumbnail, bool) {
	if e, ok := l.items[key]; ok {
		return e.Value.(*lruItem).thumbnail, true
	}
	return thumbnail{}, false
}

func (l *thumbLRU) put(key string, t thumbnail) {
	if e, ok := l.items[key]; ok {
		e.Value.(*lruItem).thumbnail = t
		l.order.MoveToFront(e)
		return
	}
	l.items[key] = l.order.PushFront(&lruItem{key: key, thumbnail: t})
	for l.order.Len() > l.max {
		last := l.order.Back()
		l.order.Remove(last)
		delete(l.items, last.Value.(*lruItem).key)
	}
}

func (l *thumbLRU) remove(key string) bool {
	e, ok := l.items[key]
	if ok {
		l.order.Remove(e)
		delete(l.items, key)
	}
	return ok
}

func (l *thumbLRU) len() int { return l.order.Len() }

// avatarInitials is what a placeholder shows: for a Chinese name its last
// two characters (the given name, as Chinese messengers show 张三丰 as 三丰
// and 李四 as 李四), otherwise the first letters of the first two words
// ("Li Si" is LS, "bob" is B).
func avatarInitials(name string) string {
	name = strings.TrimSpace(name)
	if i := strings.IndexByte(name, '@'); i > 0 {
		name = name[:i] // an address: its user part
	}
	// A name that starts in Chinese ("李四 Li Si") uses its Chinese part.
	var han []rune
	for _, r := range name {
		if !unicode.Is(unicode.Han, r) {
			break
		}
		han = append(han, r)
	}
	if len(han) > 0 {
		return string(han[max(0, len(han)-2):])
	}
	var out strings.Builder
	words := 0
	for _, w := range strings.FieldsFunc(name, func(r rune) bool {
		return unicode.IsSpace(r) || r == '.' || r == '_' || r == '-' || r == '(' || r == ')'
	}) {
		if words == 2 {
			break
		}
		for i, r := range w {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				out.WriteString(strings.ToUpper(string(r)))
				words++
				break
			}
			if unicode.Is(unicode.So, r) { // an emoji leads: it stands alone
				if words == 0 {
					return w[i : i+clusterLen(w[i:])]
				}
				break
			}
		}
	}
	if out.Len() == 0 && name != "" {
		return name[:clusterLen(name)]
	}
	return out.String()
}

// avatarPalette is the placeholders' colours: mid-tones that white text
// reads on, in light and dark themes alike (Telegram's, near enough).
var avatarPalette = []color.NRGBA{
	{0xE1, 0x70, 0x76, 0xFF}, // red
	{0xEB, 0x8F, 0x4B, 0xFF}, // orange
	{0x9B, 0x86, 0xDC, 0xFF}, // violet
	{0x5F, 0xB6, 0x4E, 0xFF}, // green
	{0x4F, 0xB5, 0xB7, 0xFF}, // cyan
	{0x4D, 0x9B, 0xD6, 0xFF}, // blue
	{0xE0, 0x6A, 0xA3, 0xFF}, // pink
	{0xD9, 0xA4, 0x2E, 0xFF}, // amber
}

// avatarColor is a contact's placeholder colour: the same on every start
// and every computer, from the address.
func avatarColor(key string) color.NRGBA {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(key)))
	return avatarPalette[h.Sum32()%uint32(len(avatarPalette))]
}

// decodeAvatar decodes a photo into a square of at most px pixels: the
// middle of a photo that is not square, scaled down, and cut round when
// round is set. It runs off the UI thread.
func decodeAvatar(data []byte, px int, round bool) (*image.RGBA, error) {
	img, err := decodePhoto(data, maxPhotoDecode)
	if err != nil {
		return nil, err
	}
	out := squareDown(img, px)
	if round {
		cutRound(out)
	}
	return out, nil
}

// decodePhoto decodes a PNG, JPEG or GIF, refusing one whose decoding
// would take more than budget bytes of memory. The size comes from the
// image's header (image.DecodeConfig), before anything is decoded.
func decodePhoto(data []byte, budget int64) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("photo: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || decodeCost(data, cfg, format) > budget {
		return nil, fmt.Errorf("photo: %d x %d pixels is too large", cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("photo: %w", err)
	}
	return img, nil
}

// decodeCost is how many bytes Go's decoders allocate, at most, to decode
// the image cfg describes: the pixels at their depth (8 bytes for 16 bits
// per channel RGBA, 1 for grey or a palette), twice that for an
// interlaced PNG (its seven passes are decoded apart first), and for a
// progressive JPEG its coefficients (256 bytes per 8 x 8 block of each
// component: 12 bytes per pixel at worst).
func decodeCost(data []byte, cfg image.Config, format string) int64 {
	pixels := int64(cfg.Width) * int64(cfg.Height)
	var perPixel int64
	switch cfg.ColorModel {
	case color.GrayModel, color.AlphaModel:
		perPixel = 1
	case color.Gray16Model, color.Alpha16Model:
		perPixel = 2
	case color.YCbCrModel:
		perPixel = 3 // 4:4:4 at worst
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		perPixel = 4
	default:
		if _, ok := cfg.ColorModel.(color.Palette); ok {
			perPixel = 1
		} else {
			perPixel = 8 // RGBA64, NRGBA64, and anything unknown
		}
	}
	cost := pixels * perPixel
	switch {
	case format == "png" && pngInterlaced(data):
		cost *= 2
	case format == "jpeg" && jpegProgressive(data):
		components := int64(3)
		switch cfg.ColorModel {
		case color.GrayModel:
			components = 1
		case color.CMYKModel:
			components = 4
		}
		cost += pixels * 4 * components
	}
	return cost
}

// pngInterlaced reads the interlace method of a PNG's header (IHDR, the
// first chunk).
func pngInterlaced(data []byte) bool {
	return len(data) > 28 && data[28] != 0
}

// jpegProgressive reports whether a JPEG's frame is progressive, reading
// the markers up to the frame header; anything it cannot follow counts as
// progressive (the costlier case).
func jpegProgressive(data []byte) bool {
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xff {
			return true
		}
		marker := data[i+1]
		switch {
		case marker == 0xff: // fill byte
			i++
			continue
		case marker == 0x01 || marker >= 0xd0 && marker <= 0xd8: // no length
			i += 2
			continue
		case marker == 0xc2 || marker == 0xc6 || marker == 0xca || marker == 0xce:
			return true
		case marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc:
			return false // a sequential frame
		case marker == 0xda || marker == 0xd9: // a scan or the end before any frame
			return true
		}
		i += 2 + (int(data[i+2])<<8 | int(data[i+3]))
	}
	return true
}

// squareDown cuts the middle square out of img and scales it down to at
// most px pixels a side, averaging the source pixels that fall into each
// output pixel (a box filter: sharp enough for large reductions, and one
// pass over the source, with fast paths for what PNG and JPEG decode to).
func squareDown(img image.Image, px int) *image.RGBA {
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2
	n := min(side, px)
	// sums of premultiplied r, g, b, a and the count, per output pixel
	acc := make([]uint32, n*n*5)
	var col []int // output column of each source column
	for sx := range side {
		col = append(col, sx*n/side)
	}
	for sy := range side {
		row := (sy * n / side) * n
		y := y0 + sy
		add := func(sx int, r, g, bl, a uint32) {
			o := (row + col[sx]) * 5
			acc[o] += r
			acc[o+1] += g
			acc[o+2] += bl
			acc[o+3] += a
			acc[o+4]++
		}
		switch src := img.(type) {
		case *image.YCbCr:
			for sx := range side {
				yi, ci := src.YOffset(x0+sx, y), src.COffset(x0+sx, y)
				r, g, bl := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				add(sx, uint32(r), uint32(g), uint32(bl), 0xff)
			}
		case *image.RGBA:
			p := src.Pix[src.PixOffset(x0, y):]
			for sx := range side {
				add(sx, uint32(p[4*sx]), uint32(p[4*sx+1]), uint32(p[4*sx+2]), uint32(p[4*sx+3]))
			}
		case *image.NRGBA:
			p := src.Pix[src.PixOffset(x0, y):]
			for sx := range side {
				a := uint32(p[4*sx+3])
				add(sx, uint32(p[4*sx])*a/0xff, uint32(p[4*sx+1])*a/0xff, uint32(p[4*sx+2])*a/0xff, a)
			}
		default:
			for sx := range side {
				r, g, bl, a := src.At(x0+sx, y).RGBA()
				add(sx, r>>8, g>>8, bl>>8, a>>8)
			}
		}
	}
	out := image.NewRGBA(image.Rect(0, 0, n, n))
	for i := range n * n {
		c := acc[i*5+4]
		if c == 0 {
			continue
		}
		for k := range 4 {
			out.Pix[i*4+k] = uint8((acc[i*5+k] + c/2) / c)
		}
	}
	return out
}

// cutRound makes what lies outside the inscribed circle transparent, with
// a soft edge one pixel wide.
func cutRound(img *image.RGBA) {
	n := img.Bounds().Dx()
	r := float64(n) / 2
	for y := range n {
		for x := range n {
			dx, dy := float64(x)+0.5-r, float64(y)+0.5-r
			cover := r - math.Sqrt(dx*dx+dy*dy) + 0.5
			if cover >= 1 {
				continue
			}
			o := img.PixOffset(x, y)
			if cover <= 0 {
				clear(img.Pix[o : o+4])
				continue
			}
			for k := range 4 { // premultiplied: every channel scales
				img.Pix[o+k] = uint8(float64(img.Pix[o+k]) * cover)
			}
		}
	}
}

// ownPhotoMax is the largest side of a photo the user uploads: vCards
// travel whole in presence-time requests, so they are kept small.
const ownPhotoMax = 256

// maxOwnPhotoPNG is how large a re-encoded PNG may be; a photo with
// transparency that would be larger goes as JPEG on white.
const maxOwnPhotoPNG = 96 << 10

// prepareOwnPhoto turns a picture the user chose into what is uploaded:
// its middle square, at most ownPhotoMax pixels a side, as PNG when it has
// transparency (and stays small) and JPEG otherwise.
func prepareOwnPhoto(data []byte) (photo []byte, mimeType string, err error) {
	img, err := decodePhoto(data, maxOwnPhotoDecode)
	if err != nil {
		return nil, "", err
	}
	small := squareDown(img, ownPhotoMax)
	var buf bytes.Buffer
	if !opaque(small) {
		if err := png.Encode(&buf, small); err != nil {
			return nil, "", err
		}
		if buf.Len() <= maxOwnPhotoPNG {
			return buf.Bytes(), "image/png", nil
		}
		buf.Reset()
		onWhite(small)
	}
	if err := jpeg.Encode(&buf, small, &jpeg.Options{Quality: 88}); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), "image/jpeg", nil
}

func opaque(img *image.RGBA) bool {
	for i := 3; i < len(img.Pix); i += 4 {
		if img.Pix[i] != 0xff {
			return false
		}
	}
	return true
}

// onWhite lays a premultiplied image over white.
func onWhite(img *image.RGBA) {
	for i := 0; i < len(img.Pix); i += 4 {
		a := img.Pix[i+3]
		for k := range 3 {
			img.Pix[i+k] += 0xff - a
		}
		img.Pix[i+3] = 0xff
	}
}

// avatarView shows one contact's avatar: their photo, or their initials
// on their colour. Rows of the contacts list keep one each and rebind it;
// binding allocates nothing when the contact's photo is at hand. A view
// outside a list is a display of its own while it is bound.
type avatarView struct {
	widget.BaseWidget
	size   float32
	inList bool // a list row's: the list is the display
	cache  *avatarCache
	key    string // bare JID
	name   string
	// large, when set, is shown instead of the cache's thumbnail: a
	// profile card's full-size photo, the editor's new photo.
	large image.Image
	img   image.Image // the thumbnail shown

	initials *canvas.Text
	bg       *canvas.Circle
	photo    *canvas.Image
}

func newAvatarView(size float32) *avatarView {
	v := &avatarView{
		size:     size,
		bg:       &canvas.Circle{},
		initials: &canvas.Text{Alignment: fyne.TextAlignCenter, TextStyle: fyne.TextStyle{Bold: true}, Color: color.White},
		photo:    &canvas.Image{FillMode: canvas.ImageFillStretch, ScaleMode: canvas.ImageScaleSmooth},
	}
	v.photo.Hide()
	v.ExtendBaseWidget(v)
	return v
}

// bind shows the contact key (a bare JID) called name, from cache (nil for
// placeholders only), and asks for their photo if it is missing.
func (v *avatarView) bind(cache *avatarCache, key, name string) {
	if cache != v.cache {
		if !v.inList {
			v.cache.removeDisplay(v)
			cache.addDisplay(v)
		}
		v.cache = cache
	}
	changed := false
	if key != v.key {
		v.key = key
		v.large = nil
		v.bg.FillColor = avatarColor(key)
		changed = true
	}
	if name != v.name {
		v.name = name
		v.initials.Text = avatarInitials(name)
		changed = true
	}
	img := cache.image(key)
	if img != v.img {
		v.img = img
		changed = true
	}
	cache.need(key)
	if changed {
		v.Refresh()
	}
}

// unbind ends a single view's showing, so the cache forgets it.
func (v *avatarView) unbind() {
	v.cache.removeDisplay(v)
	v.cache = nil
}

func (v *avatarView) shows(key string) bool { return key == v.key }

// avatarChanged shows the cache's new thumbnail.
func (v *avatarView) avatarChanged(key string) {
	if key != "" && key != v.key {
		return
	}
	if img := v.cache.image(v.key); img != v.img {
		v.img = img
		v.Refresh()
	}
	if v.img == nil {
		v.cache.need(v.key)
	}
}

// setLarge shows img (nil: the thumbnail or placeholder again).
func (v *avatarView) setLarge(img image.Image) {
	v.large = img
	v.Refresh()
}

func (v *avatarView) MinSize() fyne.Size { return fyne.NewSquareSize(v.size) }

func (v *avatarView) CreateRenderer() fyne.WidgetRenderer {
	return &avatarRenderer{v: v, objects: []fyne.CanvasObject{v.bg, v.initials, v.photo}}
}

type avatarRenderer struct {
	v       *avatarView
	objects []fyne.CanvasObject
	// shown is the image the canvas.Image was last refreshed with:
	// refreshing it again would upload the same texture again.
	shown image.Image
}

func (r *avatarRenderer) Destroy()                     {}
func (r *avatarRenderer) Objects() []fyne.CanvasObject { return r.objects }
func (r *avatarRenderer) MinSize() fyne.Size           { return r.v.MinSize() }

func (r *avatarRenderer) Layout(size fyne.Size) {
	v := r.v
	side := min(size.Width, size.Height)
	pos := fyne.NewPos((size.Width-side)/2, (size.Height-side)/2)
	v.bg.Resize(fyne.NewSquareSize(side))
	v.bg.Move(pos)
	v.photo.Resize(fyne.NewSquareSize(side))
	v.photo.Move(pos)
	// Two wide characters need a smaller size than two Latin letters.
	scale := float32(0.40)
	if first, n := utf8.DecodeRuneInString(v.initials.Text); isWide(first) && n < len(v.initials.Text) {
		scale = 0.36
	}
	v.initials.TextSize = side * scale
	h := v.initials.MinSize().Height
	v.initials.Resize(fyne.NewSize(side, h))
	v.initials.Move(fyne.NewPos(pos.X, pos.Y+(side-h)/2))
}

func (r *avatarRenderer) Refresh() {
	v := r.v
	img := v.img
	if v.large != nil {
		img = v.large
	}
	v.photo.Hidden, v.bg.Hidden, v.initials.Hidden = img == nil, img != nil, img != nil
	r.Layout(v.Size())
	if img == nil {
		v.bg.Refresh()
		v.initials.Refresh()
	}
	if img != r.shown {
		r.shown = img
		v.photo.Image = img
		v.photo.Refresh()
	}
}

// newListAvatarView is a list row's avatar; the list is the display.
func newListAvatarView(size float32) *avatarView {
	v := newAvatarView(size)
	v.inList = true
	return v
}

// setAvatars has the contacts list show photos from cache.
func (v *rosterView) setAvatars(cache *avatarCache) {
	v.avatars.removeDisplay(v)
	v.avatars = cache
	cache.addDisplay(v)
	v.redraw()
}

// avatarPrefetchRows is how many rows beyond those on screen count as
// shown, so that photos are there when a short scroll reveals them.
const avatarPrefetchRows = 3

// shows reports whether a row on screen (or nearly) shows contact key.
// The rows all have the same height, so the rows on screen follow from
// the scroll offset.
func (v *rosterView) shows(key string) bool {
	first, last := v.visibleRows()
	for id := first; id <= last; id++ {
		if c := v.rows[id].contact; c != nil && c.key == key {
			return true
		}
	}
	return false
}

// visibleRows is the range of rows on screen, widened by
// avatarPrefetchRows; empty (last < first) before the list has a size.
func (v *rosterView) visibleRows() (first, last int) {
	height := v.list.Size().Height
	if height <= 0 || len(v.rows) == 0 || v.rowHeight <= 0 {
		return 0, -1
	}
	step := v.rowHeight + v.list.Theme().Size(theme.SizeNamePadding)
	offset := v.list.GetScrollOffset()
	first = max(int(offset/step)-avatarPrefetchRows, 0)
	last = min(int((offset+height)/step)+avatarPrefetchRows, len(v.rows)-1)
	return first, last
}

// avatarChanged redraws the rows on screen that show key.
func (v *rosterView) avatarChanged(key string) {
	if key == "" {
		v.redraw()
		return
	}
	first, last := v.visibleRows()
	for id := first; id <= last; id++ {
		if c := v.rows[id].contact; c != nil && c.key == key {
			v.list.RefreshItem(id)
		}
	}
}
