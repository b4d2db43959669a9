package app

import (
	"image/color"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"
)

// messageState is how far a message has got: received, or a step in
// sending one of our own.
type messageState int

const (
	stateReceived  messageState = iota // incoming
	stateSending                       // own, not yet confirmed written to the server
	stateSent                          // own, the server has it
	stateDelivered                     // own, a receipt came back
	stateFailed                        // own, could not be sent; shows the error and Retry
)

// chatMessage is one message as the conversation view shows it.
type chatMessage struct {
	ID       string // the stanza id (a local one until the core gave one), the key for SetState
	Seq      int64  // the message's row in the local store; 0 while not stored
	Outgoing bool
	Sender   string // display name of the sender
	// SenderColor, when set, colours the sender (a nick in a room).
	SenderColor color.Color
	Time        time.Time
	Body        string
	State       messageState
	Err         string // why it failed, for stateFailed
	// Marked is set on the message a search result jumped to.
	Marked bool
	// Mention is set on a room message that names the user: its bubble is
	// tinted with the warning colour.
	Mention bool
}

// chatView is one conversation: a header, the messages, and the entry.
// Its methods must be called on Fyne's goroutine.
type chatView struct {
	onSend  func(body string)
	onRetry func(id string)
	openURL func(*url.URL) error // fyne's by default; tests watch it
	now     func() time.Time     // decides which time stamps need a date

	msgs    []chatMessage
	byID    map[string]int
	bySeq   map[int64]int
	texts   []*preparedText  // per message: the body measured once per text size
	layouts []*messageLayout // per message: where everything goes at width

	// width is the list width the row heights were measured for; zero until
	// the list is first laid out, and until then nothing is measured.
	width    float32
	textSize float32

	retryMin    fyne.Size // the Retry button's, for textSize retryMinFor
	retryMinFor float32

	// holdScroll is set while a batch of events is applied: a message
	// that the view should follow sets pendingScroll, and the view
	// scrolls once when the batch ends (releaseScroll).
	holdScroll, pendingScroll bool

	// history pages the stored conversation in; nil without a store.
	history *chatHistory
	merging bool // rows are being inserted: the list's offset is stale
	// centerPending is the Seq of a message to bring to the middle once
	// the list is laid out.
	centerPending int64
	search        *searchPanel // this conversation's search, shown on demand
	// searchBar holds search; center stacks the messages and its results.
	searchBar *fyne.Container
	center    *fyne.Container
	top       *fyne.Container // the header and the search bar

	name, status *widget.Label
	searchButton *widget.Button
	list         *widget.List
	entry        *composeEntry
	send         *widget.Button
	root         fyne.CanvasObject

	// avatar is the peer's; a tap on it or the name calls onProfile.
	avatar        *avatarView
	onProfile     func()
	profileButton *widget.Button
}

// newChatView builds the conversation with peer. onSend gets the text the
// user sends and onRetry the ID of a failed message to send again; both run
// on Fyne's goroutine and must return quickly.
func newChatView(peer jid.JID, onSend func(body string), onRetry func(id string)) *chatView {
	v := &chatView{
		onSend:  onSend,
		onRetry: onRetry,
		openURL: func(u *url.URL) error { return fyne.CurrentApp().OpenURL(u) },
		now:     time.Now,
		byID:    map[string]int{},
		bySeq:   map[int64]int{},
	}
	v.name = &widget.Label{Text: peer.Bare().String(), TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis}
	v.status = &widget.Label{Importance: widget.LowImportance, Truncation: fyne.TextTruncateEllipsis}

	v.list = widget.NewList(
		func() int { return len(v.msgs) },
		func() fyne.CanvasObject { return newMessageRow(v) },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			o.(*messageRow).bind(id)
			v.rowShown(id)
		},
	)
	v.list.HideSeparators = true // the bubbles already separate messages

	v.entry = newComposeEntry(v.submit)
	v.entry.onSearch = v.openSearch
	v.entry.SetPlaceHolder(lang.L("Write a message…"))
	v.entry.OnChanged = v.draftChanged
	v.send = widget.NewButtonWithIcon(lang.L("Send"), theme.MailSendIcon(), func() {
		v.submit()
		// The tap took the keyboard away from the entry; typing goes on there.
		if c := fyne.CurrentApp().Driver().CanvasForObject(v.entry); c != nil {
			c.Focus(v.entry)
		}
	})
	v.send.Importance = widget.HighImportance
	v.send.Disable()

	// Two labels, each with its own padding, would stand far apart: the
	// status line belongs to the name, so the gap between them goes.
	header := container.New(layout.NewCustomPaddedVBoxLayout(-2*theme.Padding()), v.name, v.status)
	v.avatar = newAvatarView(chatAvatarSize)
	v.avatar.bind(nil, peer.Bare().String(), peer.Localpart())
	showProfile := func() {
		if v.onProfile != nil {
			v.onProfile()
		}
	}
	// Like Telegram, the header (avatar and name) opens the profile; the
	// button says that it can.
	who := newTapArea(container.NewBorder(nil, nil, container.NewCenter(v.avatar), nil, header), showProfile)
	v.profileButton = &widget.Button{Icon: theme.AccountIcon(), Importance: widget.LowImportance, OnTapped: showProfile}
	v.searchButton = &widget.Button{Icon: theme.SearchIcon(), Importance: widget.LowImportance, OnTapped: v.toggleSearch}
	v.searchButton.Hide() // until there is a history to search
	v.searchBar = container.NewVBox()
	v.searchBar.Hide()
	composer := container.NewBorder(nil, nil, nil, container.NewVBox(layout.NewSpacer(), v.send), v.entry)
	v.center = container.NewStack(container.New(&listSizer{v: v}, v.list))
	v.top = container.NewVBox(container.NewBorder(nil, nil, nil,
		container.NewVBox(layout.NewSpacer(), container.NewHBox(v.searchButton, v.profileButton), layout.NewSpacer()), who),
		v.searchBar, widget.NewSeparator())
	v.root = container.NewBorder(
		v.top,
		container.NewVBox(widget.NewSeparator(), composer),
		nil, nil,
		v.center)
	return v
}

