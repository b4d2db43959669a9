package app

import (
	"bytes"
	"image/png"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"mellium.im/xmpp/jid"

	"magpie/assets"
	"magpie/xmpp"
)

func TestNotificationText(t *testing.T) {
	long := strings.Repeat("审批", 100)
	for i, tc := range []struct {
		in, want string
	}{
		0: {"hello", "hello"},
		1: {"a <b> & c", "a &lt;b&gt; &amp; c"},
		2: {"line one\n\nline two\t end", "line one line two end"},
		3: {long, string([]rune(long)[:notificationBodyMax-1]) + "…"},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			got := notificationText(tc.in)
			if got != tc.want {
				t.Fatalf("notificationText(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Fatal("cut inside a character")
			}
		})
	}
}

func TestBadgedIcon(t *testing.T) {
	out := badged(assets.Icon)
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	r := b.Dx() / 5
	cx, cy := b.Max.X-r-r/4, b.Min.Y+r+r/4
	red, g, bl, _ := img.At(cx, cy).RGBA()
	if red>>8 != 0xe5 || g>>8 != 0x39 || bl>>8 != 0x35 {
		t.Fatalf("no red dot at the corner: %x %x %x", red>>8, g>>8, bl>>8)
	}
	if bytes.Equal(out, assets.Icon) {
		t.Fatal("icon unchanged")
	}
}

func TestMessageNotifications(t *testing.T) {
	c := testController(t)
	c.account = xmpp.AccountConfig{JID: "zhangsan@oa.example"}
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	var sent []*fyne.Notification
	c.notifyHook = func(n *fyne.Notification) { sent = append(sent, n) }
	bob := jid.MustParse("bob@oa.example/desk")
	receive := func(body string) {
		c.chats.received(xmpp.Message{ID: body, From: bob, Body: body, Time: time.Now()})
	}

	// Not reading that chat: a notification with the sender and the text.
	receive("hi <there> & welcome")
	if len(sent) != 1 || sent[0].Title != "bob" || sent[0].Content != "hi &lt;there&gt; &amp; welcome" {
		t.Fatalf("notifications: %+v", sent)
	}
	// A message does not pop the chat up; it waits, unread.
	tab := c.chats.chats["bob@oa.example"]
	if c.chats.visible || tab.unread != 1 {
		t.Fatalf("after a message: window shown %v, unread %d", c.chats.visible, tab.unread)
	}
	// The user opens it and reads (app focused, tab shown, entry has the
	// keyboard): no notification for the next message.
	c.foreground = true
	c.openChat(bob.Bare())
	if tab.unread != 0 {
		t.Fatalf("opening the chat left %d unread", tab.unread)
	}
	receive("second")
	if len(sent) != 1 {
		t.Fatalf("notified while the chat was being read: %+v", sent[1:])
	}
	// Do not disturb: none, but the message still counts as unread.
	c.foreground = false
	c.chats.win.Canvas().Unfocus()
	c.main.show.SetSelected("Do not disturb")
	before := tab.unread
	receive("third")
	if len(sent) != 1 {
		t.Fatalf("notified in do-not-disturb: %+v", sent[1:])
	}
	if tab.unread != before+1 {
		t.Fatalf("unread %d, want %d", tab.unread, before+1)
	}
	// Notifications switched off in the settings: none.
	c.main.show.SetSelected("Available")
	c.app.Preferences().SetBool(prefNotifications, false)
	receive("fourth")
	if len(sent) != 1 {
		t.Fatalf("notified with notifications off: %+v", sent[1:])
	}
	c.app.Preferences().SetBool(prefNotifications, true)
	// bob was notified a moment ago: the next waits for the cooldown.
	c.notes().now = func() time.Time { return time.Now().Add(notifyCooldown) }
	receive("fifth")
	if len(sent) != 2 || sent[1].Content != "fifth" {
		t.Fatalf("notifications back on: %+v", sent)
	}
}

// TestTrayIconSmall: the tray gets a 64-pixel icon, the app's own icon
// averaged down (its colours kept), not the 512-pixel one, which went over
// D-Bus as a 1 MiB pixmap on every change.
func TestTrayIconSmall(t *testing.T) {
	out := shrinkIcon(assets.Icon, trayIconSize)
	small, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	big, _ := png.Decode(bytes.NewReader(assets.Icon))
	if b := small.Bounds(); b.Dx() != trayIconSize || b.Dy() != trayIconSize {
		t.Fatalf("tray icon %v", b)
	}
	// The centre pixel is the average of the 8x8 block it covers.
	scale := big.Bounds().Dx() / trayIconSize
	cx := trayIconSize / 2
	var sum [4]uint32
	for y := cx * scale; y < (cx+1)*scale; y++ {
		for x := cx * scale; x < (cx+1)*scale; x++ {
			r, g, b, a := big.At(x, y).RGBA()
			sum[0], sum[1], sum[2], sum[3] = sum[0]+r>>8, sum[1]+g>>8, sum[2]+b>>8, sum[3]+a>>8
		}
	}
	r, g, b, a := small.At(cx, cx).RGBA()
	n := uint32(scale * scale)
	for i, got := range []uint32{r >> 8, g >> 8, b >> 8, a >> 8} {
		if want := sum[i] / n; got+2 < want || got > want+2 {
			t.Fatalf("centre channel %d is %d, want about %d", i, got, want)
		}
	}
}
