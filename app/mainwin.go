package app

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// mainWindow is the contacts window: who I am, my status, the connection
// state, and the roster.
type mainWindow struct {
	c      *controller
	win    fyne.Window
	shown  bool // put up once (the session's sign-in got far enough)
	roster *rosterView
	// avatar is the own photo, beside the status; a tap edits the profile.
	avatar *avatarView
	show   *widget.Select
	status *widget.Entry
	state  *widget.Label
	// retryAt is when the next reconnect attempt is due, for the countdown.
	retryAt       time.Time
	stopCountdown chan struct{} // ends the countdown goroutine
	// searchWin is the search across all chats, while open.
	searchWin    fyne.Window
	searchPanel  *searchPanel
	searchButton *widget.Button
	// problem shows a failure that did not end the session (a store write,
	// the archive catch-up), until dismissed.
	problem    *widget.Label
	problemBox *fyne.Container
	// directory is the company directory search (Find colleagues), while open.
	directory *directoryWindow
	// roomDir is the list of the server's group chats, while open.
	roomDir *roomDirectory
	// editor is the own profile's editor, while open.
	editor *profileEditor
	// settingsForm is the settings dialog's fields, while open.
	settingsForm *settingsForm
	// requests are the contact requests waiting for an answer.
	requests *contactRequests
	// away turns the status to away while the user is idle (idle.go);
	// awayFrom is the status to go back to, and quietShow is set while
	// the selector changes without it being the user's choice.
	away      autoAway
	awayFrom  string
	quietShow bool
	// presenceGen numbers the presence changes asked for, and presenceMu
	// sends one at a time, so they reach the server in order.
	presenceGen atomic.Int64
	presenceMu  sync.Mutex
}

// statusChoices are the selector's entries; "Appear offline" signs the
// presence off without leaving (xmpp.Client.AppearOffline).
func statusChoices() []string {
	return []string{lang.L("Available"), lang.L("Away"), lang.L("Do not disturb"), lang.L("Appear offline")}
}

func showFor(choice string) xmpp.Show {
	switch choice {
	case lang.L("Away"):
		return xmpp.ShowAway
	case lang.L("Do not disturb"):
		return xmpp.ShowDND
	}
	return xmpp.ShowAvailable
}

