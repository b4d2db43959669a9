package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// busyNote says in words that the app waits for the network. It replaces
// Fyne's ProgressBarInfinite, which animates every frame for as long as it
// runs: a sign-in waiting on a busy server kept 0.2 of a core busy drawing
// it. The note is drawn once when it shows and costs nothing while it
// waits. Start and Stop show and hide it.
type busyNote struct {
	widget.Label
}

func newBusyNote(text string) *busyNote {
	n := &busyNote{Label: widget.Label{Text: text, Importance: widget.LowImportance, Alignment: fyne.TextAlignCenter,
		TextStyle: fyne.TextStyle{Italic: true}}}
	n.ExtendBaseWidget(n)
	n.Hide()
	return n
}

// Start shows the note.
func (n *busyNote) Start() { n.Show() }

// Stop hides the note.
func (n *busyNote) Stop() { n.Hide() }
