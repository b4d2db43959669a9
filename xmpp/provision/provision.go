package provision

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// FileName is the provisioning file's name in each of its folders.
const FileName = "provisioning.toml"

// TLSMode is how the connection is secured.
type TLSMode string

// The TLS modes a provisioning file may name.
const (
	// StartTLS connects in plain text and upgrades with STARTTLS (port 5222).
	StartTLS TLSMode = "starttls"
	// DirectTLS speaks TLS from the first byte, XEP-0368 (port 5223).
	DirectTLS TLSMode = "directtls"
)

// Config is the provisioning in effect: the files read, merged key by key.
// The zero value (no files) provisions nothing.
type Config struct {
	// Company is the company's name, shown in the sign-in window.
	Company string
	// Domain is appended to a bare user name ("zhangsan" becomes
	// zhangsan@Domain); the server and trust settings apply to accounts of
	// this domain.
	Domain string
	// Host and Port are where to connect instead of the domain's SRV
	// records. Port is 0 when not given: 5222, or 5223 with direct TLS.
	Host string
	Port int
	// TLS is the TLS mode; "" means StartTLS.
	TLS TLSMode
	// Fingerprints are pinned certificate SHA-256s, lowercase hex.
	Fingerprints []string
	// CAFile is a PEM file of CA certificates to trust (an absolute path).
	CAFile string
	// NoticeSenders are bare JIDs whose messages are notices, not chats.
	NoticeSenders []string
	// RememberPasswords is whether the keyring may keep passwords (and so
	// whether automatic sign-in is possible). True unless a file says no.
	RememberPasswords bool
	// Files are the files the settings came from, in the order read.
	Files []string
	// Warnings are keys of the user's file that were ignored because IT's
	// file decides them, and trust that the user's file (not IT's) sets.
	Warnings []*Warning
}

// WarningKind says what a Warning is about.
type WarningKind int

const (
	// Ignored is a key of the user's file left out: IT's file sets the
	// same table (server, trust, passwords) or the domain, and IT's
	// policy wins.
	Ignored WarningKind = iota + 1
	// UserTrust is trust (pinned fingerprints or a CA file) that the
	// user's file sets, with no [trust] in IT's file: certificates are
	// then accepted without a question, on the word of a file that any
	// program running as the user could have written.
	UserTrust
)

// Warning is a key of the user's file that IT's policy overrides, or that
// changes which certificates are trusted.
type Warning struct {
	Kind WarningKind
	Path string
	Line int // 1-based; 0 when unknown
	Key  string
}

// String says what the warning is about, in English, with the file and line.
func (w *Warning) String() string {
	where := w.Path
	if w.Line > 0 {
		where += ":" + strconv.Itoa(w.Line)
	}
	if w.Kind == UserTrust {
		return where + ": " + w.Key + ": your own provisioning file, not IT's, decides which server certificates are trusted; delete it if you did not put it there"
	}
	return where + ": " + w.Key + " is ignored: the system-wide provisioning file (your IT department's) decides it"
}

// Provisioned reports whether any provisioning file was read.
func (c *Config) Provisioned() bool { return c != nil && len(c.Files) > 0 }

// HasServer reports whether the files say where to connect.
func (c *Config) HasServer() bool { return c != nil && c.Domain != "" && c.Host != "" }

