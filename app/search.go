package app

import (
	"strings"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"magpie/xmpp"
)

// searchLimit is how many hits a search lists, newest first.
const searchLimit = 200

// searchResult is one hit as the results list shows it.
type searchResult struct {
	msg     chatMessage
	peer    jid.JID
	room    bool     // a group chat's message: peer is the room
	matches [][2]int // byte ranges of the matches in msg.Body
}

// searchPanel is a search box with its results: in one chat (its header's
// search button, Ctrl+F) or across all of them (the contacts window). It
// searches as the user types; each result shows who wrote, when, and the
// text with the matches in bold. Its methods run on Fyne's goroutine.
type searchPanel struct {
	query   func(text string) ([]xmpp.SearchHit, error) // blocks: run off Fyne's goroutine
	run     backgroundRunner
	convert func(xmpp.Message) chatMessage
	// allChats is set for the search across chats: results name the chat.
	allChats bool
	nameOf   func(jid.JID) string
	roomName func(jid.JID) string // a room's title, for results from group chats
	onOpen   func(searchResult)
	onClose  func()
	now      func() time.Time

	results []searchResult
	gen     int // the newest query; older answers are dropped
	text    string

	entry   *searchEntry
	status  *widget.Label
	list    *widget.List
	bar     fyne.CanvasObject // the entry and, in a chat, the close button
	content fyne.CanvasObject // the status and the results
}

func newSearchPanel(query func(string) ([]xmpp.SearchHit, error), run backgroundRunner, convert func(xmpp.Message) chatMessage, allChats bool) *searchPanel {
	p := &searchPanel{query: query, run: run, convert: convert, allChats: allChats, now: time.Now}
	p.entry = newSearchEntry(func() {
		if p.onClose != nil {
			p.onClose()
		}
	})
	p.entry.PlaceHolder = lang.L("Search messages")
	if allChats {
		p.entry.PlaceHolder = lang.L("Search messages in all chats")
	}
	p.entry.OnChanged = p.search
	p.entry.OnSubmitted = func(string) { p.openResult(0) }
	p.status = &widget.Label{Importance: widget.LowImportance, Truncation: fyne.TextTruncateEllipsis}
	p.status.Hide()
	p.list = widget.NewList(
		func() int { return len(p.results) },
		p.newRow,
		func(id widget.ListItemID, o fyne.CanvasObject) { p.bindRow(id, o) },
	)
	p.list.OnSelected = func(id widget.ListItemID) {
		p.list.UnselectAll()
		p.openResult(id)
	}
	if allChats {
		p.bar = p.entry
	} else {
		closeButton := &widget.Button{Icon: theme.CancelIcon(), Importance: widget.LowImportance, OnTapped: p.entry.onEscape}
		p.bar = container.NewBorder(nil, nil, nil, closeButton, p.entry)
	}
	// An opaque backdrop: in a chat the results lie over the messages.
	p.content = container.NewStack(canvas.NewRectangle(theme.Color(theme.ColorNameBackground)),
		container.NewBorder(p.status, nil, nil, nil, p.list))
	if !allChats {
		p.content.Hide()
	}
	return p
}

// search runs a query off Fyne's goroutine; the newest one's answer shows.
func (p *searchPanel) search(text string) {
	p.gen++
	p.text = strings.TrimSpace(text)
	if p.text == "" {
		p.show(nil, nil)
		return
	}
	gen, query := p.gen, p.query
	p.run(func() func() {
		hits, err := query(text)
		return func() {
			if gen != p.gen {
				return
			}
			results := make([]searchResult, len(hits))
			for i, h := range hits {
				results[i] = searchResult{msg: p.convert(h.Message), peer: h.Message.Peer(),
					room: h.Message.Type == stanza.GroupChatMessage, matches: h.Matches}
			}
			p.show(results, err)
		}
	})
}

func (p *searchPanel) show(results []searchResult, err error) {
	p.results = results
	switch {
	case err != nil:
		p.status.SetText(lang.L("Search failed: {{.Error}}", map[string]any{"Error": err.Error()}))
	case p.text == "":
		p.status.SetText("")
	case len(results) == 0:
		p.status.SetText(lang.L("No messages found."))
	case len(results) >= searchLimit:
		p.status.SetText(lang.L("The newest {{.Count}} messages found:", map[string]any{"Count": len(results)}))
	case len(results) == 1:
		p.status.SetText(lang.L("1 message found:"))
	default:
		p.status.SetText(lang.L("{{.Count}} messages found:", map[string]any{"Count": len(results)}))
	}
	if p.status.Text == "" {
		p.status.Hide()
	} else {
		p.status.Show()
	}
	// In a chat the messages stay in sight until there is something to find.
	if p.text == "" && !p.allChats {
		p.content.Hide()
	} else {
		p.content.Show()
	}
	p.content.Refresh() // the status line came or went: lay out again
	p.list.UnselectAll()
	p.list.Refresh()
	p.list.ScrollToTop()
}

func (p *searchPanel) openResult(i int) {
	if i < 0 || i >= len(p.results) || p.onOpen == nil {
		return
	}
	p.onOpen(p.results[i])
}

// Focus puts the cursor in the search box.
func (p *searchPanel) Focus() {
	if c := fyne.CurrentApp().Driver().CanvasForObject(p.entry); c != nil {
		c.Focus(p.entry)
	}
}

