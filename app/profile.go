package app

import (
	"cmp"
	"context"
	"crypto/sha1" // #nosec G505 -- XEP-0153 names photos by their SHA-1
	"encoding/hex"
	"errors"
	"image"
	"io"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

const (
	// chatAvatarSize is the avatar's size in a chat's header and at the top
	// of the contacts window.
	chatAvatarSize = 40
	// cardAvatarSize is the photo's size on a profile card and in the
	// editor; cardPhotoPx its pixels, for a 2x screen.
	cardAvatarSize = 112
	cardPhotoPx    = 2 * cardAvatarSize
	// profileTimeout bounds fetching or saving a profile.
	profileTimeout = 20 * time.Second
	// maxPhotoFile is the largest picture file read for the own photo.
	maxPhotoFile = 30 << 20
	// maxRememberedProfiles bounds the profiles kept for cards opened again.
	maxRememberedProfiles = 256
)

// background is how the profile views run network calls: the chats'
// runner, which tests replace to run them when they choose.
func (c *controller) background() backgroundRunner {
	if c.chats != nil && c.chats.run != nil {
		return c.chats.run
	}
	return runInBackground
}

// rememberProfile keeps p (without its photo, which the avatar cache and
// the store hold) so a card opened again shows it at once.
func (c *controller) rememberProfile(p xmpp.Profile) {
	if c.profiles == nil || len(c.profiles) >= maxRememberedProfiles {
		c.profiles = map[string]xmpp.Profile{}
	}
	p.Photo = nil
	c.profiles[p.JID.Bare().String()] = p
	if c.client != nil && p.JID.Bare().Equal(c.client.Account().Bare()) {
		c.ownName = strings.TrimSpace(cmp.Or(strings.TrimSpace(p.Nickname), p.FullName))
	}
}

// loadOwnProfile reads the account's own profile (from the store when
// fresh) in the background, for the name the user goes by: the default
// nickname in group chats.
func (c *controller) loadOwnProfile() {
	client := c.client
	if client == nil {
		return
	}
	c.roomRunner()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		p, err := client.Profile(ctx, client.Account())
		return func() {
			if err == nil && c.client == client {
				c.rememberProfile(p)
			}
		}
	})
}

// rosterName is the contact's name in the roster, else their user name.
func (c *controller) rosterName(bare jid.JID) string {
	if c.client != nil {
		if ct, ok := c.client.Contact(bare); ok && strings.TrimSpace(ct.Name) != "" {
			return strings.TrimSpace(ct.Name)
		}
	}
	if bare.Localpart() != "" {
		return bare.Localpart()
	}
	return bare.String()
}

// describeProfileError says why a profile could not be read or saved.
func describeProfileError(err error) string {
	switch {
	case errors.Is(err, xmpp.ErrNotConnected):
		return lang.L("Not connected: the profile cannot be loaded now.")
	case errors.Is(err, context.DeadlineExceeded):
		return lang.L("The server did not answer in time. Try again later.")
	}
	return lang.L("The profile could not be loaded: {{.Error}}", map[string]any{"Error": err.Error()})
}

// photoThumbs decodes a profile's photo for a card (large) and for the
// avatar cache (thumb), off the UI thread. Without a photo both are nil
// and ok is true; ok is false when there is one that cannot be shown.
func photoThumbs(photo []byte) (large, thumb image.Image, ok bool) {
	if len(photo) == 0 {
		return nil, nil, true
	}
	img, err := decodePhoto(photo, maxPhotoDecode)
	if err != nil {
		return nil, nil, false
	}
	l, t := squareDown(img, cardPhotoPx), squareDown(img, avatarThumbPx)
	cutRound(l)
	cutRound(t)
	return l, t, true
}