// SetHeader shows the contact's name, a word for their presence and their
// status message.
func (v *chatView) SetHeader(name, presenceWord, status string) {
	v.name.SetText(name)
	status = strings.Join(strings.Fields(status), " ") // one line, however it was typed
	v.status.SetText(joinNonEmpty(presenceWord, status, " — "))
}

// Append adds m at the bottom. The view follows it when it is our own or
// when the user was already reading the bottom; someone scrolled back in
// history is left where they are.
//
// A message already shown (the same Seq, or the same id and text) is not
// shown twice: the store's copy and the event's can both arrive. While the
// view shows an older stretch of history (after a jump), a message from
// the peer is not appended, as it would leave a gap; it is in the store
// and shows when the user scrolls down. An own message brings the view
// back to the newest messages.
func (v *chatView) Append(m chatMessage) {
	if i, dup := v.find(m); dup {
		v.adopt(i, m)
		return
	}
	if v.history != nil && v.history.hasNewer {
		if !m.Outgoing {
			v.history.missed = true
			return
		}
		v.backToLatest()
	}
	follow := m.Outgoing || v.pendingScroll || v.atBottom()
	v.msgs = append(v.msgs, m)
	v.texts = append(v.texts, nil)
	v.layouts = append(v.layouts, nil)
	v.index(len(v.msgs) - 1)
	if v.width > 0 {
		v.list.SetItemHeight(len(v.msgs)-1, v.layoutFor(len(v.msgs)-1, v.width).height)
	} else {
		v.list.Refresh()
	}
	if follow {
		if v.holdScroll {
			v.pendingScroll = true // once, at the end of the batch
		} else {
			v.scrollToBottom()
		}
	}
}

// SetState moves the message with local id to st; errText is the reason
// when st is stateFailed.
func (v *chatView) SetState(id string, st messageState, errText string) {
	i, ok := v.byID[id]
	if !ok {
		return
	}
	follow := v.atBottom()
	v.msgs[i].State, v.msgs[i].Err = st, errText
	v.layouts[i] = nil
	if v.width > 0 {
		v.list.SetItemHeight(i, v.layoutFor(i, v.width).height)
	}
	v.list.RefreshItem(i)
	if follow {
		v.scrollToBottom()
	}
}

// Has reports whether the message with id is shown.
func (v *chatView) Has(id string) bool {
	_, ok := v.byID[id]
	return ok
}

// State is the state of the message with id, if it is shown.
func (v *chatView) State(id string) (messageState, bool) {
	i, ok := v.byID[id]
	if !ok {
		return 0, false
	}
	return v.msgs[i].State, true
}

// Body is the text of the message with id, if it is shown.
func (v *chatView) Body(id string) (string, bool) {
	i, ok := v.byID[id]
	if !ok {
		return "", false
	}
	return v.msgs[i].Body, true
}

// Rekey gives the message shown as old the id the core chose for it, so
// later state changes and the stored copy find it.
func (v *chatView) Rekey(old, id string) {
	i, ok := v.byID[old]
	if !ok || old == id {
		return
	}
	delete(v.byID, old)
	v.msgs[i].ID = id
	v.byID[id] = i
}

// Object is the view, to be put in a tab.
func (v *chatView) Object() fyne.CanvasObject { return v.root }

// Entry is the message entry, for the window to focus.
func (v *chatView) Entry() fyne.Focusable { return v.entry }

// Active reports whether the user is in this chat: its entry has the
// keyboard focus in the focused window. Notifications are skipped then.
func (v *chatView) Active() bool { return v.entry.active }

// Draft is the text typed but not sent yet.
func (v *chatView) Draft() string { return v.entry.Text }

// submit sends what was typed. Trailing blanks go (a stray Shift+Enter
// should not send an empty line); leading ones stay, as they may indent
// code.
func (v *chatView) submit() {
	body := strings.TrimRightFunc(v.entry.Text, unicode.IsSpace)
	if strings.TrimSpace(body) == "" {
		return
	}
	v.entry.SetText("")
	v.onSend(body)
}

// maxEntryRows is how far the entry grows before it scrolls.
const maxEntryRows = 6

// draftChanged grows the entry with its text, as Telegram does, and enables
// Send only when there is something to send.
func (v *chatView) draftChanged(text string) {
	if strings.TrimSpace(text) == "" {
		v.send.Disable()
	} else {
		v.send.Enable()
	}
	th := v.entry.Theme()
	textSize := th.Size(theme.SizeNameText)
	avail := v.entry.Size().Width - 4*th.Size(theme.SizeNameInnerPadding)
	rows := 0
	for _, line := range strings.Split(text, "\n") {
		n := 1
		if avail > 0 {
			n += int(fyne.MeasureText(line, textSize, fyne.TextStyle{}).Width / avail)
		}
		rows += n
	}
	rows = min(max(rows, 1), maxEntryRows)
	if rows != v.entry.rows {
		v.entry.rows = rows
		v.entry.SetMinRowsVisible(rows)
	}
}