// ServerAddr returns host:port to connect to, with the TLS mode's default
// port when none is given; "" without a provisioned server.
func (c *Config) ServerAddr() string {
	if !c.HasServer() {
		return ""
	}
	port := c.Port
	if port == 0 {
		port = 5222
		if c.TLS == DirectTLS {
			port = 5223
		}
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

// Governs reports whether account (a JID) is in the provisioned domain, so
// that the provisioned server and trust apply to it.
func (c *Config) Governs(account string) bool {
	if c == nil || c.Domain == "" {
		return false
	}
	j, err := jid.Parse(account)
	return err == nil && j.Domainpart() == c.Domain
}

// HasTrust reports whether the provisioning decides which certificate the
// account's server may present (pinned fingerprints or a CA), so the user
// is never asked to trust one.
func (c *Config) HasTrust(account string) bool {
	return c.Governs(account) && (len(c.Fingerprints) > 0 || c.CAFile != "")
}

// CompleteAccount turns what the user typed into a bare JID: a user name
// alone is completed with the provisioned domain ("zhangsan" becomes
// "zhangsan@oa.example"); a full JID is taken as it is (its resource is
// dropped).
func (c *Config) CompleteAccount(input string) (string, error) {
	account := strings.TrimSpace(input)
	if account == "" {
		return "", errors.New("no account given")
	}
	if !strings.Contains(account, "@") {
		if c == nil || c.Domain == "" {
			return "", fmt.Errorf("%q is not a full account (user@domain), and no domain is provisioned", account)
		}
		account += "@" + c.Domain
	}
	j, err := jid.Parse(account)
	if err != nil || j.Localpart() == "" {
		return "", fmt.Errorf("%q is not an account (user@domain)", account)
	}
	return j.Bare().String(), nil
}

// Apply returns cfg with the provisioned server, TLS mode and trust when
// cfg's account is in the provisioned domain: what IT decided replaces what
// was saved earlier, so a changed server or certificate reaches every desk.
// Other accounts are returned unchanged.
func (c *Config) Apply(cfg xmpp.AccountConfig) xmpp.AccountConfig {
	if !c.Governs(cfg.JID) {
		return cfg
	}
	if c.HasServer() {
		cfg.Server = c.ServerAddr()
		cfg.DirectTLS = c.TLS == DirectTLS
	}
	if len(c.Fingerprints) > 0 || c.CAFile != "" {
		cfg.Fingerprints = slices.Clone(c.Fingerprints)
		cfg.CAFile = c.CAFile
	}
	return cfg
}

// ClientOptions returns the client options the provisioning adds to every
// account's: the notifier accounts, whose messages are notices.
func (c *Config) ClientOptions() []xmpp.Option {
	if c == nil || len(c.NoticeSenders) == 0 {
		return nil
	}
	return []xmpp.Option{xmpp.WithNoticeSenders(c.NoticeSenders...)}
}

// Error is a problem in a provisioning file, with where it is.
type Error struct {
	Path   string
	Line   int // 1-based; 0 when the problem is not on one line
	Column int // 1-based; 0 when unknown
	Key    string
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Key != "" && !strings.HasPrefix(e.Msg, e.Key) {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// DefaultPaths returns the system-wide file and the user's file, in the
// order they are read (see Load for which keys the user's file may change).
func DefaultPaths() []string {
	return defaultPaths(runtime.GOOS, os.Getenv, os.UserConfigDir)
}

func defaultPaths(goos string, getenv func(string) string, userConfigDir func() (string, error)) []string {
	var paths []string
	switch goos {
	case "windows":
		programData := getenv("ProgramData")
		if programData == "" {
			programData = `C:\ProgramData`
		}
		paths = append(paths, programData+`\Magpie\`+FileName)
	case "darwin", "ios":
		paths = append(paths, "/Library/Application Support/Magpie/"+FileName)
	default:
		paths = append(paths, "/etc/magpie/"+FileName)
	}
	if dir, err := userConfigDir(); err == nil && dir != "" {
		paths = append(paths, filepath.Join(dir, "magpie", FileName))
	}
	return paths
}

// LoadDefault reads the files at DefaultPaths.
func LoadDefault() (*Config, error) { return Load(DefaultPaths()...) }

// Load reads the provisioning files in order: the first is the system-wide
// file (IT's), the others are the user's. A user's file overrides the keys it
// names, except where IT's policy wins: when IT's file sets the domain, or
// any key of [server], [trust] or [passwords] (an empty table is enough),
// the user's file cannot change the domain, or any key of that table; such
// keys are left out and listed in Config.Warnings. Trust that a user's file
// sets where IT's sets none applies, and is listed there too. Files that do
// not exist are skipped. A file that cannot be read or is broken is left out
// as a whole: the error (an *Error, or several joined) is returned together
// with the Config that the other files make, which is never nil.
func Load(paths ...string) (*Config, error) {
	var layers []*layer
	var errs []error
	for i, path := range paths {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, &Error{Path: path, Msg: fmt.Sprintf("cannot read the file: %v", errors.Unwrap(err))})
			continue
		}
		l, err := parse(path, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.system = i == 0
		layers = append(layers, l)
	}
	cfg, err := merge(layers)
	if err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// Parse checks one file's text, as Load would read it from path; a file
// that parses may still fail in Load if it needs a key another file gives.
func Parse(path string, data []byte) error {
	l, err := parse(path, data)
	if err != nil {
		return err
	}
	l.system = true
	_, err = merge([]*layer{l})
	return err
}

// The file as decoded; pointers tell a key that is absent from one set to
// its zero value, so that a user's file overrides only what it says.
type fileData struct {
	Company   *string          `toml:"company"`
	Domain    *string          `toml:"domain"`
	Server    *serverSection   `toml:"server"`
	Trust     *trustSection    `toml:"trust"`
	Notices   *noticesSection  `toml:"notices"`
	Passwords *passwordSection `toml:"passwords"`
}

type serverSection struct {
	Host *string `toml:"host"`
	Port *int64  `toml:"port"`
	TLS  *string `toml:"tls"`
}

type trustSection struct {
	Fingerprints *[]string `toml:"fingerprints"`
	CAFile       *string   `toml:"ca_file"`
}

type noticesSection struct {
	Senders *[]string `toml:"senders"`
}

type passwordSection struct {
	Remember *bool `toml:"remember"`
}

// schema lists every key with what its value must be, for the messages.
var schema = map[string]string{
	"company":            "a string",
	"domain":             `a string such as "oa.example"`,
	"server":             "a table ([server])",
	"server.host":        `a string such as "im.oa.example"`,
	"server.port":        "a whole number from 1 to 65535",
	"server.tls":         `"starttls" or "directtls"`,
	"trust":              "a table ([trust])",
	"trust.fingerprints": "a list of strings",
	"trust.ca_file":      "a string (the path of a PEM file)",
	"notices":            "a table ([notices])",
	"notices.senders":    "a list of strings",
	"passwords":          "a table ([passwords])",
	"passwords.remember": "true or false",
}

// knownIn lists the keys allowed in a table ("" for the top level).
func knownIn(table string) []string {
	var keys []string
	for k := range schema {
		parent, name := "", k
		if i := strings.LastIndexByte(k, '.'); i >= 0 {
			parent, name = k[:i], k[i+1:]
		}
		if parent == table {
			keys = append(keys, name)
		}
	}
	sort.Strings(keys)
	return keys
}

// layer is one file's settings, checked, with where each key was.
type layer struct {
	path   string
	system bool // the system-wide file, IT's: its policy wins
	data   fileData
	pos    map[string]position
	// fingerprints are data.Trust.Fingerprints parsed; caFile is absolute.
	fingerprints []string
	caFile       string
}

type position struct{ line, col int }

func (l *layer) errAt(key, format string, args ...any) *Error {
	p := l.pos[key]
	return &Error{Path: l.path, Line: p.line, Column: p.col, Key: strings.SplitN(key, "[", 2)[0], Msg: fmt.Sprintf(format, args...)}
}

func parse(path string, data []byte) (*layer, error) {
	l := &layer{path: path}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l.data); err != nil {
		return nil, decodeError(path, err)
	}
	l.pos = positions(data)
	// go-toml matches keys to fields ignoring case; the format does not.
	var errs []error
	for _, key := range sortedKeys(l.pos) {
		if strings.Contains(key, "[") {
			continue
		}
		if _, ok := schema[key]; !ok {
			errs = append(errs, l.unknownKey(key))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *layer) unknownKey(key string) *Error {
	table, name := "", key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		table, name = key[:i], key[i+1:]
	}
	where := "at the top level"
	if table != "" {
		where = "in [" + table + "]"
	}
	known := knownIn(table)
	e := l.errAt(key, "unknown key %q %s (known keys: %s)", name, where, strings.Join(known, ", "))
	e.Key = ""
	if _, ok := schema[table]; table != "" && !ok {
		e.Msg = fmt.Sprintf("unknown table [%s] (known tables: server, trust, notices, passwords)", table)
	}
	return e
}

// decodeError turns the TOML library's errors into *Errors with the
// position, and in the words of this format.
func decodeError(path string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for _, de := range strict.Errors {
			line, col := de.Position()
			key := strings.Join(de.Key(), ".")
			l := &layer{path: path, pos: map[string]position{key: {line, col}}}
			errs = append(errs, l.unknownKey(key))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		key := strings.Join(de.Key(), ".")
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if want, ok := schema[key]; ok && strings.HasPrefix(msg, "cannot decode") {
			msg = "must be " + want
		} else if !ok {
			key = ""
		}
		return &Error{Path: path, Line: line, Column: col, Key: key, Msg: msg}
	}
	return &Error{Path: path, Msg: err.Error()}
}

// positions maps every key (dotted, with "[i]" for list elements) to where
// it is written. The document has already been parsed without error.
func positions(data []byte) map[string]position {
	pos := map[string]position{}
	var p unstable.Parser
	p.Reset(data)
	at := func(r unstable.Range) position {
		s := p.Shape(r)
		return position{s.Start.Line, s.Start.Column}
	}
	var table []string
	var walk func(prefix []string, kv *unstable.Node)
	walk = func(prefix []string, kv *unstable.Node) {
		parts := slices.Clone(prefix)
		var first *unstable.Node
		for it := kv.Key(); it.Next(); {
			if first == nil {
				first = it.Node()
			}
			parts = append(parts, string(it.Node().Data))
			if _, seen := pos[strings.Join(parts, ".")]; !seen {
				pos[strings.Join(parts, ".")] = at(first.Raw)
			}
		}
		key := strings.Join(parts, ".")
		keyPos := at(first.Raw)
		switch v := kv.Value(); v.Kind {
		case unstable.Array:
			i := 0
			for it := v.Children(); it.Next(); i++ {
				elem := keyPos
				if r := it.Node().Raw; r.Length > 0 {
					elem = at(r)
				}
				pos[fmt.Sprintf("%s[%d]", key, i)] = elem
			}
		case unstable.InlineTable:
			for it := v.Children(); it.Next(); {
				if it.Node().Kind == unstable.KeyValue {
					walk(parts, it.Node())
				}
			}
		}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = table[:0]
			var first *unstable.Node
			for it := e.Key(); it.Next(); {
				if first == nil {
					first = it.Node()
				}
				table = append(table, string(it.Node().Data))
			}
			if _, seen := pos[strings.Join(table, ".")]; !seen && first != nil {
				pos[strings.Join(table, ".")] = at(first.Raw)
			}
		case unstable.KeyValue:
			walk(table, e)
		}
	}
	return pos
}

func sortedKeys(pos map[string]position) []string {
	keys := make([]string, 0, len(pos))
	for k := range pos {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := pos[keys[i]], pos[keys[j]]
		if a.line != b.line {
			return a.line < b.line
		}
		if a.col != b.col {
			return a.col < b.col
		}
		return keys[i] < keys[j]
	})
	return keys
}

// check validates the values of one file; errors come in the file's order.
func (l *layer) check() error {
	var errs []error
	d := &l.data
	if d.Company != nil {
		*d.Company = strings.TrimSpace(*d.Company)
	}
	if d.Domain != nil {
		domain := strings.TrimSpace(*d.Domain)
		j, err := jid.Parse(domain)
		switch {
		case domain == "":
			errs = append(errs, l.errAt("domain", "must not be empty"))
		case err != nil || j.Localpart() != "" || j.Resourcepart() != "" || strings.ContainsAny(domain, "@/ "):
			errs = append(errs, l.errAt("domain", "%q is not a domain (write only the part after @, such as \"oa.example\")", *d.Domain))
		default:
			*d.Domain = j.Domainpart()
		}
	}
	if s := d.Server; s != nil {
		if s.Host != nil {
			host := strings.TrimSpace(*s.Host)
			if host == "" || strings.ContainsAny(host, "/@ \t") {
				errs = append(errs, l.errAt("server.host", "%q is not a host name (such as \"im.oa.example\")", *s.Host))
			} else if h, port, err := net.SplitHostPort(host); err == nil {
				errs = append(errs, l.errAt("server.host", "%q includes a port: write host = %q and port = %s", *s.Host, h, port))
			} else {
				*s.Host = strings.Trim(host, "[]")
			}
		}
		if s.Port != nil && (*s.Port < 1 || *s.Port > 65535) {
			errs = append(errs, l.errAt("server.port", "%d is not a port (1 to 65535)", *s.Port))
		}
		if s.TLS != nil {
			switch TLSMode(*s.TLS) {
			case StartTLS, DirectTLS:
			default:
				errs = append(errs, l.errAt("server.tls", "unknown TLS mode %q (use \"starttls\" or \"directtls\")", *s.TLS))
			}
		}
	}
	if t := d.Trust; t != nil {
		if t.Fingerprints != nil {
			for i, fp := range *t.Fingerprints {
				parsed, err := xmpp.ParseFingerprint(fp)
				if err != nil {
					errs = append(errs, l.errAt(fmt.Sprintf("trust.fingerprints[%d]", i), "%q is not a SHA-256 fingerprint (64 hex digits, colons allowed)", fp))
					continue
				}
				if !slices.Contains(l.fingerprints, parsed) {
					l.fingerprints = append(l.fingerprints, parsed)
				}
			}
		}
		if t.CAFile != nil {
			path := strings.TrimSpace(*t.CAFile)
			if path != "" && !filepath.IsAbs(path) {
				path = filepath.Join(filepath.Dir(l.path), path)
			}
			if err := checkCAFile(path); err != nil {
				errs = append(errs, l.errAt("trust.ca_file", "%v", err))
			}
			l.caFile = path
		}
	}
	if n := d.Notices; n != nil && n.Senders != nil {
		for i, s := range *n.Senders {
			s = strings.TrimSpace(s)
			probe := s
			if !strings.Contains(s, "@") && !strings.Contains(s, ".") {
				probe += "@example.invalid" // a user name, completed with the domain later
			}
			j, err := jid.Parse(probe)
			if s == "" || err != nil || j.Resourcepart() != "" {
				errs = append(errs, l.errAt(fmt.Sprintf("notices.senders[%d]", i), "%q is not an account (oa-notify@oa.example, or oa-notify for the provisioned domain)", s))
				continue
			}
			(*n.Senders)[i] = s
		}
	}
	return errors.Join(errs...)
}

// checkCAFile makes sure path holds at least one PEM certificate.
func checkCAFile(path string) error {
	if path == "" {
		return errors.New("must not be empty")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", path, errors.Unwrap(err))
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return fmt.Errorf("%s holds no PEM certificate", path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("%s: a certificate cannot be read: %v", path, err)
		}
		return nil
	}
}

// merge applies the layers in order, key by key, and checks what needs
// more than one key (a server needs the domain it serves).
func merge(layers []*layer) (*Config, error) {
	cfg := &Config{RememberPasswords: true}
	// from remembers which layer set a key, to point at it in an error.
	from := map[string]*layer{}
	set := func(key string, l *layer) { from[key] = l }
	// locked are what IT's file decides: "domain" and the tables it sets.
	locked := map[string]bool{}
	for _, l := range layers {
		cfg.Files = append(cfg.Files, l.path)
		d := l.data
		// take reports whether l may set key; a key IT's file decides is
		// left out of a user's file, with a warning.
		take := func(key string) bool {
			table, _, _ := strings.Cut(key, ".")
			if l.system || !(locked[key] || locked[table]) {
				return true
			}
			cfg.Warnings = append(cfg.Warnings, &Warning{Kind: Ignored, Path: l.path, Line: l.pos[key].line, Key: key})
			return false
		}
		if d.Company != nil {
			cfg.Company = *d.Company
		}
		if d.Domain != nil && take("domain") {
			cfg.Domain = *d.Domain
			set("domain", l)
		}
		if s := d.Server; s != nil {
			if s.Host != nil && take("server.host") {
				cfg.Host = *s.Host
				set("server.host", l)
			}
			if s.Port != nil && take("server.port") {
				cfg.Port = int(*s.Port)
				set("server.port", l)
			}
			if s.TLS != nil && take("server.tls") {
				cfg.TLS = TLSMode(*s.TLS)
				set("server.tls", l)
			}
		}
		if t := d.Trust; t != nil {
			if t.Fingerprints != nil && take("trust.fingerprints") {
				cfg.Fingerprints = slices.Clone(l.fingerprints)
				set("trust.fingerprints", l)
			}
			if t.CAFile != nil && take("trust.ca_file") {
				cfg.CAFile = l.caFile
				set("trust.ca_file", l)
			}
		}
		if n := d.Notices; n != nil && n.Senders != nil {
			cfg.NoticeSenders = slices.Clone(*n.Senders)
			set("notices.senders", l)
		}
		if p := d.Passwords; p != nil && p.Remember != nil && take("passwords.remember") {
			cfg.RememberPasswords = *p.Remember
		}
		if l.system {
			locked["domain"] = d.Domain != nil
			locked["server"] = d.Server != nil
			locked["trust"] = d.Trust != nil
			locked["passwords"] = d.Passwords != nil
		}
	}
	for _, key := range []string{"trust.fingerprints", "trust.ca_file"} {
		if l := from[key]; l != nil && !l.system {
			cfg.Warnings = append(cfg.Warnings, &Warning{Kind: UserTrust, Path: l.path, Line: l.pos[key].line, Key: key})
		}
	}
	var errs []error
	if cfg.Domain == "" {
		for _, key := range []string{"server.host", "server.port", "server.tls", "trust.fingerprints", "trust.ca_file"} {
			if l := from[key]; l != nil {
				errs = append(errs, l.errAt(key, "needs domain: the server and trust settings apply to the accounts of the provisioned domain"))
				break
			}
		}
	}
	if cfg.Host == "" {
		for _, key := range []string{"server.port", "server.tls"} {
			if l := from[key]; l != nil {
				errs = append(errs, l.errAt(key, "needs server.host"))
				break
			}
		}
	}
	for i, s := range cfg.NoticeSenders {
		if strings.Contains(s, "@") || strings.Contains(s, ".") {
			cfg.NoticeSenders[i] = bareJID(s)
			continue
		}
		if cfg.Domain == "" {
			errs = append(errs, from["notices.senders"].errAt(fmt.Sprintf("notices.senders[%d]", i), "%q is a user name, but no domain is provisioned to complete it", s))
			continue
		}
		cfg.NoticeSenders[i] = bareJID(s + "@" + cfg.Domain)
	}
	if len(errs) > 0 {
		// Nothing half-applied: a combination that does not hold provisions
		// nothing.
		return &Config{RememberPasswords: true}, errors.Join(errs...)
	}
	return cfg, nil
}

func bareJID(s string) string {
	j, err := jid.Parse(s)
	if err != nil {
		return s
	}
	return j.Bare().String()
}
