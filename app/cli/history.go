package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/store"
)

// openStore opens the account's local history, shared with the app.
func openStore(account string) (*store.DB, error) {
	path, err := store.DefaultPath(account)
	if err != nil {
		return nil, fmt.Errorf("find the message history: %w", err)
	}
	db, err := store.Open(path)
	switch {
	case errors.Is(err, store.ErrCorrupt):
		return nil, fmt.Errorf("the message history is damaged (%w); Magpie did not change it: move %s away to start a new one", err, path)
	case errors.Is(err, store.ErrTooNew):
		return nil, fmt.Errorf("the message history was written by a newer Magpie (%w); update Magpie, or move %s away", err, path)
	case err != nil:
		return nil, fmt.Errorf("open the message history: %w", err)
	}
	return db, nil
}

// connectQuietly opens the account's history and signs in with it, without
// presence (so offline messages stay for the user's real clients). closeAll
// signs out, then closes the history; a second call of c.Close is harmless.
func connectQuietly(env *Env, cf *connFlags, cfg xmpp.AccountConfig, pw func(context.Context) (string, error)) (c *xmpp.Client, closeAll func(), err error) {
	db, err := openStore(cfg.JID)
	if err != nil {
		return nil, nil, err
	}
	c, err = connect(env, cf, cfg, pw, xmpp.WithoutPresence(), xmpp.WithStore(db))
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return c, func() { c.Close(); db.Close() }, nil
}

// signInQuietly is connectQuietly with the account and password taken from
// the flags; account is what to name in an error.
func signInQuietly(env *Env, cf *connFlags) (c *xmpp.Client, closeAll func(), account string, err error) {
	cfg, pw, err := cf.credentials(env)
	if err != nil {
		return nil, nil, cf.jid, err
	}
	c, closeAll, err = connectQuietly(env, cf, cfg, pw)
	return c, closeAll, cfg.JID, err
}

