package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// Invitations to group chats, both ways. A received one is a prompt on
// the contacts window, as Gajim asks (one at a time, the others waiting in
// turn, none dropped), and a desktop notification when Magpie is not in
// front. Inviting is a picker over the contacts, filtered as the contacts
// window filters, that also takes an address typed in full. What a room
// says back later (a decline, a refusal) shows as a line under the room
// tab's header.

// inviteTimeout bounds sending one invitation or decline.
const inviteTimeout = 20 * time.Second

// invitationNotifyGap is the least time between two desktop notifications
// of invitations: many at once are one notification and a count in the
// prompt.
const invitationNotifyGap = time.Minute

// roomActions is the signed-in account's group chat prompts: the
// invitations waiting to be answered, and the lines under the room tabs'
// headers. It belongs to one contacts window: a new sign-in starts afresh.
type roomActions struct {
	main    *mainWindow
	pending []xmpp.InvitationReceived
	// dropped counts the invitations dropped for the cap
	// (maxPendingPrompts), the oldest first.
	dropped int
	// notified is when an invitation was last announced by a desktop
	// notification.
	notified time.Time
	prompt   *invitePrompt
	// notes are the lines under the room tabs' headers, by room.
	notes map[string]*roomNote
	// pickers are the open invitation pickers, by room.
	pickers map[string]*invitePicker
	// subjectDrafts keep a subject the room refused, by room, to edit it
	// again.
	subjectDrafts map[string]string
}

// roomActs returns the account's group chat prompts.
func (c *controller) roomActs() *roomActions {
	if c.groupActs == nil || c.groupActs.main != c.main {
		c.groupActs = &roomActions{main: c.main, notes: map[string]*roomNote{}, pickers: map[string]*invitePicker{},
			subjectDrafts: map[string]string{}}
	}
	return c.groupActs
}

// inviterName is how the user knows who invited or declined: the roster's
// name, the nick in the room for an occupant JID, "" when nobody is named.
func (c *controller) inviterName(from, room jid.JID) string {
	switch {
	case from.Equal(jid.JID{}):
		return ""
	case from.Bare().Equal(room.Bare()) && from.Resourcepart() != "":
		return from.Resourcepart()
	}
	return c.rosterName(from.Bare())
}

// invitationReceived queues an invitation and prompts for it when no other
// prompt is up; a second one from the same person to the same room
// replaces the waiting one. At most maxPendingPrompts wait, the oldest
// dropped first (the prompt says how many were). A desktop notification
// announces one at most every invitationNotifyGap: the prompt counts the
// others.
func (c *controller) invitationReceived(inv xmpp.InvitationReceived) {
	if c.main == nil {
		return
	}
	acts := c.roomActs()
	if p := acts.prompt; p != nil && sameInvitation(p.inv, inv) {
		return
	}
	replaced := false
	for i, waiting := range acts.pending {
		if sameInvitation(waiting, inv) {
			acts.pending[i], replaced = inv, true
		}
	}
	if !replaced {
		acts.pending = append(acts.pending, inv)
		for len(acts.pending) > maxPendingPrompts {
			acts.pending[0] = xmpp.InvitationReceived{}
			acts.pending = acts.pending[1:]
			acts.dropped++
		}
	}
	if c.notificationsWanted() && !c.foreground && time.Since(acts.notified) >= invitationNotifyGap {
		acts.notified = time.Now()
		c.sendNotification(fyne.NewNotification(lang.L("Invitation to a group chat"), notificationText(withoutCheckMarks(c.invitationText(inv, "")))))
	}
	if acts.prompt == nil {
		c.nextInvitation()
	} else {
		acts.prompt.showWaiting(len(acts.pending))
	}
}

func sameInvitation(a, b xmpp.InvitationReceived) bool {
	return a.Room.Equal(b.Room) && a.From.Equal(b.From)
}

// invitationText says who invites to which room.
func (c *controller) invitationText(inv xmpp.InvitationReceived, name string) string {
	room := name
	if room == "" {
		room = c.roomTitle(inv.Room)
	}
	if who := c.inviterName(inv.From, inv.Room); who != "" {
		return lang.L("{{.Who}} invites you to the group chat {{.Room}}.", map[string]any{"Who": who, "Room": room})
	}
	return lang.L("You are invited to the group chat {{.Room}}.", map[string]any{"Room": room})
}