func (p *searchPanel) newRow() fyne.CanvasObject {
	title := &widget.Label{TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis}
	when := &widget.Label{Importance: widget.LowImportance, Text: "2006-01-02 15:04"}
	body := &widget.RichText{Truncation: fyne.TextTruncateEllipsis, Scroll: container.ScrollNone, Segments: []widget.RichTextSegment{
		&widget.TextSegment{Text: "Template", Style: widget.RichTextStyleInline}}}
	return container.NewVBox(container.NewBorder(nil, nil, nil, when, title), body)
}

func (p *searchPanel) bindRow(i int, o fyne.CanvasObject) {
	if i >= len(p.results) {
		return
	}
	r := p.results[i]
	box := o.(*fyne.Container)
	top := box.Objects[0].(*fyne.Container)
	title, when := top.Objects[0].(*widget.Label), top.Objects[1].(*widget.Label)
	body := box.Objects[1].(*widget.RichText)
	title.SetText(p.resultName(r))
	when.SetText(formatStamp(r.msg.Time, p.now()))
	top.Refresh() // the time's width changed
	body.Segments = highlightSegments(r.msg.Body, r.matches)
	body.Refresh()
}

// snippetLead is how many characters of text a result shows before its
// first match, so the match is in sight in a long message.
const snippetLead = 24

// snippetMax bounds the bytes a result hands to the text renderer; it cuts
// the rest with an ellipsis anyway.
const snippetMax = 600

// highlightSegments is body on one line with the matches (byte ranges) in
// bold and in the accent colour. A long body starts shortly before its
// first match.
func highlightSegments(body string, matches [][2]int) []widget.RichTextSegment {
	// Line breaks and tabs become spaces, byte for byte, so the ranges hold.
	flat := []byte(body)
	for i, c := range flat {
		if c == '\n' || c == '\r' || c == '\t' {
			flat[i] = ' '
		}
	}
	text := string(flat)
	start, prefix := 0, ""
	if len(matches) > 0 && utf8.RuneCountInString(text[:clampIndex(matches[0][0], len(text))]) > snippetLead {
		start = clampIndex(matches[0][0], len(text))
		for n := 0; n < snippetLead && start > 0; n++ {
			_, size := utf8.DecodeLastRuneInString(text[:start])
			start -= size
		}
		prefix = "…"
	}
	end := len(text)
	if end-start > snippetMax {
		end = start + snippetMax
		for end > start && !utf8.RuneStart(text[end]) {
			end--
		}
	}
	plain := func(s string) widget.RichTextSegment {
		return &widget.TextSegment{Text: s, Style: widget.RichTextStyleInline}
	}
	segs := []widget.RichTextSegment{}
	pos := start
	for _, m := range matches {
		a, b := max(clampIndex(m[0], len(text)), pos), min(clampIndex(m[1], len(text)), end)
		if a >= b {
			continue
		}
		if a > pos {
			segs = append(segs, plain(text[pos:a]))
		}
		segs = append(segs, &widget.TextSegment{Text: text[a:b], Style: widget.RichTextStyle{
			Inline: true, ColorName: theme.ColorNamePrimary, TextStyle: fyne.TextStyle{Bold: true}}})
		pos = b
	}
	if pos < end {
		segs = append(segs, plain(text[pos:end]))
	}
	if prefix != "" && len(segs) > 0 {
		segs = append([]widget.RichTextSegment{plain(prefix)}, segs...)
	}
	return segs
}

func clampIndex(i, n int) int { return min(max(i, 0), n) }

// searchEntry is the search box; Escape closes the search.
type searchEntry struct {
	widget.Entry
	onEscape func()
}

func newSearchEntry(onEscape func()) *searchEntry {
	e := &searchEntry{onEscape: onEscape}
	e.ExtendBaseWidget(e)
	return e
}

func (e *searchEntry) TypedKey(key *fyne.KeyEvent) {
	if key.Name == fyne.KeyEscape {
		e.onEscape()
		return
	}
	e.Entry.TypedKey(key)
}

// searchShortcut is Ctrl+F (Cmd+F on macOS): search in this chat.
var searchShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault}

// toggleSearch opens the chat's search, or closes it when it is open.
func (v *chatView) toggleSearch() {
	if v.searchBar.Visible() {
		v.closeSearch()
		return
	}
	v.openSearch()
}

// openSearch shows the search box under the header and focuses it.
func (v *chatView) openSearch() {
	if v.search == nil {
		return
	}
	if !v.searchBar.Visible() {
		v.searchBar.Objects = []fyne.CanvasObject{v.search.bar}
		v.searchBar.Show()
		v.center.Objects = append(v.center.Objects[:1], v.search.content)
		v.root.Refresh() // the header grew: the messages move down
	}
	v.search.Focus()
}

// closeSearch hides the search and its results and gives the keyboard
// back to the message entry.
func (v *chatView) closeSearch() {
	if !v.searchBar.Visible() {
		return
	}
	v.searchBar.Hide()
	v.center.Objects = v.center.Objects[:1]
	v.root.Refresh()
	if c := fyne.CurrentApp().Driver().CanvasForObject(v.entry); c != nil {
		c.Focus(v.entry)
	}
}

// resultName is who a result is from: the sender; across all chats the
// chat's name, and in a group chat's or for an own message the sender
// after it ("研发部 · 王五", "李四 · Me").
func (p *searchPanel) resultName(r searchResult) string {
	if !p.allChats {
		return r.msg.Sender
	}
	name := p.nameOf(r.peer)
	if r.room && p.roomName != nil {
		name = p.roomName(r.peer)
	}
	if r.msg.Outgoing || r.room {
		name = joinNonEmpty(name, r.msg.Sender, " · ")
	}
	return name
}
