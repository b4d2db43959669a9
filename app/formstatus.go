package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/widget"
)

// formStatus is the bottom of a dialog that asks the server something: a
// note that shows while it waits, and the problem in words when it fails.
// Dialogs embed it and put problem and busy in their content.
type formStatus struct {
	problem *widget.Label
	busy    *busyNote
}

func newFormStatus() formStatus {
	s := formStatus{
		problem: &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance},
		busy:    newBusyNote(lang.L("Waiting for the server…")),
	}
	s.problem.Hide()
	s.idle()
	return s
}

// working shows the bar and hides an earlier problem.
func (s formStatus) working() {
	s.problem.Hide()
	s.busy.Show()
	s.busy.Start()
}

// idle stops and hides the bar.
func (s formStatus) idle() {
	s.busy.Stop()
	s.busy.Hide()
}

// failed stops the bar and says what went wrong.
func (s formStatus) failed(text string) {
	s.idle()
	s.problem.SetText(text)
	s.problem.Show()
}
