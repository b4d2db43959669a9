package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"magpie/xmpp"
	"magpie/xmpp/store"
)

// noticeFields is a notice as `listen --json` prints it.
func noticeFields(n xmpp.Notice) map[string]any {
	f := map[string]any{
		"type": "notice", "from": n.From.String(), "subject": n.Subject, "body": n.Body,
		"time": n.Time.UTC().Format(time.RFC3339Nano), "delayed": n.Delayed,
	}
	if n.ID != "" {
		f["id"] = n.ID
	}
	if n.Seq != 0 {
		f["seq"] = n.Seq
	}
	if n.Headline {
		f["headline"] = true
	}
	return f
}

// storedNoticeFields is a stored notice as `notices --json` prints it.
func storedNoticeFields(n store.Notice) map[string]any {
	f := map[string]any{
		"type": "notice", "seq": n.Seq, "from": n.From, "subject": n.Subject, "body": n.Body,
		"time": n.Time.UTC().Format(time.RFC3339Nano), "read": n.Read,
	}
	if n.ID != "" {
		f["id"] = n.ID
	}
	return f
}

// runNotices prints the stored notices inbox, newest first; it never
// connects.
func runNotices(env *Env, args []string) int {
	var cf connFlags
	fs := newFlagSet(env, "notices", &cf, false)
	asJSON := fs.Bool("json", false, "one JSON object per notice and line")
	unread := fs.Bool("unread", false, "only notices not yet read")
	limit := fs.Int("limit", 50, "at most this many notices, newest first (0: all)")
	if !parse(fs, args) {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		return fail(env, cf.jid, usageError("notices takes no arguments besides flags"))
	}
	if *limit < 0 {
		return fail(env, cf.jid, usageError("--limit must not be negative"))
	}
	cfg, err := cf.account(env)
	if err != nil {
		return fail(env, cf.jid, err)
	}
	db, err := openStore(cfg.JID)
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	defer db.Close()
	n := *limit
	if n == 0 {
		n = math.MaxInt32
	}
	var notices []store.Notice
	if *unread {
		notices, err = db.UnreadNoticeList(n)
	} else {
		notices, err = db.Notices(n)
	}
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		for _, n := range notices {
			_ = enc.Encode(storedNoticeFields(n))
		}
		return ExitOK
	}
	if len(notices) == 0 {
		if *unread {
			fmt.Fprintln(env.Stdout, "No unread notices.")
		} else {
			fmt.Fprintln(env.Stdout, "No notices.")
		}
		return ExitOK
	}
	// "*" marks the unread ones; the body follows, indented.
	for _, n := range notices {
		mark := " "
		if !n.Read {
			mark = "*"
		}
		head := fmt.Sprintf("%s %s  %s", mark, n.Time.Local().Format("2006-01-02 15:04:05"), n.From)
		if n.Subject != "" {
			head += "  " + n.Subject
		}
		fmt.Fprintln(env.Stdout, head)
		for _, line := range strings.Split(strings.TrimRight(n.Body, "\n"), "\n") {
			fmt.Fprintln(env.Stdout, "    "+strings.TrimRight(line, "\r"))
		}
	}
	return ExitOK
}
