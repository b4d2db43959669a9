package app

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// rosterView shows the roster in collapsible groups with presence, status
// message and unread count, and a search box that filters as you type.
//
// The model is plain maps plus one sorted slice per group. A presence change
// moves one contact by binary search instead of sorting the roster again,
// which matters when thousands of presences arrive after sign-in; the rows the
// list shows are flattened from the groups after every change, and the list
// recycles its row widgets. Its methods run on Fyne's goroutine.
type rosterView struct {
	onOpen func(jid.JID)
	// onMenu, when set, is called on a right-click on a contact.
	onMenu func(contact jid.JID, at fyne.Position)
	// onOpenRoom and onRoomMenu are onOpen and onMenu for the group chats
	// (rooms.go).
	onOpenRoom   func(room jid.JID)
	onRoomMenu   func(room jid.JID, at fyne.Position)
	defaultGroup string // where contacts without a group go
	// avatars gives the rows their photos; nil shows initials only.
	avatars *avatarCache
	// rowHeight is the height the list gives its rows (all the same).
	rowHeight float32

	contacts   map[string]*rosterEntry // by bare JID
	groups     map[string]*rosterGroup // by name; may hold emptied groups until sortGroups
	order      []*rosterGroup          // non-empty groups sorted by name
	orderStale bool                    // a group was created or emptied since sortGroups
	// Presence and unread counts are kept by bare JID for anyone, so that
	// they apply to a contact that the roster adds later.
	presence  map[string]presenceInfo
	unread    map[string]int
	collapsed map[string]bool // by group name; outlives the group itself
	filter    string          // lower-cased search text, "" for none
	// rooms are the group chats, listed in their own group at the top,
	// as Gajim does; roomGroup is that group's header.
	rooms     []*roomEntry
	roomIndex map[string]*roomEntry // by bare JID
	roomGroup *rosterGroup

	rows     []rosterRow // what the list shows
	selected int         // index into rows, -1 for none

	// While held (a batch of events, e.g. thousands of presences at
	// sign-in), rebuilds and refreshes are only noted, and done once on
	// release.
	held                          int
	pendingRebuild, pendingRedraw bool
	// refreshes counts the list's refreshes (tests count the work).
	refreshes int

	search  *widget.Entry
	list    *rosterList
	noMatch *fyne.Container
	content fyne.CanvasObject
}

// rosterEntry is one contact, with what sorting and filtering need worked
// out once instead of on every comparison.
type rosterEntry struct {
	jid    jid.JID // bare
	key    string  // jid.String()
	name   string  // display name
	fold   string  // the sort key: lower-case name, after its pinyin if Chinese
	match  string  // lower-case name and JID: what the filter searches
	groups []string
	rank   int // presenceRank; the entry must be unlinked while it changes
}

type rosterGroup struct {
	name    string
	rooms   bool // the group chats' group
	fold    string
	members []*rosterEntry // sorted by compareEntries
	online  int
}

// rosterRow is one list row: a contact, a group chat, or a group header
// when both are nil.
type rosterRow struct {
	group   *rosterGroup
	contact *rosterEntry
	room    *roomEntry
}

func (r rosterRow) isHeader() bool { return r.contact == nil && r.room == nil }

// key is the bare JID of the row's contact or room, "" for a header.
func (r rosterRow) key() string {
	switch {
	case r.contact != nil:
		return r.contact.key
	case r.room != nil:
		return r.room.key
	}
	return ""
}

// same reports whether two rows show the same thing, across rebuilds that
// replace the entries and groups.
func (r rosterRow) same(o rosterRow) bool {
	return r.group.collapseKey() == o.group.collapseKey() && (r.room == nil) == (o.room == nil) &&
		r.isHeader() == o.isHeader() && r.key() == o.key()
}

// collapseKey is what remembers the group closed: its name, set apart for
// the group chats so that a contact group of the same name is another one.
func (g *rosterGroup) collapseKey() string {
	if g.rooms {
		return "\x00rooms"
	}
	return g.name
}

