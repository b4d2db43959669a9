package app

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/lang"
	"github.com/godbus/dbus/v5"
	"mellium.im/xmpp/jid"

	"magpie/assets"
	"magpie/xmpp"
)

// notificationBodyMax is where a notification's text is cut: desktop
// notification bubbles show three or four lines.
const notificationBodyMax = 160

// notificationText prepares a message for a desktop notification: cut to a
// readable length on a character boundary, with the markup characters the
// freedesktop spec interprets escaped.
func notificationText(body string) string {
	body = strings.Join(strings.Fields(body), " ")
	if utf8.RuneCountInString(body) > notificationBodyMax {
		r := []rune(body)
		body = strings.TrimSpace(string(r[:notificationBodyMax-1])) + "…"
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(body)
}

// notifyMessage raises a desktop notification for an incoming message
// unless the user is reading that chat or does not want to be disturbed.
// It runs on Fyne's goroutine; the D-Bus call does not. Messages from one
// sender are collapsed (see notifier). Neither the sender's name nor the
// text may wear the notices' check mark (see noticemark.go).
func (c *controller) notifyMessage(peer jid.JID, from string, m xmpp.Message, reading bool) {
	if reading || !c.notificationsWanted() {
		return
	}
	c.notes().add("chat:"+peer.String(), withoutCheckMarks(from), notificationText(withoutCheckMarks(m.Body)), withoutCheckMarks(from))
}

// notifyCooldown is how often one sender (a contact, a room) may raise a
// notification: what arrives meanwhile is collected into the next one,
// "李四: 37 new messages", so that a burst of messages raises a few
// notifications, not one D-Bus call and one bubble each.
const notifyCooldown = 2 * time.Second

// notifier collapses desktop notifications per sender. Messages noted
// while a batch of events is applied go out when the batch ends, one
// notification per sender; a sender notified less than notifyCooldown ago
// waits for the rest of it, with whatever else arrives meanwhile. Its
// methods run on Fyne's goroutine.
type notifier struct {
	c       *controller
	pending map[string]*pendingNote
	order   []string             // keys of pending, in arrival order
	last    map[string]time.Time // when each sender's last notification went out
	// timer flushes what waits for a cooldown; nil when none is set.
	timer *time.Timer
	now   func() time.Time
	// sent counts the notifications handed to the desktop (tests).
	sent int
}

// pendingNote is what one sender's next notification says.
type pendingNote struct {
	title     string // for a single message: the sender
	body      string // the latest message's text
	collapsed string // the title when several are collapsed
	count     int
}

func (c *controller) notes() *notifier {
	if c.notifier == nil {
		c.notifier = &notifier{c: c, pending: map[string]*pendingNote{}, last: map[string]time.Time{}, now: time.Now}
	}
	return c.notifier
}

// add notes a message for key's next notification: title and body for it
// alone, collapsed as the title when others join it. Outside a batch it
// goes out at once (cooldown allowing).
func (n *notifier) add(key, title, body, collapsed string) {
	p := n.pending[key]
	if p == nil {
		p = &pendingNote{}
		n.pending[key] = p
		n.order = append(n.order, key)
	}
	p.title, p.body, p.collapsed = title, body, collapsed
	p.count++
	if n.c.inBatch == 0 {
		n.flush()
	}
}

// flush sends the notifications that are due and sets a timer for those
// that wait for a cooldown.
func (n *notifier) flush() {
	now := n.now()
	var wait time.Duration
	kept := n.order[:0]
	for _, key := range n.order {
		p := n.pending[key]
		if left := notifyCooldown - now.Sub(n.last[key]); left > 0 {
			kept = append(kept, key)
			if wait == 0 || left < wait {
				wait = left
			}
			continue
		}
		delete(n.pending, key)
		n.last[key] = now
		if !n.c.notificationsWanted() {
			continue // do-not-disturb since the message came
		}
		n.sent++
		if p.count == 1 {
			n.c.sendNotification(fyne.NewNotification(p.title, p.body))
		} else {
			n.c.sendNotification(fyne.NewNotification(p.collapsed,
				lang.L("{{.Count}} new messages", map[string]any{"Count": p.count})))
		}
	}
	n.order = kept
	if len(n.last) > 4*maxEarly { // senders notified long ago need no cooldown
		for key, at := range n.last {
			if now.Sub(at) >= notifyCooldown {
				delete(n.last, key)
			}
		}
	}
	if wait > 0 && n.timer == nil {
		toUI := n.c.uiRunner()
		n.timer = time.AfterFunc(wait, func() {
			toUI(func() {
				n.timer = nil
				if n.c.notifier == n {
					n.flush()
				}
			})
		})
	}
}

// close drops what waits (sign-out).
func (n *notifier) close() {
	if n == nil {
		return
	}
	if n.timer != nil {
		n.timer.Stop()
		n.timer = nil
	}
	clear(n.pending)
	n.order = nil
}

// notificationsWanted reports whether desktop notifications may go out:
// not in do-not-disturb, nor when the user switched them off. Unread
// counts rise either way.
func (c *controller) notificationsWanted() bool {
	return !c.dnd() && c.app.Preferences().BoolWithFallback(prefNotifications, true)
}

// sendNotification hands a notification to the desktop off the UI thread
// (Fyne's call is a synchronous D-Bus round trip). Tests replace it.
func (c *controller) sendNotification(n *fyne.Notification) {
	if c.notifyHook != nil {
		c.notifyHook(n)
		return
	}
	go c.app.SendNotification(n)
}

// dnd reports whether the user chose "do not disturb".
func (c *controller) dnd() bool {
	return c.main != nil && showFor(c.main.show.Selected) == xmpp.ShowDND
}

// trayHostPresent asks the session bus whether a tray host (a
// StatusNotifierWatcher) runs, as on KDE, Xfce or GNOME with the AppIndicator
// extension. Windows and macOS always have one.
func trayHostPresent() bool {
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	}
	conn, err := dbus.SessionBus()
	if err != nil {
		return false
	}
	var has bool
	err = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
	return err == nil && has
}