// layoutFor is where message i goes at width, measured once per width.
func (v *chatView) layoutFor(i int, width float32) *messageLayout {
	th := v.list.Theme()
	textSize := th.Size(theme.SizeNameText)
	if g := v.layouts[i]; g != nil && g.width == width && g.textSize == textSize {
		return g
	}
	p := v.texts[i]
	if p == nil || p.size != textSize {
		p = prepareText(v.msgs[i].Body, textSize, fyne.TextStyle{})
		v.texts[i] = p
	}
	if v.retryMinFor != textSize {
		v.retryMin, v.retryMinFor = newRetryButton(nil).MinSize(), textSize
	}
	g := layoutMessage(&v.msgs[i], p, width, th, v.retryMin, v.now())
	if width == v.width {
		v.layouts[i] = g
	}
	return g
}

// resized measures every row again when the width or text size changes:
// wrapped text makes rows taller or shorter. Most messages are one line
// that fits either way, and List refreshes only for heights that change.
func (v *chatView) resized(width float32) {
	textSize := v.list.Theme().Size(theme.SizeNameText)
	if width == v.width && textSize == v.textSize {
		return
	}
	v.width, v.textSize = width, textSize
	for i := range v.msgs {
		v.list.SetItemHeight(i, v.layoutFor(i, width).height)
	}
}

// releaseScroll ends a batch: the view follows the newest message if one
// that came during the batch asked it to.
func (v *chatView) releaseScroll() {
	v.holdScroll = false
	if v.pendingScroll {
		v.pendingScroll = false
		v.scrollToBottom()
	}
}

// atBottom reports whether the newest message is in sight; before the
// first layout it is, so a chat opens at its newest message.
func (v *chatView) atBottom() bool {
	if v.width == 0 {
		return true
	}
	gap := v.list.Theme().Size(theme.SizeNamePadding) // List's gap between rows
	content := -gap
	for i := range v.msgs {
		content += v.layoutFor(i, v.width).height + gap
	}
	return v.list.GetScrollOffset()+v.list.Size().Height >= content-2*gap
}

func (v *chatView) scrollToBottom() {
	if v.width > 0 && len(v.msgs) > 0 { // List.ScrollToBottom needs a list that was drawn
		v.list.ScrollToBottom()
	}
}

// listSizer tells the view the list's width before the list is laid out,
// so row heights are measured for the width they are drawn at, and keeps
// the newest message in sight while the window or the entry change size.
type listSizer struct{ v *chatView }

func (s *listSizer) MinSize(objects []fyne.CanvasObject) fyne.Size { return objects[0].MinSize() }

func (s *listSizer) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	v := s.v
	follow := v.atBottom()
	v.resized(size.Width)
	objects[0].Resize(size)
	if seq := v.centerPending; seq != 0 && v.width > 0 {
		// A jump asked for a message before the list had a size.
		v.centerPending = 0
		if i, ok := v.bySeq[seq]; ok {
			v.centerOn(i)
			return
		}
	}
	if follow {
		v.scrollToBottom()
	}
}

// composeEntry is the message entry: Enter sends, Shift+Enter starts a new
// line. Fyne's multi-line Entry does it the other way round (Shift+Enter
// submits), so Enter is taken before the Entry sees it.
type composeEntry struct {
	widget.Entry
	onEnter  func()
	onSearch func() // Ctrl+F
	active   bool   // see FocusGained
	// shift is whether Shift is held, from KeyDown/KeyUp, for drivers that
	// cannot be asked (the test driver is one).
	shift bool
	rows  int
}

func newComposeEntry(onEnter func()) *composeEntry {
	e := &composeEntry{onEnter: onEnter, rows: 1}
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	e.ExtendBaseWidget(e)
	e.SetMinRowsVisible(1)
	return e
}

// TypedKey sends on Enter (Return or the keypad's Enter) without Shift.
func (e *composeEntry) TypedKey(key *fyne.KeyEvent) {
	if (key.Name == fyne.KeyReturn || key.Name == fyne.KeyEnter) && !e.shiftHeld() {
		e.onEnter()
		return
	}
	e.Entry.TypedKey(key)
}

// TypedShortcut turns Shift+Enter into a new line for drivers that report
// it as a shortcut. Fyne 2.7's desktop driver does not (it passes the key
// to TypedKey, handled above); this keeps the behaviour if one does.
func (e *composeEntry) TypedShortcut(s fyne.Shortcut) {
	if cs, ok := s.(*desktop.CustomShortcut); ok && cs.Modifier == fyne.KeyModifierShift &&
		(cs.KeyName == fyne.KeyReturn || cs.KeyName == fyne.KeyEnter) {
		e.Entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		return
	}
	if cs, ok := s.(*desktop.CustomShortcut); ok && e.onSearch != nil && cs.ShortcutName() == searchShortcut.ShortcutName() {
		e.onSearch()
		return
	}
	e.Entry.TypedShortcut(s)
}

func (e *composeEntry) KeyDown(key *fyne.KeyEvent) {
	if key.Name == desktop.KeyShiftLeft || key.Name == desktop.KeyShiftRight {
		e.shift = true
	}
	e.Entry.KeyDown(key)
}