// profileCard is a contact's business card: photo, name, department,
// title, organisation, phone, email and address, with Message and, for
// someone not in the contacts, Add to contacts. It shows what is known at
// once and what the server says when it answers.
type profileCard struct {
	c    *controller
	peer jid.JID
	win  fyne.Window

	dialog   *dialog.CustomDialog
	avatar   *avatarView
	name     *widget.Label
	subtitle *widget.Label
	fields   *fyne.Container
	state    *widget.Label
	message  *widget.Button
	add      *widget.Button
	// loadButton asks for a profile a link opened (see holdStranger).
	loadButton *widget.Button
	closed     bool
}

// showProfile opens the profile card of peer over win.
func (c *controller) showProfile(peer jid.JID, win fyne.Window) *profileCard {
	peer = peer.Bare()
	own := c.client != nil && peer.Equal(c.client.Account().Bare())
	p := &profileCard{c: c, peer: peer, win: win}
	p.avatar = newAvatarView(cardAvatarSize)
	p.name = &widget.Label{Alignment: fyne.TextAlignCenter, TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameSubHeadingText,
		Wrapping: fyne.TextWrapWord, Selectable: true}
	p.subtitle = &widget.Label{Alignment: fyne.TextAlignCenter, Wrapping: fyne.TextWrapWord}
	p.fields = container.New(layout.NewFormLayout())
	p.state = &widget.Label{Alignment: fyne.TextAlignCenter, Wrapping: fyne.TextWrapWord}
	p.loadButton = &widget.Button{Text: lang.L("Load profile"), Icon: theme.DownloadIcon(), OnTapped: p.loadAsked}
	p.loadButton.Hide()
	p.message = &widget.Button{Text: lang.L("Message"), Icon: theme.MailComposeIcon(), Importance: widget.HighImportance, OnTapped: func() {
		p.close()
		c.openChat(peer)
	}}
	p.add = &widget.Button{Text: lang.L("Add to contacts"), Icon: theme.ContentAddIcon(), OnTapped: p.addContact}
	closeButton := &widget.Button{Text: lang.L("Close"), OnTapped: p.close}
	if own {
		p.message.Hide()
	}
	if c.client == nil || own {
		p.add.Hide()
	} else if _, in := c.client.Contact(peer); in {
		p.add.Hide()
	}

	content := container.NewVBox(
		container.NewCenter(p.avatar),
		p.name,
		p.subtitle,
		widget.NewSeparator(),
		p.fields,
		p.state,
		container.NewCenter(p.loadButton),
	)
	p.dialog = dialog.NewCustomWithoutButtons(lang.L("Profile"), content, win)
	p.dialog.SetButtons([]fyne.CanvasObject{closeButton, p.add, p.message})
	p.dialog.SetOnClosed(func() {
		p.closed = true
		p.avatar.unbind()
	})
	if known, ok := c.profiles[peer.String()]; ok {
		p.fill(known)
	} else {
		p.fill(xmpp.Profile{JID: peer})
	}
	if c.avatars.isHeld(peer.String()) {
		p.showState(lang.L("This profile was opened by a link, and {{.Who}} is not in your contacts: Magpie asks their server for it only when you want.",
			map[string]any{"Who": peer.String()}))
		p.loadButton.Show()
	} else {
		p.load()
	}
	p.dialog.Resize(fyne.NewSize(400, 0))
	p.dialog.Show()
	return p
}

func (p *profileCard) close() { p.dialog.Hide() }

// loadAsked loads a profile held back from a link, now that the user
// asks for it.
func (p *profileCard) loadAsked() {
	p.loadButton.Hide()
	p.c.avatars.release(p.peer.String())
	p.load()
}

