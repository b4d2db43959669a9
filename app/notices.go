package app

import (
	"image/color"
	"net/url"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"magpie/xmpp"
)

const (
	// noticePage is how many notices the inbox window reads from the store.
	noticePage = 500
	// awayQuiet is how long the sign-in burst of delayed notices must have
	// been quiet before its summary goes out, and awayLongest the longest
	// a summary waits for a burst that keeps coming.
	awayQuiet   = 2 * time.Second
	awayLongest = 10 * time.Second
)

// noticeSource is the notices inbox in the store; *xmpp.Client is one. Its
// methods block on SQLite, so they are called off Fyne's goroutine.
type noticeSource interface {
	Notices(limit int, unreadOnly bool) ([]xmpp.Notice, error)
	UnreadNotices() (int, error)
	MarkNoticeRead(seq int64) error
	MarkNoticesRead(upTo int64) error
}

var _ noticeSource = (*xmpp.Client)(nil)

// noticeInbox is the signed-in account's notices: the unread count shown on
// the contacts window's Notices button and in the tray, the inbox window
// while it is open, and the desktop notifications for new notices. Its
// methods run on Fyne's goroutine.
type noticeInbox struct {
	c   *controller
	src noticeSource
	// unread is the store's count of unread notices, as last read.
	unread int
	// counting is set while the count is read; recount asks for another
	// read after it (something changed meanwhile).
	counting, recount bool
	button            *widget.Button
	view              *noticesView // the inbox window, while open
	closed            bool         // signed out

	// Delayed notices (from offline storage at sign-in) are not announced
	// one by one: away counts those since the last summary, awayOne is the
	// first of them, and the summary goes out when the burst has been
	// quiet for awayQuiet (or awayLongest after it began).
	away       int
	awayOne    xmpp.Notice
	awayStart  time.Time
	awayCancel func() bool
	// after runs f on Fyne's goroutine after d and returns a function that
	// cancels it; tests replace it to fire the timers themselves.
	after func(d time.Duration, f func()) (cancel func() bool)
	// openURL opens a link in the default browser; tests replace it.
	openURL func(*url.URL) error
}

func newNoticeInbox(c *controller, src noticeSource) *noticeInbox {
	n := &noticeInbox{c: c, src: src, after: afterOnUI,
		openURL: func(u *url.URL) error { return c.app.OpenURL(u) }}
	n.button = &widget.Button{Text: lang.L("Notices"), Icon: theme.MailComposeIcon(), Importance: widget.LowImportance, OnTapped: n.show}
	return n
}

// afterOnUI runs f on Fyne's goroutine after d.
func afterOnUI(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, func() { fyne.Do(f) }).Stop
}

// noticesButton is the contacts window's way to the inbox, with the unread
// count; none without an inbox (a window made for a test).
func (n *noticeInbox) noticesButton() fyne.CanvasObject {
	if n == nil {
		b := widget.NewButton("", nil)
		b.Hide()
		return b
	}
	return n.button
}

// unreadCount is the unread notices, for the tray (0 without an inbox).
func (n *noticeInbox) unreadCount() int {
	if n == nil {
		return 0
	}
	return n.unread
}

// refreshCount reads the unread count from the store, one read at a time.
func (n *noticeInbox) refreshCount() {
	if n.counting {
		n.recount = true
		return
	}
	n.counting = true
	src := n.src
	n.c.roomRunner()(func() func() {
		count, err := src.UnreadNotices()
		return func() {
			n.counting = false
			if n.closed {
				return
			}
			if err != nil {
				fyne.LogError("count unread notices", err)
			} else {
				n.setUnread(count)
			}
			if n.recount {
				n.recount = false
				n.refreshCount()
			}
		}
	})
}

// setUnread shows the unread count on the button, in the inbox window and
// in the tray.
func (n *noticeInbox) setUnread(count int) {
	n.unread = max(count, 0)
	n.button.Importance = widget.LowImportance
	n.button.Text = lang.L("Notices")
	if n.unread > 0 {
		n.button.Importance = widget.HighImportance
		n.button.Text = lang.L("Notices ({{.Count}})", map[string]any{"Count": n.unread})
	}
	n.button.Refresh()
	if n.view != nil {
		n.view.showCount()
	}
	n.c.refreshUnread()
}