// nextInvitation prompts for the oldest waiting invitation. One to a room
// the user has entered meanwhile needs no answer.
func (c *controller) nextInvitation() {
	acts := c.roomActs()
	acts.prompt = nil
	for len(acts.pending) > 0 {
		inv := acts.pending[0]
		acts.pending = acts.pending[1:]
		if c.roomJoinedNow(inv.Room) {
			continue
		}
		acts.prompt = c.showInvitation(inv)
		acts.prompt.showWaiting(len(acts.pending))
		return
	}
}

// invitePrompt asks whether to join a room the user was invited to.
type invitePrompt struct {
	c   *controller
	inv xmpp.InvitationReceived
	// roomName is the room's own name, once the service said it.
	roomName string
	text     *widget.Label
	detail   *widget.Label
	waiting  *widget.Label
	bookmark *widget.Check
	formStatus
	join    *widget.Button
	decline *widget.Button
	later   *widget.Button
	dlg     *dialog.CustomDialog
}

func (c *controller) showInvitation(inv xmpp.InvitationReceived) *invitePrompt {
	p := &invitePrompt{c: c, inv: inv, formStatus: newFormStatus()}
	p.text = &widget.Label{Text: c.invitationText(inv, ""), Wrapping: fyne.TextWrapWord, TextStyle: fyne.TextStyle{Bold: true}}
	details := []string{inv.Room.String()}
	if inv.Reason != "" {
		details = append(details, "“"+inv.Reason+"”")
	}
	if inv.Delayed && !inv.Time.IsZero() {
		details = append(details, lang.L("Sent while you were away, at {{.Time}}.", map[string]any{"Time": formatStamp(inv.Time, time.Now())}))
	}
	p.detail = &widget.Label{Text: strings.Join(details, "\n"), Wrapping: fyne.TextWrapWord}
	p.waiting = &widget.Label{Importance: widget.LowImportance}
	p.waiting.Hide()
	p.bookmark = widget.NewCheck(lang.L("Bookmark this room (join it automatically)"), nil)
	_, bookmarked := c.bookmarks.get(inv.Room)
	p.bookmark.SetChecked(!bookmarked)
	if bookmarked {
		p.bookmark.Hide()
	}
	p.join = &widget.Button{Text: lang.L("Join"), Icon: theme.LoginIcon(), Importance: widget.HighImportance, OnTapped: p.accept}
	p.decline = &widget.Button{Text: lang.L("Decline"), OnTapped: p.refuse}
	if inv.From.Equal(jid.JID{}) {
		p.decline.Hide() // nobody to tell
	}
	p.later = &widget.Button{Text: lang.L("Not now"), Importance: widget.LowImportance, OnTapped: p.dismiss}
	content := container.NewVBox(p.text, p.detail, p.bookmark, p.problem, p.busy, p.waiting)
	p.dlg = dialog.NewCustomWithoutButtons(lang.L("Invitation to a group chat"), content, c.main.win)
	p.dlg.SetButtons([]fyne.CanvasObject{p.later, p.decline, p.join})
	p.dlg.Resize(fyne.NewSize(min(max(c.main.win.Canvas().Size().Width-20, 300), 420), 0))
	p.dlg.Show()
	p.learnRoomName()
	return p
}

// learnRoomName puts the room's own name in the prompt where the user has
// not named it: the room says it (disco#info), private rooms too.
func (p *invitePrompt) learnRoomName() {
	c, room := p.c, p.inv.Room
	client := c.client
	if client == nil || c.roomTitle(room) != room.Localpart() {
		return
	}
	c.roomRunner()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		info, _ := client.RoomDetails(ctx, room) // no name is no harm
		name := strings.TrimSpace(info.Name)
		return func() {
			if name == "" || name == room.Localpart() {
				return
			}
			p.roomName = name
			p.text.SetText(c.invitationText(p.inv, name))
			p.dlg.Refresh()
		}
	})
}