func newMainWindow(c *controller) *mainWindow {
	m := &mainWindow{c: c, win: c.app.NewWindow("Magpie")}
	m.requests = newContactRequests(m)
	m.roster = newRosterView(c.openChat)
	m.roster.onMenu = m.contactMenu
	m.roster.onOpenRoom = func(room jid.JID) { c.enterRoom(room, m.win) }
	m.roster.onRoomMenu = c.roomMenu
	m.roster.setAvatars(c.avatars)
	m.state = &widget.Label{Text: lang.L("Connecting…"), TextStyle: fyne.TextStyle{Italic: true}}
	m.status = &widget.Entry{PlaceHolder: lang.L("What are you doing?")}
	m.show = widget.NewSelect(statusChoices(), nil)
	m.show.SetSelectedIndex(0)
	c.tray.setStatus(m.show.Selected) // a new sign-in starts available
	m.show.OnChanged = func(choice string) {
		c.tray.setStatus(choice)
		m.applyStatus()
	}
	m.status.OnSubmitted = func(string) { m.applyStatus() }
	me := widget.NewLabelWithStyle(c.account.JID, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	m.searchButton = &widget.Button{Text: lang.L("Search messages"), Icon: theme.SearchIcon(), Importance: widget.LowImportance, OnTapped: m.searchMessages}
	if c.store == nil {
		m.searchButton.Hide()
	}
	m.problem = &widget.Label{Importance: widget.WarningImportance, Wrapping: fyne.TextWrapWord}
	m.problemBox = container.NewBorder(nil, nil, nil,
		&widget.Button{Icon: theme.CancelIcon(), Importance: widget.LowImportance, OnTapped: func() { m.problemBox.Hide() }},
		m.problem)
	m.problemBox.Hide()
	m.avatar = newAvatarView(chatAvatarSize)
	if own, err := jid.Parse(c.account.JID); err == nil {
		m.avatar.bind(c.avatars, own.Bare().String(), own.Localpart())
	}
	top := container.NewVBox(
		container.NewBorder(nil, nil, container.NewCenter(newTapArea(m.avatar, m.editProfile)), nil,
			container.NewVBox(me, container.NewBorder(nil, nil, m.show, nil, m.status))),
		container.NewBorder(nil, nil, nil, container.NewHBox(c.notices.noticesButton(), m.searchButton), m.state), m.requests.button, m.problemBox)
	m.win.Canvas().AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift},
		func(fyne.Shortcut) { m.searchMessages() })
	m.win.Canvas().AddShortcut(findColleaguesShortcut, func(fyne.Shortcut) { m.findColleagues() })
	m.win.Canvas().AddShortcut(joinRoomShortcut, func(fyne.Shortcut) { c.showJoinRoom(m.win) })
	m.win.Canvas().AddShortcut(browseRoomsShortcut, func(fyne.Shortcut) { m.browseRooms() })
	m.win.SetContent(container.NewBorder(top, nil, nil, nil, m.roster.Object()))
	m.win.SetMainMenu(fyne.NewMainMenu(
		fyne.NewMenu("Magpie",
			fyne.NewMenuItem(lang.L("Add contact…"), m.addContact),
			&fyne.MenuItem{Label: lang.L("Join a group chat…"), Shortcut: joinRoomShortcut, Action: func() { c.showJoinRoom(m.win) }},
			fyne.NewMenuItem(lang.L("New group chat…"), func() { c.showCreateRoom(m.win) }),
			&fyne.MenuItem{Label: lang.L("Browse group chats…"), Shortcut: browseRoomsShortcut, Action: m.browseRooms},
			fyne.NewMenuItem(lang.L("Search messages…"), m.searchMessages),
			fyne.NewMenuItem(lang.L("Notices…"), m.showNotices),
			fyne.NewMenuItem(lang.L("Find colleagues…"), m.findColleagues),
			fyne.NewMenuItem(lang.L("My profile…"), m.editProfile),
			fyne.NewMenuItem(lang.L("Settings…"), m.showSettings),
			fyne.NewMenuItem(lang.L("Sign out"), func() { c.signOut("") }),
		),
		fyne.NewMenu(lang.L("Help"), fyne.NewMenuItem(lang.L("About Magpie"), func() {
			dialog.ShowInformation(lang.L("About Magpie"), "Magpie "+c.version, m.win)
		})),
	))
	m.win.Resize(fyne.NewSize(340, 640))
	m.win.SetCloseIntercept(m.onCloseRequest)
	return m
}

// applyStatus sends the chosen presence off the UI thread. The user's
// choice ends an automatic away.
func (m *mainWindow) applyStatus() {
	client, show, status := m.c.client, showFor(m.show.Selected), m.status.Text
	if client == nil || m.quietShow {
		return
	}
	m.away.chosen()
	m.c.noteActivity()
	if m.show.Selected == lang.L("Appear offline") {
		m.sendPresence(client.AppearOffline)
		return
	}
	m.sendPresence(func(ctx context.Context) error { return client.SetPresence(ctx, show, status) })
}

// setState shows the connection state, counting down to the next attempt
// while reconnecting.
func (m *mainWindow) setState(e xmpp.StateChanged) {
	m.stopCountdownIfRunning()
	switch e.State {
	case xmpp.Online:
		m.state.SetText(lang.L("Online"))
	case xmpp.Connecting:
		m.state.SetText(lang.L("Connecting…"))
	case xmpp.Reconnecting:
		m.retryAt = time.Now().Add(e.RetryIn)
		m.showRetry()
		// Ticker.Stop does not close its channel, so the goroutine has its
		// own stop signal; otherwise each reconnect would leak one.
		stop := make(chan struct{})
		m.stopCountdown = stop
		go func() {
			ticker := time.NewTicker(time.Second)
			defer ticker.Stop()
			for {
				select {
				case <-ticker.C:
					fyne.Do(m.showRetry)
				case <-stop:
					return
				}
			}
		}()
	case xmpp.Offline:
		text := lang.L("Offline")
		if e.Err != nil {
			text = lang.L("Offline: {{.Reason}}", map[string]any{"Reason": describeError(e.Err)})
		}
		m.state.SetText(text)
	}
}