type presenceInfo struct {
	online bool
	show   xmpp.Show
	status string // on one line
}

// Presence ranks, in the order contacts are listed.
const (
	rankAvailable = iota // also chat
	rankAway
	rankXA
	rankDND
	rankOffline
)

func presenceRank(p presenceInfo) int {
	if !p.online {
		return rankOffline
	}
	switch p.show {
	case xmpp.ShowAway:
		return rankAway
	case xmpp.ShowXA:
		return rankXA
	case xmpp.ShowDND:
		return rankDND
	}
	return rankAvailable
}

func compareEntries(a, b *rosterEntry) int {
	return cmp.Or(cmp.Compare(a.rank, b.rank), strings.Compare(a.fold, b.fold), strings.Compare(a.key, b.key))
}

func newRosterView(onOpen func(jid.JID)) *rosterView {
	v := &rosterView{
		onOpen:       onOpen,
		defaultGroup: lang.L("Contacts"),
		contacts:     map[string]*rosterEntry{},
		groups:       map[string]*rosterGroup{},
		presence:     map[string]presenceInfo{},
		unread:       map[string]int{},
		collapsed:    map[string]bool{},
		roomIndex:    map[string]*roomEntry{},
		selected:     -1,
	}
	v.roomGroup = &rosterGroup{name: lang.L("Group chats"), rooms: true}
	v.search = widget.NewEntry()
	v.search.PlaceHolder = lang.L("Search contacts")
	v.search.ActionItem = widget.NewIcon(theme.SearchIcon())
	v.search.OnChanged = v.applyFilter
	v.search.OnSubmitted = func(string) { v.openFirst() }

	v.list = &rosterList{onKey: v.typedKey}
	v.list.Length = func() int { return len(v.rows) }
	v.list.CreateItem = func() fyne.CanvasObject {
		return container.NewStack(newGroupHeader(v), newContactRow(v))
	}
	v.list.UpdateItem = v.updateItem
	v.list.HideSeparators = true
	v.list.OnSelected = func(id widget.ListItemID) { v.selected = id }
	v.list.OnUnselected = func(id widget.ListItemID) {
		if v.selected == id {
			v.selected = -1
		}
	}
	v.list.ExtendBaseWidget(v.list)

	v.noMatch = container.NewCenter(widget.NewLabel(lang.L("No contacts match")))
	v.noMatch.Hide()
	v.content = container.NewBorder(v.search, nil, nil, nil, container.NewStack(v.list, v.noMatch))
	return v
}

// Object returns the search entry above the contact list.
func (v *rosterView) Object() fyne.CanvasObject { return v.content }

// SetContacts replaces the whole roster.
func (v *rosterView) SetContacts(contacts []xmpp.Contact) {
	v.contacts = make(map[string]*rosterEntry, len(contacts))
	for _, c := range contacts {
		if !c.Removed {
			e := v.newEntry(c)
			v.contacts[e.key] = e
		}
	}
	// Appending and sorting once keeps a large roster at O(n log n).
	v.groups = map[string]*rosterGroup{}
	for _, e := range v.contacts {
		for _, name := range e.groups {
			g := v.group(name)
			g.members = append(g.members, e)
			if e.rank != rankOffline {
				g.online++
			}
		}
	}
	for _, g := range v.groups {
		slices.SortFunc(g.members, compareEntries)
	}
	v.orderStale = true
	v.rebuild()
}

// UpdateContacts applies a roster push: each contact is added or replaced,
// or removed when its Removed flag is set.
func (v *rosterView) UpdateContacts(changed []xmpp.Contact) {
	for _, c := range changed {
		key := c.JID.Bare().String()
		if old := v.contacts[key]; old != nil {
			v.unlink(old)
			delete(v.contacts, key)
		}
		if !c.Removed {
			e := v.newEntry(c)
			v.contacts[key] = e
			v.link(e)
		}
	}
	v.rebuild()
}