// fill shows profile pr; empty fields are left out, the address never.
func (p *profileCard) fill(pr xmpp.Profile) {
	name := pr.FullName
	if name == "" {
		name = p.c.rosterName(p.peer)
	}
	p.avatar.bind(p.c.avatars, p.peer.String(), name)
	p.name.SetText(name)
	// The nickname goes under the name; title and department are below.
	nick := pr.Nickname
	if nick == name {
		nick = ""
	}
	p.subtitle.SetText(nick)
	p.subtitle.Hidden = nick == ""

	var rows []fyne.CanvasObject
	row := func(label, value string, extra fyne.CanvasObject) {
		if value == "" {
			return
		}
		var v fyne.CanvasObject = &widget.Label{Text: value, Selectable: true, Wrapping: fyne.TextWrapBreak}
		if extra != nil {
			v = container.NewBorder(nil, nil, nil, extra, v)
		}
		rows = append(rows, dimLabel(label), v)
	}
	row(lang.L("Department"), pr.Unit, nil)
	row(lang.L("Title"), pr.Title, nil)
	row(lang.L("Organisation"), pr.Org, nil)
	row(lang.L("Phone"), pr.Phone, nil)
	var mail fyne.CanvasObject
	if u := mailtoURL(pr.Email); u != nil {
		mail = &widget.Button{Icon: theme.MailComposeIcon(), Importance: widget.LowImportance, OnTapped: func() {
			if err := fyne.CurrentApp().OpenURL(u); err != nil {
				p.state.SetText(err.Error())
				p.state.Show()
			}
		}}
	}
	row(lang.L("Email"), pr.Email, mail)
	row(lang.L("Address"), p.peer.String(), nil)
	p.fields.Objects = rows
	p.fields.Refresh()
}

// mailtoURL is the mailto: link for an e-mail address from a vCard, nil
// when it is not one plain address: the vCard is the contact's (or their
// server's) to write, and a mailto: with a display name, a second address
// or ?cc=, &body= in it would have the mail program write more than a
// mail to them. The address must parse (net/mail) and be the whole text,
// without the characters that would start a mailto: query or an escape.
func mailtoURL(email string) *url.URL {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email || strings.ContainsAny(email, "?&%#\"\\ ,;:<>[]()") {
		return nil
	}
	for _, r := range email {
		if r < 0x20 || r == 0x7f {
			return nil
		}
	}
	return &url.URL{Scheme: "mailto", Opaque: email}
}

// load asks the core for the profile (the store's copy when it is fresh)
// off the UI thread, and shows it, or why it could not be read.
func (p *profileCard) load() {
	client := p.c.client
	if client == nil {
		p.showState(lang.L("Not connected: the profile cannot be loaded now."))
		return
	}
	p.showState(lang.L("Loading…"))
	peer, avatars := p.peer, p.c.avatars
	p.c.background()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), profileTimeout)
		defer cancel()
		pr, err := client.Profile(ctx, peer)
		large, thumb, photoOK := photoThumbs(pr.Photo)
		return func() {
			if err != nil {
				if !p.closed {
					p.showState(describeProfileError(err))
				}
				return
			}
			if photoOK {
				avatars.offer(peer, pr.PhotoHash, thumb) // the list shows the photo the card does
			}
			p.c.rememberProfile(pr)
			if p.closed {
				return
			}
			p.showState("")
			p.fill(pr)
			p.avatar.setLarge(large)
		}
	})
}

func (p *profileCard) showState(text string) {
	p.state.SetText(text)
	p.state.Hidden = text == ""
	p.state.Refresh()
}

// addContact adds the peer to the contacts and asks for their presence.
func (p *profileCard) addContact() {
	client := p.c.client
	if client == nil {
		return
	}
	name := p.name.Text
	if name == p.peer.Localpart() || name == p.peer.String() {
		name = ""
	}
	p.add.Disable()
	peer := p.peer
	p.c.background()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), profileTimeout)
		defer cancel()
		err := client.AddContact(ctx, peer, name, nil)
		return func() {
			if err != nil {
				p.add.Enable()
				p.showState(describeRosterError(err))
				return
			}
			p.add.Hide()
			who := peer.String()
			if name != "" {
				who = name + " (" + who + ")"
			}
			p.showState(lang.L("Added. {{.Who}} is asked to share their presence.", map[string]any{"Who": who}))
		}
	})
}

