package app

import (
	"context"
	"errors"
	"slices"
	"strings"
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

// directoryTimeout bounds one search of the company directory.
const directoryTimeout = 30 * time.Second

// findColleaguesShortcut is Ctrl+K (Cmd+K on macOS) in the contacts window.
var findColleaguesShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyK, Modifier: fyne.KeyModifierShortcutDefault}

// directoryWindow is Find colleagues: a search of the company directory
// (XEP-0055) whose results can be added to the contacts or chatted with.
// Its methods run on Fyne's goroutine; the search runs in the background.
type directoryWindow struct {
	win fyne.Window
	// search asks the directory; it blocks, so it runs through run.
	search func(ctx context.Context, query string) ([]xmpp.DirectoryEntry, error)
	run    backgroundRunner
	// isContact says whether an address is in the roster already.
	isContact func(jid.JID) bool
	onAdd     func(xmpp.DirectoryEntry)
	onChat    func(jid.JID)

	results []xmpp.DirectoryEntry
	added   map[string]bool // confirmed in the add form, before the roster says so
	gen     int             // the newest search; older answers are dropped
	// rows finds a row's widgets from the object the list recycles.
	rows map[fyne.CanvasObject]*directoryRow

	entry  *searchEntry
	button *widget.Button
	status *widget.Label
	list   *widget.List
}

// findColleagues opens the company directory search (or brings it forward).
func (m *mainWindow) findColleagues() {
	if m.directory != nil {
		m.directory.win.Show()
		m.directory.win.RequestFocus()
		m.directory.focus()
		return
	}
	client := m.c.client
	if client == nil {
		return
	}
	d := newDirectoryWindow(m.c.app.NewWindow(lang.L("Find colleagues")), client.SearchDirectory, runInBackground)
	d.isContact = func(j jid.JID) bool { _, ok := client.Contact(j); return ok }
	d.onChat = m.c.openChat
	d.onAdd = func(e xmpp.DirectoryEntry) {
		m.addContactWith(d.win, e.JID.String(), e.DisplayName(), e.Unit, func(j jid.JID) {
			d.added[j.Bare().String()] = true
			d.list.Refresh()
		})
	}
	d.win.SetOnClosed(func() { m.directory = nil })
	m.directory = d
	d.win.Show()
	d.focus()
}

func newDirectoryWindow(w fyne.Window, search func(context.Context, string) ([]xmpp.DirectoryEntry, error), run backgroundRunner) *directoryWindow {
	d := &directoryWindow{win: w, search: search, run: run, added: map[string]bool{}, rows: map[fyne.CanvasObject]*directoryRow{},
		isContact: func(jid.JID) bool { return false }, onAdd: func(xmpp.DirectoryEntry) {}, onChat: func(jid.JID) {}}
	d.entry = newSearchEntry(w.Close)
	d.entry.PlaceHolder = lang.L("Name, account or email")
	d.entry.OnSubmitted = func(string) { d.start() }
	d.button = &widget.Button{Text: lang.L("Search"), Icon: theme.SearchIcon(), Importance: widget.HighImportance, OnTapped: d.start}
	d.status = &widget.Label{Importance: widget.LowImportance, Wrapping: fyne.TextWrapWord}
	d.status.Hide()
	d.list = widget.NewList(func() int { return len(d.results) }, d.newRow,
		func(id widget.ListItemID, o fyne.CanvasObject) { d.bindRow(id, o) })
	d.list.OnSelected = func(widget.ListItemID) { d.list.UnselectAll() }
	top := container.NewVBox(container.NewBorder(nil, nil, nil, d.button, d.entry), d.status)
	w.SetContent(container.NewBorder(container.NewPadded(top), nil, nil, nil, d.list))
	w.Resize(fyne.NewSize(520, 560))
	w.Canvas().AddShortcut(findColleaguesShortcut, func(fyne.Shortcut) { d.focus() })
	return d
}

// focus puts the cursor in the search box.
func (d *directoryWindow) focus() { d.win.Canvas().Focus(d.entry) }

