// Package app is Magpie's desktop front end, built with Fyne. It talks to the
// client core (package xmpp) only through the core's methods and events.
package app

import (
	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"magpie/assets"
)

// ID is the application ID; Fyne keys preferences and storage on it.
const ID = "im.magpie.Magpie"

// Run opens the desktop app and returns when it quits.
//
// Until the windows of the desktop app land, it shows a window that points
// to the command line, which already drives the full client core.
func Run(version string) {
	a := fyneapp.NewWithID(ID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	w := a.NewWindow("Magpie")
	w.SetContent(container.NewPadded(newPlaceholder(version)))
	w.Resize(fyne.NewSize(420, 200))
	w.ShowAndRun()
}

func newPlaceholder(version string) fyne.CanvasObject {
	title := widget.NewLabelWithStyle("Magpie "+version, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	body := widget.NewLabel("The desktop windows are on their way.\nMeanwhile the command line signs in, chats and lists the roster:\n\n    magpie help")
	body.Wrapping = fyne.TextWrapWord
	return container.NewVBox(title, body)
}