// profileEditor edits the own profile: photo, name, nickname, phone,
// email, title and department. It loads the profile from the server
// first, so that saving never overwrites what another device set with
// stale data.
type profileEditor struct {
	c *controller
	// win is the editor's own window: as a dialog over the narrow
	// contacts window, the file chooser would be too cramped to use.
	win    fyne.Window
	avatar *avatarView

	fullName, nickname, phone, email, title, unit *widget.Entry

	change, remove, save *widget.Button
	state                *widget.Label

	loaded       xmpp.Profile
	isLoaded     bool
	busy         bool
	photo        []byte // what is saved: the loaded photo, a new one, or nil
	photoType    string
	photoChanged bool
	closed       bool
}

// editProfile opens the own profile editor, or brings it forward.
func (m *mainWindow) editProfile() {
	if m.editor != nil {
		m.editor.win.Show()
		m.editor.win.RequestFocus()
		return
	}
	if m.c.client == nil {
		return
	}
	m.editor = m.c.newProfileEditor()
	m.editor.win.SetOnClosed(func() {
		m.editor.closed = true
		m.editor = nil
	})
	m.editor.win.Show()
}

func (c *controller) newProfileEditor() *profileEditor {
	own := c.client.Account().Bare()
	e := &profileEditor{c: c, win: c.app.NewWindow(lang.L("My profile"))}
	e.avatar = newAvatarView(cardAvatarSize)
	// Not from the cache: the editor shows the photo that will be saved,
	// or the placeholder when it is removed.
	e.avatar.bind(nil, own.String(), own.Localpart())
	entry := func() *widget.Entry {
		en := widget.NewEntry()
		en.Disable()
		return en
	}
	e.fullName, e.nickname, e.phone, e.email, e.title, e.unit = entry(), entry(), entry(), entry(), entry(), entry()
	e.email.PlaceHolder = "zhangsan@company.example"
	e.fullName.OnChanged = func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			e.avatar.bind(nil, own.String(), s)
		}
	}
	e.change = &widget.Button{Text: lang.L("Change photo…"), Icon: theme.FolderOpenIcon(), OnTapped: e.choosePhoto}
	e.remove = &widget.Button{Text: lang.L("Remove photo"), Icon: theme.DeleteIcon(), Importance: widget.LowImportance, OnTapped: e.removePhoto}
	e.change.Disable()
	e.remove.Disable()
	e.state = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.LowImportance}
	e.save = &widget.Button{Text: lang.L("Save"), Importance: widget.HighImportance, OnTapped: e.submit}
	e.save.Disable()
	cancel := &widget.Button{Text: lang.L("Cancel"), OnTapped: func() { e.win.Close() }}

	form := widget.NewForm(
		widget.NewFormItem(lang.L("Name"), e.fullName),
		widget.NewFormItem(lang.L("Nickname"), e.nickname),
		widget.NewFormItem(lang.L("Department"), e.unit),
		widget.NewFormItem(lang.L("Title"), e.title),
		widget.NewFormItem(lang.L("Phone"), e.phone),
		widget.NewFormItem(lang.L("Email"), e.email),
	)
	content := container.NewVBox(
		container.NewCenter(e.avatar),
		container.NewCenter(container.NewHBox(e.change, e.remove)),
		widget.NewLabelWithStyle(own.String(), fyne.TextAlignCenter, fyne.TextStyle{}),
		form,
		e.state,
	)
	buttons := container.NewHBox(layout.NewSpacer(), cancel, e.save)
	e.win.SetContent(container.NewPadded(container.NewBorder(nil, buttons, nil, nil, container.NewVScroll(content))))
	e.win.Resize(fyne.NewSize(480, 600))
	e.load()
	return e
}

func (e *profileEditor) showState(text string, failed bool) {
	e.state.SetText(text)
	e.state.Importance = widget.LowImportance
	if failed {
		e.state.Importance = widget.DangerImportance
	}
	e.state.Refresh()
}