// showWaiting says how many more invitations wait behind this one, and
// how many older ones were dropped for the cap.
func (p *invitePrompt) showWaiting(n int) {
	var lines []string
	switch {
	case n == 1:
		lines = append(lines, lang.L("1 more invitation waiting"))
	case n > 1:
		lines = append(lines, lang.L("{{.Count}} more invitations waiting", map[string]any{"Count": n}))
	}
	switch dropped := p.c.roomActs().dropped; {
	case dropped == 1:
		lines = append(lines, lang.L("1 older invitation was not kept."))
	case dropped > 1:
		lines = append(lines, lang.L("{{.Count}} older invitations were not kept.", map[string]any{"Count": dropped}))
	}
	if lines == nil {
		p.waiting.Hide()
		p.dlg.Refresh() // a dialog keeps its size unless told to fit its content again
		return
	}
	p.waiting.SetText(strings.Join(lines, "\n"))
	p.waiting.Show()
	p.dlg.Refresh()
}

func (p *invitePrompt) setBusy(busy bool) {
	if busy {
		p.working()
		p.join.Disable()
		p.decline.Disable()
		p.dlg.Refresh()
		return
	}
	p.idle()
	p.join.Enable()
	p.decline.Enable()
	p.dlg.Refresh()
}

func (p *invitePrompt) fail(text string) {
	p.setBusy(false)
	p.failed(text)
	p.dlg.Refresh()
}

// done closes the prompt and brings the next invitation.
func (p *invitePrompt) done() {
	p.idle() // a hidden bar would go on ticking
	p.dlg.Hide()
	if acts := p.c.roomActs(); acts.prompt == p {
		p.c.nextInvitation()
	}
}

func (p *invitePrompt) dismiss() { p.done() }

// accept joins with the invitation's password, opens the room's tab and
// bookmarks it when asked. A refusal that the user can mend (a nick
// taken, a wrong password) goes on in the join dialog, filled in.
func (p *invitePrompt) accept() {
	c, inv := p.c, p.inv
	client := c.client
	if client == nil {
		p.fail(lang.L("not signed in"))
		return
	}
	if c.roomHeld(inv.Room) { // in it already (an autojoin got there first)
		c.chats.openRoom(inv.Room, "", true)
		p.done()
		return
	}
	nick := c.defaultNick(inv.Room)
	var opts []xmpp.JoinOption
	if inv.Password != "" {
		opts = append(opts, xmpp.WithRoomPassword(inv.Password))
	}
	bookmark := p.bookmark.Visible() && p.bookmark.Checked
	p.setBusy(true)
	c.roomRunner()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
		defer cancel()
		err := client.JoinRoom(ctx, inv.Room, nick, opts...)
		return func() {
			if c.client != client {
				return
			}
			switch {
			case errors.Is(err, xmpp.ErrNickConflict) || errors.Is(err, xmpp.ErrRoomPassword):
				p.idle()
				p.dlg.Hide()
				d := c.showJoinRoom(c.main.win)
				d.fill(inv.Room, nick, inv.Password)
				d.bookmark.SetChecked(bookmark)
				d.failWith(err)
				// The next invitation waits until this one is settled.
				d.dlg.SetOnClosed(func() {
					if acts := c.roomActs(); acts.prompt == p {
						c.nextInvitation()
					}
				})
				return
			case err != nil:
				p.fail(describeJoinError(err))
				return
			}
			c.openJoinedRoom(inv.Room, nick)
			if bookmark {
				c.bookmarkJoined(inv.Room, nick, inv.Password, p.roomName, c.main.win)
			}
			c.refreshRooms()
			p.done()
		}
	})
}

// refuse declines through the room, which tells the inviter.
func (p *invitePrompt) refuse() {
	c, inv := p.c, p.inv
	client := c.client
	if client == nil {
		p.fail(lang.L("not signed in"))
		return
	}
	p.setBusy(true)
	c.roomRunner()(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), inviteTimeout)
		defer cancel()
		err := client.DeclineInvitation(ctx, inv, "")
		return func() {
			if err != nil {
				p.fail(lang.L("The invitation could not be declined: {{.Error}}", map[string]any{"Error": describeSendError(err)}))
				return
			}
			p.done()
		}
	})
}

