package xmpp

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"magpie/xmpp/store"

	"mellium.im/xmpp/jid"
)

// Mentions and per-room notification levels. The core decides what is a
// mention (RoomMessage.Mention) and keeps the level per room in the store;
// the app decides, from both, whether to show a desktop notification.

// Mentions reports whether body names nick: the nick, compared without
// regard to case (Unicode simple folding), optionally after an "@", that
// is not part of a longer word. A word here is a run of letters, digits
// and "_" of scripts that separate words with spaces; Chinese, Japanese
// and Korean characters (Han, Hiragana, Katakana, Hangul) are never part
// of such a word, because those scripts write words and particles without
// spaces ("李四你好", "田中さん", "민수야", "Bob你好" all mention). So a
// side of the nick needs a boundary only where both the nick's edge and
// the neighbouring character are word characters: "bob" is mentioned by
// "@Bob:", "bob's" and "hi bob" but not by "bobby" or "kebob". The price
// of that rule is that a CJK nick inside a longer name ("李四" in "李四川")
// counts as a mention.
func Mentions(body, nick string) bool {
	if nick == "" || body == "" {
		return false
	}
	first, _ := utf8.DecodeRuneInString(nick)
	last, _ := utf8.DecodeLastRuneInString(nick)
	for i := 0; i < len(body); {
		if n := foldedPrefix(body[i:], nick); n > 0 {
			before, _ := utf8.DecodeLastRuneInString(body[:i])
			after, _ := utf8.DecodeRuneInString(body[i+n:])
			if (i == 0 || !(isWordRune(before) && isWordRune(first))) &&
				(i+n == len(body) || !(isWordRune(after) && isWordRune(last))) {
				return true
			}
		}
		_, size := utf8.DecodeRuneInString(body[i:])
		i += size
	}
	return false
}

// foldedPrefix returns the length in s of a case-insensitive match of
// prefix at the start of s, or 0.
func foldedPrefix(s, prefix string) int {
	n := 0
	for _, p := range prefix {
		r, size := utf8.DecodeRuneInString(s[n:])
		if size == 0 || !equalFold(r, p) {
			return 0
		}
		n += size
	}
	return n
}

func equalFold(a, b rune) bool {
	if a == b {
		return true
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

// isWordRune reports whether r belongs to a space-separated word (see
// Mentions).
func isWordRune(r rune) bool {
	if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) {
		return false
	}
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// referencesSelf reports whether a message carries an XEP-0372 mention
// reference to the own occupant JID (room/nick) or the own account.
func (c *Client) referencesSelf(w wireMessage, room jid.JID, nick string) bool {
	occupant, err := room.WithResource(nick)
	if err != nil {
		return false
	}
	for _, ref := range w.References {
		if ref.Type != "mention" {
			continue
		}
		uri, ok := strings.CutPrefix(ref.URI, "xmpp:")
		if !ok {
			continue
		}
		if i := strings.IndexAny(uri, "?#"); i >= 0 {
			uri = uri[:i]
		}
		if u, err := url.PathUnescape(uri); err == nil {
			uri = u
		}
		j, err := jid.Parse(uri)
		if err != nil {
			continue
		}
		if j.Equal(occupant) || j.Equal(c.account) {
			return true
		}
	}
	return false
}

// NotifyLevel is which messages of a room deserve a notification.
type NotifyLevel string

// The notification levels. NotifyDefault, given to SetRoomNotify, clears
// the room's setting; RoomNotify never returns it.
const (
	NotifyDefault  NotifyLevel = ""
	NotifyAll      NotifyLevel = "all"      // every message of someone else
	NotifyMentions NotifyLevel = "mentions" // only messages with Mention set
	NotifyNone     NotifyLevel = "none"     // none, not even mentions
)

// RoomNotify returns the notification level of room: the one set with
// SetRoomNotify, else the default. The default follows Conversations
// rather than Gajim (which notifies only of mentions in every room): a
// members-only room (a department's or a project's, where every message
// is meant for its few members) notifies of all messages, an open room
// (anyone on the server may be in it, and it can be busy) only of
// mentions. A room whose kind is not known yet (never joined) notifies of
// all messages.
//
// The store is read once per room in the Client's life; after that the
// setting comes from memory (SetRoomNotify and joins keep it current), as
// the app asks on its UI thread for every room it draws. A change another
// process sharing the store makes is therefore seen by the next Client.
func (c *Client) RoomNotify(room jid.JID) NotifyLevel {
	room = room.Bare()
	key := room.String()
	c.mu.Lock()
	r, joined := c.rooms[key]
	known, membersOnly := joined && r.infoKnown, joined && r.membersOnly
	s, cached := c.roomSettings[key]
	c.mu.Unlock()
	if db := c.opts.store; db != nil && !cached {
		var err error
		if s, err = db.RoomSettings(key); err != nil {
			c.log.Error("read room settings", "err", err)
		} else {
			c.mu.Lock()
			if cur, ok := c.roomSettings[key]; ok {
				s = cur // SetRoomNotify or a join was faster: theirs is newer
			} else {
				if c.roomSettings == nil {
					c.roomSettings = map[string]store.RoomSettings{}
				}
				c.roomSettings[key] = s
			}
			c.mu.Unlock()
		}
	}
	switch NotifyLevel(s.Notify) {
	case NotifyAll, NotifyMentions, NotifyNone:
		return NotifyLevel(s.Notify)
	}
	if !known {
		known, membersOnly = s.Known, s.MembersOnly
	}
	if known && !membersOnly {
		return NotifyMentions
	}
	return NotifyAll
}

// SetRoomNotify stores the notification level of room in the local store,
// for this account (NotifyDefault goes back to the default). It needs a
// store (ErrNoStore).
func (c *Client) SetRoomNotify(room jid.JID, level NotifyLevel) error {
	switch level {
	case NotifyDefault, NotifyAll, NotifyMentions, NotifyNone:
	default:
		return fmt.Errorf("xmpp: unknown notification level %q", level)
	}
	if c.opts.store == nil {
		return ErrNoStore
	}
	key := room.Bare().String()
	if err := c.opts.store.SetRoomNotify(key, string(level)); err != nil {
		return fmt.Errorf("xmpp: set room notification: %w", err)
	}
	c.mu.Lock()
	if s, ok := c.roomSettings[key]; ok {
		s.Notify = string(level)
		c.roomSettings[key] = s
	} // else the first RoomNotify reads it, with what else the store knows
	c.mu.Unlock()
	return nil
}
