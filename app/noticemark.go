package app

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// Who sent a notice. Only the server and the notifier accounts that
// provisioning names may send notices (the core sorts everything else into
// chats), and the user must be able to tell, at a glance and beyond doubt,
// that an alert asking to approve a payment is one of theirs. So a notice
// is always shown with its sender's full address (never a display name: a
// roster name, a nick or a user name is the sender's or anyone's to choose)
// and a mark of why that sender may send notices:
//
//   - in the inbox, a coloured badge beside the address ("✔ OA" for a
//     notifier account, "✔ Server" for the server and broadcast.DOMAIN,
//     "Unverified" for a notice an older version took from someone else):
//     a widget, which no text in a name or a message can draw;
//   - on the desktop, where a notification is text only, the title starts
//     with the check mark and the sender's kind, and the text with the
//     address. The check mark is the notices' own: it, and the characters
//     that look like it, are taken out of every other notification (chats,
//     rooms, private messages), title and text, so no nick or message can
//     wear it.

// noticeCheck starts the mark of a notice's sender in notifications.
const noticeCheck = "✔"

// checkLike are the characters that look like noticeCheck.
const checkLike = noticeCheck + "✓✅☑🗸🗹√𐄂"

// withoutCheckMarks takes the notices' check mark and its look-alikes out of
// text for a notification that is not a notice's.
func withoutCheckMarks(s string) string {
	if !strings.ContainsAny(s, checkLike) {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(checkLike, r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// noticeKind names why a notice's sender may send notices.
func noticeKind(s xmpp.NoticeSender) string {
	switch s {
	case xmpp.NoticeFromNotifier:
		return lang.L("OA")
	case xmpp.NoticeFromServer:
		return lang.L("Server")
	}
	return lang.L("Unverified")
}

// noticeMark is noticeKind with the check mark for the ones that may send
// notices: what a notification's title starts with.
func noticeMark(s xmpp.NoticeSender) string {
	if s == xmpp.NoticeUnverified {
		return noticeKind(s)
	}
	return noticeCheck + " " + noticeKind(s)
}

// noticeAddress is how a notice's sender is named: its full bare address.
func noticeAddress(from jid.JID) string { return from.Bare().String() }

// noticeBadge is the inbox's mark of a notice's sender: a check icon and
// its kind on a coloured ground (primary for a notifier account, success
// for the server; error, without the check, for an unverified sender).
type noticeBadge struct {
	widget.BaseWidget
	sender xmpp.NoticeSender
}

func newNoticeBadge() *noticeBadge {
	b := &noticeBadge{}
	b.ExtendBaseWidget(b)
	return b
}

// set shows the mark of sender.
func (b *noticeBadge) set(sender xmpp.NoticeSender) {
	if b.sender == sender {
		return
	}
	b.sender = sender
	b.Refresh()
}

// Text is what the badge says (for tests and accessibility).
func (b *noticeBadge) Text() string { return noticeMark(b.sender) }

func (b *noticeBadge) CreateRenderer() fyne.WidgetRenderer {
	r := &noticeBadgeRenderer{b: b, bg: &canvas.Rectangle{}, check: &canvas.Image{FillMode: canvas.ImageFillContain},
		text: &canvas.Text{TextStyle: fyne.TextStyle{Bold: true}}}
	r.Refresh()
	return r
}

// noticeBadgeRenderer draws the badge: a rounded ground, a check icon
// (for the senders that may send notices) and the kind.
type noticeBadgeRenderer struct {
	b     *noticeBadge
	bg    *canvas.Rectangle
	check *canvas.Image
	text  *canvas.Text
}

// colors are the ground and the ink of the badge for sender.
func (r *noticeBadgeRenderer) colors() (ground, ink fyne.ThemeColorName) {
	switch r.b.sender {
	case xmpp.NoticeFromNotifier:
		return theme.ColorNamePrimary, theme.ColorNameForegroundOnPrimary
	case xmpp.NoticeFromServer:
		return theme.ColorNameSuccess, theme.ColorNameForegroundOnSuccess
	}
	return theme.ColorNameError, theme.ColorNameForegroundOnError
}

func (r *noticeBadgeRenderer) padding() float32 { return r.b.Theme().Size(theme.SizeNamePadding) }

// iconSize is the check icon's side: the text's height.
func (r *noticeBadgeRenderer) iconSize() float32 {
	if !r.check.Visible() {
		return 0
	}
	return r.text.MinSize().Height
}

func (r *noticeBadgeRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	r.bg.Move(fyne.NewPos(0, 0))
	t, icon := r.text.MinSize(), r.iconSize()
	gap := float32(0)
	if icon > 0 {
		gap = r.padding() / 2
	}
	x := (size.Width - icon - gap - t.Width) / 2
	r.check.Resize(fyne.NewSquareSize(icon))
	r.check.Move(fyne.NewPos(x, (size.Height-icon)/2))
	r.text.Resize(t)
	r.text.Move(fyne.NewPos(x+icon+gap, (size.Height-t.Height)/2))
}

func (r *noticeBadgeRenderer) MinSize() fyne.Size {
	pad, t, icon := r.padding(), r.text.MinSize(), r.iconSize()
	w := t.Width + 2*pad
	if icon > 0 {
		w += icon + pad/2
	}
	return fyne.NewSize(w, t.Height+pad)
}

func (r *noticeBadgeRenderer) Refresh() {
	th := r.b.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	ground, ink := r.colors()
	r.text.Text = noticeKind(r.b.sender)
	r.text.TextSize = th.Size(theme.SizeNameCaptionText)
	r.text.Color = th.Color(ink, v)
	r.bg.FillColor = th.Color(ground, v)
	r.bg.CornerRadius = th.Size(theme.SizeNameInputRadius)
	r.check.Resource = theme.NewColoredResource(theme.ConfirmIcon(), ink)
	if r.b.sender == xmpp.NoticeUnverified {
		r.check.Hide()
	} else {
		r.check.Show()
	}
	r.Layout(r.b.Size())
	r.bg.Refresh()
	r.check.Refresh()
	r.text.Refresh()
}

func (r *noticeBadgeRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.bg, r.check, r.text}
}

func (r *noticeBadgeRenderer) Destroy() {}
