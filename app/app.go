// Package app is Magpie's desktop front end, built with Fyne. It talks to the
// client core (package xmpp) only through the core's methods and events.
package app

import (
	"errors"
	"maps"
	"os"
	"runtime"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/lang"

	"magpie/assets"
	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/provision"
)

// ID is the application ID; Fyne keys preferences and storage on it.
const ID = "im.magpie.Magpie"

// ErrNoDisplay is returned by Run when there is no graphical session to open
// a window in (e.g. over SSH); GLFW would otherwise panic.
var ErrNoDisplay = errors.New("no graphical display: DISPLAY and WAYLAND_DISPLAY are not set (the commands work without one: magpie help)")

// Run opens the desktop app and returns when it quits. args are xmpp:
// links to open. When Magpie runs already, Run hands args to it and
// returns at once: one app per user.
func Run(version string, args ...string) error {
	inst, handedOver, err := claimInstance(args)
	if handedOver || err != nil {
		return err
	}
	if inst != nil {
		defer inst.Close()
	}
	if needsDisplay() && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return ErrNoDisplay
	}
	limitMemory()
	defer startCPUProfile()()
	accounts, err := xmpp.DefaultAccountStore()
	if err != nil {
		return err
	}
	a := fyneapp.NewWithID(ID)
	declareFyneDo(a)
	setUp(a)
	c := newController(a, version, accounts, keyring.NewStore(keyring.System()))
	// A broken provisioning file is shown in the login window; Magpie
	// works on with what the other file (or none) provides.
	c.provision, c.provisionErr = provision.LoadDefault()
	if c.provisionErr != nil {
		fyne.LogError("provisioning", c.provisionErr)
	}
	c.start()
	stopLinks := c.serveLinks(inst, args)
	a.Run()
	stopLinks()
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

// declareFyneDo tells Fyne what FyneApp.toml says (its metadata is only
// built in by the fyne tool, not by go build): every widget call is made on
// Fyne's goroutine, through fyne.Do. Otherwise Fyne checks the goroutine of
// every canvas refresh by parsing a stack trace, which was a quarter of
// the CPU time of a burst of messages into an open chat.
func declareFyneDo(a fyne.App) {
	m := a.Metadata()
	if m.ID == "" {
		m.ID = ID
	}
	if m.Name == "" {
		m.Name = "Magpie"
	}
	m.Migrations = maps.Clone(m.Migrations)
	if m.Migrations == nil {
		m.Migrations = map[string]bool{}
	}
	m.Migrations["fyneDo"] = true
	fyneapp.SetMetadata(m)
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
