package prosodytest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RosterItem is one contact written by SetRoster.
type RosterItem struct {
	JID          string // bare
	Name         string
	Groups       []string
	Subscription string // "both" when empty
}

// SetRoster replaces user's roster in Prosody's internal storage with items,
// at the given roster version (XEP-0237). It writes the file directly, so a
// company-sized roster (tens of thousands of items) takes milliseconds where
// as many roster sets would take minutes. Call it while the user has no
// session: Prosody reads the roster at sign-in.
func (s *Server) SetRoster(user string, version int, items []RosterItem) error {
	user = strings.ToLower(user)
	var b strings.Builder
	fmt.Fprintf(&b, "return {\n\t[false] = { [\"version\"] = %d; [\"pending\"] = {}; };\n", version)
	for _, it := range items {
		sub := it.Subscription
		if sub == "" {
			sub = "both"
		}
		fmt.Fprintf(&b, "\t[%s] = { [\"subscription\"] = %s; [\"name\"] = %s; [\"groups\"] = {",
			luaString(it.JID), luaString(sub), luaString(it.Name))
		for _, g := range it.Groups {
			fmt.Fprintf(&b, " [%s] = true;", luaString(g))
		}
		b.WriteString(" }; };\n")
	}
	b.WriteString("};\n")
	return s.writeData("roster", user, b.String())
}

// writeData replaces user's file in one of Prosody's internal stores
// ("accounts", "roster", "vcard"), atomically: Prosody may read it at any
// moment.
func (s *Server) writeData(store, user, content string) error {
	return s.writeHostData(s.Domain, store, user, content)
}

// writeHostData is writeData for an account of host.
func (s *Server) writeHostData(host, store, user, content string) error {
	dir := filepath.Join(s.Dir, "data", encode(host), store)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+encode(user)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, encode(user)+".dat"))
}

// luaString quotes s as a Lua string literal: every byte outside printable
// ASCII, and the quote and backslash, as a decimal escape, so UTF-8 names
// pass through byte for byte.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			fmt.Fprintf(&b, "\\%03d", c)
		} else {
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
