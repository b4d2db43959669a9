package xmpp

import (
	"mellium.im/xmpp/jid"

	"magpie/xmpp/store"
)

// Unread is a conversation's unread count, as the front end keeps it: the
// core only stores it, so that it survives a restart.
type Unread struct {
	// Peer is the conversation: a contact's or a room's bare JID, or a
	// room occupant's full JID for a private chat through the room.
	Peer  jid.JID
	Room  bool // a group chat room
	Count int
}

// SaveUnread stores unread counts (a count of 0 clears one) after
// everything queued for the store before; it does not wait. Without a
// store it does nothing.
func (c *Client) SaveUnread(counts []Unread) {
	if c.opts.store == nil || len(counts) == 0 {
		return
	}
	rows := make([]store.Unread, len(counts))
	for i, u := range counts {
		rows[i] = store.Unread{Peer: u.Peer.String(), Room: u.Room, Count: u.Count}
	}
	c.store.do(func(db *store.DB) {
		if db == nil {
			return
		}
		if err := db.SetUnread(rows); err != nil {
			c.log.Error("store unread counts", "err", err)
		}
	})
}

// UnreadCounts returns the stored unread counts (see SaveUnread).
func (c *Client) UnreadCounts() ([]Unread, error) {
	if c.opts.store == nil {
		return nil, ErrNoStore
	}
	rows, err := c.opts.store.UnreadCounts()
	out := make([]Unread, 0, len(rows))
	for _, r := range rows {
		if j, perr := jid.Parse(r.Peer); perr == nil {
			out = append(out, Unread{Peer: j, Room: r.Room, Count: r.Count})
		}
	}
	return out, err
}