// SetPresence records a contact's best presence; online false means offline,
// when p may still carry the status they left with.
func (v *rosterView) SetPresence(bare jid.JID, p xmpp.Presence, online bool) {
	key := bare.Bare().String()
	info := presenceInfo{online: online, status: strings.Join(strings.Fields(p.Status), " ")}
	if online {
		info.show = p.Show
		if idle := idleTextNow(p.IdleSince); idle != "" {
			info.status = strings.TrimPrefix(info.status+" · "+idle, " · ")
		}
	}
	if info == v.presence[key] {
		return // a probe's answer for a contact already known offline, say
	}
	if info == (presenceInfo{}) {
		delete(v.presence, key)
	} else {
		v.presence[key] = info
	}
	e := v.contacts[key]
	if e == nil {
		return
	}
	if rank := presenceRank(info); rank != e.rank {
		v.unlink(e)
		e.rank = rank
		v.link(e)
		v.rebuild()
		return
	}
	v.redraw()
}

// redraw refreshes the rows on screen (now, or on release when held).
func (v *rosterView) redraw() {
	if v.held > 0 {
		v.pendingRedraw = true
		return
	}
	v.refreshes++
	v.list.Refresh()
}

// hold defers rebuilding and redrawing until the matching release, so a
// flood of updates costs one redraw instead of one each.
func (v *rosterView) hold() { v.held++ }

// release ends a hold and applies what it deferred.
func (v *rosterView) release() {
	if v.held--; v.held > 0 {
		return
	}
	rebuild, redraw := v.pendingRebuild, v.pendingRedraw
	v.pendingRebuild, v.pendingRedraw = false, false
	switch {
	case rebuild:
		v.rebuild()
	case redraw:
		v.refreshes++
		v.list.Refresh()
	}
}

// SetUnread sets the number of unread messages from a contact; 0 clears it.
func (v *rosterView) SetUnread(bare jid.JID, n int) {
	key := bare.Bare().String()
	if n > 0 {
		v.unread[key] = n
	} else {
		delete(v.unread, key)
	}
	if v.contacts[key] != nil || v.roomIndex[key] != nil {
		v.redraw()
	}
}

// SetFilter shows only contacts whose name or JID contains text, ignoring
// case, and puts text in the search entry.
func (v *rosterView) SetFilter(text string) {
	if v.search.Text != text {
		v.search.SetText(text) // its OnChanged filters too; applyFilter is idempotent
	}
	v.applyFilter(text)
}

func (v *rosterView) applyFilter(text string) {
	filter := strings.ToLower(strings.TrimSpace(text))
	if filter == v.filter {
		return
	}
	v.filter = filter
	// A new search starts at the top, as in Telegram, rather than
	// scrolling to wherever an old selection ended up.
	v.list.UnselectAll()
	v.rebuild()
	v.list.ScrollToOffset(0)
}

func (v *rosterView) newEntry(c xmpp.Contact) *rosterEntry {
	bare := c.JID.Bare()
	key := bare.String()
	name := strings.TrimSpace(c.Name)
	if name == "" {
		name = bare.Localpart()
	}
	if name == "" {
		name = key // a server or gateway
	}
	var groups []string
	for _, g := range c.Groups {
		if g = strings.TrimSpace(g); g != "" && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		groups = []string{v.defaultGroup}
	}
	keys := pinyinKeys(name)
	return &rosterEntry{
		jid:    bare,
		key:    key,
		name:   name,
		fold:   nameSortKey(name, keys),
		match:  strings.ToLower(name + "\n" + key + "\n" + keys),
		groups: groups,
		rank:   presenceRank(v.presence[key]),
	}
}

func (v *rosterView) group(name string) *rosterGroup {
	g := v.groups[name]
	if g == nil {
		g = &rosterGroup{name: name, fold: strings.ToLower(name)}
		v.groups[name] = g
		v.orderStale = true
	}
	return g
}

