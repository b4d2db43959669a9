package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"

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
		line := fmt.Sprintf("%s <%s> %s", m.Time.Local().Format("2006-01-02 15:04:05"), who, m.Body)
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