// tray is the system tray icon and menu, where the desktop has one.
type tray struct {
	app    desktop.App
	menu   *fyne.Menu
	unread *fyne.MenuItem
	// status is the Status submenu, the current one ticked.
	status *fyne.MenuItem
	// notices opens the notices inbox, with its unread count.
	notices      *fyne.MenuItem
	noticesShown int
	plain        fyne.Resource
	badged       fyne.Resource
	shown        int
	// iconSends counts the icons handed to the tray (tests): each is a
	// 512x512 image converted to a pixmap and sent over D-Bus; menuSends
	// the menus (the whole menu goes again on any change).
	iconSends, menuSends int
}

func newTray(c *controller) *tray {
	da, ok := c.app.(desktop.App)
	if !ok {
		return nil
	}
	icon := shrinkIcon(assets.Icon, trayIconSize)
	t := &tray{app: da, plain: fyne.NewStaticResource("magpie-tray.png", icon)}
	t.badged = fyne.NewStaticResource("magpie-tray-unread.png", badged(icon))
	t.unread = fyne.NewMenuItem(lang.L("No unread messages"), c.showMain)
	t.unread.Disabled = true
	status := fyne.NewMenuItem(lang.L("Status"), nil)
	status.ChildMenu = fyne.NewMenu("")
	for i, choice := range statusChoices() {
		item := fyne.NewMenuItem(choice, func() {
			if c.main != nil {
				c.main.show.SetSelected(choice)
			}
		})
		item.Checked = i == 0
		status.ChildMenu.Items = append(status.ChildMenu.Items, item)
	}
	t.status = status
	t.notices = fyne.NewMenuItem(lang.L("Notices"), c.showNoticesInbox)
	t.menu = fyne.NewMenu("Magpie",
		fyne.NewMenuItem(lang.L("Show Magpie"), c.showMain),
		t.unread,
		t.notices,
		fyne.NewMenuItemSeparator(),
		status,
		fyne.NewMenuItem(lang.L("Sign out"), func() { c.signOut("") }),
	) // Fyne appends Quit
	da.SetSystemTrayMenu(t.menu)
	da.SetSystemTrayIcon(t.plain)
	return t
}