// invitationDeclined shows who declined: in the room's tab when it is
// open, else in the contacts window.
func (c *controller) invitationDeclined(e xmpp.InvitationDeclined) {
	who := c.inviterName(e.From, e.Room)
	if who == "" {
		who = lang.L("Someone")
	}
	if t := c.roomTab(e.Room); t != nil {
		text := lang.L("{{.Who}} declined the invitation.", map[string]any{"Who": who})
		if e.Reason != "" {
			text = lang.L("{{.Who}} declined the invitation: {{.Reason}}", map[string]any{"Who": who, "Reason": e.Reason})
		}
		c.noteInRoom(t, text, false)
		return
	}
	if c.main == nil {
		return
	}
	text := lang.L("{{.Who}} declined the invitation to {{.Room}}.", map[string]any{"Who": who, "Room": c.roomTitle(e.Room)})
	if e.Reason != "" {
		text += " " + lang.L("Reason: {{.Reason}}", map[string]any{"Reason": e.Reason})
	}
	c.main.showProblem(text)
}

// roomTab returns the room's open tab, or nil.
func (c *controller) roomTab(room jid.JID) *chatTab {
	if c.chats == nil {
		return nil
	}
	if t, ok := c.chats.chats[room.Bare().String()]; ok && t.room != nil {
		return t
	}
	return nil
}

// roomNote is a line under a room tab's header: what the room or another
// person answered to something the user did. It stays until closed or
// replaced.
type roomNote struct {
	tab   *chatTab
	label *widget.Label
	box   *fyne.Container
}

// noteInRoom shows text under the room tab's header; problem shows it as
// a failure.
func (c *controller) noteInRoom(t *chatTab, text string, problem bool) {
	acts := c.roomActs()
	key := t.peer.Bare().String()
	n := acts.notes[key]
	if n == nil || n.tab != t {
		n = &roomNote{tab: t, label: &widget.Label{Wrapping: fyne.TextWrapWord}}
		n.box = container.NewBorder(nil, nil, nil,
			&widget.Button{Icon: theme.CancelIcon(), Importance: widget.LowImportance, OnTapped: func() { n.box.Hide() }}, n.label)
		t.view.top.Add(n.box)
		acts.notes[key] = n
	}
	n.label.Importance = widget.MediumImportance
	if problem {
		n.label.Importance = widget.DangerImportance
	}
	n.label.SetText(text)
	n.box.Show()
}

// roomRequestRefused shows a room's later refusal of an invitation or a
// decline (ErrorOccurred with a *RoomRequestError) where the user asked
// for it: the room's picker, else its tab, else the contacts window. It
// reports whether err was one.
func (c *controller) roomRequestRefused(err error) bool {
	var re *xmpp.RoomRequestError
	if !errors.As(err, &re) || (re.Request != "invite" && re.Request != "decline") {
		return false
	}
	text := describeRoomRequestError(err)
	acts := c.roomActs()
	if p := acts.pickers[re.Room.Bare().String()]; p != nil {
		p.fail(text)
		return true
	}
	if t := c.roomTab(re.Room); t != nil {
		c.noteInRoom(t, text, true)
		return true
	}
	if c.main != nil {
		c.main.showProblem(text)
	}
	return true
}

// describeRoomRequestError explains a room's refusal of an invitation, a
// decline or a subject.
func describeRoomRequestError(err error) string {
	var re *xmpp.RoomRequestError
	errors.As(err, &re)
	switch {
	case re != nil && re.Request == "subject" && errors.Is(err, xmpp.ErrNotAllowed):
		return lang.L("You may not change the subject of this room: only its moderators can.")
	case re != nil && re.Request == "invite" && errors.Is(err, xmpp.ErrNotAllowed):
		return lang.L("The room did not accept your invitation: only its owners and admins may invite people to it.")
	case re != nil && re.Request == "invite":
		return lang.L("The room did not accept your invitation: {{.Error}}", map[string]any{"Error": roomRefusalText(re)})
	case re != nil && re.Request == "decline":
		return lang.L("The room did not pass on your decline: {{.Error}}", map[string]any{"Error": roomRefusalText(re)})
	case errors.Is(err, xmpp.ErrNotInRoom):
		return lang.L("You are not in the room.")
	case errors.Is(err, context.DeadlineExceeded):
		return lang.L("The room did not answer.")
	}
	return describeSendError(err)
}

func roomRefusalText(re *xmpp.RoomRequestError) string {
	return describeCondition(re.Condition, re.Text)
}

// inviteCandidate is a row of the picker: a contact, or an address typed
// in full that is not one.
type inviteCandidate struct {
	jid    jid.JID
	name   string
	detail string
	// inRoom is set for someone in the room already (where the room shows
	// real addresses): listed, not choosable.
	inRoom bool
}