// received takes a new notice from the core: into the open inbox, into the
// unread count, and to the desktop.
func (n *noticeInbox) received(nt xmpp.Notice) {
	if n == nil { // a controller made for a test, without an inbox
		return
	}
	if n.view != nil {
		n.view.add(nt)
	}
	if nt.Read {
		return
	}
	n.setUnread(n.unread + 1) // at once; the store's count follows
	n.refreshCount()
	if nt.Delayed {
		n.delayed(nt)
		return
	}
	n.notify(nt)
}

// notify announces one notice on the desktop: the mark of its sender and
// its subject ("✔ OA · 审批提醒"), then the sender's full address and the
// first line of its text (see noticemark.go).
func (n *noticeInbox) notify(nt xmpp.Notice) {
	if !n.c.notificationsWanted() {
		return
	}
	n.c.sendNotification(noticeNotification(nt))
}

// noticeNotification is the desktop notification of one notice.
func noticeNotification(nt xmpp.Notice) *fyne.Notification {
	subject := strings.Join(strings.Fields(nt.Subject), " ")
	if subject == "" {
		subject = lang.L("Notice")
	}
	text := noticeAddress(nt.From)
	if line := firstLine(nt.Body); line != "" {
		text = lang.L("{{.Address}}: {{.Text}}", map[string]any{"Address": text, "Text": line})
	}
	return fyne.NewNotification(noticeMark(nt.Sender)+" · "+subject, notificationText(text))
}

// delayed counts a notice delivered late into the summary, which goes out
// once the burst is over.
func (n *noticeInbox) delayed(nt xmpp.Notice) {
	now := time.Now()
	if n.away == 0 {
		n.awayOne, n.awayStart = nt, now
	}
	n.away++
	if n.awayCancel != nil {
		n.awayCancel()
	}
	wait := min(awayQuiet, max(n.awayStart.Add(awayLongest).Sub(now), 0))
	n.awayCancel = n.after(wait, n.summarise)
}

// summarise announces the delayed notices: one of them as itself, several
// as one summary ("12 notices while you were away"). Do not disturb (at
// this moment) silences it; the notices stay unread in the inbox.
func (n *noticeInbox) summarise() {
	count, one := n.away, n.awayOne
	n.away, n.awayOne, n.awayCancel = 0, xmpp.Notice{}, nil
	if n.closed || count == 0 {
		return
	}
	if count == 1 {
		n.notify(one)
		return
	}
	if !n.c.notificationsWanted() {
		return
	}
	n.c.sendNotification(fyne.NewNotification(noticeCheck+" "+lang.L("Notices"),
		lang.XN("notices.away", "{{.Count}} notices while you were away", count, map[string]any{"Count": count})))
}

// show opens the inbox window, or brings it forward.
func (n *noticeInbox) show() {
	if n.closed {
		return
	}
	if n.view != nil {
		n.view.win.Show()
		n.view.win.RequestFocus()
		return
	}
	n.view = newNoticesView(n, n.c.app.NewWindow(lang.L("Notices")))
	n.view.win.SetOnClosed(func() { n.view = nil })
	n.view.win.Show()
	n.view.load()
}

// markRead marks one notice read in the store, then counts again.
func (n *noticeInbox) markRead(seq int64) {
	src := n.src
	n.markThenCount("mark notice read", func() error { return src.MarkNoticeRead(seq) })
}

// markAllRead marks the notices up to upTo read in the store (not one that
// arrived since the user looked), then counts again.
func (n *noticeInbox) markAllRead(upTo int64) {
	src := n.src
	n.markThenCount("mark notices read", func() error { return src.MarkNoticesRead(upTo) })
}

// markThenCount runs mark in the background, then, back on the UI, logs
// its error as what and counts the unread notices again.
func (n *noticeInbox) markThenCount(what string, mark func() error) {
	n.c.background()(func() func() {
		err := mark()
		return func() {
			if err != nil {
				fyne.LogError(what, err)
			}
			if !n.closed {
				n.refreshCount()
			}
		}
	})
}

