package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// roomListTimeout bounds finding the group chat service and listing it.
const roomListTimeout = 30 * time.Second

// browseRoomsShortcut is Ctrl+Shift+J (Cmd+Shift+J on macOS), next to
// Ctrl+J for joining a room by its address.
var browseRoomsShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyJ, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}

// roomDirectory lists the public rooms of the server's group chat service,
// filtered as the user types (by name, address or pinyin), to join or
// bookmark. Its methods run on Fyne's goroutine; the listing runs in the
// background.
type roomDirectory struct {
	win fyne.Window
	// fetch finds the service and lists its rooms; it blocks, so it runs
	// through run.
	fetch func(ctx context.Context) ([]xmpp.RoomInfo, error)
	run   backgroundRunner
	// isJoined and isBookmarked decide the rows' buttons.
	isJoined, isBookmarked func(jid.JID) bool
	// ownName is the name the user gave the room (its bookmark's), which
	// wins over the service's.
	ownName            func(jid.JID) string
	onJoin, onBookmark func(xmpp.RoomInfo)
	// details asks a room about itself (who is in it, members-only), for
	// the rows; nil asks nothing.
	details func(ctx context.Context, room jid.JID) (xmpp.RoomInfo, error)

	all     []roomDirEntry
	shown   []roomDirEntry
	loaded  bool
	failed  string // why the listing failed, "" when it did not
	loading bool
	gen     int // the newest listing; older answers are dropped
	// rows finds a row's widgets from the object the list recycles.
	rows map[fyne.CanvasObject]*roomDirRow

	filter  *searchEntry
	refresh *widget.Button
	status  *widget.Label
	list    *widget.List
}

// roomDirEntry is a listed room with what the filter searches.
type roomDirEntry struct {
	xmpp.RoomInfo
	name  string // the name, else the address's local part
	match string
	// detailed is set once the room said how many are in it (RoomInfo's
	// Occupants and MembersOnly are then its answer).
	detailed bool
}

// maxRoomDetails is how many listed rooms are asked about themselves, and
// roomDetailsAtOnce how many at a time.
const maxRoomDetails, roomDetailsAtOnce = 200, 4

// browseRooms opens the room directory (or brings it forward).
func (m *mainWindow) browseRooms() {
	if m.roomDir != nil {
		m.roomDir.win.Show()
		m.roomDir.win.RequestFocus()
		m.roomDir.focus()
		return
	}
	c := m.c
	client := c.client
	if client == nil {
		return
	}
	fetch := func(ctx context.Context) ([]xmpp.RoomInfo, error) {
		service, err := client.RoomService(ctx)
		if err != nil {
			return nil, err
		}
		return client.ListRooms(ctx, service)
	}
	d := newRoomDirectory(c.app.NewWindow(lang.L("Group chats on the server")), fetch, c.roomRunner())
	d.isJoined = c.roomJoinedNow
	d.isBookmarked = func(room jid.JID) bool { _, ok := c.bookmarks.get(room); return ok }
	d.ownName = func(room jid.JID) string { bm, _ := c.bookmarks.get(room); return bm.Name }
	d.details = client.RoomDetails
	d.onJoin = func(r xmpp.RoomInfo) { c.enterRoom(r.JID, d.win) }
	d.onBookmark = func(r xmpp.RoomInfo) {
		c.saveBookmark(xmpp.Bookmark{Room: r.JID, Name: r.Name, Nick: c.defaultNick(r.JID)}, d.win)
	}
	c.offerCreateRoom(d.win)
	d.win.SetOnClosed(func() { m.roomDir = nil })
	m.roomDir = d
	d.win.Show()
	d.focus()
	d.load()
}

