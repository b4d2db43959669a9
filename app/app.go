// Package app is Magpie's desktop front end, built with Fyne. It talks to the
// client core (package xmpp) only through the core's methods and events.
package app

import (
	"errors"
	"os"
	"runtime"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/lang"

	"magpie/assets"
	"magpie/xmpp"
	"magpie/xmpp/keyring"
)

// ID is the application ID; Fyne keys preferences and storage on it.
const ID = "im.magpie.Magpie"

// ErrNoDisplay is returned by Run when there is no graphical session to open
// a window in (e.g. over SSH); GLFW would otherwise panic.
var ErrNoDisplay = errors.New("no graphical display: DISPLAY and WAYLAND_DISPLAY are not set (the commands work without one: magpie help)")

// Run opens the desktop app and returns when it quits.
func Run(version string) error {
	if needsDisplay() && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return ErrNoDisplay
	}
	limitMemory()
	accounts, err := xmpp.DefaultAccountStore()
	if err != nil {
		return err
	}
	a := fyneapp.NewWithID(ID)
	setUp(a)
	c := newController(a, version, accounts, keyring.NewStore(keyring.System()))
	c.start()
	a.Run()
	c.shutdown()
	return nil
}

// setUp gives the app its icon and translations.
func setUp(a fyne.App) {
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	if err := lang.AddTranslationsFS(assets.Translations, "translations"); err != nil {
		fyne.LogError("load translations", err)
	}
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
