package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
)

func runLogin(env *Env, args []string) int {
	var cf connFlags
	fs := newFlagSet(env, "login", &cf, true)
	if !parse(fs, args) {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		return fail(env, cf.jid, usageError("login takes no arguments besides flags"))
	}
	if cf.jid == "" {
		return fail(env, "", usageError("--jid is required"))
	}
	cfg, err := cf.account(env)
	if err != nil {
		return fail(env, cf.jid, err)
	}
	var pw string
	if cf.passwordStdin {
		pw, err = readLine(env.Stdin)
	} else {
		pw, err = prompt(env, fmt.Sprintf("Password for %s: ", cfg.JID))
	}
	if err != nil {
		return fail(env, cfg.JID, fmt.Errorf("read the password: %w", err))
	}
	if pw == "" {
		return fail(env, cfg.JID, usageError("the password is empty"))
	}
	c, err := connect(env, &cf, cfg, func(context.Context) (string, error) { return pw, nil }, xmpp.WithoutPresence())
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	cfg.SASLFloor = c.SASLFloor()
	c.Close()
	if !env.provision.RememberPasswords {
		if err := env.Accounts.Save(cfg); err != nil {
			return fail(env, cfg.JID, err)
		}
		fmt.Fprintf(env.Stdout, "Signed in as %s. Your IT department's provisioning does not allow saving passwords, so commands need --password-stdin.\n", cfg.JID)
		return ExitOK
	}
	ctx, cancel := context.WithTimeout(env.ctx, 20*time.Second)
	defer cancel()
	if err := keyring.NewStore(env.Keyring).Save(ctx, cfg.JID, pw); err != nil {
		return fail(env, cfg.JID, fmt.Errorf("signed in, but the password could not be saved: %w", err))
	}
	if err := env.Accounts.Save(cfg); err != nil {
		return fail(env, cfg.JID, err)
	}
	fmt.Fprintf(env.Stdout, "Signed in as %s; the password is saved in the system keyring.\n", cfg.JID)
	return ExitOK
}

// prompt reads a password from the terminal without echo.
func prompt(env *Env, text string) (string, error) {
	f, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal; use --password-stdin")
	}
	fmt.Fprint(env.Stderr, text)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(env.Stderr)
	return string(b), err
}

func runLogout(env *Env, args []string) int {
	var cf connFlags
	fs := newFlagSet(env, "logout", &cf, false)
	if !parse(fs, args) {
		return ExitUsage
	}
	cfg, err := cf.account(env)
	if err != nil {
		return fail(env, cf.jid, err)
	}
	ctx, cancel := context.WithTimeout(env.ctx, 20*time.Second)
	defer cancel()
	err = keyring.NewStore(env.Keyring).Delete(ctx, cfg.JID)
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		fmt.Fprintf(env.Stdout, "No password was saved for %s.\n", cfg.JID)
	case err != nil:
		return fail(env, cfg.JID, err)
	default:
		fmt.Fprintf(env.Stdout, "Removed the saved password of %s.\n", cfg.JID)
	}
	return ExitOK
}

// messageText is the text to send: the words given, or else standard
// input without its trailing newlines; empty text is a usage error.
func messageText(env *Env, words []string) (string, error) {
	body := strings.Join(words, " ")
	if len(words) == 0 {
		b, err := io.ReadAll(env.Stdin)
		if err != nil {
			return "", fmt.Errorf("read the text from standard input: %w", err)
		}
		body = strings.TrimRight(string(b), "\n")
	}
	if strings.TrimSpace(body) == "" {
		return "", usageError("the message is empty")
	}
	return body, nil
}

func runSend(env *Env, args []string) int {
	var cf connFlags
	fs := newFlagSet(env, "send", &cf, true)
	room := fs.String("room", "", "send to this group chat (ROOM@SERVICE) instead of a contact")
	nick := fs.String("nick", "", "the nick in the room (default: the account's user name)")
	if !parse(fs, args) {
		return ExitUsage
	}
	if *room != "" {
		return sendToRoom(env, &cf, *room, *nick, fs.Args())
	}
	if fs.NArg() < 1 {
		return fail(env, cf.jid, usageError("send needs a recipient: magpie send --jid JID TO [TEXT...]"))
	}
	to, err := jid.Parse(fs.Arg(0))
	if err != nil {
		return fail(env, cf.jid, usageError(fmt.Sprintf("recipient %q is not a JID", fs.Arg(0))))
	}
	if cf.passwordStdin && fs.NArg() == 1 {
		return fail(env, cf.jid, usageError("with --password-stdin the text must be given as arguments"))
	}
	cfg, pw, err := cf.credentials(env)
	if err != nil {
		return fail(env, cf.jid, err)
	}
	body, err := messageText(env, fs.Args()[1:])
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	// No presence: a send must not take the offline messages meant for the
	// user's other clients, nor flash the account online.
	c, closeAll, err := connectQuietly(env, &cf, cfg, pw)
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	defer closeAll()
	ctx, cancel := context.WithTimeout(env.ctx, 30*time.Second)
	defer cancel()
	id, err := c.SendMessage(ctx, to, body)
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	// The server handles a stream in order: when it answers this ping it has
	// taken the message, and a bounce for a local recipient is already here.
	if err := c.Ping(ctx, jid.JID{}); err != nil {
		return fail(env, cfg.JID, fmt.Errorf("the message may not have reached the server: %w", err))
	}
	// Close delivers every event queued so far, the bounce among them, and
	// then ends the stream.
	c.Close()
	for e := range c.Events() {
		if f, ok := e.(xmpp.MessageFailed); ok && f.ID == id {
			return fail(env, cfg.JID, fmt.Errorf("the message to %s was not delivered: %v", to, f.Err))
		}
	}
	return ExitOK
}