// link puts e into its groups at its sorted place.
func (v *rosterView) link(e *rosterEntry) {
	for _, name := range e.groups {
		g := v.group(name)
		i, _ := slices.BinarySearchFunc(g.members, e, compareEntries)
		g.members = slices.Insert(g.members, i, e)
		if e.rank != rankOffline {
			g.online++
		}
	}
}

// unlink takes e out of its groups; it finds e by the rank and name it was
// linked with.
func (v *rosterView) unlink(e *rosterEntry) {
	for _, name := range e.groups {
		g := v.groups[name]
		if i, ok := slices.BinarySearchFunc(g.members, e, compareEntries); ok {
			g.members = slices.Delete(g.members, i, i+1)
		}
		if e.rank != rankOffline {
			g.online--
		}
		if len(g.members) == 0 {
			v.orderStale = true
		}
	}
}

func (v *rosterView) sortGroups() {
	v.order = v.order[:0]
	for name, g := range v.groups {
		if len(g.members) == 0 {
			delete(v.groups, name)
			continue
		}
		v.order = append(v.order, g)
	}
	slices.SortFunc(v.order, func(a, b *rosterGroup) int {
		return cmp.Or(strings.Compare(a.fold, b.fold), strings.Compare(a.name, b.name))
	})
	v.orderStale = false
}

// rebuild flattens the groups into rows and refreshes the list, keeping the
// selected row selected wherever it moved.
func (v *rosterView) rebuild() {
	if v.held > 0 {
		v.pendingRebuild = true
		return
	}
	var selected rosterRow
	hadSelection := v.selected >= 0 && v.selected < len(v.rows)
	if hadSelection {
		selected = v.rows[v.selected]
	}
	if v.orderStale {
		v.sortGroups()
	}
	v.rows = v.appendRooms(v.rows[:0])
	for _, g := range v.order {
		v.rows = v.appendGroup(v.rows, g)
	}
	v.refreshes++
	v.list.Refresh()

	if hadSelection {
		v.reselect(selected)
	}
	if show := v.filter != "" && len(v.rows) == 0; show != v.noMatch.Visible() {
		if show {
			v.noMatch.Show()
		} else {
			v.noMatch.Hide()
		}
	}
}

// appendGroup adds g's header and visible members. While filtering, every
// group with a match is open and the rest are left out.
func (v *rosterView) appendGroup(rows []rosterRow, g *rosterGroup) []rosterRow {
	if v.filter == "" {
		rows = append(rows, rosterRow{group: g})
		if !v.collapsed[g.collapseKey()] {
			for _, e := range g.members {
				rows = append(rows, rosterRow{group: g, contact: e})
			}
		}
		return rows
	}
	header := len(rows)
	for _, e := range g.members {
		if strings.Contains(e.match, v.filter) {
			if len(rows) == header {
				rows = append(rows, rosterRow{group: g})
			}
			rows = append(rows, rosterRow{group: g, contact: e})
		}
	}
	return rows
}

func (v *rosterView) reselect(selected rosterRow) {
	for i, r := range v.rows {
		if r.same(selected) {
			if i != v.selected {
				// Select scrolls to the row; a presence change moving the
				// selected contact must not move the view under the user.
				offset := v.list.GetScrollOffset()
				v.list.Select(i)
				v.list.ScrollToOffset(offset)
			}
			return
		}
	}
	v.list.UnselectAll()
}

func (v *rosterView) updateItem(id widget.ListItemID, o fyne.CanvasObject) {
	if id < 0 || id >= len(v.rows) {
		return
	}
	v.rowHeight = o.Size().Height
	parts := o.(*fyne.Container).Objects
	header, contact := parts[0].(*groupHeader), parts[1].(*contactRow)
	row := v.rows[id]
	if row.isHeader() {
		contact.Hide()
		look := headerLook{
			name:   row.group.name,
			online: row.group.online,
			total:  len(row.group.members),
			open:   v.filter != "" || !v.collapsed[row.group.collapseKey()],
		}
		if row.group.rooms {
			look.total = len(v.rooms)
		}
		header.set(id, look)
		header.Show()
		return
	}
	header.Hide()
	if row.room != nil {
		contact.set(id, row.room.look(v.unread[row.room.key]))
		contact.Show()
		return
	}
	contact.set(id, contactLook{
		key:    row.contact.key,
		name:   row.contact.name,
		status: v.presence[row.contact.key].status,
		rank:   row.contact.rank,
		unread: v.unread[row.contact.key],
	})
	contact.Show()
}

