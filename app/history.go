package app

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/store"
)

// historyPage is how many messages a chat reads from the store at a time:
// when it opens, and each time the user scrolls to the top.
const historyPage = 50

// aroundContext is how many messages a jump to a search hit shows on each
// side of it.
const aroundContext = 25

// historySource reads the local message history; *xmpp.Client is one. Its
// methods block on SQLite (up to tens of milliseconds), so they are called
// off Fyne's goroutine.
type historySource interface {
	History(peer jid.JID, before store.Cursor, limit int) ([]xmpp.Message, error)
	HistoryAfter(peer jid.JID, after store.Cursor, limit int) ([]xmpp.Message, error)
	HistoryAround(seq int64, n int) ([]xmpp.Message, error)
	SearchHistory(text string, peer jid.JID, limit int) ([]xmpp.SearchHit, error)
}

var _ historySource = (*xmpp.Client)(nil)

// backgroundRunner runs load off Fyne's goroutine and the function it
// returns back on it. Tests queue both and run them when they choose.
type backgroundRunner func(load func() (apply func()))

func runInBackground(load func() func()) {
	go func() {
		apply := load()
		fyne.Do(apply)
	}()
}

// chatHistory is what a chat view knows about the stored part of its
// conversation: whether there is more before (and, after a jump to an old
// message, after) what it shows, and which reads are under way.
type chatHistory struct {
	src     historySource
	peer    jid.JID
	convert func(xmpp.Message) chatMessage // runs on Fyne's goroutine
	run     backgroundRunner

	hasOlder, hasNewer         bool
	loadingOlder, loadingNewer bool
	// missed is set when a message from the peer was not appended because
	// the view showed older history: the next read of newer ones must not
	// conclude it reached the end before seeing it.
	missed bool
	// gen counts replacements of the view's contents; reads started before
	// one are dropped.
	gen int
}

// viewState maps a stored delivery state to the view's.
func viewState(s xmpp.DeliveryState) messageState {
	switch s {
	case xmpp.DeliveryPending:
		return stateSending
	case xmpp.DeliverySent:
		return stateSent
	case xmpp.DeliveryDelivered:
		return stateDelivered
	case xmpp.DeliveryFailed:
		return stateFailed
	}
	return stateReceived
}

// stateRank orders the states an own message passes through; a message
// never goes back (a late event may repeat an earlier step).
func stateRank(s messageState) int {
	switch s {
	case stateSending:
		return 1
	case stateSent:
		return 2
	case stateDelivered:
		return 3
	}
	return 0
}

// SetHistory lets the view read its conversation from the store, and
// shows the newest page.
func (v *chatView) SetHistory(h *chatHistory) {
	v.history = h
	h.hasOlder = true
	v.search = newSearchPanel(func(text string) ([]xmpp.SearchHit, error) {
		return h.src.SearchHistory(text, h.peer, searchLimit)
	}, h.run, h.convert, false)
	v.search.onOpen = func(hit searchResult) {
		v.closeSearch()
		v.JumpTo(hit.msg.Seq)
	}
	v.search.onClose = v.closeSearch
	v.searchButton.Show()
	v.loadOlder()
}

func (v *chatView) convertAll(ms []xmpp.Message) []chatMessage {
	out := make([]chatMessage, len(ms))
	for i, m := range ms {
		out[i] = v.history.convert(m)
	}
	return out
}

// rowShown reads the next page when the list shows a row near either end.
func (v *chatView) rowShown(i int) {
	if v.history == nil || v.merging {
		return
	}
	if i < 3 {
		v.loadOlder()
	}
	if i >= len(v.msgs)-3 {
		v.loadNewer()
	}
}

// loadOlder reads the page before the oldest stored message shown (the
// newest page when none is).
func (v *chatView) loadOlder() {
	h := v.history
	if h == nil || !h.hasOlder || h.loadingOlder {
		return
	}
	h.loadingOlder = true
	var before store.Cursor
	for _, m := range v.msgs {
		if m.Seq > 0 {
			before = store.Cursor{Time: m.Time, Seq: m.Seq}
			break
		}
	}
	gen, src, peer := h.gen, h.src, h.peer
	h.run(func() func() {
		ms, err := src.History(peer, before, historyPage)
		return func() {
			if gen != h.gen {
				return
			}
			h.loadingOlder = false
			if err != nil {
				fyne.LogError("read history", err)
				h.hasOlder = false // do not try again at every scroll
				return
			}
			if len(ms) < historyPage {
				h.hasOlder = false
			}
			v.merge(v.convertAll(ms))
		}
	})
}

