package store

import (
	"database/sql"
	"fmt"
)

// Unread is a conversation's unread count.
type Unread struct {
	Peer  string // bare JID, or room/nick for a private chat through a room
	Room  bool   // a group chat room
	Count int
}

// SetUnread stores the unread counts of the conversations in counts, in
// one transaction; a count of 0 removes the conversation's row.
func (db *DB) SetUnread(counts []Unread) error {
	err := db.writeTx(func(tx *sql.Tx) error {
		for _, u := range counts {
			var err error
			if u.Count <= 0 {
				_, err = tx.Exec(`DELETE FROM unread WHERE peer = ?`, u.Peer)
			} else {
				_, err = tx.Exec(`INSERT INTO unread (peer, room, count) VALUES (?, ?, ?)
					ON CONFLICT (peer) DO UPDATE SET room = excluded.room, count = excluded.count`, u.Peer, u.Room, u.Count)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: set unread: %w", err)
	}
	return nil
}

// UnreadCounts returns the conversations with unread messages, by peer.
func (db *DB) UnreadCounts() ([]Unread, error) {
	rows, err := db.r.Query(`SELECT peer, room, count FROM unread WHERE count > 0 ORDER BY peer`)
	if err != nil {
		return nil, fmt.Errorf("store: unread counts: %w", err)
	}
	defer rows.Close()
	var out []Unread
	for rows.Next() {
		var u Unread
		if err := rows.Scan(&u.Peer, &u.Room, &u.Count); err != nil {
			return nil, fmt.Errorf("store: unread counts: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unread counts: %w", err)
	}
	return out, nil
}