// invitePicker chooses colleagues to invite to a room: the contacts,
// filtered as the contacts window filters them (name, address, pinyin),
// and any address typed in full.
type invitePicker struct {
	c      *controller
	room   jid.JID
	parent fyne.Window
	// sending is set while invitations go out: a room's refusal of an
	// earlier one, shown meanwhile, must not offer Invite again.
	sending bool

	all    []*rosterEntry // the contacts, in the contacts window's order
	inRoom map[string]bool
	shown  []inviteCandidate
	chosen []inviteCandidate

	filter *searchEntry
	list   *widget.List
	picked *widget.Label
	reason *widget.Entry
	formStatus
	invite *widget.Button
	dlg    *dialog.CustomDialog
	// sent, when set, learns who was invited once all went out.
	sent func([]jid.JID)
}

// showInvitePicker opens the picker for room over parent (or brings the
// open one forward).
func (c *controller) showInvitePicker(room jid.JID, parent fyne.Window) *invitePicker {
	room = room.Bare()
	acts := c.roomActs()
	if p := acts.pickers[room.String()]; p != nil {
		p.dlg.Show()
		p.focus()
		return p
	}
	p := &invitePicker{c: c, room: room, parent: parent, inRoom: map[string]bool{}}
	if c.main != nil {
		for _, e := range c.main.roster.contacts {
			p.all = append(p.all, e)
		}
	}
	slices.SortFunc(p.all, compareEntries)
	if c.client != nil {
		for _, o := range c.client.Occupants(room) {
			if !o.JID.Equal(jid.JID{}) {
				p.inRoom[o.JID.Bare().String()] = true
			}
		}
	}
	if own, err := jid.Parse(c.account.JID); err == nil {
		p.inRoom[own.Bare().String()] = true
	}
	p.filter = newSearchEntry(func() { p.dlg.Hide() })
	p.filter.PlaceHolder = lang.L("Name, pinyin or address")
	p.filter.ActionItem = widget.NewIcon(theme.SearchIcon())
	p.filter.OnChanged = func(string) { p.applyFilter() }
	p.filter.OnSubmitted = func(string) { p.submitFilter() }
	p.list = widget.NewList(func() int { return len(p.shown) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, nil,
				&widget.Label{Importance: widget.LowImportance},
				widget.NewCheck("", nil))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { p.bindRow(i, o) })
	p.list.OnSelected = func(i widget.ListItemID) {
		p.list.UnselectAll()
		if i < len(p.shown) && !p.shown[i].inRoom {
			p.toggle(p.shown[i])
		}
	}
	p.picked = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.LowImportance}
	p.reason = &widget.Entry{PlaceHolder: lang.L("Message (optional)")}
	p.reason.OnSubmitted = func(string) { p.send() }
	p.formStatus = newFormStatus()
	p.invite = &widget.Button{Text: lang.L("Invite"), Icon: theme.MailSendIcon(), Importance: widget.HighImportance, OnTapped: p.send}
	cancel := widget.NewButton(lang.L("Cancel"), func() { p.dlg.Hide() })
	bottom := container.NewVBox(p.picked, p.reason, p.problem, p.busy)
	content := container.NewBorder(p.filter, bottom, nil, nil, p.list)
	p.dlg = dialog.NewCustomWithoutButtons(lang.L("Invite to {{.Room}}", map[string]any{"Room": c.roomTitle(room)}), content, parent)
	p.dlg.SetButtons([]fyne.CanvasObject{cancel, p.invite})
	p.dlg.SetOnClosed(func() {
		if acts.pickers[room.String()] == p {
			delete(acts.pickers, room.String())
		}
	})
	acts.pickers[room.String()] = p
	size := parent.Canvas().Size()
	p.dlg.Resize(fyne.NewSize(min(max(size.Width-40, 320), 460), min(max(size.Height-80, 360), 520)))
	p.applyFilter()
	p.showPicked()
	p.dlg.Show()
	p.focus()
	return p
}

func (p *invitePicker) focus() { p.parent.Canvas().Focus(p.filter) }