// showProblem shows a failure that did not end the session, in the window.
func (m *mainWindow) showProblem(text string) {
	m.problem.SetText(text)
	m.problemBox.Show()
}

func (m *mainWindow) showRetry() {
	secs := int(time.Until(m.retryAt).Round(time.Second) / time.Second)
	m.state.SetText(lang.L("Connection lost; reconnecting in {{.Seconds}} s", map[string]any{"Seconds": max(secs, 0)}))
}

// addContact asks for a JID, a name and a group, and adds the contact.
func (m *mainWindow) addContact() { m.addContactWith(m.win, "", "", "", nil) }

// addContactWith is addContact with the form filled in, over parent;
// onConfirm, when set, learns the address the user confirmed.
func (m *mainWindow) addContactWith(parent fyne.Window, addressText, nameText, groupText string, onConfirm func(jid.JID)) {
	address := &widget.Entry{PlaceHolder: "lisi@company.example", Text: addressText}
	name := &widget.Entry{Text: nameText}
	group := &widget.Entry{Text: groupText}
	client := m.c.client
	form := dialog.NewForm(lang.L("Add contact"), lang.L("Add"), lang.L("Cancel"), []*widget.FormItem{
		widget.NewFormItem(lang.L("Address"), address),
		widget.NewFormItem(lang.L("Name"), name),
		widget.NewFormItem(lang.L("Group"), group),
	}, func(ok bool) {
		if !ok {
			return
		}
		j, err := jid.Parse(address.Text)
		if err == nil && j.Localpart() == "" {
			err = errors.New(lang.L("The address {{.Address}} is not a user's address (name@domain).", map[string]any{"Address": address.Text}))
		}
		if err != nil {
			dialog.ShowError(err, parent)
			return
		}
		var groups []string
		if group.Text != "" {
			groups = []string{group.Text}
		}
		if onConfirm != nil {
			onConfirm(j)
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := client.AddContact(ctx, j, name.Text, groups); err != nil {
				fyne.Do(func() { dialog.ShowError(err, parent) })
			}
		}()
	}, parent)
	// Wide enough for an address such as zhangsan@oa.example.com (a link
	// fills it in), within the contacts window.
	form.Resize(fyne.NewSize(min(parent.Canvas().Size().Width, 360), 0))
	form.Show()
}

// contactMenu offers what can be done with a contact.
func (m *mainWindow) contactMenu(j jid.JID, at fyne.Position) {
	menu := fyne.NewMenu("",
		fyne.NewMenuItem(lang.L("Open chat"), func() { m.c.openChat(j) }),
		fyne.NewMenuItem(lang.L("Invite to group chat…"), func() { m.c.inviteContact(j) }),
		fyne.NewMenuItem(lang.L("Profile…"), func() { m.c.showProfile(j, m.win) }),
		fyne.NewMenuItem(lang.L("Rename…"), func() { m.renameContact(j) }),
		fyne.NewMenuItem(lang.L("Move to group…"), func() { m.moveContact(j) }),
		fyne.NewMenuItem(lang.L("Remove…"), func() { m.removeContact(j) }),
	)
	widget.ShowPopUpMenuAtPosition(menu, m.win.Canvas(), at)
}

func (m *mainWindow) renameContact(j jid.JID) {
	client := m.c.client
	ct, _ := client.Contact(j)
	name := widget.NewEntry()
	name.SetText(ct.Name)
	dialog.ShowForm(lang.L("Rename contact"), lang.L("Rename"), lang.L("Cancel"),
		[]*widget.FormItem{widget.NewFormItem(lang.L("Name"), name)}, func(ok bool) {
			if ok {
				m.rosterChange(func(ctx context.Context) error { return client.RenameContact(ctx, j, strings.TrimSpace(name.Text)) })
			}
		}, m.win)
}