// start searches for what the box holds, in the background.
func (d *directoryWindow) start() {
	query := strings.TrimSpace(d.entry.Text)
	if query == "" {
		return
	}
	d.gen++
	gen, search := d.gen, d.search
	d.setStatus(lang.L("Searching…"))
	d.run(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), directoryTimeout)
		defer cancel()
		results, err := search(ctx, query)
		return func() {
			if gen == d.gen {
				d.show(results, err)
			}
		}
	})
}

// show puts a search's answer in the window.
func (d *directoryWindow) show(results []xmpp.DirectoryEntry, err error) {
	keys := make(map[string]string, len(results)) // as the contacts list sorts
	for _, e := range results {
		keys[e.Name] = nameSortKey(e.Name, pinyinKeys(e.Name))
	}
	slices.SortStableFunc(results, func(a, b xmpp.DirectoryEntry) int { return strings.Compare(keys[a.Name], keys[b.Name]) })
	d.results = results
	switch {
	case err != nil:
		d.setStatus(describeDirectoryError(err))
	case len(results) == 0:
		d.setStatus(lang.L("No colleagues match."))
	case len(results) == 1:
		d.setStatus(lang.L("1 colleague found:"))
	default:
		d.setStatus(lang.L("{{.Count}} colleagues found:", map[string]any{"Count": len(results)}))
	}
	d.list.UnselectAll()
	d.list.Refresh()
	d.list.ScrollToTop()
}

func (d *directoryWindow) setStatus(text string) {
	d.status.SetText(text)
	d.status.Show()
}

// describeDirectoryError says in plain words why a search failed.
func describeDirectoryError(err error) string {
	var se *xmpp.StanzaError
	switch {
	case errors.Is(err, xmpp.ErrNoDirectory):
		return lang.L("This server has no company directory.")
	case errors.Is(err, xmpp.ErrNotConnected):
		return lang.L("Not connected. Search again when Magpie is online.")
	case errors.Is(err, context.DeadlineExceeded):
		return lang.L("The directory did not answer in time. Try again later.")
	case errors.As(err, &se) && se.Condition == "not-acceptable":
		return lang.L("The directory refused this search ({{.Detail}}). Type more of the name.", map[string]any{"Detail": se.Error()})
	case errors.As(err, &se) && (se.Condition == "not-allowed" || se.Condition == "forbidden"):
		return lang.L("The directory does not let this account search ({{.Detail}}).", map[string]any{"Detail": se.Error()})
	}
	return lang.L("Search failed: {{.Error}}", map[string]any{"Error": err.Error()})
}

// directoryRow is one colleague: name, address and department, and what
// can be done.
type directoryRow struct {
	*actionRow
	add, chat *widget.Button
}

func (d *directoryWindow) newRow() fyne.CanvasObject {
	r := &directoryRow{
		add:  rowButton(lang.L("Add to contacts"), theme.ContentAddIcon()),
		chat: rowButton(lang.L("Chat"), theme.MailComposeIcon()),
	}
	r.actionRow = newActionRow(r.add, r.chat)
	d.rows[r.box] = r
	return r.box
}

func (d *directoryWindow) bindRow(i widget.ListItemID, o fyne.CanvasObject) {
	r := d.rows[o]
	if r == nil || i >= len(d.results) {
		return
	}
	e := d.results[i]
	r.name.SetText(e.DisplayName())
	detail := e.JID.String()
	for _, s := range []string{e.Unit, e.Title} {
		detail = joinNonEmpty(detail, s, " · ")
	}
	r.detail.SetText(detail)
	switch {
	case d.added[e.JID.String()]:
		r.add.SetText(lang.L("Added"))
		r.add.Disable()
	case d.isContact(e.JID):
		r.add.SetText(lang.L("In contacts"))
		r.add.Disable()
	default:
		r.add.SetText(lang.L("Add to contacts"))
		r.add.Enable()
	}
	r.add.OnTapped = func() { d.onAdd(e) }
	r.chat.OnTapped = func() { d.onChat(e.JID) }
}
