package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// autostartName is the file that starts Magpie at sign-in to the desktop:
// an XDG autostart entry (Linux, BSD) or a launch agent (macOS). Windows
// uses a value of that name under the Run key instead (autostart_windows.go).
const autostartName = ID

// currentExecutable returns the path of the running binary with symlinks
// resolved, as the autostart entry must name it.
func currentExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the Magpie program: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return exe, nil
}

// desktopEntryQuote quotes a program path for a desktop entry's Exec key
// (Desktop Entry Specification, "The Exec key"): a path with reserved
// characters goes in double quotes, with ", `, $ and \ escaped.
func desktopEntryQuote(arg string) string {
	if !strings.ContainsAny(arg, " \t\n\"'\\><~|&;$*?#()`%") {
		return arg
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range arg {
		switch r {
		case '"', '`', '$', '\\':
			b.WriteByte('\\')
		case '%':
			b.WriteByte('%') // %% is a literal percent sign
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	// The value itself is a string: its backslashes are escaped once more.
	return strings.ReplaceAll(b.String(), `\`, `\\`)
}

// xdgAutostartEntry is the desktop entry that starts exe at sign-in.
func xdgAutostartEntry(exe string) string {
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=Magpie\n" +
		"Comment=Start Magpie when you sign in\n" +
		"Comment[zh_CN]=登录时启动 Magpie\n" +
		"Exec=" + desktopEntryQuote(exe) + "\n" +
		"Icon=" + ID + "\n" +
		"Terminal=false\n" +
		"X-GNOME-Autostart-enabled=true\n"
}

// launchAgentPlist is the macOS launch agent that starts exe at sign-in.
func launchAgentPlist(exe string) string {
	var path strings.Builder
	for _, r := range exe {
		switch r {
		case '&':
			path.WriteString("&amp;")
		case '<':
			path.WriteString("&lt;")
		case '>':
			path.WriteString("&gt;")
		default:
			path.WriteRune(r)
		}
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + ID + `</string>
	<key>ProgramArguments</key>
	<array>
		<string>` + path.String() + `</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
</dict>
</plist>
`
}

// writeFileAtomic replaces path with data, creating its folder.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