// close ends the inbox at sign-out: the window, and a pending summary.
func (n *noticeInbox) close() {
	if n == nil {
		return
	}
	n.closed = true
	n.c.tray.setNotices(0)
	if n.awayCancel != nil {
		n.awayCancel()
		n.awayCancel = nil
	}
	if n.view != nil {
		n.view.win.Close()
		n.view = nil
	}
}

// refreshUnread shows the unread chats and notices together in the tray.
func (c *controller) refreshUnread() {
	if c.inBatch > 0 {
		c.unreadDirty = true // once, at the end of the batch
		return
	}
	if c.chats != nil {
		c.chats.saveUnread()
	}
	notices := c.notices.unreadCount()
	total := notices
	if c.chats != nil {
		total += c.chats.unreadTotal()
	}
	c.tray.setUnread(total)
	c.tray.setNotices(notices)
}

// showNoticesInbox opens the notices inbox (from the tray); signed out, the
// login window.
func (c *controller) showNoticesInbox() {
	if c.notices == nil {
		c.showMain()
		return
	}
	c.notices.show()
}

// showNotices opens the notices inbox (menu and button).
func (m *mainWindow) showNotices() {
	if m.c.notices != nil {
		m.c.notices.show()
	}
}

// noticesView is the inbox window: the notices newest first on the left
// (subject, sender, time, the start of the text; unread ones bold with a
// dot), the selected one in full on the right.
type noticesView struct {
	inbox *noticeInbox
	win   fyne.Window
	items []xmpp.Notice // newest first
	// selected is the seq of the notice shown in the reader (0: none).
	selected int64
	loaded   bool

	list    *widget.List
	empty   *widget.Label
	count   *widget.Label
	markAll *widget.Button

	subject *widget.Label
	badge   *noticeBadge
	meta    *widget.Label
	body    *linkText
	copy    *widget.Button
	hint    *widget.Label
	reader  *fyne.Container
}

func newNoticesView(inbox *noticeInbox, w fyne.Window) *noticesView {
	v := &noticesView{inbox: inbox, win: w}
	v.list = widget.NewList(func() int { return len(v.items) }, v.newRow, v.updateRow)
	v.list.OnSelected = v.open
	v.empty = &widget.Label{Text: lang.L("Loading…"), Alignment: fyne.TextAlignCenter, Wrapping: fyne.TextWrapWord}
	v.count = &widget.Label{}
	v.markAll = &widget.Button{Text: lang.L("Mark all read"), Icon: theme.ConfirmIcon(), OnTapped: v.markAllRead}
	v.subject = &widget.Label{TextStyle: fyne.TextStyle{Bold: true}, Wrapping: fyne.TextWrapWord, SizeName: theme.SizeNameSubHeadingText, Selectable: true}
	v.badge = newNoticeBadge()
	v.meta = &widget.Label{Importance: widget.LowImportance, Wrapping: fyne.TextWrapWord}
	v.body = newLinkText(func(u *url.URL) error { return inbox.openURL(u) })
	v.copy = &widget.Button{Text: lang.L("Copy text"), Icon: theme.ContentCopyIcon(), Importance: widget.LowImportance, OnTapped: v.copyText}
	v.hint = &widget.Label{Text: lang.L("Select a notice to read it."), Alignment: fyne.TextAlignCenter, Importance: widget.LowImportance}
	pad := theme.InnerPadding() // as the labels above it are
	page := container.NewVBox(v.subject, container.NewBorder(nil, nil, container.NewCenter(v.badge), v.copy, v.meta), widget.NewSeparator(),
		container.New(layout.NewCustomPaddedLayout(pad/2, pad, pad, pad), v.body))
	v.reader = container.NewStack(container.NewVScroll(container.NewPadded(page)), container.NewCenter(v.hint))
	v.showReader()

	left := container.NewStack(v.list, container.NewCenter(v.empty))
	split := container.NewHSplit(left, v.reader)
	split.Offset = 0.42
	top := container.NewBorder(nil, nil, nil, v.markAll, v.count)
	w.SetContent(container.NewBorder(container.NewPadded(top), nil, nil, nil, split))
	w.Resize(fyne.NewSize(820, 560))
	v.showCount()
	return v
}

