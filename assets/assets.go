// Package assets embeds the files Magpie ships inside its binary: the icon
// and the desktop entry.
package assets

import (
	"embed"
)

// Icon is the application icon, a 512×512 PNG.
//
//go:embed icon.png
var Icon []byte

// DesktopEntry is the freedesktop.org .desktop file installed with Magpie.
//
//go:embed im.magpie.Magpie.desktop
var DesktopEntry []byte

// Translations holds the app's strings per language (en.json, zh-Hans.json),
// in the format of Fyne's lang package; zh-Hans also translates Fyne's own
// buttons and dialogs.
//
//go:embed translations
var Translations embed.FS
