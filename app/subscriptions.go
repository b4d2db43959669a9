package app

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// Contact requests ("X wants to add you as a contact") wait in one list,
// answered in one prompt: each accepted or denied on its own line, or all
// at once. A request from someone already waiting updates their line; a
// new one adds a line to the prompt if it is up, and opens it if it is not,
// unless the user put it off (Later): then the button on the contacts
// window counts them until the user opens it. Anyone can send requests,
// so at most maxPendingPrompts are kept, the oldest dropped first; the
// prompt says how many were (the server sends them again at the next
// sign-in). The core reports a request once per sender in ten minutes.

// maxPendingPrompts bounds the contact requests, and the group chat
// invitations, kept waiting for an answer.
const maxPendingPrompts = 100

// maxRequestStatusShown bounds the request's own text shown, in
// characters.
const maxRequestStatusShown = 200

// requestTimeout bounds answering requests, plus a second for each.
const requestTimeout = 10 * time.Second

// contactRequests is the contacts window's list of contact requests
// waiting for an answer, and its prompt while it is up.
type contactRequests struct {
	m       *mainWindow
	pending []xmpp.SubscriptionRequest // oldest first
	// rows are the state of each waiting request's line, by bare JID.
	rows map[string]*requestRow
	// dropped counts the requests dropped for the cap.
	dropped int
	// putOff is set when the user chose Later with requests waiting: new
	// ones wait for the button instead of opening the prompt.
	putOff bool
	// held defers redrawing while the controller applies a batch of
	// events (a flood is redrawn once); stale is set when one is due.
	held, stale bool
	button      *widget.Button // on the contacts window: "3 contact requests"

	dlg      *dialog.CustomDialog // nil while the prompt is not up
	heading  *widget.Label
	list     *fyne.Container
	droppedL *widget.Label
	all      *widget.Button
	denyAll  *widget.Button
}

// requestRow is one request's line in the prompt.
type requestRow struct {
	busy bool
	err  string
}

func newContactRequests(m *mainWindow) *contactRequests {
	r := &contactRequests{m: m, rows: map[string]*requestRow{}}
	r.button = &widget.Button{Icon: theme.AccountIcon(), Alignment: widget.ButtonAlignLeading, OnTapped: r.open}
	r.button.Hide()
	return r
}

// add takes a request the core reported.
func (r *contactRequests) add(req xmpp.SubscriptionRequest) {
	req.From = req.From.Bare()
	key := req.From.String()
	if _, waiting := r.rows[key]; waiting {
		for i := range r.pending {
			if r.pending[i].From.Equal(req.From) {
				r.pending[i].Status = req.Status
				r.relist(i)
			}
		}
	} else {
		r.pending = append(r.pending, req)
		r.rows[key] = &requestRow{}
		if r.dlg != nil {
			r.list.Objects = append(r.list.Objects, r.line(req, r.rows[key]))
		}
		for len(r.pending) > maxPendingPrompts {
			r.removeAt(0)
			r.dropped++
		}
	}
	r.update()
	if r.dlg == nil && !r.putOff {
		r.open()
	}
}