func (m *mainWindow) moveContact(j jid.JID) {
	client := m.c.client
	ct, _ := client.Contact(j)
	groups := widget.NewEntry()
	groups.SetText(strings.Join(ct.Groups, ", "))
	groups.PlaceHolder = lang.L("Groups, separated by commas")
	dialog.ShowForm(lang.L("Move to group"), lang.L("Move"), lang.L("Cancel"),
		[]*widget.FormItem{widget.NewFormItem(lang.L("Group"), groups)}, func(ok bool) {
			if ok {
				list := splitGroups(groups.Text)
				m.rosterChange(func(ctx context.Context) error { return client.SetGroups(ctx, j, list) })
			}
		}, m.win)
}

func (m *mainWindow) removeContact(j jid.JID) {
	client := m.c.client
	dialog.ShowConfirm(lang.L("Remove contact"),
		lang.L("Remove {{.Who}} from your contacts? You will no longer see each other's presence.", map[string]any{"Who": j.String()}),
		func(ok bool) {
			if ok {
				m.rosterChange(func(ctx context.Context) error { return client.RemoveContact(ctx, j) })
			}
		}, m.win)
}

// rosterChange runs a roster edit off the UI thread and reports a refusal
// in plain words; the change itself shows when the server's push arrives.
func (m *mainWindow) rosterChange(change func(context.Context) error) {
	m.c.background()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := change(ctx)
		return func() {
			if err != nil {
				dialog.ShowError(errors.New(describeRosterError(err)), m.win)
			}
		}
	})
}

// describeRosterError explains a refused roster change. Servers refuse
// changes to shared-group members (company directory contacts) with
// not-acceptable (Openfire), not-allowed or forbidden; Prosody's mod_groups
// accepts them and restores the contact at the next sign-in.
func describeRosterError(err error) string {
	var se *xmpp.StanzaError
	if errors.As(err, &se) {
		switch se.Condition {
		case "not-acceptable", "not-allowed", "forbidden":
			return lang.L("This contact is managed by the company directory and cannot be changed here.")
		}
	}
	return lang.L("The contact could not be changed: {{.Error}}", map[string]any{"Error": err.Error()})
}

