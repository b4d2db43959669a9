// Package cli is Magpie's headless front end: the subcommands that drive the
// client core from a terminal or a script (login, logout, send, listen,
// roster, rooms). It uses only the core, never the GUI.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/provision"
)

// Exit statuses, part of the command line's contract with scripts.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitAuth        = 3
	ExitUnreachable = 4
	ExitCertificate = 5
	// ExitInterrupted is the shell's status for a command stopped by Ctrl-C.
	ExitInterrupted = 130
)

// Env is what a command runs with; tests swap each part.
type Env struct {
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Keyring  keyring.Keyring
	Accounts *xmpp.AccountStore
	Version  string
	// Interrupt is closed when the user asks the command to stop (Ctrl-C).
	Interrupt <-chan struct{}
	// Provisioning reads what IT provisioned (the domain, server, trust);
	// nil reads the system's and the user's provisioning files.
	Provisioning func() (*provision.Config, error)

	ctx       context.Context   // canceled when Interrupt closes
	provision *provision.Config // never nil while a command runs
}

// IsCommand reports whether name is one of the subcommands.
func IsCommand(name string) bool {
	_, ok := commands[name]
	return ok || name == "help" || name == "-h" || name == "--help" || name == "version" || name == "--version"
}

type command struct {
	summary string
	run     func(env *Env, args []string) int
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"login":        {"check a password by signing in once, then keep it in the keyring", runLogin},
		"logout":       {"remove the stored password", runLogout},
		"send":         {"send one chat message", runSend},
		"listen":       {"sign in and print every event until interrupted", runListen},
		"roster":       {"print the roster with groups, subscription and presence", runRoster},
		"history":      {"print the stored message history (no network needed)", runHistory},
		"notices":      {"print the stored notices inbox, newest first (no network needed)", runNotices},
		"profile":      {"print a contact's profile (vCard: name, department, title, phone, email)", runProfile},
		"directory":    {"search the company directory (XEP-0055) by name, account or email", runDirectory},
		"rooms":        {"list the bookmarked rooms and the rooms of the server's group chat service", runRooms},
		"provisioning": {"check the provisioning files and print the settings they give", runProvisioning},
	}
}

