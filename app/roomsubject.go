package app

import (
	"context"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/widget"
)

// subjectTimeout bounds a subject change: the room answers at once.
const subjectTimeout = 20 * time.Second

// mayEditSubject reports whether the user may change the room's subject:
// in the room and a moderator, or a participant where the room lets anyone
// (as its disco#info says, asked again when its configuration changes). A
// room that does not say is tried, and a refusal is shown in the tab.
func (w *chatWindows) mayEditSubject(t *chatTab) bool {
	if t.room == nil || !t.room.joined {
		return false
	}
	own, ok := t.room.occupants[t.room.nick]
	switch {
	case ok && own.Role == "moderator":
		return true
	case ok && own.Role == "visitor":
		return false
	}
	if r, _ := w.c.coreRoom(t.peer); r.SubjectKnown {
		return r.SubjectOpen
	}
	return true // the room did not say: try, and show its answer
}

// roomSubjectNow is the room's current subject as the core knows it.
func (c *controller) roomSubjectNow(t *chatTab) string {
	r, _ := c.coreRoom(t.peer)
	return r.Subject
}

// subjectEditor is the dialog that changes a room's subject.
type subjectEditor struct {
	entry *widget.Entry
	save  *widget.Button
	busy  formStatus // only its bar: a refusal shows in the tab
	dlg   *dialog.CustomDialog
}

// editSubject asks for the room's new subject and sets it. The dialog
// waits for the room's answer; a refusal shows under the tab's header,
// and the text typed comes back the next time the dialog opens.
func (w *chatWindows) editSubject(t *chatTab) *subjectEditor {
	c := w.c
	key := t.peer.String()
	acts := c.roomActs()
	e := &subjectEditor{entry: widget.NewMultiLineEntry()}
	e.entry.Wrapping = fyne.TextWrapWord
	e.entry.SetMinRowsVisible(3)
	e.entry.SetPlaceHolder(lang.L("What the room is about"))
	text, ok := acts.subjectDrafts[key]
	if !ok {
		text = c.roomSubjectNow(t)
	}
	e.entry.SetText(text)
	e.busy = newFormStatus()
	e.save = &widget.Button{Text: lang.L("Save"), Importance: widget.HighImportance}
	e.save.OnTapped = func() {
		client, room, subject := c.client, t.peer, strings.TrimSpace(e.entry.Text)
		if client == nil {
			return
		}
		e.save.Disable()
		e.busy.working()
		w.run(func() func() {
			ctx, cancel := context.WithTimeout(context.Background(), subjectTimeout)
			defer cancel()
			err := client.SetSubject(ctx, room, subject)
			return func() {
				e.busy.idle()
				e.dlg.Hide()
				if err != nil {
					acts.subjectDrafts[key] = subject
					c.noteInRoom(t, describeRoomRequestError(err), true)
					return
				}
				delete(acts.subjectDrafts, key)
				if n := acts.notes[key]; n != nil && n.tab == t && n.label.Importance == widget.DangerImportance {
					n.box.Hide() // the earlier refusal no longer applies
				}
				w.setSubject(t, subject)
			}
		})
	}
	cancel := widget.NewButton(lang.L("Cancel"), func() { e.dlg.Hide() })
	content := container.NewVBox(e.entry, e.busy.busy)
	e.dlg = dialog.NewCustomWithoutButtons(lang.L("Subject of {{.Room}}", map[string]any{"Room": c.roomTitle(t.peer)}), content, w.win)
	e.dlg.SetButtons([]fyne.CanvasObject{cancel, e.save})
	e.dlg.Resize(fyne.NewSize(min(max(w.win.Canvas().Size().Width-40, 320), 460), 0))
	e.dlg.Show()
	w.win.Canvas().Focus(e.entry)
	return e
}