// loadNewer reads the page after the newest stored message shown, while
// the view shows older history.
func (v *chatView) loadNewer() {
	h := v.history
	if h == nil || !h.hasNewer || h.loadingNewer {
		return
	}
	h.loadingNewer = true
	h.missed = false
	var after store.Cursor
	for i := len(v.msgs) - 1; i >= 0; i-- {
		if m := v.msgs[i]; m.Seq > 0 {
			after = store.Cursor{Time: m.Time, Seq: m.Seq}
			break
		}
	}
	gen, src, peer := h.gen, h.src, h.peer
	h.run(func() func() {
		ms, err := src.HistoryAfter(peer, after, historyPage)
		return func() {
			if gen != h.gen {
				return
			}
			h.loadingNewer = false
			if err != nil {
				fyne.LogError("read history", err)
				h.hasNewer = false
				return
			}
			if len(ms) < historyPage && !h.missed {
				h.hasNewer = false
			}
			v.merge(v.convertAll(ms))
			if h.hasNewer && v.atBottom() {
				v.loadNewer() // a message came in meanwhile, or the page was full and in sight
			}
		}
	})
}

// Insert puts m where its time puts it: a message fetched late from the
// server's archive. While the view shows older history, one newer than
// what is shown waits in the store, as in Append.
func (v *chatView) Insert(m chatMessage) {
	if h := v.history; h != nil && h.hasNewer && len(v.msgs) > 0 && goesBefore(&v.msgs[len(v.msgs)-1], &m) {
		h.missed = true
		return
	}
	v.merge([]chatMessage{m})
}

// JumpTo shows the stored message seq in its context and marks it: the
// messages around it are read from the store unless it is shown already.
func (v *chatView) JumpTo(seq int64) {
	if i, ok := v.bySeq[seq]; ok {
		v.mark(i)
		v.centerOn(i)
		return
	}
	h := v.history
	if h == nil {
		return
	}
	h.gen++
	h.loadingOlder, h.loadingNewer = false, false
	gen, src := h.gen, h.src
	h.run(func() func() {
		ms, err := src.HistoryAround(seq, aroundContext)
		return func() {
			if gen != h.gen {
				return
			}
			if err != nil {
				fyne.LogError("read history", err)
				return
			}
			v.clear()
			h.hasOlder, h.hasNewer, h.missed = true, true, false
			v.merge(v.convertAll(ms))
			if i, ok := v.bySeq[seq]; ok {
				v.mark(i)
				v.centerOn(i)
			}
		}
	})
}

// backToLatest leaves older history for the newest page, as when the user
// sends a message while reading old history.
func (v *chatView) backToLatest() {
	h := v.history
	h.gen++
	h.loadingOlder, h.loadingNewer = false, false
	h.hasOlder, h.hasNewer, h.missed = true, false, false
	v.clear()
	v.loadOlder()
}

// clear empties the view.
func (v *chatView) clear() {
	v.msgs, v.texts, v.layouts = nil, nil, nil
	v.reindex()
	v.list.Refresh()
	if v.width > 0 {
		v.list.ScrollToTop()
	}
}

// find returns the index of the message shown that m is a copy of: the
// same stored row, or the same id and text (from the same side). An own
// message not yet known to be stored is matched by its text, so the
// store's copy read back does not show it twice.
func (v *chatView) find(m chatMessage) (int, bool) {
	if m.Seq > 0 {
		if i, ok := v.bySeq[m.Seq]; ok {
			return i, true
		}
	}
	if m.ID != "" {
		if i, ok := v.byID[m.ID]; ok && v.msgs[i].Body == m.Body && v.msgs[i].Outgoing == m.Outgoing {
			return i, true
		}
	}
	if m.Outgoing && m.Seq > 0 {
		for i := len(v.msgs) - 1; i >= max(0, len(v.msgs)-historyPage); i-- {
			if o := v.msgs[i]; o.Outgoing && o.Seq == 0 && o.Body == m.Body && o.State == stateSending {
				return i, true
			}
		}
	}
	return 0, false
}

