package prosodytest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pluginDirs are where Debian's prosody and prosody-modules put modules.
var pluginDirs = []string{"/usr/lib/prosody/modules", "/usr/local/lib/prosody/modules"}

// HasModule reports whether Prosody has the module name (e.g. "vjud", from
// the prosody-modules package).
func HasModule(name string) bool {
	for _, dir := range pluginDirs {
		for _, file := range []string{"mod_" + name + ".lua", filepath.Join("mod_"+name, "mod_"+name+".lua")} {
			if _, err := os.Stat(filepath.Join(dir, file)); err == nil {
				return true
			}
		}
	}
	return false
}

// RequireModule skips the test when Prosody has no module name, or fails
// it in CI.
func RequireModule(t testing.TB, name string) {
	t.Helper()
	if HasModule(name) {
		return
	}
	msg := fmt.Sprintf("prosodytest: Prosody module %q is not installed (Debian: prosody-modules)", name)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping")
}

// VCard is a profile (vCard-temp, XEP-0054) as a company directory fills
// it, written by SetVCard.
type VCard struct {
	FullName string
	Family   string // N/FAMILY
	Given    string // N/GIVEN
	Nickname string
	Email    string
	Org      string
	Unit     string
	Title    string
}

// DirectoryComponent is a user directory (XEP-0055, Prosody's mod_vjud from
// the prosody-modules package) on search.DOMAIN that lists every account.
// mod_vjud reads the vCards that mod_vcard stores: use it with
// DirectoryModules, not with the default vcard_legacy, which moves vCards
// into PEP and empties that store at each sign-in.
func DirectoryComponent(domain string) Component {
	return Component{Domain: "search." + domain, Module: "vjud", Config: `	vjud_mode = "all"`}
}

// DirectoryModules are the Options for a server with a user directory:
// mod_vcard instead of vcard_legacy (see DirectoryComponent).
func DirectoryModules(o Options) Options {
	if o.Domain == "" {
		o.Domain = "magpie.test"
	}
	o.Modules = append(o.Modules, "vcard")
	o.ExtraConfig += "\nmodules_disabled = { \"http\", \"bosh\", \"websocket\", \"vcard_legacy\" }\n"
	o.Components = append(o.Components, DirectoryComponent(o.Domain))
	return o
}

// SetVCard stores user's vCard where Prosody's mod_vcard keeps it, as a
// directory import would, without a session. It writes the file directly.
func (s *Server) SetVCard(user string, v VCard) error {
	user = strings.ToLower(user)
	var b strings.Builder
	b.WriteString("return {\n\t[\"name\"] = \"vCard\";\n\t[\"attr\"] = { [\"xmlns\"] = \"vcard-temp\" };\n")
	text := func(name, value string) string {
		return fmt.Sprintf("{ [\"name\"] = %s; [\"attr\"] = {}; %s; }", luaString(name), luaString(value))
	}
	elem := func(name string, children ...string) string {
		return fmt.Sprintf("{ [\"name\"] = %s; [\"attr\"] = {}; %s}", luaString(name), strings.Join(append(children, ""), "; "))
	}
	var children []string
	if v.FullName != "" {
		children = append(children, text("FN", v.FullName))
	}
	if v.Family != "" || v.Given != "" {
		children = append(children, elem("N", text("FAMILY", v.Family), text("GIVEN", v.Given)))
	}
	if v.Nickname != "" {
		children = append(children, text("NICKNAME", v.Nickname))
	}
	if v.Email != "" {
		children = append(children, elem("EMAIL", elem("INTERNET"), text("USERID", v.Email)))
	}
	if v.Org != "" || v.Unit != "" {
		children = append(children, elem("ORG", text("ORGNAME", v.Org), text("ORGUNIT", v.Unit)))
	}
	if v.Title != "" {
		children = append(children, text("TITLE", v.Title))
	}
	for _, c := range children {
		b.WriteString("\t" + c + ";\n")
	}
	b.WriteString("};\n")
	return s.writeData("vcard", user, b.String())
}