// Run runs the subcommand in args[0] and returns the exit status.
func Run(env *Env, args []string) int {
	// What the commands print may come from anyone: see terminalWriter.
	safe := *env
	safe.Stdout, safe.Stderr = newTerminalWriter(env.Stdout), newTerminalWriter(env.Stderr)
	env = &safe
	if len(args) == 0 {
		usage(env.Stderr)
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "--help":
		usage(env.Stdout)
		return ExitOK
	case "version", "--version":
		fmt.Fprintln(env.Stdout, "magpie", env.Version)
		return ExitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "magpie: unknown command %q; run 'magpie help' for the list.\n", args[0])
		return ExitUsage
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env.ctx = ctx
	if args[0] != "provisioning" {
		loadProvisioning(env)
	}
	go func() {
		select {
		case <-env.Interrupt:
			cancel()
		case <-ctx.Done():
		}
	}()
	return cmd.run(env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: magpie [COMMAND [FLAGS] [ARGS]]

Without a command, Magpie opens its window. Commands:
  login   --jid JID [conn flags] [--password-stdin]   `+commands["login"].summary+`
  logout  --jid JID                                   `+commands["logout"].summary+`
  send    --jid JID [conn flags] TO [TEXT...]         `+commands["send"].summary+` (TEXT from stdin when absent)
  send    --jid JID [conn flags] --room ROOM [--nick NICK] [TEXT...]
                                                      send one message to a group chat (joins, sends, leaves)
  listen  --jid JID [conn flags] [--json] [--count N] `+commands["listen"].summary+`
                                                      (joins the autojoin bookmarks; room messages have type groupchat)
  roster  --jid JID [conn flags] [--json]             `+commands["roster"].summary+`
  rooms   --jid JID [conn flags] [--json]             `+commands["rooms"].summary+`
  history --jid JID [--with PEER] [--search TEXT] [--json] [--limit N]
                                                      `+commands["history"].summary+`
  notices --jid JID [--json] [--unread] [--limit N]   `+commands["notices"].summary+`
  profile --jid JID [conn flags] [--json] CONTACT    `+commands["profile"].summary+`
  directory --jid JID [conn flags] [--json] QUERY...
                                                      `+commands["directory"].summary+`
  provisioning [FILE...]                              `+commands["provisioning"].summary+`
  version                                             print the version

Connection flags (saved by 'login', so later commands need only --jid):
  --server HOST:PORT          connect here instead of looking up SRV records
  --direct-tls                TLS from the first byte (XEP-0368) instead of STARTTLS
  --trust-fingerprint SHA256  trust a certificate by its SHA-256 fingerprint (hex, colons optional)
  --ca-file PEM               trust certificates signed by this CA as well as the system's
  --resource NAME             the resource to bind
  --password-stdin            read the password from the first line of standard input
  --debug                     log what happens to standard error

With a provisioning file (see docs/PROVISIONING.md), --jid takes the user
name alone (zhangsan for zhangsan@oa.example), and the server, TLS mode and
trusted certificate come from the file; flags still override them.

Exit status: 0 ok, 1 other error, 2 usage, 3 authentication failed,
4 server unreachable, 5 certificate not trusted.
`)
}

// connFlags are the flags every signing-in command takes.
type connFlags struct {
	jid           string
	server        string
	directTLS     bool
	fingerprints  multiFlag
	caFile        string
	resource      string
	passwordStdin bool
	debug         bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newFlagSet(env *Env, name string, cf *connFlags, withConn bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&cf.jid, "jid", "", "the account, user@domain")
	if withConn {
		fs.StringVar(&cf.server, "server", "", "HOST:PORT to connect to")
		fs.BoolVar(&cf.directTLS, "direct-tls", false, "direct TLS instead of STARTTLS")
		fs.Var(&cf.fingerprints, "trust-fingerprint", "SHA-256 fingerprint to trust (repeatable)")
		fs.StringVar(&cf.caFile, "ca-file", "", "PEM file of CA certificates to trust")
		fs.StringVar(&cf.resource, "resource", "", "resource to bind")
		fs.BoolVar(&cf.passwordStdin, "password-stdin", false, "read the password from standard input")
		fs.BoolVar(&cf.debug, "debug", false, "log to standard error")
	}
	return fs
}

// parse parses flags; the flag package prints what is wrong.
func parse(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	return true
}

// account resolves --jid (or the only saved account) and merges the saved
// connection settings with the flags; flags win.
func (cf *connFlags) account(env *Env) (xmpp.AccountConfig, error) {
	if cf.jid == "" {
		list, err := env.Accounts.List()
		if err != nil {
			return xmpp.AccountConfig{}, err
		}
		if len(list) != 1 {
			return xmpp.AccountConfig{}, usageError("--jid is required")
		}
		cf.jid = list[0].JID
	}
	if p := env.provision; !strings.Contains(cf.jid, "@") && p != nil && p.Domain != "" {
		cf.jid += "@" + p.Domain // a user name, in the provisioned domain
	}
	j, err := jid.Parse(cf.jid)
	if err != nil || j.Localpart() == "" {
		return xmpp.AccountConfig{}, usageError(fmt.Sprintf("--jid %q is not an account (user@domain)", cf.jid))
	}
	cfg, _, err := env.Accounts.Get(j.Bare().String())
	if err != nil {
		return cfg, err
	}
	cfg.JID = j.Bare().String()
	cfg = env.provision.Apply(cfg)
	if cf.server != "" {
		cfg.Server = cf.server
	}
	if cf.directTLS {
		cfg.DirectTLS = true
	}
	for _, fp := range cf.fingerprints {
		parsed, err := xmpp.ParseFingerprint(fp)
		if err != nil {
			return cfg, usageError("--trust-fingerprint: " + err.Error())
		}
		if !slices.Contains(cfg.Fingerprints, parsed) {
			cfg.Fingerprints = append(cfg.Fingerprints, parsed)
		}
	}
	if cf.caFile != "" {
		cfg.CAFile = cf.caFile
	}
	if cf.resource != "" {
		cfg.Resource = cf.resource
	}
	return cfg, nil
}

type usageError string

func (e usageError) Error() string { return string(e) }

// credentials resolves the account and its password source in one step.
func (cf *connFlags) credentials(env *Env) (xmpp.AccountConfig, func(context.Context) (string, error), error) {
	cfg, err := cf.account(env)
	if err != nil {
		return cfg, nil, err
	}
	pw, err := cf.password(env, cfg.JID)
	return cfg, pw, err
}

// password returns the password source: standard input when asked, else the
// keyring.
func (cf *connFlags) password(env *Env, account string) (func(context.Context) (string, error), error) {
	if cf.passwordStdin {
		pw, err := readLine(env.Stdin)
		if err != nil {
			return nil, fmt.Errorf("read the password from standard input: %w", err)
		}
		return func(context.Context) (string, error) { return pw, nil }, nil
	}
	if env.provision != nil && !env.provision.RememberPasswords {
		return nil, usageError("your IT department's provisioning does not allow saved passwords: pass --password-stdin")
	}
	return keyring.NewStore(env.Keyring).PasswordFunc(account), nil
}

func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("standard input is empty")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (cf *connFlags) logger(env *Env) *slog.Logger {
	if !cf.debug {
		return nil
	}
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newClient makes a client with the merged settings.
func newClient(env *Env, cf *connFlags, cfg xmpp.AccountConfig, pw func(context.Context) (string, error), extra ...xmpp.Option) (*xmpp.Client, error) {
	opts := append(cfg.Options(), xmpp.WithPassword(pw), xmpp.WithVersion(env.Version))
	opts = append(opts, env.provision.ClientOptions()...)
	if l := cf.logger(env); l != nil {
		opts = append(opts, xmpp.WithLogger(l))
	}
	return xmpp.New(cfg.JID, append(opts, extra...)...)
}

// connect makes a client and signs in.
func connect(env *Env, cf *connFlags, cfg xmpp.AccountConfig, pw func(context.Context) (string, error), extra ...xmpp.Option) (*xmpp.Client, error) {
	c, err := newClient(env, cf, cfg, pw, extra...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(env.ctx, 45*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		c.Close()
		return nil, err
	}
	rememberFloor(env, c)
	return c, nil
}

// rememberFloor keeps the strongest sign-in the server has offered (see
// xmpp.Client.SASLFloor) in the account's saved settings, so that later
// commands and the app refuse a downgrade. Accounts that were never saved
// are left alone.
func rememberFloor(env *Env, c *xmpp.Client) {
	saved, ok, err := env.Accounts.Get(c.Account().String())
	floor := c.SASLFloor()
	if err != nil || !ok || floor == "" || floor == saved.SASLFloor {
		return
	}
	saved.SASLFloor = floor
	if err := env.Accounts.Save(saved); err != nil {
		fmt.Fprintf(env.Stderr, "magpie: warning: %v\n", err)
	}
}

// fail prints err as one plain sentence and returns the exit status for it.
func fail(env *Env, account string, err error) int {
	var ce *xmpp.CertificateError
	if errors.As(err, &ce) && env.provision.HasTrust(account) {
		fmt.Fprintf(env.Stderr, "magpie: the certificate of %s (SHA-256 %s) does not match the one your IT department provisioned (%s); not connected. Tell your IT department.\n",
			ce.Domain, xmpp.FormatFingerprint(ce.Fingerprint), strings.Join(env.provision.Files, ", "))
		return ExitCertificate
	}
	msg, code := describe(account, err)
	fmt.Fprintln(env.Stderr, "magpie: "+msg)
	return code
}

func describe(account string, err error) (string, int) {
	var ue usageError
	var ce *xmpp.CertificateError
	var ae *xmpp.AuthError
	var de *xmpp.DowngradeError
	var ie *xmpp.SCRAMIterationsError
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted.", ExitInterrupted
	case errors.As(err, &ue):
		return string(ue) + "; run 'magpie help' for usage.", ExitUsage
	case errors.As(err, &ce) && errors.Is(ce.Reason, xmpp.ErrNotPinned):
		return fmt.Sprintf("the certificate of %s has changed: it is not the one pinned for %s (%v). Someone may be intercepting the connection. Only if your IT department confirms the new SHA-256 fingerprint, run again with --trust-fingerprint %s",
			ce.Domain, account, ce.Reason, xmpp.FormatFingerprint(ce.Fingerprint)), ExitCertificate
	case errors.As(err, &ce):
		return fmt.Sprintf("the certificate of %s is not trusted (%v). If you trust it, run again with --trust-fingerprint %s",
			ce.Domain, ce.Reason, xmpp.FormatFingerprint(ce.Fingerprint)), ExitCertificate
	case errors.As(err, &de):
		return fmt.Sprintf("sign-in as %s refused: the server now allows only %s, weaker than %s, which it used before. Someone may be tampering with the connection to get your password; nothing was sent. Tell your IT department.",
			account, de.Offered, de.Floor), ExitAuth
	case errors.As(err, &ie):
		return fmt.Sprintf("sign-in as %s refused: the server asked for %d rounds of password hashing (SCRAM iterations), more than the %d allowed. Tell your IT department.",
			account, ie.Count, ie.Max), ExitAuth
	case errors.As(err, &ae):
		return fmt.Sprintf("sign-in as %s failed: wrong user name or password (the server said %q).", account, ae.Condition), ExitAuth
	case errors.Is(err, xmpp.ErrUnreachable):
		detail := strings.TrimPrefix(err.Error(), xmpp.ErrUnreachable.Error()+": ")
		return fmt.Sprintf("cannot reach the server for %s (%s); check the network and --server.", account, detail), ExitUnreachable
	case errors.Is(err, keyring.ErrNotFound):
		return fmt.Sprintf("no password is saved for %s; run 'magpie login --jid %s' first, or pass --password-stdin.", account, account), ExitError
	case errors.Is(err, keyring.ErrUnavailable):
		return fmt.Sprintf("the system keyring is unavailable (%v); pass --password-stdin instead.", err), ExitError
	}
	return strings.TrimSuffix(err.Error(), ".") + ".", ExitError
}