// setUnread shows the unread total in the menu and as a dot on the icon.
func (t *tray) setUnread(n int) {
	if t == nil || n == t.shown {
		return
	}
	// The icon shows only whether anything is unread: it is sent again
	// only when that changes. Sending it (a 1 MiB pixmap over D-Bus) on
	// every new message cost 90 ms each.
	if (n == 0) != (t.shown == 0) {
		icon := t.badged
		if n == 0 {
			icon = t.plain
		}
		t.app.SetSystemTrayIcon(icon)
		t.iconSends++
	}
	t.shown = n
	if n == 0 {
		t.unread.Label = lang.L("No unread messages")
		t.unread.Disabled = true
	} else {
		t.unread.Label = lang.L("Unread messages: {{.Count}}", map[string]any{"Count": n})
		t.unread.Disabled = false
	}
	t.menuSends++
	t.menu.Refresh()
}

// setStatus ticks choice in the Status submenu, whoever chose it (the
// contacts window, the tray, or going away when idle).
func (t *tray) setStatus(choice string) {
	if t == nil {
		return
	}
	changed := false
	for _, it := range t.status.ChildMenu.Items {
		if on := it.Label == choice; it.Checked != on {
			it.Checked, changed = on, true
		}
	}
	if changed {
		t.menu.Refresh()
	}
}

// setNotices shows the unread notices on the menu's Notices entry.
func (t *tray) setNotices(n int) {
	if t == nil || n == t.noticesShown {
		return
	}
	t.noticesShown = n
	t.notices.Label = lang.L("Notices")
	if n > 0 {
		t.notices.Label = lang.L("Notices ({{.Count}})", map[string]any{"Count": n})
	}
	t.menu.Refresh()
}

// trayIconSize is the side of the tray's icon in pixels. Trays draw it at
// 16 to 48 pixels; the app icon is 512, which goes over D-Bus as a 1 MiB
// pixmap (64 pixels: 16 KiB) every time the icon changes.
const trayIconSize = 64

// shrinkIcon scales a square PNG icon down to size pixels, each pixel the
// average of the ones it covers; an icon it cannot read, or no larger,
// stays as it is.
func shrinkIcon(icon []byte, size int) []byte {
	src, err := png.Decode(bytes.NewReader(icon))
	if err != nil {
		return icon
	}
	b := src.Bounds()
	if b.Dx() <= size || b.Dy() <= size {
		return icon
	}
	dst := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		y0, y1 := b.Min.Y+y*b.Dy()/size, b.Min.Y+(y+1)*b.Dy()/size
		for x := range size {
			x0, x1 := b.Min.X+x*b.Dx()/size, b.Min.X+(x+1)*b.Dx()/size
			var r, g, bl, a, n uint64
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					pr, pg, pb, pa := src.At(sx, sy).RGBA() // premultiplied
					r, g, bl, a, n = r+uint64(pr), g+uint64(pg), bl+uint64(pb), a+uint64(pa), n+1
				}
			}
			if a == 0 {
				continue
			}
			// Back from premultiplied: average colour weighted by alpha.
			dst.SetNRGBA(x, y, color.NRGBA{R: uint8(r * 0xff / a), G: uint8(g * 0xff / a), B: uint8(bl * 0xff / a), A: uint8(a / n >> 8)})
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, dst); err != nil {
		return icon
	}
	return out.Bytes()
}

// badged draws a red dot in the icon's top right corner.
func badged(icon []byte) []byte {
	src, err := png.Decode(bytes.NewReader(icon))
	if err != nil {
		return icon
	}
	b := src.Bounds()
	img := image.NewRGBA(b)
	draw.Draw(img, b, src, b.Min, draw.Src)
	r := b.Dx() / 5
	cx, cy := b.Max.X-r-r/4, b.Min.Y+r+r/4
	red := color.RGBA{0xe5, 0x39, 0x35, 0xff}
	for y := cy - r; y <= cy+r; y++ {
		for x := cx - r; x <= cx+r; x++ {
			if dx, dy := x-cx, y-cy; dx*dx+dy*dy <= r*r {
				img.Set(x, y, red)
			}
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return icon
	}
	return out.Bytes()
}