// applyFilter lists the contacts whose name, address or pinyin contain
// the filter, after an address typed in full that is not a contact.
func (p *invitePicker) applyFilter() {
	text := strings.TrimSpace(p.filter.Text)
	filter := strings.ToLower(text)
	p.shown = p.shown[:0]
	if typed, err := jid.Parse(text); err == nil && strings.Contains(text, "@") && typed.Localpart() != "" && strings.Contains(typed.Domainpart(), ".") {
		typed = typed.Bare()
		if _, contact := p.c.main.roster.contacts[typed.String()]; !contact {
			p.shown = append(p.shown, inviteCandidate{jid: typed, name: typed.String(), detail: lang.L("not in your contacts"),
				inRoom: p.inRoom[typed.String()]})
		}
	}
	for _, e := range p.all {
		if filter == "" || strings.Contains(e.match, filter) {
			p.shown = append(p.shown, inviteCandidate{jid: e.jid, name: e.name, detail: e.key, inRoom: p.inRoom[e.key]})
		}
	}
	p.list.UnselectAll()
	p.list.Refresh()
	p.list.ScrollToTop()
}

func (p *invitePicker) bindRow(i widget.ListItemID, o fyne.CanvasObject) {
	if i >= len(p.shown) {
		return
	}
	cand := p.shown[i]
	box := o.(*fyne.Container)
	check, detail := box.Objects[0].(*widget.Check), box.Objects[1].(*widget.Label)
	check.OnChanged = nil
	check.Text = cand.name
	check.SetChecked(p.isChosen(cand.jid))
	if cand.inRoom {
		check.Disable()
		detail.SetText(lang.L("in the room"))
	} else {
		check.Enable()
		detail.SetText(cand.detail)
	}
	check.Refresh()
	check.OnChanged = func(on bool) {
		if on != p.isChosen(cand.jid) {
			p.toggle(cand)
		}
	}
}

func (p *invitePicker) isChosen(j jid.JID) bool {
	return slices.ContainsFunc(p.chosen, func(c inviteCandidate) bool { return c.jid.Equal(j) })
}

// toggle chooses cand, or unchooses it.
func (p *invitePicker) toggle(cand inviteCandidate) {
	if i := slices.IndexFunc(p.chosen, func(c inviteCandidate) bool { return c.jid.Equal(cand.jid) }); i >= 0 {
		p.chosen = slices.Delete(p.chosen, i, i+1)
	} else {
		p.chosen = append(p.chosen, cand)
	}
	p.showPicked()
	p.list.Refresh()
}

// submitFilter (Enter) chooses the first row and clears the filter for
// the next name; with nothing typed it sends.
func (p *invitePicker) submitFilter() {
	if strings.TrimSpace(p.filter.Text) == "" {
		p.send()
		return
	}
	for _, cand := range p.shown {
		if !cand.inRoom {
			if !p.isChosen(cand.jid) {
				p.toggle(cand)
			}
			p.filter.SetText("")
			return
		}
	}
}

// showPicked lists who is chosen, and allows Invite once someone is.
func (p *invitePicker) showPicked() {
	if len(p.chosen) == 0 {
		p.picked.SetText(lang.L("Choose the colleagues to invite, or type an address."))
		p.invite.Disable()
		return
	}
	names := make([]string, len(p.chosen))
	for i, cand := range p.chosen {
		names[i] = cand.name
	}
	p.picked.SetText(lang.L("To invite: {{.Names}}", map[string]any{"Names": strings.Join(names, lang.L(", "))}))
	if !p.sending {
		p.invite.Enable()
	}
}

func (p *invitePicker) fail(text string) {
	p.failed(text)
	p.showPicked()
	p.dlg.Refresh()
}

// send invites everyone chosen, one after the other, in the background.
// Those that went out leave the list; a failure stays with its reason.
func (p *invitePicker) send() {
	c, room, reason := p.c, p.room, strings.TrimSpace(p.reason.Text)
	client := c.client
	if len(p.chosen) == 0 {
		return
	}
	if client == nil {
		p.fail(lang.L("not signed in"))
		return
	}
	chosen := slices.Clone(p.chosen)
	p.sending = true
	p.invite.Disable()
	p.working()
	c.roomRunner()(func() func() {
		var sent []jid.JID
		var failed error
		var failedFor inviteCandidate
		for _, cand := range chosen {
			ctx, cancel := context.WithTimeout(context.Background(), inviteTimeout)
			err := client.Invite(ctx, room, cand.jid, reason)
			cancel()
			if err != nil {
				failed, failedFor = err, cand
				break
			}
			sent = append(sent, cand.jid)
		}
		return func() {
			p.sending = false
			p.chosen = slices.DeleteFunc(p.chosen, func(cand inviteCandidate) bool {
				return slices.ContainsFunc(sent, cand.jid.Equal)
			})
			p.list.Refresh()
			if failed != nil {
				p.fail(lang.L("{{.Who}} could not be invited: {{.Error}}", map[string]any{"Who": failedFor.name, "Error": describeRoomRequestError(failed)}))
				return
			}
			p.idle()
			p.dlg.Hide()
			if t := c.roomTab(room); t != nil {
				names := make([]string, len(chosen))
				for i, cand := range chosen {
					names[i] = cand.name
				}
				c.noteInRoom(t, lang.L("Invitation sent to {{.Names}}.", map[string]any{"Names": strings.Join(names, lang.L(", "))}), false)
			}
			if p.sent != nil {
				p.sent(sent)
			}
		}
	})
}

