package xmpp

import (
	"fmt"
	"strings"
	"time"

	"magpie/xmpp/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Notice is an alert for the user rather than a conversation: an approval
// waiting in the OA system, a meeting moved, an announcement from IT. See
// "Notices" in the package documentation for which messages are notices.
type Notice struct {
	// Seq is the notice's place in the local store (0 without a store):
	// what MarkNoticeRead takes.
	Seq int64
	// ID is the stanza id the sender chose (may be empty).
	ID      string
	From    jid.JID
	Subject string
	Body    string
	// Time is when the notice was sent: the XEP-0203 delay stamp for one
	// delivered late, else when it arrived.
	Time time.Time
	// Delayed is set on a notice that carried a delay stamp: one the server
	// kept while the user was offline and delivered at sign-in.
	Delayed bool
	// Headline is set for a message of type headline, unset for normal.
	Headline bool
	Read     bool
	// Sender says who vouches for From: the server (NoticeFromServer) or
	// the configuration naming it a notifier account
	// (NoticeFromNotifier). A notice stored before only those could
	// send one, or from an account no longer named, is
	// NoticeUnverified. Front ends show it beside the full From, never a
	// display name: a name is the sender's to choose.
	Sender NoticeSender
}

// NoticeSender is why a notice's sender may send notices.
type NoticeSender int

const (
	// NoticeUnverified is a sender who is neither the server nor a
	// notifier account (now): a notice kept from an older version, which
	// took any headline for one, or from an account no longer named.
	NoticeUnverified NoticeSender = iota
	// NoticeFromServer is the account's server or broadcast.DOMAIN.
	NoticeFromServer
	// NoticeFromNotifier is a notifier account (WithNoticeSenders).
	NoticeFromNotifier
)

// String names the kind for logs and the command line.
func (s NoticeSender) String() string {
	switch s {
	case NoticeFromServer:
		return "server"
	case NoticeFromNotifier:
		return "notifier"
	}
	return "unverified"
}

// ClassifyNoticeSender says whether from may send account notices: as its
// server or broadcast.DOMAIN, as one of the notifier accounts (bare JIDs,
// as given to WithNoticeSenders; ones that do not parse are skipped), or
// not at all. It is the rule a Client sorts messages by, for front ends
// that read a store without one.
func ClassifyNoticeSender(account jid.JID, notifiers []string, from jid.JID) NoticeSender {
	set := map[string]bool{}
	for _, s := range notifiers {
		if j, err := jid.Parse(strings.TrimSpace(s)); err == nil {
			set[j.Bare().String()] = true
		}
	}
	return classifyNoticeSender(account, set, from)
}

func classifyNoticeSender(account jid.JID, notifiers map[string]bool, from jid.JID) NoticeSender {
	domain := account.Domainpart()
	if from.Localpart() == "" {
		d := from.Domainpart()
		if strings.EqualFold(d, domain) || strings.EqualFold(d, "broadcast."+domain) {
			return NoticeFromServer
		}
	}
	if notifiers[from.Bare().String()] {
		return NoticeFromNotifier
	}
	return NoticeUnverified
}

// WithNoticeSenders names notifier accounts (an OA system's
// "oa-notify@company.example", say) whose normal and headline messages are
// notices, not chats, besides those of the server and broadcast.DOMAIN.
// Each is a bare JID; New fails on one that does not parse.
func WithNoticeSenders(jids ...string) Option {
	return func(o *options) { o.noticeSenders = append(o.noticeSenders, jids...) }
}

// parseNoticeSenders turns JIDs given as text into the set of their bare
// forms.
func parseNoticeSenders(jids []string) (map[string]bool, error) {
	set := make(map[string]bool, len(jids))
	for _, s := range jids {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		j, err := jid.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("notice sender %q: %w", s, err)
		}
		set[j.Bare().String()] = true
	}
	return set, nil
}

// SetNoticeSenders replaces the notifier accounts set with
// WithNoticeSenders; messages that arrive afterwards are sorted by the new
// list.
func (c *Client) SetNoticeSenders(jids ...string) error {
	set, err := parseNoticeSenders(jids)
	if err != nil {
		return fmt.Errorf("xmpp: %w", err)
	}
	c.mu.Lock()
	c.noticeSenders = set
	c.mu.Unlock()
	return nil
}

// NoticeSenders returns the configured notifier accounts (bare JIDs).
func (c *Client) NoticeSenders() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.noticeSenders))
	for j := range c.noticeSenders {
		out = append(out, j)
	}
	return out
}

