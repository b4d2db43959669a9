package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// RoomSettings is what the store keeps about a group chat room besides its
// messages.
type RoomSettings struct {
	// Notify is the notification level the user chose ("all", "mentions",
	// "none"), or "" for the client's default. The store does not
	// interpret it.
	Notify string
	// MembersOnly is what the room said on the last join; Known is false
	// when the client has not learnt it yet.
	MembersOnly, Known bool
}

// RoomSettings returns the settings of room (a bare JID); a room never
// configured gives the zero RoomSettings.
func (db *DB) RoomSettings(room string) (RoomSettings, error) {
	var s RoomSettings
	var membersOnly sql.NullBool
	err := db.r.QueryRow(`SELECT notify, members_only FROM rooms WHERE room = ?`, room).Scan(&s.Notify, &membersOnly)
	if errors.Is(err, sql.ErrNoRows) {
		return RoomSettings{}, nil
	}
	if err != nil {
		return RoomSettings{}, fmt.Errorf("store: room settings: %w", err)
	}
	s.MembersOnly, s.Known = membersOnly.Bool, membersOnly.Valid
	return s, nil
}

// SetRoomNotify stores the notification level of room ("" goes back to the
// default).
func (db *DB) SetRoomNotify(room, level string) error {
	err := db.writeTx(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO rooms (room, notify) VALUES (?, ?)
			ON CONFLICT (room) DO UPDATE SET notify = excluded.notify`, room, level)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set room notify: %w", err)
	}
	return nil
}

// SetRoomMembersOnly records whether room admits only its members.
func (db *DB) SetRoomMembersOnly(room string, membersOnly bool) error {
	err := db.writeTx(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO rooms (room, members_only) VALUES (?, ?)
			ON CONFLICT (room) DO UPDATE SET members_only = excluded.members_only`, room, membersOnly)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set room members-only: %w", err)
	}
	return nil
}

// RoomNick is a nick the account has used in a room. Until is when it was
// given up; the zero Until means it is (or was last known to be) in use.
type RoomNick struct {
	Nick  string
	Until time.Time
}

// RoomNicks returns the nicks the account has used in room.
func (db *DB) RoomNicks(room string) ([]RoomNick, error) {
	rows, err := db.r.Query(`SELECT nick, until FROM room_nicks WHERE room = ? ORDER BY nick`, room)
	if err != nil {
		return nil, fmt.Errorf("store: room nicks: %w", err)
	}
	defer rows.Close()
	var out []RoomNick
	for rows.Next() {
		var n RoomNick
		var until sql.NullInt64
		if err := rows.Scan(&n.Nick, &until); err != nil {
			return nil, fmt.Errorf("store: room nicks: %w", err)
		}
		if until.Valid {
			n.Until = fromMicro(until.Int64)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: room nicks: %w", err)
	}
	return out, nil
}

// SetRoomNick records that the account uses nick in room (zero until) or
// gave it up at until.
func (db *DB) SetRoomNick(room, nick string, until time.Time) error {
	var u any // NULL: in use
	if !until.IsZero() {
		u = toMicro(until)
	}
	err := db.writeTx(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO room_nicks (room, nick, until) VALUES (?, ?, ?)
			ON CONFLICT (room, nick) DO UPDATE SET until = excluded.until`, room, nick, u)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set room nick: %w", err)
	}
	return nil
}

// NewestStanzaID returns the StanzaID and Time of the newest message of
// peer that has one ("" when none has): where a catch-up from the peer's
// archive (a group chat room's) starts.
func (db *DB) NewestStanzaID(peer string) (string, time.Time, error) {
	var id string
	var ts int64
	err := db.r.QueryRow(`SELECT stanza_id, ts FROM messages WHERE peer = ? AND stanza_id <> ''
		ORDER BY ts DESC, seq DESC LIMIT 1`, peer).Scan(&id, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store: newest stanza-id: %w", err)
	}
	return id, fromMicro(ts), nil
}
