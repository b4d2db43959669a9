package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/store"
)

// noticeFields is a notice as `listen --json` prints it.
func noticeFields(n xmpp.Notice) map[string]any {
	f := map[string]any{
		"type": "notice", "from": n.From.String(), "sender": n.Sender.String(), "subject": n.Subject, "body": n.Body,
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

// storedNoticeFields is a stored notice as `notices --json` prints it;
// sender is why its sender may send notices (see noticeSender).
func storedNoticeFields(n store.Notice, sender xmpp.NoticeSender) map[string]any {
	f := map[string]any{
		"type": "notice", "seq": n.Seq, "from": n.From, "sender": sender.String(), "subject": n.Subject, "body": n.Body,
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
	// Why each sender may send notices, by the notifier accounts
	// provisioned now: a notice an older version took from anyone is
	// "unverified".
	account := jid.MustParse(cfg.JID)
	sender := func(n store.Notice) xmpp.NoticeSender {
		from, err := jid.Parse(n.From)
		if err != nil {
			return xmpp.NoticeUnverified
		}
		return xmpp.ClassifyNoticeSender(account, env.provision.NoticeSenders, from)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		for _, n := range notices {
			_ = enc.Encode(storedNoticeFields(n, sender(n)))
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
	// "*" marks the unread ones; the sender's kind in brackets ([server],
	// [notifier], [UNVERIFIED]) before its address; the body follows,
	// indented.
	for _, n := range notices {
		mark := " "
		if !n.Read {
			mark = "*"
		}
		head := fmt.Sprintf("%s %s  %s %s", mark, n.Time.Local().Format("2006-01-02 15:04:05"), senderTag(sender(n)), n.From)
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

// senderTag is the command line's mark of why a notice's sender may send
// notices.
func senderTag(s xmpp.NoticeSender) string {
	if s == xmpp.NoticeUnverified {
		return "[UNVERIFIED]"
	}
	return "[" + s.String() + "]"
}
