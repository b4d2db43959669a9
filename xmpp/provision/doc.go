// Package provision reads the provisioning file that a company's IT ships
// with Magpie, so that people sign in with only their OA user name and
// password.
//
// # Files
//
// Two files are read, the system-wide one (IT's) first, then the user's own.
// IT's policy wins: when the system file sets the domain, or has a [server],
// [trust] or [passwords] table (even an empty one), the user's file cannot
// change the domain or any key of that table; those keys are left out and
// reported in Config.Warnings, as is trust that only the user's file sets.
// Other keys of the user's file override the system file key by key (a list
// replaces the whole list). DefaultPaths gives them per operating system:
//
//   - Linux and the BSDs: /etc/magpie/provisioning.toml, then
//     $XDG_CONFIG_HOME/magpie/provisioning.toml (~/.config by default)
//   - Windows: %ProgramData%\Magpie\provisioning.toml, then
//     %AppData%\magpie\provisioning.toml
//   - macOS: /Library/Application Support/Magpie/provisioning.toml, then
//     ~/Library/Application Support/magpie/provisioning.toml
//
// A missing file is not an error; with neither file there is no
// provisioning and Magpie asks for the full account and server as usual.
//
// # Format
//
// The files are TOML; docs/PROVISIONING.md in the repository describes every
// key with a complete example. In short:
//
//	company = "Example Trading Co."
//	domain = "oa.example"
//
//	[server]
//	host = "im.oa.example"
//	port = 5222
//	tls = "starttls"          # or "directtls"
//
//	[trust]
//	fingerprints = ["AB:CD:…"]  # SHA-256 of the server certificate
//	ca_file = "company-ca.pem"  # relative to the file's folder
//
//	[notices]
//	senders = ["oa-notify"]     # completed with the domain
//
//	[passwords]
//	remember = false
//
// # Validation
//
// Parsing is strict: an unknown key, a value of the wrong type, a port out
// of range, an unknown TLS mode, a malformed fingerprint or a CA file that
// holds no certificate is an *Error carrying the file, the line and the
// column, so IT can fix the file without guessing. A broken file is left
// out as a whole (never half-applied); Load returns the error together with
// what the other file provides.
//
// The package does not import the UI; the app and the command line both
// use it, so a provisioned domain and server work in `magpie send` as in the
// window.
package provision