// typedKey is the list's keyboard handling, modelled on GTK tree views as in
// Gajim: arrows move the selection, Left goes to and closes the group, Right
// opens it, Enter opens the contact or toggles the group.
func (v *rosterView) typedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyDown, fyne.KeyUp:
		next := 0
		if v.selected >= 0 && ev.Name == fyne.KeyDown {
			next = v.selected + 1
		} else if v.selected >= 0 {
			next = v.selected - 1
		}
		if next >= 0 && next < len(v.rows) {
			v.list.Select(next)
		}
	case fyne.KeyReturn, fyne.KeyEnter, fyne.KeySpace:
		v.activate(v.selected)
	case fyne.KeyLeft:
		header := v.selected
		for header >= 0 && !v.rows[header].isHeader() {
			header--
		}
		if header >= 0 && header != v.selected {
			v.list.Select(header)
		} else if header >= 0 {
			v.setCollapsed(v.rows[header].group.collapseKey(), true)
		}
	case fyne.KeyRight:
		if v.selected >= 0 && v.rows[v.selected].isHeader() {
			v.setCollapsed(v.rows[v.selected].group.collapseKey(), false)
		}
	}
}

// activate opens the contact or group chat in row id, or toggles the group.
func (v *rosterView) activate(id widget.ListItemID) {
	if id < 0 || id >= len(v.rows) {
		return
	}
	row := v.rows[id]
	if row.isHeader() {
		key := row.group.collapseKey()
		v.setCollapsed(key, !v.collapsed[key])
		return
	}
	if row.room != nil {
		if v.onOpenRoom != nil {
			v.onOpenRoom(row.room.jid)
		}
		return
	}
	if v.onOpen != nil {
		v.onOpen(row.contact.jid)
	}
}

// setCollapsed opens or closes the group with collapseKey group.
func (v *rosterView) setCollapsed(group string, collapsed bool) {
	if v.filter != "" || v.collapsed[group] == collapsed {
		return // while filtering every group is open
	}
	if collapsed {
		v.collapsed[group] = true
	} else {
		delete(v.collapsed, group)
	}
	v.rebuild()
}

// tapRow selects a row and focuses the list so Enter and the arrows work,
// which widget.List does itself only for taps it receives.
func (v *rosterView) tapRow(id widget.ListItemID) {
	if c := fyne.CurrentApp().Driver().CanvasForObject(v.list); c != nil {
		c.Focus(v.list)
	}
	v.list.Select(id)
}

func (v *rosterView) openFirst() {
	for i, r := range v.rows {
		if !r.isHeader() {
			v.list.Select(i)
			v.activate(i)
			return
		}
	}
}

// rosterList is a widget.List whose keyboard cursor is the selection. The
// List's own cursor moves only on taps that reach its internal rows, and ours
// take the taps themselves, so it would point at the wrong row.
type rosterList struct {
	widget.List
	onKey func(*fyne.KeyEvent)
}

func (l *rosterList) TypedKey(ev *fyne.KeyEvent) { l.onKey(ev) }

// FocusGained and FocusLost keep the List from highlighting its own cursor.
func (l *rosterList) FocusGained() {}
func (l *rosterList) FocusLost()   {}

// groupHeader is a group's row: open/closed arrow, name and online/total.
type groupHeader struct {
	widget.BaseWidget
	view    *rosterView
	id      widget.ListItemID
	shown   headerLook
	icon    *widget.Icon
	name    *widget.Label
	count   *widget.RichText
	objects []fyne.CanvasObject
}