func newRoomDirectory(w fyne.Window, fetch func(context.Context) ([]xmpp.RoomInfo, error), run backgroundRunner) *roomDirectory {
	d := &roomDirectory{win: w, fetch: fetch, run: run, rows: map[fyne.CanvasObject]*roomDirRow{},
		isJoined: func(jid.JID) bool { return false }, isBookmarked: func(jid.JID) bool { return false },
		ownName: func(jid.JID) string { return "" },
		onJoin:  func(xmpp.RoomInfo) {}, onBookmark: func(xmpp.RoomInfo) {}}
	d.filter = newSearchEntry(w.Close)
	d.filter.PlaceHolder = lang.L("Filter by name or address")
	d.filter.ActionItem = widget.NewIcon(theme.SearchIcon())
	d.filter.OnChanged = func(string) { d.applyFilter() }
	d.filter.OnSubmitted = func(string) {
		if len(d.shown) == 1 {
			d.onJoin(d.shown[0].RoomInfo)
		}
	}
	d.refresh = &widget.Button{Icon: theme.ViewRefreshIcon(), Importance: widget.LowImportance, OnTapped: d.load}
	d.status = &widget.Label{Importance: widget.LowImportance, Wrapping: fyne.TextWrapWord}
	d.list = widget.NewList(func() int { return len(d.shown) }, d.newRow,
		func(id widget.ListItemID, o fyne.CanvasObject) { d.bindRow(id, o) })
	d.list.OnSelected = func(widget.ListItemID) { d.list.UnselectAll() }
	top := container.NewVBox(container.NewBorder(nil, nil, nil, d.refresh, d.filter), d.status)
	w.SetContent(container.NewBorder(container.NewPadded(top), nil, nil, nil, d.list))
	w.Resize(fyne.NewSize(520, 520))
	w.Canvas().AddShortcut(browseRoomsShortcut, func(fyne.Shortcut) { d.focus() })
	return d
}

// focus puts the cursor in the filter.
func (d *roomDirectory) focus() { d.win.Canvas().Focus(d.filter) }

// load lists the service's rooms in the background.
func (d *roomDirectory) load() {
	d.gen++
	gen, fetch := d.gen, d.fetch
	d.loading, d.failed = true, ""
	d.refresh.Disable()
	d.showStatus()
	d.run(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), roomListTimeout)
		defer cancel()
		rooms, err := fetch(ctx)
		return func() {
			if gen == d.gen {
				d.listed(rooms, err)
			}
		}
	})
}

// listed puts a listing in the window.
func (d *roomDirectory) listed(rooms []xmpp.RoomInfo, err error) {
	d.loading = false
	d.refresh.Enable()
	if err != nil {
		d.failed = describeRoomListError(err)
		d.showStatus()
		return
	}
	d.loaded = true
	d.all = d.all[:0]
	keys := map[string]string{}
	for _, r := range rooms {
		name := strings.TrimSpace(d.ownName(r.JID))
		if name == "" {
			name = strings.TrimSpace(r.Name)
		}
		if name == "" {
			name = r.JID.Localpart()
		}
		pinyin := pinyinKeys(name)
		keys[r.JID.String()] = nameSortKey(name, pinyin)
		d.all = append(d.all, roomDirEntry{RoomInfo: r, name: name,
			match: strings.ToLower(name + "\n" + r.JID.String() + "\n" + pinyin)})
	}
	// As the contacts list sorts: Chinese names by their pinyin.
	slices.SortStableFunc(d.all, func(a, b roomDirEntry) int {
		return strings.Compare(keys[a.JID.String()], keys[b.JID.String()])
	})
	d.applyFilter()
	d.askDetails(rooms)
}

// askDetails asks the listed rooms how many are in them (disco#info, a few
// at a time) once the list shows, and puts the answers in the rows.
func (d *roomDirectory) askDetails(rooms []xmpp.RoomInfo) {
	details, gen := d.details, d.gen
	if details == nil || len(rooms) == 0 {
		return
	}
	rooms = rooms[:min(len(rooms), maxRoomDetails)]
	d.run(func() func() {
		got := make([]xmpp.RoomInfo, len(rooms))
		ok := make([]bool, len(rooms))
		var wg sync.WaitGroup
		slots := make(chan struct{}, roomDetailsAtOnce)
		for i, r := range rooms {
			wg.Add(1)
			slots <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				ctx, cancel := context.WithTimeout(context.Background(), roomListTimeout)
				defer cancel()
				info, err := details(ctx, r.JID)
				got[i], ok[i] = info, err == nil
			}()
		}
		wg.Wait()
		return func() {
			if gen != d.gen {
				return // listed again meanwhile
			}
			byRoom := map[string]xmpp.RoomInfo{}
			for i, r := range rooms {
				if ok[i] {
					byRoom[r.JID.String()] = got[i]
				}
			}
			for i := range d.all {
				if info, found := byRoom[d.all[i].JID.String()]; found {
					d.all[i].Occupants, d.all[i].MembersOnly, d.all[i].detailed = info.Occupants, info.MembersOnly, true
				}
			}
			d.refilter() // the user may have scrolled meanwhile: stay there
		}
	})
}