// inviteContact asks which of the rooms the user is in to invite contact
// to, and invites them.
func (c *controller) inviteContact(contact jid.JID) {
	if c.main == nil || c.client == nil {
		return
	}
	contact = contact.Bare()
	var rooms []jid.JID
	var names []string
	for _, r := range c.client.Rooms() {
		if r.Joined {
			rooms = append(rooms, r.JID)
			names = append(names, c.roomTitle(r.JID)+" ("+r.JID.String()+")")
		}
	}
	win := c.main.win
	who := c.rosterName(contact)
	if len(rooms) == 0 {
		dialog.ShowInformation(lang.L("Invite to group chat"),
			lang.L("You are in no group chat yet. Join or create one first, then invite {{.Who}}.", map[string]any{"Who": who}), win)
		return
	}
	choice := widget.NewSelect(names, nil)
	choice.SetSelectedIndex(0)
	reason := &widget.Entry{PlaceHolder: lang.L("Message (optional)")}
	status := newFormStatus()
	var dlg *dialog.CustomDialog
	invite := &widget.Button{Text: lang.L("Invite"), Icon: theme.MailSendIcon(), Importance: widget.HighImportance}
	invite.OnTapped = func() {
		i := choice.SelectedIndex()
		client := c.client
		if i < 0 || client == nil {
			return
		}
		room, text := rooms[i], strings.TrimSpace(reason.Text)
		invite.Disable()
		status.working()
		c.roomRunner()(func() func() {
			ctx, cancel := context.WithTimeout(context.Background(), inviteTimeout)
			defer cancel()
			err := client.Invite(ctx, room, contact, text)
			return func() {
				invite.Enable()
				status.idle()
				if err != nil {
					status.failed(lang.L("{{.Who}} could not be invited: {{.Error}}", map[string]any{"Who": who, "Error": describeRoomRequestError(err)}))
					dlg.Refresh()
					return
				}
				dlg.Hide()
				if t := c.roomTab(room); t != nil {
					c.noteInRoom(t, lang.L("Invitation sent to {{.Names}}.", map[string]any{"Names": who}), false)
				}
			}
		})
	}
	reason.OnSubmitted = func(string) { invite.OnTapped() }
	form := widget.NewForm(widget.NewFormItem(lang.L("Group chat"), choice), widget.NewFormItem(lang.L("Message"), reason))
	content := container.NewVBox(widget.NewLabel(lang.L("Invite {{.Who}} to:", map[string]any{"Who": who})), form, status.problem, status.busy)
	dlg = dialog.NewCustomWithoutButtons(lang.L("Invite to group chat"), content, win)
	dlg.SetButtons([]fyne.CanvasObject{widget.NewButton(lang.L("Cancel"), func() { dlg.Hide() }), invite})
	dlg.Resize(fyne.NewSize(min(max(win.Canvas().Size().Width-20, 300), 420), 0))
	dlg.Show()
	win.Canvas().Focus(reason)
}

// roomActionItems are the room tab menu's invitation and subject entries.
func (w *chatWindows) roomActionItems(t *chatTab) []*fyne.MenuItem {
	invite := fyne.NewMenuItem(lang.L("Invite…"), func() { w.c.showInvitePicker(t.peer, w.win) })
	invite.Disabled = !t.room.joined
	subject := fyne.NewMenuItem(lang.L("Edit subject…"), func() { w.editSubject(t) })
	subject.Disabled = !w.mayEditSubject(t)
	return []*fyne.MenuItem{invite, subject}
}