func newGroupHeader(v *rosterView) *groupHeader {
	h := &groupHeader{
		view:  v,
		icon:  widget.NewIcon(theme.MenuDropDownIcon()),
		name:  rowLabel(true),
		count: dimText(fyne.TextTruncateOff),
	}
	h.objects = []fyne.CanvasObject{h.icon, h.name, h.count}
	h.ExtendBaseWidget(h)
	return h
}

// headerLook is what a group header shows. Rows compare it with what they
// show already, because the list updates every visible row on each refresh
// and laying out text again is most of the cost.
type headerLook struct {
	name          string
	online, total int
	open          bool
}

func (h *groupHeader) set(id widget.ListItemID, look headerLook) {
	h.id = id
	if look == h.shown {
		return
	}
	h.shown = look
	if look.open {
		h.icon.Resource = theme.MenuDropDownIcon()
	} else {
		h.icon.Resource = theme.MenuExpandIcon()
	}
	h.name.Text = look.name
	dimTextOf(h.count).Text = lang.X("roster.group.count", "{{.Online}}/{{.Total}}",
		map[string]any{"Online": look.online, "Total": look.total})
	h.Refresh()
}

// Tapped toggles the group at once; headers are not DoubleTappable, which
// would delay every single tap by the double-click interval.
func (h *groupHeader) Tapped(*fyne.PointEvent) {
	h.view.tapRow(h.id)
	h.view.activate(h.id)
}

func (h *groupHeader) CreateRenderer() fyne.WidgetRenderer { return groupHeaderRenderer{h} }

type groupHeaderRenderer struct{ h *groupHeader }

func (r groupHeaderRenderer) Destroy()                     {}
func (r groupHeaderRenderer) Objects() []fyne.CanvasObject { return r.h.objects }

func (r groupHeaderRenderer) MinSize() fyne.Size {
	th := r.h.Theme()
	pad, icon := th.Size(theme.SizeNamePadding), th.Size(theme.SizeNameInlineIcon)
	name, count := r.h.name.MinSize(), r.h.count.MinSize()
	return fyne.NewSize(pad+icon+name.Width+count.Width, max(icon, name.Height))
}

func (r groupHeaderRenderer) Layout(size fyne.Size) {
	th := r.h.Theme()
	pad, inner := th.Size(theme.SizeNamePadding), th.Size(theme.SizeNameInnerPadding)
	icon := th.Size(theme.SizeNameInlineIcon)
	r.h.icon.Resize(fyne.NewSquareSize(icon))
	r.h.icon.Move(fyne.NewPos(pad, (size.Height-icon)/2))

	// The count's text ends where contact rows' badges end.
	count := r.h.count.MinSize()
	countX := size.Width - 2*pad + inner - count.Width
	r.h.count.Resize(count)
	r.h.count.Move(fyne.NewPos(countX, (size.Height-count.Height)/2))

	nameX := 2*pad + icon - inner
	nameH := r.h.name.MinSize().Height
	r.h.name.Resize(fyne.NewSize(countX-nameX, nameH))
	r.h.name.Move(fyne.NewPos(nameX, (size.Height-nameH)/2))
}

func (r groupHeaderRenderer) Refresh() {
	r.Layout(r.h.Size())
	for _, o := range r.h.objects {
		o.Refresh()
	}
}

// rowLabel makes a one-line label that ends in an ellipsis when cut short.
// It must come from a constructor: a Label literal ignores Resize until
// something asks its MinSize, and so never truncates.
func rowLabel(bold bool) *widget.Label {
	l := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: bold})
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

// dimText makes one line of small grey text. It is RichText because a Label
// cannot take the placeholder colour, and its LowImportance grey is too faint
// to read on the light theme.
func dimText(truncation fyne.TextTruncation) *widget.RichText {
	t := widget.NewRichText(&widget.TextSegment{Style: widget.RichTextStyle{
		ColorName: theme.ColorNamePlaceHolder,
		SizeName:  theme.SizeNameCaptionText,
		Inline:    true,
	}})
	t.Truncation = truncation
	return t
}