// splitGroups turns "R&D, Friends" into its group names.
func splitGroups(text string) []string {
	var groups []string
	for _, g := range strings.Split(text, ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	return groups
}

func (m *mainWindow) stopCountdownIfRunning() {
	if m.stopCountdown != nil {
		close(m.stopCountdown)
		m.stopCountdown = nil
	}
}

// close ends the window for good (sign-out), with its countdown.
func (m *mainWindow) close() {
	m.stopCountdownIfRunning()
	if m.searchWin != nil {
		m.searchWin.Close()
	}
	if m.directory != nil {
		m.directory.win.Close()
	}
	if m.roomDir != nil {
		m.roomDir.win.Close()
	}
	if m.editor != nil {
		m.editor.win.Close()
	}
	m.win.SetCloseIntercept(nil)
	m.win.Close()
}

// showSettings edits the preferences that are not chosen elsewhere.
func (m *mainWindow) showSettings() {
	prefs := m.c.app.Preferences()
	auto := widget.NewCheck(lang.L("Sign in automatically"), nil)
	auto.SetChecked(prefs.BoolWithFallback(prefAutoSignIn, true))
	if !m.c.provision.RememberPasswords {
		// Without a remembered password there is nothing to sign in with.
		auto.SetChecked(false)
		auto.Disable()
	}
	notify := widget.NewCheck(lang.L("Desktop notifications for new messages"), nil)
	notify.SetChecked(prefs.BoolWithFallback(prefNotifications, true))
	idle := &widget.Entry{Validator: validateIdleMinutes}
	idle.SetText(strconv.Itoa(prefs.IntWithFallback(prefIdleMinutes, defaultIdleMinutes)))
	startAtLogin := widget.NewCheck(lang.L("Start Magpie when I sign in to the computer"), nil)
	startWas, err := autostartEnabled()
	startAtLogin.SetChecked(startWas)
	if err != nil {
		fyne.LogError("read the autostart entry", err)
	}
	m.settingsForm = &settingsForm{auto: auto, notify: notify, idle: idle, startAtLogin: startAtLogin}
	idleItem := widget.NewFormItem(lang.L("Away after"), idle)
	idleItem.HintText = lang.L("Minutes without keyboard or mouse input; 0: never")
	items := []*widget.FormItem{
		widget.NewFormItem("", auto),
		widget.NewFormItem("", notify),
		idleItem,
		widget.NewFormItem("", startAtLogin),
	}
	// A form dialog: Save stays disabled while the minutes are not a number.
	dialog.ShowForm(lang.L("Settings"), lang.L("Save"), lang.L("Cancel"), items, func(save bool) {
		m.settingsForm = nil
		if !save {
			return
		}
		if !m.c.provision.RememberPasswords {
			auto.SetChecked(false)
		}
		prefs.SetBool(prefAutoSignIn, auto.Checked)
		prefs.SetBool(prefNotifications, notify.Checked)
		if validateIdleMinutes(idle.Text) == nil {
			minutes, _ := strconv.Atoi(strings.TrimSpace(idle.Text))
			prefs.SetInt(prefIdleMinutes, minutes)
			m.away.after = idleAfter(prefs)
		}
		if startAtLogin.Checked != startWas {
			if err := setAutostart(startAtLogin.Checked); err != nil {
				dialog.ShowError(errors.New(lang.L("Could not change the start at sign-in: {{.Error}}", map[string]any{"Error": err.Error()})), m.win)
			}
		}
	}, m.win)
}

// settingsForm is the open settings dialog's fields, for tests.
type settingsForm struct {
	auto, notify, startAtLogin *widget.Check
	idle                       *widget.Entry
}

// validateIdleMinutes accepts a whole number of minutes from 0 (never) to
// a day.
func validateIdleMinutes(text string) error {
	n, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil || n < 0 || n > 24*60 {
		return errors.New(lang.L("Enter a number of minutes from 0 to 1440."))
	}
	return nil
}

// onCloseRequest runs when the user closes the contacts window. It keeps
// Magpie running in the tray, as messengers do, and says so the first time.
// Without a tray host there would be no way back to a hidden window, so it
// quits instead (signing out cleanly).
func (m *mainWindow) onCloseRequest() {
	c := m.c
	if !c.trayHost.Load() {
		c.app.Quit()
		return
	}
	m.win.Hide()
	prefs := c.app.Preferences()
	if !prefs.Bool(prefTrayHintShown) {
		prefs.SetBool(prefTrayHintShown, true)
		c.sendNotification(fyne.NewNotification("Magpie",
			lang.L("Magpie keeps running in the system tray. To quit, use Quit in the tray menu or the Magpie menu.")))
	}
}

// searchMessages opens the search across all chats (or brings it forward).
// A result opens its chat at that message.
func (m *mainWindow) searchMessages() {
	if m.searchWin != nil {
		m.searchWin.Show()
		m.searchWin.RequestFocus()
		m.searchPanel.Focus()
		return
	}
	c := m.c
	client := c.client
	if client == nil || c.store == nil || c.chats == nil {
		return
	}
	p := newSearchPanel(func(text string) ([]xmpp.SearchHit, error) {
		return client.SearchHistory(text, jid.JID{}, searchLimit)
	}, c.chats.run, c.chats.toChat, true)
	p.nameOf, p.roomName = c.chats.displayName, c.roomTitle
	p.onOpen = func(r searchResult) { c.jumpTo(r.peer, r.msg.Seq, r.room) }
	w := c.app.NewWindow(lang.L("Search messages"))
	w.SetContent(container.NewBorder(container.NewPadded(p.bar), nil, nil, nil, p.content))
	w.Resize(fyne.NewSize(480, 560))
	w.SetOnClosed(func() { m.searchWin, m.searchPanel = nil, nil })
	m.searchWin, m.searchPanel = w, p
	w.Show()
	p.Focus()
}