// load reads the newest notices from the store off Fyne's goroutine;
// notices that arrive meanwhile are merged in, not lost.
func (v *noticesView) load() {
	src := v.inbox.src
	v.inbox.c.background()(func() func() {
		items, err := src.Notices(noticePage, false)
		return func() {
			if v.inbox.view != v {
				return // closed meanwhile
			}
			v.loaded = true
			if err != nil {
				v.empty.SetText(lang.L("The notices could not be read: {{.Error}}", map[string]any{"Error": err.Error()}))
				v.empty.Show()
				return
			}
			for _, nt := range items {
				v.merge(nt)
			}
			v.refresh()
		}
	})
}

// add shows a notice that just arrived.
func (v *noticesView) add(nt xmpp.Notice) {
	v.merge(nt)
	v.refresh()
}

// merge puts nt in its place, newest first, unless it is there already.
func (v *noticesView) merge(nt xmpp.Notice) {
	if nt.Seq != 0 && slices.ContainsFunc(v.items, func(o xmpp.Notice) bool { return o.Seq == nt.Seq }) {
		return
	}
	i, _ := slices.BinarySearchFunc(v.items, nt, func(a, b xmpp.Notice) int {
		// newest first: a goes before b when it is newer
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		switch {
		case a.Seq > b.Seq:
			return -1
		case a.Seq < b.Seq:
			return 1
		}
		return 0
	})
	v.items = slices.Insert(v.items, i, nt)
}

// refresh redraws the list and keeps the selection on the same notice.
func (v *noticesView) refresh() {
	switch {
	case len(v.items) > 0:
		v.empty.Hide()
	case v.loaded:
		v.empty.SetText(lang.L("No notices yet. Messages from the server and from notifier accounts (an OA system, say) arrive here."))
		v.empty.Show()
	}
	v.list.Refresh()
	if i := v.indexOf(v.selected); i >= 0 {
		v.list.OnSelected = nil // only the highlight moves
		v.list.Select(i)
		v.list.OnSelected = v.open
	}
	v.showCount()
}

func (v *noticesView) indexOf(seq int64) int {
	if seq == 0 {
		return -1
	}
	return slices.IndexFunc(v.items, func(nt xmpp.Notice) bool { return nt.Seq == seq })
}

func (v *noticesView) showCount() {
	unread := v.inbox.unread
	if unread > 0 {
		v.count.SetText(lang.L("Unread: {{.Count}}", map[string]any{"Count": unread}))
		v.markAll.Enable()
	} else {
		v.count.SetText(lang.L("All read"))
		v.markAll.Disable()
	}
}

// open shows notice i in the reader and marks it read.
func (v *noticesView) open(i widget.ListItemID) {
	if i < 0 || i >= len(v.items) {
		return
	}
	nt := &v.items[i]
	v.selected = nt.Seq
	v.showReader()
	if nt.Read {
		return
	}
	nt.Read = true
	v.list.RefreshItem(i)
	if nt.Seq != 0 {
		v.inbox.setUnread(v.inbox.unread - 1)
		v.inbox.markRead(nt.Seq)
	}
}

// shown is the notice in the reader, if any.
func (v *noticesView) shown() (xmpp.Notice, bool) {
	if i := v.indexOf(v.selected); i >= 0 {
		return v.items[i], true
	}
	return xmpp.Notice{}, false
}

// showReader fills the reading pane: the subject, who sent it and when, and
// the whole text, wrapped, with its links clickable.
func (v *noticesView) showReader() {
	nt, ok := v.shown()
	if !ok {
		v.reader.Objects[0].Hide()
		v.hint.Show()
		return
	}
	v.hint.Hide()
	v.reader.Objects[0].Show()
	subject := nt.Subject
	if subject == "" {
		subject = lang.L("Notice")
	}
	v.subject.SetText(subject)
	v.badge.set(nt.Sender)
	v.meta.SetText(noticeAddress(nt.From) + " · " + nt.Time.Local().Format("2006-01-02 15:04"))
	v.body.SetText(nt.Body)
	if scroll, ok := v.reader.Objects[0].(*container.Scroll); ok {
		scroll.Refresh() // the text's height changed
		scroll.ScrollToTop()
	}
}