// load fetches the own profile from the server (not the store's copy).
func (e *profileEditor) load() {
	client := e.c.client
	e.showState(lang.L("Loading…"), false)
	e.c.background()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), profileTimeout)
		defer cancel()
		p, err := client.FetchProfile(ctx, client.Account())
		large, _, _ := photoThumbs(p.Photo)
		return func() {
			if e.closed {
				return
			}
			if err != nil {
				e.showState(describeProfileError(err), true)
				return
			}
			e.loaded, e.isLoaded = p, true
			e.photo, e.photoType = p.Photo, p.PhotoType
			for _, f := range []struct {
				entry *widget.Entry
				text  string
			}{{e.fullName, p.FullName}, {e.nickname, p.Nickname}, {e.unit, p.Unit}, {e.title, p.Title}, {e.phone, p.Phone}, {e.email, p.Email}} {
				f.entry.SetText(f.text)
				f.entry.Enable()
			}
			e.avatar.setLarge(large)
			e.change.Enable()
			if len(p.Photo) > 0 {
				e.remove.Enable()
			}
			e.save.Enable()
			e.showState("", false)
		}
	})
}

// choosePhoto lets the user pick a PNG or JPEG file.
func (e *profileEditor) choosePhoto() {
	open := dialog.NewFileOpen(func(rc fyne.URIReadCloser, err error) {
		if err != nil {
			e.showState(lang.L("This picture cannot be used: {{.Error}}", map[string]any{"Error": err.Error()}), true)
			return
		}
		if rc == nil {
			return // cancelled
		}
		e.usePhotoFrom(rc)
	}, e.win)
	open.SetFilter(storage.NewExtensionFileFilter([]string{".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG"}))
	if home, err := storage.ListerForURI(storage.NewFileURI(homeDir())); err == nil {
		open.SetLocation(home)
	}
	open.Resize(fyne.NewSize(760, 520))
	open.Show()
}

// homeDir is where the file chooser starts.
func homeDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return "/"
	}
	return home
}

// usePhotoFrom reads a picture, off the UI thread, and makes it the photo
// to save: its middle square, scaled down to at most ownPhotoMax pixels
// and encoded again, which keeps the vCard small.
func (e *profileEditor) usePhotoFrom(rc io.ReadCloser) {
	e.change.Disable()
	e.showState(lang.L("Preparing the photo…"), false)
	e.c.background()(func() func() {
		data, err := io.ReadAll(io.LimitReader(rc, maxPhotoFile+1))
		rc.Close()
		if err == nil && len(data) > maxPhotoFile {
			err = errors.New(lang.L("the file is larger than 30 MB"))
		}
		var photo []byte
		var mimeType string
		if err == nil {
			photo, mimeType, err = prepareOwnPhoto(data)
		}
		var large image.Image
		if err == nil {
			large, _, _ = photoThumbs(photo)
		}
		return func() {
			e.change.Enable()
			if err != nil {
				e.showState(lang.L("This picture cannot be used: {{.Error}}", map[string]any{"Error": err.Error()}), true)
				return
			}
			e.photo, e.photoType, e.photoChanged = photo, mimeType, true
			e.avatar.setLarge(large)
			e.remove.Enable()
			e.showState("", false)
		}
	})
}

func (e *profileEditor) removePhoto() {
	e.photo, e.photoType, e.photoChanged = nil, "", true
	e.avatar.setLarge(nil)
	e.remove.Disable()
}

// edited is the profile with what the user typed.
func (e *profileEditor) edited() xmpp.Profile {
	p := e.loaded
	p.FullName = strings.TrimSpace(e.fullName.Text)
	p.Nickname = strings.TrimSpace(e.nickname.Text)
	p.Unit = strings.TrimSpace(e.unit.Text)
	p.Title = strings.TrimSpace(e.title.Text)
	p.Phone = strings.TrimSpace(e.phone.Text)
	p.Email = strings.TrimSpace(e.email.Text)
	p.Photo, p.PhotoType = e.photo, e.photoType
	return p
}

