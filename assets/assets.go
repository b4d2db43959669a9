// Package assets embeds the files Magpie ships inside its binary: the icon
// and the desktop entry.
package assets

import (
	_ "embed"
)

// Icon is the application icon, a 512×512 PNG.
//
//go:embed icon.png
var Icon []byte

// DesktopEntry is the freedesktop.org .desktop file installed with Magpie.
//
//go:embed im.magpie.Magpie.desktop
var DesktopEntry []byte