// open shows the prompt (the button's action).
func (r *contactRequests) open() {
	if len(r.pending) == 0 {
		return
	}
	r.putOff = false
	if r.dlg != nil {
		return
	}
	r.heading = &widget.Label{Wrapping: fyne.TextWrapWord, TextStyle: fyne.TextStyle{Bold: true}}
	r.list = container.NewVBox()
	r.droppedL = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.WarningImportance}
	// Room on the right for the scroll bar, which Fyne draws over the
	// content.
	scroll := container.NewVScroll(container.New(layout.NewCustomPaddedLayout(0, 0, 0, 2*theme.Padding()), r.list))
	scroll.SetMinSize(fyne.NewSize(0, 260))
	later := &widget.Button{Text: lang.L("Later"), Importance: widget.LowImportance, OnTapped: func() {
		r.putOff = true
		r.close()
	}}
	r.denyAll = &widget.Button{Text: lang.L("Deny all"), OnTapped: func() { r.answer(r.waiting(), false) }}
	r.all = &widget.Button{Text: lang.L("Accept all"), Icon: theme.ConfirmIcon(), Importance: widget.HighImportance,
		OnTapped: func() { r.answer(r.waiting(), true) }}
	explain := &widget.Label{Text: lang.L("Those you accept see when you are online."), Wrapping: fyne.TextWrapWord}
	content := container.NewBorder(container.NewVBox(r.heading, explain), r.droppedL, nil, nil, scroll)
	r.dlg = dialog.NewCustomWithoutButtons(lang.L("Contact requests"), content, r.m.win)
	r.dlg.SetButtons([]fyne.CanvasObject{later, r.denyAll, r.all})
	r.dlg.SetOnClosed(func() { r.dlg = nil })
	r.dlg.Resize(fyne.NewSize(min(max(r.m.win.Canvas().Size().Width-20, 300), 440), 0))
	for _, req := range r.pending {
		r.list.Add(r.line(req, r.rows[req.From.String()]))
	}
	r.update()
	r.dlg.Show()
}

// close takes the prompt down; what waits stays.
func (r *contactRequests) close() {
	if r.dlg != nil {
		d := r.dlg
		r.dlg = nil
		d.Hide()
	}
}

// waiting returns the requests not being answered now.
func (r *contactRequests) waiting() []jid.JID {
	var out []jid.JID
	for _, req := range r.pending {
		if !r.rows[req.From.String()].busy {
			out = append(out, req.From)
		}
	}
	return out
}

// hold defers redrawing until release.
func (r *contactRequests) hold() { r.held = true }

// release redraws what changed while held.
func (r *contactRequests) release() {
	r.held = false
	if r.stale {
		r.stale = false
		r.update()
	}
}

// update shows the list as it is: the button's count, and the prompt's
// lines where it is up. With nothing left, the prompt closes.
func (r *contactRequests) update() {
	if r.held {
		r.stale = true
		return
	}
	n := len(r.pending)
	switch n {
	case 0:
		r.button.Hide()
		r.putOff = false
		r.close()
		return
	case 1:
		r.button.SetText(lang.L("1 contact request waiting"))
	default:
		r.button.SetText(lang.L("{{.Count}} contact requests waiting", map[string]any{"Count": n}))
	}
	r.button.Show()
	if r.dlg == nil {
		return
	}
	if n == 1 {
		r.heading.SetText(lang.L("Someone wants to add you as a contact."))
	} else {
		r.heading.SetText(lang.L("{{.Count}} people want to add you as a contact.", map[string]any{"Count": n}))
	}
	switch r.dropped {
	case 0:
		r.droppedL.Hide()
	case 1:
		r.droppedL.SetText(lang.L("1 older request was not kept: the server asks again at your next sign-in."))
		r.droppedL.Show()
	default:
		r.droppedL.SetText(lang.L("{{.Count}} older requests were not kept: the server asks again at your next sign-in.", map[string]any{"Count": r.dropped}))
		r.droppedL.Show()
	}
	idle := false
	for _, row := range r.rows {
		idle = idle || !row.busy
	}
	r.list.Refresh()
	if idle {
		r.all.Enable()
		r.denyAll.Enable()
	} else {
		r.all.Disable()
		r.denyAll.Disable()
	}
	r.dlg.Refresh()
}