func (e *composeEntry) KeyUp(key *fyne.KeyEvent) {
	if key.Name == desktop.KeyShiftLeft || key.Name == desktop.KeyShiftRight {
		e.shift = false
	}
	e.Entry.KeyUp(key)
}

// FocusLost forgets Shift: its release may go to another window.
func (e *composeEntry) FocusLost() {
	e.shift = false
	e.active = false
	e.Entry.FocusLost()
}

// FocusGained records that the user is in this chat. Fyne also calls it
// (and FocusLost) when the window itself gains or loses the focus, so
// active means: this chat's entry has the keyboard in the focused window.
func (e *composeEntry) FocusGained() {
	e.active = true
	e.Entry.FocusGained()
}

// shiftHeld asks the desktop driver, which knows the modifiers of the key
// event being delivered, and falls back to the Shift seen in KeyDown.
func (e *composeEntry) shiftHeld() bool {
	if d, ok := fyne.CurrentApp().Driver().(desktop.Driver); ok {
		return d.CurrentKeyModifiers()&fyne.KeyModifierShift != 0
	}
	return e.shift
}

func newRetryButton(onTapped func()) *widget.Button {
	return widget.NewButtonWithIcon(lang.L("Retry"), theme.ViewRefreshIcon(), onTapped)
}

// stateText is the word for an own message's progress.
func stateText(m *chatMessage) string {
	switch m.State {
	case stateSending:
		return lang.L("Sending…")
	case stateSent:
		return lang.L("Sent")
	case stateDelivered:
		return lang.L("Delivered")
	case stateFailed:
		if m.Err == "" {
			return lang.L("Not sent")
		}
		return lang.L("Not sent: {{.Error}}", map[string]any{"Error": m.Err})
	}
	return ""
}

// stateMark is the sign messengers use for an own message's progress: a
// clock while it waits (offline, it waits in the outbox), one tick when the
// server has it, two when the recipient's client has it.
func stateMark(s messageState) string {
	switch s {
	case stateSending:
		return "🕓"
	case stateSent:
		return "✓"
	case stateDelivered:
		return "✓✓"
	}
	return ""
}

// formatStamp is HH:MM for today and carries the date otherwise, in the
// ISO form that reads the same in English and Chinese.
func formatStamp(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	t, now = t.Local(), now.Local()
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04")
	}
	return t.Format("2006-01-02 15:04")
}

// messageLayout is where each part of one message row goes at one width.
// The list's row height and the drawing both come from it, so the height
// set on the list is the height drawn.
type messageLayout struct {
	width, textSize float32
	height          float32

	bubblePos  fyne.Position
	bubbleSize fyne.Size
	sender     placedText
	body       []placedText
	footer     placedText
	errs       []placedText // the reason a message failed
	retryPos   fyne.Position
	retrySize  fyne.Size // zero unless the message failed
}

// placedText is one piece of text of one style at its place in the row.
type placedText struct {
	text string
	pos  fyne.Position
	size fyne.Size
	link *textRun // the link it is (part of), if any
}

// layoutMessage lays out m as a bubble: own messages to the right and
// tinted, others to the left; sender on top, the text, then the time and
// for own messages their state; a failed one also shows why and Retry.
func layoutMessage(m *chatMessage, body *preparedText, width float32, th fyne.Theme, retryMin fyne.Size, now time.Time) *messageLayout {
	pad := th.Size(theme.SizeNamePadding)
	inner := th.Size(theme.SizeNameInnerPadding)
	margin := max(inner, th.Size(theme.SizeNameScrollBar)) // keep clear of the scroll bar
	textSize := th.Size(theme.SizeNameText)
	smallSize := th.Size(theme.SizeNameCaptionText)
	bold := fyne.TextStyle{Bold: true}

	avail := width - 2*margin
	maxContent := max(max(avail*0.8, min(avail, 260))-2*inner, 4*textSize)

	g := &messageLayout{width: width, textSize: textSize}
	sender := ellipsize(m.Sender, maxContent, textSize, bold)
	senderSize := fyne.MeasureText(sender, textSize, bold)
	lineH := fyne.MeasureText("M", textSize, fyne.TextStyle{}).Height
	lines, bodyW := body.wrap(maxContent)

	foot := formatStamp(m.Time, now)
	if m.Outgoing && m.State != stateFailed {
		foot = joinNonEmpty(foot, joinNonEmpty(stateText(m), stateMark(m.State), " "), " · ")
	}
	footSize := fyne.MeasureText(foot, smallSize, fyne.TextStyle{})

	var errLines []textLine
	var errW float32
	smallH := fyne.MeasureText("M", smallSize, fyne.TextStyle{}).Height
	if m.State == stateFailed {
		errLines, errW = prepareText(stateText(m), smallSize, fyne.TextStyle{}).wrap(maxContent)
		g.retrySize = retryMin
	}

	contentW := max(senderSize.Width, bodyW, footSize.Width, errW, g.retrySize.Width)
	bubbleW := contentW + 2*inner
	x := margin
	if m.Outgoing {
		x = width - margin - bubbleW
	}
	left := x + inner
	vpad := pad * 1.5
	y := pad / 2
	g.bubblePos = fyne.NewPos(x, y)

	cy := y + vpad
	g.sender = placedText{text: sender, pos: fyne.NewPos(left, cy), size: senderSize}
	cy += senderSize.Height
	for i, line := range lines {
		for _, p := range line.pieces {
			g.body = append(g.body, placedText{text: p.text, pos: fyne.NewPos(left+p.x, cy+float32(i)*lineH),
				size: fyne.NewSize(p.width, lineH), link: body.link(p.run)})
		}
	}
	cy += float32(len(lines)) * lineH
	g.footer = placedText{text: foot, pos: fyne.NewPos(left+contentW-footSize.Width, cy), size: footSize}
	cy += footSize.Height
	if m.State == stateFailed {
		cy += pad
		for i, line := range errLines {
			for _, p := range line.pieces {
				g.errs = append(g.errs, placedText{text: p.text, pos: fyne.NewPos(left+p.x, cy+float32(i)*smallH),
					size: fyne.NewSize(p.width, smallH)})
			}
		}
		cy += float32(len(errLines))*smallH + pad
		g.retryPos = fyne.NewPos(left+contentW-g.retrySize.Width, cy)
		cy += g.retrySize.Height
	}
	cy += vpad
	g.bubbleSize = fyne.NewSize(bubbleW, cy-y)
	g.height = cy + pad/2
	return g
}