// runHistory prints the stored history; it never connects.
func runHistory(env *Env, args []string) int {
	var cf connFlags
	fs := newFlagSet(env, "history", &cf, false)
	with := fs.String("with", "", "only the conversation with this JID")
	search := fs.String("search", "", "only messages containing this text")
	asJSON := fs.Bool("json", false, "one JSON object per message and line")
	limit := fs.Int("limit", 0, "at most this many messages (0: all; with --search: 100)")
	if !parse(fs, args) {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		return fail(env, cf.jid, usageError("history takes no arguments besides flags"))
	}
	cfg, err := cf.account(env)
	if err != nil {
		return fail(env, cf.jid, err)
	}
	peer := ""
	if *with != "" {
		j, err := jid.Parse(*with)
		if err != nil {
			return fail(env, cfg.JID, usageError(fmt.Sprintf("--with %q is not a JID", *with)))
		}
		peer = j.Bare().String()
	}
	db, err := openStore(cfg.JID)
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	defer db.Close()

	var msgs []store.Message
	switch {
	case *search != "":
		n := *limit
		if n <= 0 {
			n = 100
		}
		hits, err := db.Search(*search, peer, n)
		if err != nil {
			return fail(env, cfg.JID, err)
		}
		// Oldest first, like the rest of history.
		for i := len(hits) - 1; i >= 0; i-- {
			msgs = append(msgs, hits[i].Message)
		}
	case peer != "":
		if msgs, err = wholeHistory(db, peer, *limit); err != nil {
			return fail(env, cfg.JID, err)
		}
	default:
		convs, err := db.Conversations(0)
		if err != nil {
			return fail(env, cfg.JID, err)
		}
		for i := len(convs) - 1; i >= 0; i-- { // the least recent conversation first
			part, err := wholeHistory(db, convs[i].Peer, *limit)
			if err != nil {
				return fail(env, cfg.JID, err)
			}
			msgs = append(msgs, part...)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		for _, m := range msgs {
			_ = enc.Encode(historyJSON(cfg.JID, m))
		}
		return ExitOK
	}
	if len(msgs) == 0 {
		fmt.Fprintln(env.Stdout, "No messages.")
	}
	last := ""
	for _, m := range msgs {
		if m.Peer != last && peer == "" {
			fmt.Fprintf(env.Stdout, "== %s\n", m.Peer)
			last = m.Peer
		}
		who := m.Peer
		if m.Dir == store.Outgoing {
			who = "me"
		}
		line := fmt.Sprintf("%s <%s> %s", m.Time.Local().Format("2006-01-02 15:04:05"), who, continued(m.Body))
		if m.Dir == store.Outgoing && m.State != store.Sent {
			line += "  [" + m.State.String() + "]"
		}
		fmt.Fprintln(env.Stdout, line)
	}
	return ExitOK
}

// wholeHistory returns a conversation oldest first: all of it, or its last
// limit messages.
func wholeHistory(db *store.DB, peer string, limit int) ([]store.Message, error) {
	const page = 1000
	var out []store.Message
	cursor := store.Cursor{}
	for {
		n := page
		if limit > 0 {
			n = min(page, limit-len(out))
		}
		msgs, err := db.History(peer, cursor, n)
		if err != nil {
			return nil, err
		}
		out = append(msgs, out...)
		if len(msgs) < n || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		cursor = msgs[0].Cursor()
	}
}

func historyJSON(account string, m store.Message) map[string]any {
	from, to := m.Peer, account
	dir := "in"
	if m.Dir == store.Outgoing {
		from, to, dir = account, m.Peer, "out"
	}
	f := map[string]any{
		"peer": m.Peer, "direction": dir, "from": from, "to": to, "type": m.Type,
		"body": m.Body, "time": m.Time.UTC().Format(time.RFC3339Nano), "state": m.State.String(),
	}
	for k, v := range map[string]string{"id": m.ID, "origin_id": m.OriginID, "stanza_id": m.StanzaID,
		"subject": m.Subject, "thread": m.Thread, "error": m.Error, "resource": m.Resource} {
		if v != "" {
			f[k] = v
		}
	}
	return f
}

// runProfile prints a contact's profile (vCard): from the cache when fresh,
// else from the server.
func runProfile(env *Env, args []string) int {
	var cf connFlags
	fs := newFlagSet(env, "profile", &cf, true)
	asJSON := fs.Bool("json", false, "print the profile as one JSON object")
	if !parse(fs, args) {
		return ExitUsage
	}
	if fs.NArg() != 1 {
		return fail(env, cf.jid, usageError("profile needs one contact: magpie profile --jid JID CONTACT"))
	}
	who, err := jid.Parse(fs.Arg(0))
	if err != nil {
		return fail(env, cf.jid, usageError(fmt.Sprintf("contact %q is not a JID", fs.Arg(0))))
	}
	c, closeAll, account, err := signInQuietly(env, &cf)
	if err != nil {
		return fail(env, account, err)
	}
	defer closeAll()
	ctx, cancel := context.WithTimeout(env.ctx, 20*time.Second)
	defer cancel()
	p, err := c.Profile(ctx, who)
	if err != nil {
		return fail(env, account, err)
	}
	fields := []struct{ key, label, value string }{
		{"name", "Name", p.FullName}, {"nickname", "Nickname", p.Nickname}, {"organisation", "Organisation", p.Org},
		{"unit", "Department", p.Unit}, {"title", "Title", p.Title}, {"phone", "Phone", p.Phone}, {"email", "Email", p.Email},
		{"photo_hash", "Photo", p.PhotoHash},
	}
	if *asJSON {
		out := map[string]any{"jid": p.JID.String()}
		for _, f := range fields {
			if f.value != "" {
				out[f.key] = f.value
			}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(out)
		return ExitOK
	}
	fmt.Fprintln(env.Stdout, p.JID)
	shown := false
	for _, f := range fields {
		if f.value != "" {
			fmt.Fprintf(env.Stdout, "  %-13s %s\n", f.label+":", f.value)
			shown = true
		}
	}
	if !shown {
		fmt.Fprintln(env.Stdout, "  (no profile)")
	}
	return ExitOK
}