func dimTextOf(t *widget.RichText) *widget.TextSegment { return t.Segments[0].(*widget.TextSegment) }

// contactRow is a contact's row: avatar with the presence dot on its
// corner, name (bold while unread), status message and unread badge. It
// takes taps itself, rather than leaving them to the list, to tell a double
// click (open) from a single one (select).
type contactRow struct {
	widget.BaseWidget
	view    *rosterView
	id      widget.ListItemID
	shown   contactLook
	avatar  *avatarView
	dot     *canvas.Circle
	name    *widget.Label
	status  *widget.RichText
	badge   *canvas.Rectangle
	count   *canvas.Text
	objects []fyne.CanvasObject
}

var (
	_ fyne.Tappable       = (*contactRow)(nil)
	_ fyne.DoubleTappable = (*contactRow)(nil)
	_ fyne.Tappable       = (*groupHeader)(nil)
	_ fyne.Focusable      = (*rosterList)(nil)
)

func newContactRow(v *rosterView) *contactRow {
	r := &contactRow{
		view:   v,
		avatar: newListAvatarView(rowAvatarSize),
		dot:    &canvas.Circle{StrokeWidth: 2},
		name:   rowLabel(false),
		status: dimText(fyne.TextTruncateEllipsis),
		badge:  &canvas.Rectangle{},
		count:  &canvas.Text{Alignment: fyne.TextAlignCenter, TextStyle: fyne.TextStyle{Bold: true}},
	}
	r.objects = []fyne.CanvasObject{r.avatar, r.dot, r.name, r.status, r.badge, r.count}
	r.ExtendBaseWidget(r)
	return r
}

// contactLook is what a contact row shows; see headerLook.
type contactLook struct {
	key, name, status string
	rank, unread      int
	room              bool // a group chat: initials, no photo to fetch
}

func (r *contactRow) set(id widget.ListItemID, look contactLook) {
	r.id = id
	// Even for the same look: the photo may have arrived since.
	if look.room {
		r.avatar.bind(nil, look.key, roomAvatarName(look.name))
	} else {
		r.avatar.bind(r.view.avatars, look.key, look.name)
	}
	if look == r.shown {
		return
	}
	r.shown = look
	r.name.Text = look.name
	r.name.TextStyle.Bold = look.unread > 0
	dimTextOf(r.status).Text = look.status
	r.count.Text = ""
	if look.unread > 999 {
		r.count.Text = "999+"
	} else if look.unread > 0 {
		r.count.Text = strconv.Itoa(look.unread)
	}
	r.Refresh()
}

func (r *contactRow) Tapped(*fyne.PointEvent) { r.view.tapRow(r.id) }

// TappedSecondary (right-click) asks for the contact's menu.
func (r *contactRow) TappedSecondary(ev *fyne.PointEvent) {
	r.view.tapRow(r.id)
	if r.id < 0 || r.id >= len(r.view.rows) {
		return
	}
	switch row := r.view.rows[r.id]; {
	case row.room != nil && r.view.onRoomMenu != nil:
		r.view.onRoomMenu(row.room.jid, ev.AbsolutePosition)
	case row.contact != nil && r.view.onMenu != nil:
		r.view.onMenu(row.contact.jid, ev.AbsolutePosition)
	}
}

func (r *contactRow) DoubleTapped(*fyne.PointEvent) {
	r.view.tapRow(r.id)
	r.view.activate(r.id)
}

func (r *contactRow) CreateRenderer() fyne.WidgetRenderer { return contactRowRenderer{r} }

type contactRowRenderer struct{ r *contactRow }

func (rr contactRowRenderer) Destroy()                     {}
func (rr contactRowRenderer) Objects() []fyne.CanvasObject { return rr.r.objects }

// textHeight is the height of one line of text, without a label's padding.
func textHeight(th fyne.Theme, size fyne.ThemeSizeName) float32 {
	return fyne.MeasureText("Mg", th.Size(size), fyne.TextStyle{}).Height
}