// line is one request: who, their words, Deny and Accept.
func (r *contactRequests) line(req xmpp.SubscriptionRequest, row *requestRow) fyne.CanvasObject {
	who := req.From
	name := &widget.Label{Text: who.String(), TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis}
	if n := r.m.c.rosterName(who); n != who.Localpart() {
		name.SetText(n + " (" + who.String() + ")")
	}
	texts := container.NewVBox(name)
	if status := req.Status; status != "" {
		if utf8.RuneCountInString(status) > maxRequestStatusShown {
			status = string([]rune(status)[:maxRequestStatusShown]) + "…"
		}
		texts.Add(&widget.Label{Text: "“" + status + "”", Wrapping: fyne.TextWrapWord, Importance: widget.LowImportance})
	}
	if row.err != "" {
		texts.Add(&widget.Label{Text: row.err, Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance})
	}
	accept := &widget.Button{Text: lang.L("Accept"), Importance: widget.HighImportance,
		OnTapped: func() { r.answer([]jid.JID{who}, true) }}
	deny := &widget.Button{Text: lang.L("Deny"), OnTapped: func() { r.answer([]jid.JID{who}, false) }}
	if row.busy {
		accept.Disable()
		deny.Disable()
	}
	return container.NewBorder(nil, widget.NewSeparator(), nil, container.NewHBox(deny, accept), texts)
}

// answer accepts (approving the request, and adding them to the contacts
// when they are not there yet) or denies the requests of who, off the UI
// thread, one after the other; each answered one leaves the list, each
// failure is said on its line.
func (r *contactRequests) answer(who []jid.JID, accept bool) {
	client := r.m.c.client
	if len(who) == 0 {
		return
	}
	for _, j := range who {
		if row := r.rows[j.String()]; row != nil {
			row.busy, row.err = true, ""
		}
	}
	r.relistAll()
	r.update()
	r.m.c.background()(func() func() {
		// One context for the whole answer: mellium's Send arms a
		// goroutine that, when a call's context ends just as the call
		// returns, sets a past write deadline and clears it again, which
		// can fail the next write on the connection with an i/o timeout
		// (a context per request made "Deny all" lose a third of them).
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout+time.Duration(len(who))*time.Second)
		defer cancel()
		errs := make([]error, len(who))
		for i, j := range who {
			errs[i] = answerRequest(ctx, client, j, accept)
		}
		return func() {
			if r.m.c.client != client {
				return // signed out meanwhile
			}
			for i, j := range who {
				row := r.rows[j.String()]
				if row == nil {
					continue
				}
				row.busy = false
				if errs[i] != nil {
					row.err = describeRequestError(errs[i])
					continue
				}
				r.remove(j)
			}
			r.relistAll()
			r.update()
		}
	})
}

func answerRequest(ctx context.Context, client *xmpp.Client, who jid.JID, accept bool) error {
	if client == nil {
		return xmpp.ErrNotConnected
	}
	if !accept {
		return client.DenySubscription(ctx, who)
	}
	if err := client.ApproveSubscription(ctx, who); err != nil {
		return err
	}
	if _, in := client.Contact(who); !in {
		return client.AddContact(ctx, who, "", nil)
	}
	return nil
}

// describeRequestError says why a request could not be answered.
func describeRequestError(err error) string {
	if errors.Is(err, xmpp.ErrNotConnected) {
		return lang.L("Not connected: try again once online.")
	}
	return lang.L("Could not answer: {{.Error}}", map[string]any{"Error": err.Error()})
}

// remove takes who's request off the list.
func (r *contactRequests) remove(who jid.JID) {
	for i, req := range r.pending {
		if req.From.Equal(who) {
			r.removeAt(i)
			return
		}
	}
}

// removeAt takes the i-th request off the list, and its line.
func (r *contactRequests) removeAt(i int) {
	delete(r.rows, r.pending[i].From.String())
	r.pending = append(r.pending[:i], r.pending[i+1:]...)
	if r.dlg != nil && i < len(r.list.Objects) {
		r.list.Objects = append(r.list.Objects[:i], r.list.Objects[i+1:]...)
	}
}

// relist builds the i-th line again, for a change of its request.
func (r *contactRequests) relist(i int) {
	if r.dlg != nil && i < len(r.list.Objects) {
		req := r.pending[i]
		r.list.Objects[i] = r.line(req, r.rows[req.From.String()])
	}
}

// relistAll builds every line again, for an answer's start or end (the
// user's doing: at most maxPendingPrompts lines).
func (r *contactRequests) relistAll() {
	if r.dlg == nil {
		return
	}
	for i := range r.pending {
		r.relist(i)
	}
}
