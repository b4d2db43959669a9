package app

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/mozillazg/go-pinyin"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// New group chat: a name, an address made from it, a description, and who
// may enter. Offices keep their rooms, so every room is created persistent
// and configured before anyone else can enter (never an instant room with
// the service's defaults, which on Prosody would be temporary): members
// only, a password, listed in the directory as chosen; with an archive,
// the members' real addresses visible to each other (colleagues, not
// strangers) and members allowed to invite. The room is bookmarked with
// autojoin and its tab opens; inviting colleagues can follow at once.

// roomSlug makes a room address's local part from its name: lower-case
// ASCII letters and digits, Chinese by its pinyin, words joined by hyphens
// ("研发部 2025" as "yanfabu-2025").
func roomSlug(name string) string {
	var b strings.Builder
	gap := false // a separator is due before the next word
	for _, r := range strings.ToLower(name) {
		var part string
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			part = string(r)
		case r == '-' || r == '_' || r == '.':
			gap = true
			continue
		case unicode.Is(unicode.Han, r):
			if syllables := pinyin.SinglePinyin(r, pinyinArgs); len(syllables) > 0 {
				part = syllables[0]
			}
		default:
			gap = true
			continue
		}
		if part == "" {
			continue
		}
		if gap && b.Len() > 0 {
			b.WriteByte('-')
		}
		gap = false
		b.WriteString(part)
	}
	slug := b.String()
	if len(slug) > 48 {
		slug = strings.TrimRight(slug[:48], "-")
	}
	return slug
}

// createRoomDialog is New group chat.
type createRoomDialog struct {
	c      *controller
	parent fyne.Window

	name, address, description, password *widget.Entry
	membersOnly, usePassword, listed     *widget.Check
	inviteNow                            *widget.Check
	form                                 *widget.Form

	// service is the group chat service the address goes to: guessed
	// until the server names it.
	service jid.JID
	// addressEdited is set once the user types an address of their own:
	// the name then no longer changes it.
	addressEdited bool
	filling       bool

	formStatus
	joinInstead *widget.Button
	create      *widget.Button
	dlg         *dialog.CustomDialog
	// existing is the room the service said exists, for Join instead.
	existing jid.JID
}

// showCreateRoom opens New group chat over parent.
func (c *controller) showCreateRoom(parent fyne.Window) *createRoomDialog {
	d := &createRoomDialog{c: c, parent: parent}
	if domain := domainOf(c.account.JID); domain != "" {
		d.service, _ = jid.Parse("conference." + domain)
	}
	d.name = &widget.Entry{PlaceHolder: lang.L("e.g. 研发部")}
	d.address = &widget.Entry{PlaceHolder: "team@" + d.service.String()}
	d.description = &widget.Entry{PlaceHolder: lang.L("Optional")}
	d.password = widget.NewPasswordEntry()
	d.password.SetPlaceHolder(lang.L("Password"))
	d.password.Hide()
	d.name.OnChanged = func(string) { d.fillAddress() }
	d.address.OnChanged = func(text string) {
		if !d.filling {
			d.addressEdited = strings.TrimSpace(text) != ""
		}
		d.joinInstead.Hide()
	}
	for _, e := range []*widget.Entry{d.name, d.address, d.description, d.password} {
		e.OnSubmitted = func(string) { d.submit() }
	}
	d.membersOnly = widget.NewCheck(lang.L("Members only (only invited people may enter)"), nil)
	d.usePassword = widget.NewCheck(lang.L("Protected by a password"), func(on bool) {
		if on {
			d.password.Show()
			d.parent.Canvas().Focus(d.password)
		} else {
			d.password.Hide()
		}
		d.dlg.Refresh() // a dialog keeps its size unless told to fit its content again
	})
	d.listed = widget.NewCheck(lang.L("Listed in the server's group chats"), nil)
	d.listed.SetChecked(true)
	d.inviteNow = widget.NewCheck(lang.L("Invite colleagues next"), nil)
	d.inviteNow.SetChecked(true)
	d.form = widget.NewForm(
		widget.NewFormItem(lang.L("Name"), d.name),
		widget.NewFormItem(lang.L("Address"), d.address),
		widget.NewFormItem(lang.L("Room description"), d.description))
	d.formStatus = newFormStatus()
	d.joinInstead = &widget.Button{Text: lang.L("Join it instead"), Icon: theme.LoginIcon(), Importance: widget.LowImportance, OnTapped: d.joinExisting}
	d.joinInstead.Hide()
	d.create = &widget.Button{Text: lang.L("Create"), Importance: widget.HighImportance, OnTapped: d.submit}
	content := container.NewVBox(d.form, d.membersOnly, d.usePassword, d.password, d.listed, d.inviteNow,
		d.problem, d.joinInstead, d.busy)
	cancel := widget.NewButton(lang.L("Cancel"), func() { d.dlg.Hide() })
	d.dlg = dialog.NewCustomWithoutButtons(lang.L("New group chat"), content, parent)
	d.dlg.SetButtons([]fyne.CanvasObject{cancel, d.create})
	d.dlg.Resize(fyne.NewSize(min(max(parent.Canvas().Size().Width-20, 320), 460), 0))
	d.dlg.Show()
	parent.Canvas().Focus(d.name)
	d.findService()
	return d
}