// NoticeSenderOf says whether from may send the account notices, by the
// server and the notifier accounts named now.
func (c *Client) NoticeSenderOf(from jid.JID) NoticeSender {
	c.mu.Lock()
	defer c.mu.Unlock()
	return classifyNoticeSender(c.account, c.noticeSenders, from)
}

// isNotice decides whether an incoming message is a notice rather than a
// chat: a message of type normal or headline (an alert: RFC 6121 §5.2.2)
// from the server, broadcast.DOMAIN or a notifier account. Notices are
// shown apart from chats, as the company's word, so only those may send
// them: a headline from anyone else ("Approve payment" from a colleague's
// account, or a stranger's) is a chat message from that person, and many
// clients send chats as type normal (or with no type, which means normal).
// Chat and groupchat messages are never notices, nor are private messages
// through a room (Message.Private), of whatever type.
func (c *Client) isNotice(m Message) bool {
	if m.Outgoing || m.Private {
		return false
	}
	switch m.Type {
	case stanza.HeadlineMessage, stanza.NormalMessage:
		return c.NoticeSenderOf(m.From) != NoticeUnverified
	}
	return false
}

// notice stores a notice in the inbox and reports it if it is new. Servers
// often neither store headlines offline nor archive them, so this copy may
// be the only one. A message with neither body nor subject is no notice.
func (c *Client) notice(m Message) {
	if m.Body == "" && m.Subject == "" {
		return
	}
	n := Notice{ID: m.ID, From: m.From, Subject: m.Subject, Body: m.Body, Time: m.Time, Delayed: m.Delayed,
		Headline: m.Type == stanza.HeadlineMessage, Sender: c.NoticeSenderOf(m.From)}
	if c.opts.store == nil {
		c.events.push(NoticeReceived{n})
		return
	}
	c.store.do(func(db *store.DB) {
		if db == nil {
			return
		}
		rec, added, err := db.AddNotice(store.Notice{From: m.From.String(), ID: m.ID, StanzaID: m.StanzaID,
			Subject: m.Subject, Body: m.Body, Time: m.Time})
		if err != nil {
			c.log.Error("store notice", "err", err)
			c.events.push(ErrorOccurred{Err: fmt.Errorf("xmpp: store a notice: %w", err)})
		}
		if added || err != nil { // a store failure must not hide it
			n.Seq, n.Time = rec.Seq, rec.Time
			if err != nil {
				n.Time = m.Time
			}
			c.events.push(NoticeReceived{n})
		}
	})
}

// noticeFromRecord turns a stored notice back into a Notice, its Sender by
// the notifier accounts named now.
func (c *Client) noticeFromRecord(r store.Notice) Notice {
	from, _ := jid.Parse(r.From)
	return Notice{Seq: r.Seq, ID: r.ID, From: from, Subject: r.Subject, Body: r.Body, Time: r.Time, Read: r.Read,
		Sender: c.NoticeSenderOf(from)}
}

// Notices returns up to limit stored notices, newest first (limit <= 0:
// 50); with unreadOnly, only those not yet marked read. It reads the local
// store, so it works offline.
func (c *Client) Notices(limit int, unreadOnly bool) ([]Notice, error) {
	if c.opts.store == nil {
		return nil, ErrNoStore
	}
	var rs []store.Notice
	var err error
	if unreadOnly {
		rs, err = c.opts.store.UnreadNoticeList(limit)
	} else {
		rs, err = c.opts.store.Notices(limit)
	}
	out := make([]Notice, 0, len(rs))
	for _, r := range rs {
		out = append(out, c.noticeFromRecord(r))
	}
	return out, err
}

// UnreadNotices returns how many stored notices are unread.
func (c *Client) UnreadNotices() (int, error) {
	if c.opts.store == nil {
		return 0, ErrNoStore
	}
	return c.opts.store.UnreadNotices()
}

// MarkNoticeRead marks the stored notice seq as read.
func (c *Client) MarkNoticeRead(seq int64) error {
	if c.opts.store == nil {
		return ErrNoStore
	}
	return c.opts.store.MarkNoticeRead(seq)
}

// MarkNoticesRead marks every stored notice up to and including seq as
// read: the ones a user has seen, not one that arrived meanwhile.
func (c *Client) MarkNoticesRead(upTo int64) error {
	if c.opts.store == nil {
		return ErrNoStore
	}
	_, err := c.opts.store.MarkNoticesRead(upTo)
	return err
}