// roomDetailText is a row's second line: the address, how many are in the
// room, and whether it is members-only.
func roomDetailText(e roomDirEntry) string {
	parts := []string{e.JID.String()}
	if e.detailed && e.Occupants >= 0 {
		parts = append(parts, lang.L("{{.Count}} in the room", map[string]any{"Count": e.Occupants}))
	}
	if e.detailed && e.MembersOnly {
		parts = append(parts, lang.L("members only"))
	}
	return strings.Join(parts, " · ")
}

// applyFilter shows the rooms whose name, address or pinyin contains what
// the filter holds.
func (d *roomDirectory) applyFilter() {
	d.refilter()
	d.list.ScrollToTop()
}

// refilter lists the rooms the filter lets through, where the list is.
func (d *roomDirectory) refilter() {
	filter := strings.ToLower(strings.TrimSpace(d.filter.Text))
	d.shown = d.shown[:0]
	for _, r := range d.all {
		if filter == "" || strings.Contains(r.match, filter) {
			d.shown = append(d.shown, r)
		}
	}
	d.showStatus()
	d.list.UnselectAll()
	d.list.Refresh()
}

// showStatus says what the window is doing, or why it shows nothing.
func (d *roomDirectory) showStatus() {
	var text string
	switch {
	case d.loading:
		text = lang.L("Searching…")
	case d.failed != "":
		text = d.failed
	case !d.loaded:
	case len(d.all) == 0:
		text = lang.L("The server lists no public group chats.")
	case len(d.shown) == 0:
		text = lang.L("No group chats match.")
	case len(d.shown) == 1:
		text = lang.L("1 group chat")
	default:
		text = lang.L("{{.Count}} group chats", map[string]any{"Count": len(d.shown)})
	}
	d.status.SetText(text)
	if text == "" {
		d.status.Hide()
	} else {
		d.status.Show()
	}
}

// describeRoomListError says in plain words why the rooms are not listed.
func describeRoomListError(err error) string {
	switch {
	case errors.Is(err, xmpp.ErrNoRoomService):
		return lang.L("This server has no group chat service.")
	case errors.Is(err, xmpp.ErrNotConnected):
		return lang.L("Not connected. Try again when Magpie is online.")
	case errors.Is(err, context.DeadlineExceeded):
		return lang.L("The server did not answer in time. Try again later.")
	}
	return lang.L("The group chats could not be listed: {{.Error}}", map[string]any{"Error": err.Error()})
}

// roomDirRow is one room: name, address, and what can be done.
type roomDirRow struct {
	*actionRow
	join, bookmark *widget.Button
}

func (d *roomDirectory) newRow() fyne.CanvasObject {
	r := &roomDirRow{
		join:     rowButton(lang.L("Join"), theme.LoginIcon()),
		bookmark: rowButton(lang.L("Bookmark"), theme.ContentAddIcon()),
	}
	r.actionRow = newActionRow(r.join, r.bookmark)
	d.rows[r.box] = r
	return r.box
}

func (d *roomDirectory) bindRow(i widget.ListItemID, o fyne.CanvasObject) {
	r := d.rows[o]
	if r == nil || i >= len(d.shown) {
		return
	}
	e := d.shown[i]
	r.name.SetText(e.name)
	r.detail.SetText(roomDetailText(e))
	if d.isJoined(e.JID) {
		r.join.SetText(lang.L("Open"))
	} else {
		r.join.SetText(lang.L("Join"))
	}
	if d.isBookmarked(e.JID) {
		r.bookmark.SetText(lang.L("Bookmarked"))
		r.bookmark.Disable()
	} else {
		r.bookmark.SetText(lang.L("Bookmark"))
		r.bookmark.Enable()
	}
	r.join.OnTapped = func() { d.onJoin(e.RoomInfo) }
	r.bookmark.OnTapped = func() { d.onBookmark(e.RoomInfo) }
}