func joinNonEmpty(a, b, sep string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + sep + b
}

// ellipsize shortens s with "…" to fit width.
func ellipsize(s string, width, size float32, style fyne.TextStyle) string {
	if fyne.MeasureText(s, size, style).Width <= width {
		return s
	}
	r := []rune(s)
	lo, hi := 0, len(r) // r[:lo] fits with "…"; no prefix longer than r[:hi] does
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fyne.MeasureText(string(r[:mid])+"…", size, style).Width <= width {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return string(r[:lo]) + "…"
}

// messageRow draws one message of the list. Rows are recycled: bind points
// a row at another message.
type messageRow struct {
	widget.BaseWidget
	view  *chatView
	index int      // into view.msgs; -1 until bound
	hover *textRun // link under the pointer
}

var (
	_ fyne.Tappable          = (*messageRow)(nil)
	_ fyne.SecondaryTappable = (*messageRow)(nil)
	_ desktop.Hoverable      = (*messageRow)(nil)
	_ desktop.Cursorable     = (*messageRow)(nil)
)

func newMessageRow(v *chatView) *messageRow {
	r := &messageRow{view: v, index: -1}
	r.ExtendBaseWidget(r)
	return r
}

func (r *messageRow) bind(i int) {
	r.index, r.hover = i, nil
	r.Refresh()
}

func (r *messageRow) message() (*chatMessage, *messageLayout) {
	v := r.view
	if r.index < 0 || r.index >= len(v.msgs) || r.Size().Width <= 0 {
		return nil, nil
	}
	return &v.msgs[r.index], v.layoutFor(r.index, r.Size().Width)
}

// linkAt is the link drawn at pos, if any.
func (r *messageRow) linkAt(pos fyne.Position) *textRun {
	_, g := r.message()
	if g == nil {
		return nil
	}
	for _, p := range g.body {
		if p.link != nil && pos.X >= p.pos.X && pos.X < p.pos.X+p.size.Width && pos.Y >= p.pos.Y && pos.Y < p.pos.Y+p.size.Height {
			return p.link
		}
	}
	return nil
}

// Tapped opens the link under the pointer.
func (r *messageRow) Tapped(ev *fyne.PointEvent) {
	if link := r.linkAt(ev.Position); link != nil {
		if err := r.view.openURL(link.url); err != nil {
			fyne.LogError("open link", err)
		}
	}
}

// TappedSecondary offers to copy the message or select part of it, and to
// copy the link under the pointer. The rows draw their own text (for links
// and wrapping), which Fyne cannot select; "Select text…" shows the message
// in a selectable label instead.
func (r *messageRow) TappedSecondary(ev *fyne.PointEvent) {
	c := fyne.CurrentApp().Driver().CanvasForObject(r)
	if menu := r.contextMenu(ev.Position); menu != nil && c != nil {
		widget.ShowPopUpMenuAtPosition(menu, c, ev.AbsolutePosition)
	}
}

func (r *messageRow) contextMenu(pos fyne.Position) *fyne.Menu {
	m, _ := r.message()
	if m == nil {
		return nil
	}
	clip := fyne.CurrentApp().Clipboard()
	body := m.Body
	items := []*fyne.MenuItem{
		fyne.NewMenuItem(lang.L("Copy"), func() { clip.SetContent(body) }),
		fyne.NewMenuItem(lang.L("Select text…"), func() { showSelectable(r, body) }),
	}
	if link := r.linkAt(pos); link != nil {
		items = append(items, fyne.NewMenuItem(lang.L("Copy Link"), func() { clip.SetContent(link.text) })) // as written, not %-escaped
	}
	return fyne.NewMenu("", items...)
}

func (r *messageRow) MouseIn(ev *desktop.MouseEvent) { r.MouseMoved(ev) }

func (r *messageRow) MouseMoved(ev *desktop.MouseEvent) {
	if link := r.linkAt(ev.Position); link != r.hover {
		r.hover = link
		r.Refresh() // underline the link under the pointer
	}
}

func (r *messageRow) MouseOut() {
	if r.hover != nil {
		r.hover = nil
		r.Refresh()
	}
}

func (r *messageRow) Cursor() desktop.Cursor {
	if r.hover != nil {
		return desktop.PointerCursor
	}
	return desktop.DefaultCursor
}

func (r *messageRow) CreateRenderer() fyne.WidgetRenderer {
	rr := &messageRowRenderer{
		row:    r,
		bubble: &canvas.Rectangle{},
		sender: &canvas.Text{TextStyle: fyne.TextStyle{Bold: true}},
		footer: &canvas.Text{},
	}
	rr.retry = newRetryButton(func() {
		if m, _ := r.message(); m != nil && m.State == stateFailed {
			r.view.onRetry(m.ID)
		}
	})
	return rr
}

type messageRowRenderer struct {
	row            *messageRow
	bubble         *canvas.Rectangle
	sender, footer *canvas.Text
	body, errs     []*canvas.Text // grown as needed, reused across messages
	retry          *widget.Button
	objects        []fyne.CanvasObject
}

func (rr *messageRowRenderer) Destroy() {}

func (rr *messageRowRenderer) Objects() []fyne.CanvasObject { return rr.objects }

// MinSize is small: the list gives each row the height measured for it.
func (rr *messageRowRenderer) MinSize() fyne.Size {
	return fyne.NewSize(0, 2*rr.row.Theme().Size(theme.SizeNameText))
}

func (rr *messageRowRenderer) Layout(fyne.Size) { rr.apply() }

func (rr *messageRowRenderer) Refresh() {
	rr.apply()
	canvas.Refresh(rr.row)
}

// apply fills and places everything from the message's layout. Layout and
// Refresh both end here because what is drawn depends on the width.
func (rr *messageRowRenderer) apply() {
	m, g := rr.row.message()
	if m == nil {
		rr.objects = nil
		return
	}
	th := rr.row.Theme()
	variant := fyne.CurrentApp().Settings().ThemeVariant()
	textSize, smallSize := th.Size(theme.SizeNameText), th.Size(theme.SizeNameCaptionText)

	rr.bubble.FillColor = th.Color(theme.ColorNameInputBackground, variant)
	if m.Outgoing {
		rr.bubble.FillColor = tint(th.Color(theme.ColorNamePrimary, variant))
	} else if m.Mention {
		rr.bubble.FillColor = tint(th.Color(theme.ColorNameWarning, variant))
	}
	// The message a search jumped to is outlined, so the eye finds it.
	rr.bubble.StrokeWidth, rr.bubble.StrokeColor = 0, nil
	if m.Marked {
		rr.bubble.StrokeWidth, rr.bubble.StrokeColor = 2, th.Color(theme.ColorNamePrimary, variant)
	}
	rr.bubble.CornerRadius = 2 * th.Size(theme.SizeNameInputRadius)
	place(rr.bubble, g.bubblePos, g.bubbleSize)
	rr.objects = append(rr.objects[:0], rr.bubble, rr.sender)

	senderColor := th.Color(theme.ColorNamePrimary, variant)
	if m.SenderColor != nil {
		senderColor = m.SenderColor
	}
	setText(rr.sender, g.sender, textSize, senderColor)
	rr.body = growTexts(rr.body, len(g.body))
	for i, p := range g.body {
		t := rr.body[i]
		t.TextStyle = fyne.TextStyle{Underline: p.link != nil && p.link == rr.row.hover}
		col := th.Color(theme.ColorNameForeground, variant)
		if p.link != nil {
			col = th.Color(theme.ColorNameHyperlink, variant)
		}
		setText(t, p, textSize, col)
		rr.objects = append(rr.objects, t)
	}
	setText(rr.footer, g.footer, smallSize, th.Color(theme.ColorNamePlaceHolder, variant))
	rr.objects = append(rr.objects, rr.footer)

	rr.errs = growTexts(rr.errs, len(g.errs))
	for i, p := range g.errs {
		setText(rr.errs[i], p, smallSize, th.Color(theme.ColorNameError, variant))
		rr.objects = append(rr.objects, rr.errs[i])
	}
	if !g.retrySize.IsZero() {
		place(rr.retry, g.retryPos, g.retrySize)
		rr.objects = append(rr.objects, rr.retry)
	}
}

// tint is c faint enough to lay text on, for the own messages' bubbles.
func tint(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 0x40}
}

