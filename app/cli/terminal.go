package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Everything the commands print may hold text from the network: message
// bodies, nicks, names and statuses, room subjects, vCard fields, the
// text of a server's error. A control character in it would reach the
// terminal as a command: ESC starts escape sequences that can rewrite
// the screen, retitle the window, or (on some terminals) answer back as
// if typed; CR and backspace overwrite what is shown. So the commands
// write through terminalWriter, which prints control characters as
// escapes instead, and the text output indents the lines after the first
// of a multi-line text, so that a body cannot fake a line of its own.

// terminalWriter writes to w with every control character (C0, DEL and
// C1) other than newline and tab replaced by its escape: \x1b for ESC,
// \r, \u009b for the C1 CSI, \u007f for DEL. What it writes stays valid
// JSON where the input was JSON: encoding/json escapes C0 itself, and
// \u009b and \u007f are JSON escapes. Invalid UTF-8 is written as \xNN. A rune split across two
// writes is held until the second.
type terminalWriter struct {
	w       io.Writer
	partial []byte // the start of a rune the last write ended in
}

func newTerminalWriter(w io.Writer) io.Writer {
	if tw, ok := w.(*terminalWriter); ok {
		return tw
	}
	return &terminalWriter{w: w}
}

func (t *terminalWriter) Write(p []byte) (int, error) {
	n := len(p)
	data := p
	if len(t.partial) > 0 {
		data = append(t.partial, p...)
		t.partial = nil
	}
	var out []byte
	for i := 0; i < len(data); {
		b := data[i]
		if b < utf8.RuneSelf {
			if b < 0x20 && b != '\n' && b != '\t' || b == 0x7f {
				out = append(out, escapeControl(rune(b))...)
			} else {
				out = append(out, b)
			}
			i++
			continue
		}
		if !utf8.FullRune(data[i:]) {
			t.partial = append([]byte(nil), data[i:]...)
			break
		}
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = fmt.Appendf(out, `\x%02x`, b)
		case r >= 0x80 && r <= 0x9f:
			out = append(out, escapeControl(r)...)
		default:
			out = append(out, data[i:i+size]...)
		}
		i += size
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}

// escapeControl is how terminalWriter shows a control character.
func escapeControl(r rune) string {
	switch r {
	case '\r':
		return `\r`
	case '\b':
		return `\b`
	}
	if r < 0x20 {
		return fmt.Sprintf(`\x%02x`, r)
	}
	return fmt.Sprintf(`\u%04x`, r) // DEL and C1 may stand in JSON: a JSON escape

}

// continued indents the lines after the first of a text written on a
// line of its own ("12:00:01 <bob@oa.example> first line"), so that a
// later line cannot pass for another message.
func continued(text string) string {
	return strings.ReplaceAll(text, "\n", "\n    ")
}