func (v *noticesView) copyText() {
	if nt, ok := v.shown(); ok {
		fyne.CurrentApp().Clipboard().SetContent(nt.Body)
	}
}

// markAllRead marks every notice shown read (not one that arrives while
// the store is written).
func (v *noticesView) markAllRead() {
	var upTo int64
	for i := range v.items {
		upTo = max(upTo, v.items[i].Seq)
		v.items[i].Read = true
	}
	v.list.Refresh()
	v.inbox.setUnread(0)
	if upTo > 0 {
		v.inbox.markAllRead(upTo)
	}
}

// noticeRow is one notice in the list: a dot while unread, the title
// (bold while unread) and time, the sender's mark and address, the start
// of the text.
type noticeRow struct {
	widget.BaseWidget
	dot                 *canvas.Circle
	subject, when, from *widget.Label
	badge               *noticeBadge
	preview             *widget.Label
	content             fyne.CanvasObject
}

func (r *noticeRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.content) }

func (v *noticesView) newRow() fyne.CanvasObject {
	r := &noticeRow{
		dot:     &canvas.Circle{},
		subject: &widget.Label{Truncation: fyne.TextTruncateEllipsis},
		when:    &widget.Label{Importance: widget.LowImportance, SizeName: theme.SizeNameCaptionText},
		from:    &widget.Label{Truncation: fyne.TextTruncateEllipsis, SizeName: theme.SizeNameCaptionText},
		badge:   newNoticeBadge(),
		preview: &widget.Label{Truncation: fyne.TextTruncateEllipsis},
	}
	dot := container.NewCenter(container.NewGridWrap(fyne.NewSquareSize(8), r.dot))
	// Labels pad themselves; the lines of one notice sit closer.
	lines := container.New(layout.NewCustomPaddedVBoxLayout(-2*theme.Padding()),
		container.NewBorder(nil, nil, nil, r.when, r.subject),
		container.NewBorder(nil, nil, container.NewCenter(r.badge), nil, r.from), r.preview)
	// The dot sits beside the subject line.
	dotColumn := container.NewVBox(container.NewGridWrap(fyne.NewSize(8, r.subject.MinSize().Height), dot))
	r.content = container.NewBorder(nil, nil, dotColumn, nil, lines)
	r.ExtendBaseWidget(r)
	return r
}

func (v *noticesView) updateRow(i widget.ListItemID, o fyne.CanvasObject) {
	r, ok := o.(*noticeRow)
	if !ok || i >= len(v.items) {
		return
	}
	nt := v.items[i]
	title, preview := noticeTitle(nt)
	r.subject.Text = title
	r.subject.TextStyle = fyne.TextStyle{Bold: !nt.Read}
	r.subject.Refresh()
	r.when.SetText(formatStamp(nt.Time, time.Now()))
	r.badge.set(nt.Sender)
	r.from.SetText(noticeAddress(nt.From))
	r.preview.SetText(preview)
	r.dot.FillColor = color.Transparent
	if !nt.Read {
		r.dot.FillColor = theme.Color(theme.ColorNamePrimary)
	}
	r.dot.Refresh()
}

// noticeTitle is what the list shows of a notice: its subject and the start
// of its text on one line, or without a subject its first line and the rest.
func noticeTitle(nt xmpp.Notice) (title, preview string) {
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if nt.Subject != "" {
		return flat(nt.Subject), flat(nt.Body)
	}
	first := firstLine(nt.Body)
	rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(nt.Body), first))
	return first, flat(rest)
}

// firstLine is the first line of s with text in it.
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.Join(strings.Fields(line), " "); line != "" {
			return line
		}
	}
	return ""
}