func runListen(env *Env, args []string) int {
	var cf connFlags
	fs := newFlagSet(env, "listen", &cf, true)
	asJSON := fs.Bool("json", false, "one JSON object per line")
	count := fs.Int("count", 0, "exit after this many messages and notices (0: never)")
	showFlag := fs.String("show", "available", "presence to show: available, away, xa, dnd, chat")
	status := fs.String("status", "", "status message")
	if !parse(fs, args) {
		return ExitUsage
	}
	show, err := xmpp.ParseShow(*showFlag)
	if err != nil {
		return fail(env, cf.jid, usageError(err.Error()))
	}
	cfg, pw, err := cf.credentials(env)
	if err != nil {
		return fail(env, cf.jid, err)
	}
	db, err := openStore(cfg.JID)
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	defer db.Close()
	out := newPrinter(env.Stdout, *asJSON)
	// Autojoin: the rooms the user bookmarked report their messages too.
	c, err := newClient(env, &cf, cfg, pw, xmpp.WithPresence(show, *status, 0), xmpp.WithStore(db), xmpp.WithAutojoin())
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	// Print events while connecting, so the state changes show too. The
	// printer ends listen after --count messages, or with the error when the
	// client gives up reconnecting (a changed password or certificate).
	done := make(chan int, 1)
	go func() {
		messages, online := 0, false
		for e := range c.Events() {
			out.event(e)
			switch e := e.(type) {
			case xmpp.StateChanged:
				if e.State == xmpp.Online {
					online = true
				}
				if online && e.State == xmpp.Offline && e.Err != nil {
					done <- fail(env, cfg.JID, e.Err)
					return
				}
			case xmpp.MessageReceived, xmpp.NoticeReceived, xmpp.RoomMessage:
				if m, ok := e.(xmpp.RoomMessage); ok && m.Outgoing {
					break
				}
				messages++
				if *count > 0 && messages >= *count {
					done <- ExitOK
					return
				}
			}
		}
		done <- ExitOK
	}()
	ctx, cancel := context.WithTimeout(env.ctx, 45*time.Second)
	err = c.Connect(ctx)
	cancel()
	if err != nil {
		c.Close()
		return fail(env, cfg.JID, err)
	}
	select {
	case code := <-done:
		c.Close()
		return code
	case <-env.ctx.Done():
		c.Close()
		<-done        // print what Close reported, down to "offline"
		return ExitOK // Ctrl-C is how listen is meant to end
	}
}

func runRoster(env *Env, args []string) int {
	var cf connFlags
	fs := newFlagSet(env, "roster", &cf, true)
	asJSON := fs.Bool("json", false, "one JSON object per contact and line")
	if !parse(fs, args) {
		return ExitUsage
	}
	cfg, pw, err := cf.credentials(env)
	if err != nil {
		return fail(env, cf.jid, err)
	}
	// Presence is needed to learn the contacts' presence; a negative priority
	// keeps messages and offline storage going to the user's real clients.
	c, err := connect(env, &cf, cfg, pw, xmpp.WithPresence(xmpp.ShowAvailable, "", -1))
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	defer c.Close()
	contacts := c.Roster()
	sort.Slice(contacts, func(i, j int) bool {
		gi, gj := groupOf(contacts[i]), groupOf(contacts[j])
		if gi != gj {
			return gi < gj
		}
		return contacts[i].JID.String() < contacts[j].JID.String()
	})
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		for _, ct := range contacts {
			_ = enc.Encode(contactJSON(ct, presenceOf(c, ct)))
		}
		return ExitOK
	}
	if len(contacts) == 0 {
		fmt.Fprintln(env.Stdout, "The roster is empty.")
	}
	group := "\x00"
	for _, ct := range contacts {
		if g := groupOf(ct); g != group {
			group = g
			fmt.Fprintf(env.Stdout, "%s\n", g)
		}
		p := presenceOf(c, ct)
		line := fmt.Sprintf("  %-30s %-22s %-10s %s", ct.JID, displayName(ct), p.word, ct.Subscription)
		if ct.Pending {
			line += " (request pending)"
		}
		if p.status != "" {
			line += "  “" + p.status + "”"
		}
		fmt.Fprintln(env.Stdout, strings.TrimRight(line, " "))
	}
	return ExitOK
}

func groupOf(ct xmpp.Contact) string {
	if len(ct.Groups) == 0 {
		return "Contacts"
	}
	g := append([]string(nil), ct.Groups...)
	sort.Strings(g)
	return strings.Join(g, ", ")
}

func displayName(ct xmpp.Contact) string {
	if ct.Name != "" {
		return ct.Name
	}
	return ct.JID.Localpart()
}

type presenceSummary struct {
	word   string // offline, available, away, xa, dnd, chat
	status string
}

func presenceOf(c *xmpp.Client, ct xmpp.Contact) presenceSummary {
	p, ok := c.BestPresence(ct.JID)
	if !ok {
		return presenceSummary{word: "offline"}
	}
	word := string(p.Show)
	if word == "" {
		word = "available"
	}
	return presenceSummary{word: word, status: p.Status}
}

func contactJSON(ct xmpp.Contact, p presenceSummary) map[string]any {
	groups := ct.Groups
	if groups == nil {
		groups = []string{}
	}
	return map[string]any{
		"jid": ct.JID.String(), "name": ct.Name, "groups": groups,
		"subscription": ct.Subscription, "pending": ct.Pending,
		"presence": p.word, "status": p.status,
	}
}