func growTexts(texts []*canvas.Text, n int) []*canvas.Text {
	for len(texts) < n {
		texts = append(texts, &canvas.Text{})
	}
	return texts
}

func setText(t *canvas.Text, p placedText, size float32, c color.Color) {
	t.Text, t.TextSize, t.Color = p.text, size, c
	place(t, p.pos, p.size)
	t.Refresh()
}

func place(o fyne.CanvasObject, pos fyne.Position, size fyne.Size) {
	o.Move(pos)
	o.Resize(size)
}

// textRun is a stretch of message text: plain, or a link to url.
type textRun struct {
	text string
	url  *url.URL
}

// splitLinks cuts plain text into text and http(s) URL runs. Chat text is
// never parsed as markup: what the sender typed is what shows.
//
// A URL ends at white space, at CJK text (Chinese writers put no space
// before or after a link) and at <>"; trailing sentence punctuation, and a
// closing bracket without its opening one, stay outside it, so
// "(see https://a.example/x)." links https://a.example/x.
func splitLinks(s string) []textRun {
	var runs []textRun
	plainStart := 0
	for i := 0; i < len(s); {
		n := schemeLen(s, i)
		if n == 0 {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		end := i + n
		for end < len(s) {
			r, size := utf8.DecodeRuneInString(s[end:])
			if unicode.IsSpace(r) || unicode.IsControl(r) || isWide(r) || strings.ContainsRune(`<>"`, r) {
				break
			}
			end += size
		}
		end = i + trimURL(s[i:end])
		u, err := url.Parse(s[i:end])
		if end == i+n || err != nil || u.Host == "" {
			i += n
			continue
		}
		if plainStart < i {
			runs = append(runs, textRun{text: s[plainStart:i]})
		}
		runs = append(runs, textRun{text: s[i:end], url: u})
		i, plainStart = end, end
	}
	if plainStart < len(s) {
		runs = append(runs, textRun{text: s[plainStart:]})
	}
	return runs
}

// schemeLen is the length of "http://" or "https://" at s[i:], if a link
// may start there: not inside a word such as "xhttp://".
func schemeLen(s string, i int) int {
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:i])
		if unicode.IsLetter(r) && !isWide(r) || unicode.IsDigit(r) {
			return 0
		}
	}
	for _, scheme := range []string{"https://", "http://"} {
		if len(s)-i >= len(scheme) && strings.EqualFold(s[i:i+len(scheme)], scheme) {
			return len(scheme)
		}
	}
	return 0
}