func (rr contactRowRenderer) MinSize() fyne.Size {
	th := rr.r.Theme()
	pad, inner := th.Size(theme.SizeNamePadding), th.Size(theme.SizeNameInnerPadding)
	return fyne.NewSize(5*pad+rowAvatarSize+2*inner,
		max(3*pad+textHeight(th, theme.SizeNameText)+textHeight(th, theme.SizeNameCaptionText), 2*pad+rowAvatarSize))
}

func (rr contactRowRenderer) Layout(size fyne.Size) {
	r := rr.r
	th := r.Theme()
	pad, inner := th.Size(theme.SizeNamePadding), th.Size(theme.SizeNameInnerPadding)
	nameH, statusH := textHeight(th, theme.SizeNameText), textHeight(th, theme.SizeNameCaptionText)

	// The presence dot sits on the avatar's lower right edge, ringed in
	// the background colour, as in Telegram.
	avatarY := (size.Height - rowAvatarSize) / 2
	r.avatar.Resize(fyne.NewSquareSize(rowAvatarSize))
	r.avatar.Move(fyne.NewPos(2*pad, avatarY))
	dot := th.Size(theme.SizeNameInlineIcon)/2 + r.dot.StrokeWidth
	r.dot.Resize(fyne.NewSquareSize(dot))
	r.dot.Move(fyne.NewPos(2*pad+rowAvatarSize-dot+1, avatarY+rowAvatarSize-dot+1))

	textX := 4*pad + rowAvatarSize
	right := size.Width - 2*pad
	if r.shown.unread > 0 {
		h := statusH + pad
		w := max(h, fyne.MeasureText(r.count.Text, r.count.TextSize, r.count.TextStyle).Width+2*pad)
		y := (size.Height - h) / 2
		r.badge.CornerRadius = h / 2
		r.badge.Resize(fyne.NewSize(w, h))
		r.badge.Move(fyne.NewPos(right-w, y))
		r.count.Resize(fyne.NewSize(w, statusH))
		r.count.Move(fyne.NewPos(right-w, y+pad/2))
		right -= w + pad
	}

	// Labels pad their text by inner on every side; place the text itself.
	width := right - textX + 2*inner
	nameY := (size.Height - nameH) / 2
	if !r.status.Hidden {
		nameY = (size.Height - nameH - statusH) / 2
	}
	r.name.Resize(fyne.NewSize(width, nameH+2*inner))
	r.name.Move(fyne.NewPos(textX-inner, nameY-inner))
	r.status.Resize(fyne.NewSize(width, statusH+2*inner))
	r.status.Move(fyne.NewPos(textX-inner, nameY+nameH-inner))
}

// Refresh applies the row's state and the current theme.
func (rr contactRowRenderer) Refresh() {
	r := rr.r
	th := r.Theme()
	variant := fyne.CurrentApp().Settings().ThemeVariant()
	r.dot.FillColor = th.Color(dotColor(r.shown.rank), variant)
	r.dot.StrokeColor = th.Color(theme.ColorNameBackground, variant)
	r.badge.FillColor = th.Color(theme.ColorNamePrimary, variant)
	r.count.Color = th.Color(theme.ColorNameForegroundOnPrimary, variant)
	r.count.TextSize = th.Size(theme.SizeNameCaptionText)
	r.status.Hidden = dimTextOf(r.status).Text == ""
	r.badge.Hidden = r.shown.unread == 0
	r.count.Hidden = r.shown.unread == 0
	rr.Layout(r.Size())
	for _, o := range r.objects[1:] { // the avatar refreshes itself when it changes
		o.Refresh()
	}
}

// dotColor is green for available, amber for away, red for busy and grey
// for offline, from the theme so that it suits light and dark.
func dotColor(rank int) fyne.ThemeColorName {
	switch rank {
	case rankAvailable:
		return theme.ColorNameSuccess
	case rankAway, rankXA:
		return theme.ColorNameWarning
	case rankDND:
		return theme.ColorNameError
	}
	return theme.ColorNamePlaceHolder // the disabled grey vanishes on the light theme
}
