package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// actionRow is a row of a search window's list (Find colleagues, the room
// directory): a bold name, a dim line of detail under it, and two buttons
// on the right.
type actionRow struct {
	name, detail *widget.Label
	box          fyne.CanvasObject
}

// newActionRow builds the row; the buttons are the caller's.
func newActionRow(first, second *widget.Button) *actionRow {
	r := &actionRow{
		name:   &widget.Label{Text: "Template", TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis},
		detail: &widget.Label{Text: "template@example.com", Importance: widget.LowImportance, Truncation: fyne.TextTruncateEllipsis},
	}
	r.box = container.NewBorder(nil, nil, nil, container.NewHBox(first, second), container.NewVBox(r.name, r.detail))
	return r
}

// rowButton is a row's quiet button.
func rowButton(text string, icon fyne.Resource) *widget.Button {
	return &widget.Button{Text: text, Icon: icon, Importance: widget.LowImportance}
}