// trimURL is the length of u without the punctuation that ends the
// sentence around it.
func trimURL(u string) int {
	for len(u) > 0 {
		last := u[len(u)-1]
		switch {
		case strings.IndexByte(".,;:!?'*", last) >= 0:
		case last == ')' && strings.Count(u, "(") < strings.Count(u, ")"):
		case last == ']' && strings.Count(u, "[") < strings.Count(u, "]"):
		case last == '}' && strings.Count(u, "{") < strings.Count(u, "}"):
		default:
			return len(u)
		}
		u = u[:len(u)-1]
	}
	return 0
}

// isWide reports CJK characters, full-width forms and emoji: text that is
// broken between any two characters and never part of a URL.
func isWide(r rune) bool {
	switch {
	case r >= 0x1100 && r <= 0x115F, // Hangul Jamo
		r >= 0x2E80 && r <= 0xA4CF,                             // CJK radicals … Yi, including kana and ideographs
		r >= 0xAC00 && r <= 0xD7A3,                             // Hangul syllables
		r >= 0xF900 && r <= 0xFAFF,                             // CJK compatibility ideographs
		r >= 0xFE30 && r <= 0xFE4F,                             // CJK compatibility forms
		r >= 0xFF00 && r <= 0xFF60, r >= 0xFFE0 && r <= 0xFFE6, // full-width forms
		r >= 0x1F000 && r <= 0x1FAFF, // emoji and pictographs
		r >= 0x2600 && r <= 0x27BF,   // miscellaneous symbols and dingbats
		r >= 0x20000 && r <= 0x3FFFD: // CJK extensions
		return true
	}
	return false
}

// A line may not start with closing punctuation nor end with opening
// punctuation (the kinsoku rule of CJK typesetting, and ASCII's too).
const (
	noBreakBefore = "、。，．：；！？）」』】〕〉》〗〙〛”’…‥・々ーゝゞヽヾ〜.,;:!?)]}%"
	noBreakAfter  = "（「『【〔〈《〖〘〚“‘([{"
)

// canBreak reports whether a line may be broken between prev and next,
// two characters with no space between them.
func canBreak(prev, next rune) bool {
	if strings.ContainsRune(noBreakBefore, next) || strings.ContainsRune(noBreakAfter, prev) {
		return false
	}
	return isWide(prev) || isWide(next)
}

// isBreakSpace reports a space a line may break at; no-break spaces are not.
func isBreakSpace(r rune) bool {
	return r == '\u200B' || unicode.IsSpace(r) && r != '\u00A0' && r != '\u202F' && r != '\u2007'
}

// clusterLen is the length in bytes of the user-perceived character that
// starts s, near enough for line breaking: combining marks, emoji variation
// selectors, skin tones and ZWJ sequences, and flag pairs stay whole.
func clusterLen(s string) int {
	first, n := utf8.DecodeRuneInString(s)
	prev := first
	regional := isRegional(first)
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		switch {
		case prev == '\u200D', r == '\u200D',
			unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc),
			r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF, // variation selectors
			r >= 0x1F3FB && r <= 0x1F3FF, // skin tones
			r >= 0xE0020 && r <= 0xE007F: // tags, as in the flags of Scotland or Wales
		case regional && isRegional(r) && prev == first:
			// the second half of a flag
		default:
			return n
		}
		prev = r
		n += size
	}
	return n
}