// findService asks the server for its group chat service, to put the
// address there.
func (d *createRoomDialog) findService() {
	client := d.c.client
	if client == nil {
		return
	}
	d.c.roomRunner()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), roomListTimeout)
		defer cancel()
		service, err := client.RoomService(ctx)
		return func() {
			switch {
			case errors.Is(err, xmpp.ErrNoRoomService):
				d.fail(describeRoomListError(err))
				d.create.Disable()
			case err == nil:
				d.service = service
				d.address.SetPlaceHolder("team@" + service.String())
				d.fillAddress()
			}
			// Another failure: the guessed service stays, and creating
			// says what is wrong.
		}
	})
}

// fillAddress makes the address from the name until the user types one.
func (d *createRoomDialog) fillAddress() {
	if d.addressEdited {
		return
	}
	text := ""
	if slug := roomSlug(d.name.Text); slug != "" {
		text = slug + "@" + d.service.String()
	}
	d.filling = true
	d.address.SetText(text)
	d.filling = false
}

func (d *createRoomDialog) fail(text string) {
	d.failed(text)
	d.create.Enable()
	d.dlg.Refresh()
}

// joinExisting joins the room that exists already, as the room directory
// would.
func (d *createRoomDialog) joinExisting() {
	d.dlg.Hide()
	d.c.enterRoom(d.existing, d.parent)
}

// config is the room's configuration as the dialog says.
func (d *createRoomDialog) config(name string) *xmpp.RoomConfig {
	cfg := &xmpp.RoomConfig{
		Name:         name,
		Description:  strings.TrimSpace(d.description.Text),
		Persistent:   true,
		Public:       d.listed.Checked,
		MembersOnly:  d.membersOnly.Checked,
		NonAnonymous: true,
		AllowInvites: true,
		Archive:      true,
	}
	if d.usePassword.Checked {
		cfg.Password = d.password.Text
	}
	return cfg
}

func (d *createRoomDialog) submit() {
	if !d.create.Visible() || d.create.Disabled() {
		return
	}
	c := d.c
	d.joinInstead.Hide()
	room, err := jid.Parse(strings.TrimSpace(d.address.Text))
	if err != nil || room.Localpart() == "" || room.Resourcepart() != "" {
		d.fail(lang.L("Enter the room's address, like team@conference.example.com."))
		d.parent.Canvas().Focus(d.address)
		return
	}
	if d.usePassword.Checked && d.password.Text == "" {
		d.fail(lang.L("Enter the password, or untick the password option."))
		d.parent.Canvas().Focus(d.password)
		return
	}
	client := c.client
	if client == nil {
		d.fail(lang.L("not signed in"))
		return
	}
	name := strings.TrimSpace(d.name.Text)
	if name == "" {
		name = room.Localpart()
	}
	cfg, nick, inviteNow := d.config(name), c.defaultNick(room), d.inviteNow.Checked
	d.create.Disable()
	d.working()
	c.roomRunner()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
		defer cancel()
		err := client.CreateRoom(ctx, room, nick, cfg)
		return func() {
			if c.client != client {
				return
			}
			if err != nil {
				d.failWith(room, err)
				return
			}
			d.idle()
			d.dlg.Hide()
			c.saveBookmark(xmpp.Bookmark{Room: room, Name: name, Autojoin: true, Nick: nick, Password: cfg.Password}, c.main.win)
			c.openJoinedRoom(room, nick)
			c.refreshRooms()
			if inviteNow {
				c.showInvitePicker(room, c.chats.win)
			}
		}
	})
}

// failWith explains why the room was not created, keeping everything
// typed; for a room that exists it offers to join it instead.
func (d *createRoomDialog) failWith(room jid.JID, err error) {
	var re *xmpp.RoomError
	switch {
	case errors.Is(err, xmpp.ErrRoomExists):
		d.existing = room
		d.fail(lang.L("A group chat with the address {{.Address}} exists already. Choose another address, or join it.",
			map[string]any{"Address": room.String()}))
		d.joinInstead.Show()
		d.dlg.Refresh()
		d.parent.Canvas().Focus(d.address)
	case errors.Is(err, xmpp.ErrRoomConfigUnsupported):
		d.fail(lang.L("This server's group chats cannot be made members-only or protected by a password."))
	case errors.Is(err, xmpp.ErrNotAllowed) || (errors.As(err, &re) && (re.Condition == "not-allowed" || re.Condition == "forbidden")):
		d.fail(lang.L("The server does not let you create group chats here. Ask your IT department."))
	default:
		d.fail(lang.L("The group chat could not be created: {{.Error}}", map[string]any{"Error": describeJoinError(err)}))
	}
}

// newRoomButton is the join dialog's way to New group chat: the address
// typed so far goes along.
func (d *joinRoomDialog) newRoomButton() *widget.Button {
	return &widget.Button{Text: lang.L("New group chat…"), Icon: theme.ContentAddIcon(), Importance: widget.LowImportance, OnTapped: func() {
		d.dlg.Hide()
		create := d.c.showCreateRoom(d.parent)
		if room, err := jid.Parse(strings.TrimSpace(d.room.Text)); err == nil && room.Localpart() != "" {
			create.address.SetText(room.Bare().String())
		}
	}}
}

// offerCreateRoom adds New group chat under the room directory's list,
// for the room that is not there.
func (c *controller) offerCreateRoom(w fyne.Window) {
	button := &widget.Button{Text: lang.L("New group chat…"), Icon: theme.ContentAddIcon(), Importance: widget.LowImportance,
		OnTapped: func() { c.showCreateRoom(w) }}
	w.SetContent(container.NewBorder(nil, container.NewPadded(container.NewHBox(button)), nil, nil, w.Content()))
}