// submit publishes the profile off the UI thread: only the photo when
// nothing else changed (SetAvatar), else the whole profile, and then a new
// photo also through PEP (SetAvatar again). The dialog
// stays open with the error if the server refuses.
func (e *profileEditor) submit() {
	if !e.isLoaded || e.busy {
		return
	}
	client, avatars := e.c.client, e.c.avatars
	if client == nil {
		e.showState(lang.L("Not connected: the profile cannot be saved now."), true)
		return
	}
	p := e.edited()
	old := e.loaded
	old.Photo, old.PhotoType = p.Photo, p.PhotoType
	onlyPhoto := profileFieldsEqual(old, p)
	if onlyPhoto && !e.photoChanged {
		e.win.Close()
		return
	}
	e.busy = true
	e.save.Disable()
	e.showState(lang.L("Saving…"), false)
	photoChanged := e.photoChanged
	e.c.background()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), profileTimeout)
		defer cancel()
		var err error
		if onlyPhoto {
			err = client.SetAvatar(ctx, p.Photo, p.PhotoType)
		} else if err = client.SetProfile(ctx, p); err == nil && photoChanged {
			// The vCard has the new photo; PEP (XEP-0084) gets it too.
			err = client.SetAvatar(ctx, p.Photo, p.PhotoType)
		}
		_, thumb, _ := photoThumbs(p.Photo)
		return func() {
			e.busy = false
			if err != nil {
				e.save.Enable()
				e.showState(lang.L("The profile could not be saved: {{.Error}}", map[string]any{"Error": err.Error()}), true)
				return
			}
			hash := ""
			if len(p.Photo) > 0 {
				hash = photoHash(p.Photo)
			}
			p.JID, p.PhotoHash = client.Account().Bare(), hash
			avatars.offer(p.JID, hash, thumb)
			e.c.rememberProfile(p)
			if !e.closed {
				e.win.Close()
			}
		}
	})
}

// profileFieldsEqual compares two profiles' text.
func profileFieldsEqual(a, b xmpp.Profile) bool {
	return a.FullName == b.FullName && a.Nickname == b.Nickname && a.Unit == b.Unit && a.Title == b.Title &&
		a.Phone == b.Phone && a.Email == b.Email && a.Org == b.Org
}

// photoHash is the SHA-1 (hex) XEP-0153 names a photo by.
func photoHash(photo []byte) string {
	sum := sha1.Sum(photo) // #nosec G401 -- the hash XEP-0153 specifies
	return hex.EncodeToString(sum[:])
}

// dimLabel is a field's name on a card, in the readable grey of the
// contacts list's status lines (a LowImportance label is too faint).
func dimLabel(text string) *widget.RichText {
	return widget.NewRichText(&widget.TextSegment{Text: text, Style: widget.RichTextStyle{
		ColorName: theme.ColorNamePlaceHolder,
		Inline:    true,
	}})
}

// tapArea makes its content tappable as a whole, with a hand cursor: the
// chat header (avatar and name) and the own avatar open profiles.
type tapArea struct {
	widget.BaseWidget
	content  fyne.CanvasObject
	onTapped func()
}

var (
	_ fyne.Tappable      = (*tapArea)(nil)
	_ desktop.Cursorable = (*tapArea)(nil)
)

func newTapArea(content fyne.CanvasObject, onTapped func()) *tapArea {
	t := &tapArea{content: content, onTapped: onTapped}
	t.ExtendBaseWidget(t)
	return t
}

func (t *tapArea) Tapped(*fyne.PointEvent) { t.onTapped() }

func (t *tapArea) Cursor() desktop.Cursor { return desktop.PointerCursor }

func (t *tapArea) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(t.content) }
