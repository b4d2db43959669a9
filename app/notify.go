package app

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"runtime"
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/lang"
	"github.com/godbus/dbus/v5"

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
// It runs on Fyne's goroutine; the D-Bus call does not. Neither the
// sender's name nor the text may wear the notices' check mark (see
// noticemark.go).
func (c *controller) notifyMessage(from string, m xmpp.Message, reading bool) {
	if reading || !c.notificationsWanted() {
		return
	}
	c.sendNotification(fyne.NewNotification(withoutCheckMarks(from), notificationText(withoutCheckMarks(m.Body))))
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
}

func newTray(c *controller) *tray {
	da, ok := c.app.(desktop.App)
	if !ok {
		return nil
	}
	t := &tray{app: da, plain: fyne.NewStaticResource("magpie-tray.png", assets.Icon)}
	t.badged = fyne.NewStaticResource("magpie-tray-unread.png", badged(assets.Icon))
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
	t.shown = n
	if n == 0 {
		t.unread.Label = lang.L("No unread messages")
		t.unread.Disabled = true
		t.app.SetSystemTrayIcon(t.plain)
	} else {
		t.unread.Label = lang.L("Unread messages: {{.Count}}", map[string]any{"Count": n})
		t.unread.Disabled = false
		t.app.SetSystemTrayIcon(t.badged)
	}
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
