package provision

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"magpie/xmpp"
)

const fp1 = "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89"

var fp1Hex = strings.ReplaceAll(fp1, ":", "")

// writeCA writes a self-signed CA certificate as PEM to path.
func writeCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadValidFile(t *testing.T) {
	dir := t.TempDir()
	writeCA(t, filepath.Join(dir, "company-ca.pem"))
	path := writeFile(t, dir, FileName, `# IT's settings for every desk
company = "Example Trading Co. 示例贸易"
domain = "OA.Example"

[server]
host = "im.oa.example"
port = 5223
tls = "directtls"

[trust]
fingerprints = [
  "`+fp1+`",
  "sha256 Fingerprint=`+strings.ToUpper(fp1)+`", # the same, as openssl prints it
]
ca_file = "company-ca.pem"

[notices]
senders = ["oa-notify", "Approvals@OA.example"]

[passwords]
remember = false
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Company: "Example Trading Co. 示例贸易", Domain: "oa.example",
		Host: "im.oa.example", Port: 5223, TLS: DirectTLS,
		Fingerprints: []string{fp1Hex}, CAFile: filepath.Join(dir, "company-ca.pem"),
		NoticeSenders:     []string{"oa-notify@oa.example", "approvals@oa.example"},
		RememberPasswords: false, Files: []string{path},
	}
	if !equalConfig(cfg, want) {
		t.Fatalf("got  %+v\nwant %+v", *cfg, *want)
	}
	if got := cfg.ServerAddr(); got != "im.oa.example:5223" {
		t.Fatalf("ServerAddr %q", got)
	}
}

func equalConfig(a, b *Config) bool {
	return a.Company == b.Company && a.Domain == b.Domain && a.Host == b.Host && a.Port == b.Port && a.TLS == b.TLS &&
		slices.Equal(a.Fingerprints, b.Fingerprints) && a.CAFile == b.CAFile && slices.Equal(a.NoticeSenders, b.NoticeSenders) &&
		a.RememberPasswords == b.RememberPasswords && slices.Equal(a.Files, b.Files)
}

// TestMergePolicy: the user's file changes what it names, except where IT's
// policy wins: the domain, and every key of [server], [trust] and
// [passwords] once IT's file sets that table (an empty table locks it). What
// is left out, and trust that only the user's file sets, is reported.
func TestMergePolicy(t *testing.T) {
	fp2 := strings.Repeat("cd", 32)
	const system = `company = "Example"
domain = "oa.example"
[server]
host = "im.oa.example"
tls = "starttls"
[trust]
fingerprints = ["` + fp1 + `"]
[notices]
senders = ["oa-notify", "hr-notify"]
[passwords]
remember = false
`
	for i, tc := range []struct {
		name, system, user string
		want               Config
		warnings           []string // kind:key:line
	}{
		0: {name: "IT's server, trust, passwords and domain win",
			system: system,
			user: `company = "My desk"
domain = "evil.example"
[server]
host = "im.evil.example"
port = 15222
[trust]
fingerprints = ["` + fp2 + `"]
ca_file = "ca.pem"
[notices]
senders = ["it-notify@oa.example"]
[passwords]
remember = true
`,
			want: Config{Company: "My desk", Domain: "oa.example", Host: "im.oa.example", TLS: StartTLS,
				Fingerprints: []string{fp1Hex}, NoticeSenders: []string{"it-notify@oa.example"}, RememberPasswords: false},
			warnings: []string{"ignored:domain:2", "ignored:server.host:4", "ignored:server.port:5", "ignored:trust.fingerprints:7",
				"ignored:trust.ca_file:8", "ignored:passwords.remember:12"}},
		1: {name: "a table IT leaves out is the user's, trust with a warning",
			system: "domain = \"oa.example\"\n",
			user:   "[server]\nhost = \"im.home.example\"\n[trust]\nfingerprints = [\"" + fp2 + "\"]\n[passwords]\nremember = false\n",
			want: Config{Domain: "oa.example", Host: "im.home.example", Fingerprints: []string{fp2},
				RememberPasswords: false},
			warnings: []string{"user trust:trust.fingerprints:4"}},
		2: {name: "an empty table locks it",
			system:   "domain = \"oa.example\"\n[trust]\n[passwords]\n",
			user:     "[trust]\nca_file = \"ca.pem\"\n[passwords]\nremember = false\n",
			want:     Config{Domain: "oa.example", RememberPasswords: true},
			warnings: []string{"ignored:trust.ca_file:2", "ignored:passwords.remember:4"}},
		3: {name: "no system file: the user's file applies, trust with a warning",
			user:     "domain = \"oa.example\"\n[trust]\nca_file = \"ca.pem\"\n",
			want:     Config{Domain: "oa.example", CAFile: "ca.pem", RememberPasswords: true},
			warnings: []string{"user trust:trust.ca_file:3"}},
		4: {name: "a broken system file is no policy",
			system: "domain = \"oa.example\"\n[server]\nport = 0\n",
			user:   "domain = \"home.example\"\n[server]\nhost = \"im.home.example\"\n",
			want:   Config{Domain: "home.example", Host: "im.home.example", RememberPasswords: true}},
		5: {name: "IT's file alone",
			system: system,
			want: Config{Company: "Example", Domain: "oa.example", Host: "im.oa.example", TLS: StartTLS,
				Fingerprints: []string{fp1Hex}, NoticeSenders: []string{"oa-notify@oa.example", "hr-notify@oa.example"}}},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "home"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeCA(t, filepath.Join(dir, "home", "ca.pem"))
			sysPath, userPath := filepath.Join(dir, "etc", FileName), filepath.Join(dir, "home", FileName)
			var files []string
			if tc.system != "" {
				writeFile(t, dir, "etc/"+FileName, tc.system)
				if i != 4 {
					files = append(files, sysPath)
				}
			}
			if tc.user != "" {
				writeFile(t, dir, "home/"+FileName, tc.user)
				files = append(files, userPath)
			}
			cfg, err := Load(sysPath, filepath.Join(dir, "missing", FileName), userPath)
			if (err != nil) != (i == 4) {
				t.Fatalf("%s: Load: %v", tc.name, err)
			}
			want := tc.want
			want.Files = files
			if want.CAFile != "" {
				want.CAFile = filepath.Join(dir, "home", want.CAFile)
			}
			if !equalConfig(cfg, &want) {
				t.Fatalf("%s:\n got  %+v\n want %+v", tc.name, *cfg, want)
			}
			var warnings []string
			for _, w := range cfg.Warnings {
				kind := map[WarningKind]string{Ignored: "ignored", UserTrust: "user trust"}[w.Kind]
				warnings = append(warnings, kind+":"+w.Key+":"+strconv.Itoa(w.Line))
				if w.Path != userPath {
					t.Errorf("%s: warning about %s, want the user's file", tc.name, w.Path)
				}
			}
			if !slices.Equal(warnings, tc.warnings) {
				t.Fatalf("%s: warnings %q, want %q", tc.name, warnings, tc.warnings)
			}
		})
	}
	// No file at all: nothing provisioned, passwords may be remembered.
	cfg, err := Load(filepath.Join(t.TempDir(), "none.toml"))
	if err != nil || cfg.Provisioned() || !cfg.RememberPasswords || cfg.HasServer() {
		t.Fatalf("no file: %+v, %v", cfg, err)
	}
}

// TestBrokenFileLeftOut: a broken file is reported and not used at all;
// the other file still applies.
func TestBrokenFileLeftOut(t *testing.T) {
	dir := t.TempDir()
	system := writeFile(t, dir, "system.toml", "domain = \"oa.example\"\n[server]\nhost = \"im.oa.example\"\n")
	user := writeFile(t, dir, "user.toml", "[server]\nhost = \"other.example\"\nport = 99999\n")
	cfg, err := Load(system, user)
	var pe *Error
	if !errors.As(err, &pe) || pe.Path != user || pe.Line != 3 {
		t.Fatalf("error %v, want one at %s line 3", err, user)
	}
	if cfg.Host != "im.oa.example" || !slices.Equal(cfg.Files, []string{system}) {
		t.Fatalf("the good file was not applied alone: %+v", cfg)
	}
}

// TestErrors: every kind of mistake names the file, the line and the key.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	writeCA(t, filepath.Join(dir, "ca.pem"))
	writeFile(t, dir, "not-a-cert.pem", "hello\n")
	for name, tc := range map[string]struct {
		text      string
		line, col int
		want      string
	}{
		"syntax":              {"domain = \"oa.example\"\nport = = 5\n", 2, 8, "unexpected character"},
		"unterminated string": {"domain = \"oa.example\ncompany = \"x\"\n", 1, 0, ""},
		"unknown top key":     {"domain = \"oa.example\"\n\nserver_host = \"im\"\n", 3, 1, `unknown key "server_host" at the top level (known keys: company, domain, notices, passwords, server, trust)`},
		"unknown key in table": {"domain = \"oa.example\"\n[server]\nhost = \"im\"\n  prot = 5222\n", 4, 3,
			`unknown key "prot" in [server] (known keys: host, port, tls)`},
		"unknown table":     {"domain = \"oa.example\"\n[servers]\nhost = \"im\"\n", 2, 2, `unknown key "servers" at the top level`},
		"key in wrong case": {"Domain = \"oa.example\"\n", 1, 1, `unknown key "Domain"`},
		"dotted unknown":    {"domain = \"oa.example\"\nserver.hots = \"im\"\n", 2, 0, `unknown key "hots" in [server]`},
		"port as string":    {"domain = \"oa.example\"\n[server]\nhost = \"im\"\nport = \"5222\"\n", 4, 8, "server.port: must be a whole number from 1 to 65535"},
		"port too big":      {"domain = \"oa.example\"\n[server]\nhost = \"im\"\nport = 70000\n", 4, 1, "server.port: 70000 is not a port (1 to 65535)"},
		"port zero inline":  {"domain = \"oa.example\"\nserver = { host = \"im\", port = 0 }\n", 2, 25, "server.port: 0 is not a port"},
		"host with port":    {"domain = \"oa.example\"\n[server]\nhost = \"im.oa.example:5222\"\n", 3, 1, `write host = "im.oa.example" and port = 5222`},
		"host as URL":       {"domain = \"oa.example\"\n[server]\nhost = \"xmpp://im\"\n", 3, 1, "is not a host name"},
		"unknown TLS mode":  {"domain = \"oa.example\"\n[server]\nhost = \"im\"\ntls = \"ssl\"\n", 4, 1, `server.tls: unknown TLS mode "ssl" (use "starttls" or "directtls")`},
		"bad fingerprint": {"domain = \"oa.example\"\n[trust]\nfingerprints = [\n  \"" + fp1 + "\",\n  \"ab:cd\",\n]\n", 5, 3,
			`trust.fingerprints: "ab:cd" is not a SHA-256 fingerprint`},
		"fingerprints not a list":     {"domain = \"oa.example\"\n[trust]\nfingerprints = \"" + fp1 + "\"\n", 3, 16, "trust.fingerprints: must be a list of strings"},
		"missing CA file":             {"domain = \"oa.example\"\n[trust]\nca_file = \"nope.pem\"\n", 3, 1, "trust.ca_file: cannot read " + filepath.Join(dir, "nope.pem")},
		"CA file without cert":        {"domain = \"oa.example\"\n[trust]\nca_file = \"not-a-cert.pem\"\n", 3, 1, "holds no PEM certificate"},
		"bad domain":                  {"domain = \"zhangsan@oa.example\"\n", 1, 1, "is not a domain"},
		"remember not a bool":         {"domain = \"oa.example\"\n[passwords]\nremember = \"no\"\n", 3, 12, "passwords.remember: must be true or false"},
		"bad notice sender":           {"domain = \"oa.example\"\n[notices]\nsenders = [\"ok\", \"a@b/c\"]\n", 3, 18, `notices.senders: "a@b/c" is not an account`},
		"server without domain":       {"company = \"x\"\n\n[server]\nhost = \"im.oa.example\"\n", 4, 1, "server.host: needs domain"},
		"port without host":           {"domain = \"oa.example\"\n[server]\nport = 5222\n", 3, 1, "server.port: needs server.host"},
		"user name sender, no domain": {"[notices]\nsenders = [\"oa-notify\"]\n", 2, 12, `"oa-notify" is a user name, but no domain is provisioned`},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, FileName)
			err := Parse(path, []byte(tc.text))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want an *Error", err, err)
			}
			if pe.Path != path || pe.Line != tc.line || (tc.col != 0 && pe.Column != tc.col) {
				t.Fatalf("error at %s:%d:%d, want %s:%d:%d: %v", pe.Path, pe.Line, pe.Column, path, tc.line, tc.col, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
			prefix := path + ":" + strconv.Itoa(tc.line)
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("error %q does not start with %q", err, prefix)
			}
		})
	}
}

// TestAllErrorsReported: several mistakes in one file are all reported,
// in the file's order, so IT fixes them in one go.
func TestAllErrorsReported(t *testing.T) {
	err := Parse("p.toml", []byte("domain = \"oa.example\"\n[server]\nhost = \"im\"\nport = 0\ntls = \"tls\"\n[trust]\nfingerprints = [\"x\"]\n"))
	var lines []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		lines = append(lines, e.(*Error).Line)
	}
	if !slices.Equal(lines, []int{4, 5, 7}) {
		t.Fatalf("errors on lines %v, want 4, 5, 7: %v", lines, err)
	}
}

func TestDefaultPaths(t *testing.T) {
	env := map[string]string{"ProgramData": `D:\PD`}
	getenv := func(k string) string { return env[k] }
	userDir := func(dir string) func() (string, error) { return func() (string, error) { return dir, nil } }
	for goos, want := range map[string][]string{
		"linux":   {"/etc/magpie/provisioning.toml", filepath.Join("/home/u/.config", "magpie", FileName)},
		"freebsd": {"/etc/magpie/provisioning.toml", filepath.Join("/home/u/.config", "magpie", FileName)},
		"windows": {`D:\PD\Magpie\provisioning.toml`, filepath.Join("/home/u/.config", "magpie", FileName)},
		"darwin":  {"/Library/Application Support/Magpie/provisioning.toml", filepath.Join("/home/u/.config", "magpie", FileName)},
	} {
		if got := defaultPaths(goos, getenv, userDir("/home/u/.config")); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", goos, got, want)
		}
	}
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	if got := DefaultPaths(); len(got) != 2 || (got[1] != filepath.Join("/xdg", "magpie", FileName) && os.Getenv("HOME") != "") {
		t.Fatalf("DefaultPaths %q", got)
	}
}

func TestAccountsAndApply(t *testing.T) {
	cfg := &Config{Domain: "oa.example", Host: "im.oa.example", TLS: DirectTLS, Fingerprints: []string{fp1Hex},
		NoticeSenders: []string{"oa-notify@oa.example"}, RememberPasswords: true, Files: []string{"x"}}
	for input, want := range map[string]string{
		"zhangsan":                   "zhangsan@oa.example",
		" zhangsan ":                 "zhangsan@oa.example",
		"lisi@oa.example/laptop":     "lisi@oa.example",
		"wangwu@partner.example":     "wangwu@partner.example",
		"@oa.example":                "",
		"":                           "",
		"zhang san@oa.example/x y z": "",
	} {
		got, err := cfg.CompleteAccount(input)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("CompleteAccount(%q) = %q, %v; want %q", input, got, err, want)
		}
	}
	if _, err := (&Config{}).CompleteAccount("zhangsan"); err == nil {
		t.Error("a user name without a provisioned domain was accepted")
	}
	saved := xmpp.AccountConfig{JID: "zhangsan@oa.example", Server: "old.oa.example:5222", Fingerprints: []string{strings.Repeat("00", 32)}, Resource: "desk"}
	got := cfg.Apply(saved)
	if got.Server != "im.oa.example:5223" || !got.DirectTLS || !slices.Equal(got.Fingerprints, []string{fp1Hex}) || got.Resource != "desk" {
		t.Fatalf("Apply: %+v", got)
	}
	other := xmpp.AccountConfig{JID: "wangwu@partner.example", Server: "partner:5222"}
	if got := cfg.Apply(other); got.Server != other.Server || got.DirectTLS || len(got.Fingerprints) != 0 {
		t.Fatalf("Apply changed another domain's account: %+v", got)
	}
	if !cfg.HasTrust("zhangsan@oa.example") || cfg.HasTrust("wangwu@partner.example") {
		t.Fatal("HasTrust")
	}
	if len(cfg.ClientOptions()) != 1 || len((&Config{}).ClientOptions()) != 0 {
		t.Fatal("ClientOptions")
	}
	var none *Config
	if none.Provisioned() || none.Governs("a@b") || none.HasServer() || none.Apply(other).Server != other.Server {
		t.Fatal("a nil Config must provision nothing")
	}
}

// TestDocumentedExample: the complete example in docs/PROVISIONING.md is
// valid, and says what the document says it does.
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/PROVISIONING.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("no ```toml example in docs/PROVISIONING.md")
	}
	dir := t.TempDir()
	writeCA(t, filepath.Join(dir, "company-ca.pem"))
	for i, block := range blocks {
		text := strings.ReplaceAll(string(block[1]), "/etc/magpie/company-ca.pem", "company-ca.pem")
		path := writeFile(t, dir, FileName, text)
		cfg, err := Load(path)
		if err != nil {
			t.Fatalf("example %d: %v\n%s", i+1, err, text)
		}
		if i == 0 && (cfg.Domain != "oa.example" || !cfg.HasServer() || cfg.RememberPasswords) {
			t.Fatalf("the complete example gives %+v", cfg)
		}
	}
}