// adopt takes what the copy m adds to message i: its place in the store,
// its id, and a delivery state further on.
func (v *chatView) adopt(i int, m chatMessage) {
	cur := &v.msgs[i]
	changed := false
	if cur.Seq == 0 && m.Seq > 0 {
		cur.Seq = m.Seq
		v.bySeq[m.Seq] = i
	}
	if cur.ID != m.ID && m.ID != "" && m.Seq > 0 {
		delete(v.byID, cur.ID)
		cur.ID = m.ID
		v.byID[m.ID] = i
	}
	if cur.Outgoing && stateRank(m.State) > stateRank(cur.State) {
		cur.State, cur.Err = m.State, ""
		changed = true
	}
	if changed {
		v.remeasureRow(i)
	}
}

// index records message i in the lookups.
func (v *chatView) index(i int) {
	if id := v.msgs[i].ID; id != "" {
		v.byID[id] = i
	}
	if seq := v.msgs[i].Seq; seq > 0 {
		v.bySeq[seq] = i
	}
}

func (v *chatView) reindex() {
	clear(v.byID)
	clear(v.bySeq)
	for i := range v.msgs {
		v.index(i)
	}
}

// goesBefore orders messages by time, then by their place in the store;
// one not stored yet goes after the stored ones of its time.
func goesBefore(a, b *chatMessage) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return a.Seq != 0 && (b.Seq == 0 || a.Seq < b.Seq)
}

// merge puts ms (read from the store, or arrived late from the archive)
// in their places by time, leaving out what is shown already. The rows in
// sight stay where they are on screen, unless the view was at the bottom,
// where it stays.
func (v *chatView) merge(ms []chatMessage) {
	var fresh []chatMessage
	for _, m := range ms {
		if i, dup := v.find(m); dup {
			v.adopt(i, m)
			continue
		}
		fresh = append(fresh, m)
	}
	if len(fresh) == 0 {
		return
	}
	follow := v.atBottom()
	anchor, delta := v.topRow()
	for k := range fresh {
		m := fresh[k]
		pos := len(v.msgs)
		for pos > 0 && goesBefore(&m, &v.msgs[pos-1]) {
			pos--
		}
		v.msgs = slices.Insert(v.msgs, pos, m)
		v.texts = slices.Insert(v.texts, pos, nil)
		v.layouts = slices.Insert(v.layouts, pos, nil)
		if anchor >= 0 && pos <= anchor {
			anchor++
		}
	}
	v.reindex()
	v.merging = true // the list shows rows at the old offset until it is restored
	if v.width > 0 {
		for i := range v.msgs {
			v.list.SetItemHeight(i, v.layoutFor(i, v.width).height)
		}
	}
	v.list.Refresh()
	v.merging = false
	switch {
	case follow:
		v.scrollToBottom()
	case anchor >= 0 && v.width > 0:
		v.list.ScrollToOffset(v.rowTop(anchor) + delta)
	}
}

// remeasureRow measures message i again after it changed.
func (v *chatView) remeasureRow(i int) {
	v.layouts[i] = nil
	if v.width > 0 {
		v.list.SetItemHeight(i, v.layoutFor(i, v.width).height)
	}
	v.list.RefreshItem(i)
}

// rowGap is the space the list leaves between rows.
func (v *chatView) rowGap() float32 { return v.list.Theme().Size(theme.SizeNamePadding) }

// rowTop is where row i starts in the list's content.
func (v *chatView) rowTop(i int) float32 {
	var y float32
	for j := 0; j < i && j < len(v.msgs); j++ {
		y += v.layoutFor(j, v.width).height + v.rowGap()
	}
	return y
}

// topRow is the row at the top of the list's viewport and how far into it
// the viewport starts; -1 before the list is laid out.
func (v *chatView) topRow() (int, float32) {
	if v.width == 0 {
		return -1, 0
	}
	off := v.list.GetScrollOffset()
	var y float32
	for i := range v.msgs {
		h := v.layoutFor(i, v.width).height
		if y+h+v.rowGap() > off {
			return i, off - y
		}
		y += h + v.rowGap()
	}
	return -1, 0
}

// mark outlines message i, and no other.
func (v *chatView) mark(i int) {
	for j := range v.msgs {
		if v.msgs[j].Marked && j != i {
			v.msgs[j].Marked = false
			v.list.RefreshItem(j)
		}
	}
	v.msgs[i].Marked = true
	v.list.RefreshItem(i)
}

// centerOn scrolls message i to the middle of the list.
func (v *chatView) centerOn(i int) {
	if v.width == 0 {
		v.centerPending = v.msgs[i].Seq
		return
	}
	h := v.layoutFor(i, v.width).height
	v.list.ScrollToOffset(max(0, v.rowTop(i)-(v.list.Size().Height-h)/2))
}
