// Package app is Magpie's desktop front end, built with Fyne. It talks to the
// client core (package xmpp) only through the core's methods and events.
package app

import (
	"errors"
	"os"
	"runtime"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"magpie/assets"
)

// ID is the application ID; Fyne keys preferences and storage on it.
const ID = "im.magpie.Magpie"

// ErrNoDisplay is returned by Run when there is no graphical session to open
// a window in (e.g. over SSH); GLFW would otherwise panic.
var ErrNoDisplay = errors.New("no graphical display: DISPLAY and WAYLAND_DISPLAY are not set (the commands work without one: magpie help)")

// Run opens the desktop app and returns when it quits.
//
// Until the windows of the desktop app land, it shows a window that points
// to the command line, which already drives the full client core.
func Run(version string) error {
	if needsDisplay() && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return ErrNoDisplay
	}
	a := fyneapp.NewWithID(ID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	w := a.NewWindow("Magpie")
	w.SetContent(container.NewPadded(newPlaceholder(version)))
	w.Resize(fyne.NewSize(420, 200))
	w.ShowAndRun()
	return nil
}

// needsDisplay reports whether windows need an X11 or Wayland display, as on
// Linux and the BSDs (Windows and macOS always have their own).
func needsDisplay() bool {
	switch runtime.GOOS {
	case "windows", "darwin", "android", "ios":
		return false
	}
	return true
}

func newPlaceholder(version string) fyne.CanvasObject {
	title := widget.NewLabelWithStyle("Magpie "+version, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	body := widget.NewLabel("The desktop windows are on their way.\nMeanwhile the command line signs in, chats and lists the roster:\n\n    magpie help")
	body.Wrapping = fyne.TextWrapWord
	return container.NewVBox(title, body)
}