func isRegional(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

// preparedText is a message body cut into words and measured once per text
// size; wrapping it at any width is then arithmetic, so a window being
// resized does not measure text again.
type preparedText struct {
	runs  []textRun
	lines [][]word // one per line the sender typed
	size  float32
	style fyne.TextStyle
}

// word is what a line is not broken inside of unless it is wider than the
// whole line: "hello ", "你", "(https://a.example)".
type word struct {
	frags []textFrag // without the trailing spaces
	width float32
	space textFrag // trailing spaces: kept inside a line, dropped at its end
}

// textFrag is text of one run; run indexes preparedText.runs.
type textFrag struct {
	run   int
	text  string
	width float32
}

func prepareText(body string, size float32, style fyne.TextStyle) *preparedText {
	p := &preparedText{runs: splitLinks(cleanText(body)), size: size, style: style}
	if len(p.runs) == 0 {
		return p // no lines at all, not one empty line
	}
	var line []word
	var cur *word
	var prev rune
	finish := func() {
		if cur != nil {
			line = append(line, *cur)
			cur = nil
		}
	}
	for ri, run := range p.runs {
		for s := run.text; s != ""; {
			n := clusterLen(s)
			cluster := s[:n]
			s = s[n:]
			r, _ := utf8.DecodeRuneInString(cluster)
			switch {
			case r == '\n':
				finish()
				p.lines = append(p.lines, line)
				line, prev = nil, 0
				continue
			case cur != nil && isBreakSpace(r):
				cur.space = appendFrag(cur.space, ri, cluster)
			case cur != nil && cur.space.text == "" && !canBreak(prev, r):
				cur.frags = appendFragList(cur.frags, ri, cluster)
			default:
				finish()
				cur = &word{}
				if isBreakSpace(r) { // spaces at the start of a line indent it
					cur.space = textFrag{run: ri, text: cluster}
				} else {
					cur.frags = []textFrag{{run: ri, text: cluster}}
				}
			}
			prev, _ = utf8.DecodeLastRuneInString(cluster)
		}
	}
	finish()
	p.lines = append(p.lines, line)
	for _, line := range p.lines {
		for i := range line {
			w := &line[i]
			for j := range w.frags {
				w.frags[j].width = p.measure(w.frags[j].text)
				w.width += w.frags[j].width
			}
			w.space.width = p.measure(w.space.text)
		}
	}
	return p
}

func appendFrag(f textFrag, run int, text string) textFrag {
	if f.text == "" {
		return textFrag{run: run, text: text}
	}
	f.text += text // spaces never span runs: URLs hold none
	return f
}

func appendFragList(frags []textFrag, run int, text string) []textFrag {
	if last := len(frags) - 1; last >= 0 && frags[last].run == run {
		frags[last].text += text
		return frags
	}
	return append(frags, textFrag{run: run, text: text})
}

// cleanText drops what text rendering cannot show: carriage returns and
// control characters; tabs become spaces and trailing blank lines go.
func cleanText(s string) string {
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r == '\n':
			return r
		case r == '\u2028', r == '\u2029':
			return '\n'
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
}

// link is run i if it is a link.
func (p *preparedText) link(i int) *textRun {
	if p.runs[i].url == nil {
		return nil
	}
	return &p.runs[i]
}

func (p *preparedText) measure(s string) float32 {
	if s == "" {
		return 0
	}
	return fyne.MeasureText(s, p.size, p.style).Width
}

// textLine is one line on screen; pieces start at x from its left edge.
type textLine struct {
	pieces []textPiece
	width  float32
}

type textPiece struct {
	run      int
	text     string
	x, width float32
}

func (l *textLine) add(f textFrag) {
	if n := len(l.pieces) - 1; n >= 0 && l.pieces[n].run == f.run {
		l.pieces[n].text += f.text
		l.pieces[n].width += f.width
	} else if f.text != "" {
		l.pieces = append(l.pieces, textPiece{run: f.run, text: f.text, x: l.width, width: f.width})
	}
	l.width += f.width
}

// wrap breaks the text into lines no wider than maxWidth, greedily, like
// every chat client, and returns them with the widest line's width.
func (p *preparedText) wrap(maxWidth float32) (lines []textLine, widest float32) {
	const slack = 0.01 // sums of rounded widths must not break an exact fit
	emit := func(l textLine) {
		lines = append(lines, l)
		widest = max(widest, l.width)
	}
	for _, words := range p.lines {
		var line textLine
		var space textFrag // the previous word's trailing space, if the line goes on
		for _, w := range words {
			if line.width > 0 {
				if line.width+space.width+w.width <= maxWidth+slack {
					line.add(space)
				} else {
					emit(line)
					line = textLine{}
				}
			}
			if line.width == 0 && w.width > maxWidth+slack {
				line = p.breakWord(w, maxWidth+slack, emit)
			} else {
				for _, f := range w.frags {
					line.add(f)
				}
			}
			space = w.space
			if len(w.frags) == 0 { // leading spaces: indentation
				line.add(space)
				space = textFrag{}
			}
		}
		emit(line)
	}
	return lines, widest
}

// breakWord spreads a word wider than a line (a long URL, say) over lines
// by character, emitting the full ones and returning the last to go on.
func (p *preparedText) breakWord(w word, maxWidth float32, emit func(textLine)) textLine {
	var line textLine
	for _, f := range w.frags {
		for s := f.text; s != ""; {
			n := clusterLen(s)
			c := textFrag{run: f.run, text: s[:n], width: p.measure(s[:n])}
			s = s[n:]
			if line.width > 0 && line.width+c.width > maxWidth {
				emit(line)
				line = textLine{}
			}
			line.add(c)
		}
	}
	return line
}

// showSelectable shows a message's text where any part of it can be
// selected and copied (Ctrl+C), in a dialog over the window of o.
func showSelectable(o fyne.CanvasObject, body string) {
	c := fyne.CurrentApp().Driver().CanvasForObject(o)
	for _, w := range fyne.CurrentApp().Driver().AllWindows() {
		if w.Canvas() != c {
			continue
		}
		text := &widget.Label{Text: body, Wrapping: fyne.TextWrapWord, Selectable: true}
		scroll := container.NewVScroll(text)
		scroll.SetMinSize(fyne.NewSize(420, 160))
		d := dialog.NewCustom(lang.L("Message"), lang.L("Close"), scroll, w)
		d.Show()
		return
	}
}
