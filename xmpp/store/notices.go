package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Notice is a headline or normal message from the server or from a notifier
// account (an OA system, say), kept in an inbox with a read flag.
type Notice struct {
	Seq                               int64
	From, ID, StanzaID, Subject, Body string
	Time                              time.Time // stored in microseconds, returned in UTC
	Read                              bool
}

const noticeCols = `seq, from_jid, id, stanza_id, subject, body, ts, read`

func scanNotice(s scanner) (Notice, error) {
	var n Notice
	var ts int64
	err := s.Scan(&n.Seq, &n.From, &n.ID, &n.StanzaID, &n.Subject, &n.Body, &ts, &n.Read)
	n.Time = fromMicro(ts)
	return n, err
}

// AddNotice stores n unless it duplicates a stored notice: same non-empty
// StanzaID, or same From, non-empty ID and Body, or (for notices without an
// ID) same From, Body and Time. It returns the stored notice (the existing
// one for a duplicate) and whether it was added. A zero Time becomes now.
func (db *DB) AddNotice(n Notice) (Notice, bool, error) {
	if n.Time.IsZero() {
		n.Time = time.Now()
	}
	n.Time = fromMicro(toMicro(n.Time))
	added := false
	err := db.writeTx(func(tx *sql.Tx) error {
		var q string
		var args []any
		switch {
		case n.StanzaID != "" && n.ID != "":
			q = `stanza_id = ? OR (from_jid = ? AND id = ? AND body = ?)`
			args = []any{n.StanzaID, n.From, n.ID, n.Body}
		case n.StanzaID != "":
			q = `stanza_id = ? OR (from_jid = ? AND id = '' AND body = ? AND ts = ?)`
			args = []any{n.StanzaID, n.From, n.Body, toMicro(n.Time)}
		case n.ID != "":
			q = `from_jid = ? AND id = ? AND body = ?`
			args = []any{n.From, n.ID, n.Body}
		default:
			q = `from_jid = ? AND id = '' AND body = ? AND ts = ?`
			args = []any{n.From, n.Body, toMicro(n.Time)}
		}
		old, err := scanNotice(tx.QueryRow(`SELECT `+noticeCols+` FROM notices WHERE `+q+` LIMIT 1`, args...))
		if err == nil {
			if old.StanzaID == "" && n.StanzaID != "" {
				if _, err := tx.Exec(`UPDATE notices SET stanza_id = ? WHERE seq = ?`, n.StanzaID, old.Seq); err != nil {
					return err
				}
				old.StanzaID = n.StanzaID
			}
			n = old
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		res, err := tx.Exec(`INSERT INTO notices (from_jid, id, stanza_id, subject, body, ts, read) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			n.From, n.ID, n.StanzaID, n.Subject, n.Body, toMicro(n.Time), n.Read)
		if err != nil {
			return err
		}
		n.Seq, err = res.LastInsertId()
		added = true
		return err
	})
	if err != nil {
		return Notice{}, false, fmt.Errorf("store: add notice: %w", err)
	}
	return n, added, nil
}

// Notices returns up to limit notices, newest first. limit <= 0 means 50.
func (db *DB) Notices(limit int) ([]Notice, error) {
	return db.noticeList(`SELECT `+noticeCols+` FROM notices ORDER BY ts DESC, seq DESC LIMIT ?`, limit)
}

// UnreadNoticeList returns up to limit unread notices, newest first.
// limit <= 0 means 50.
func (db *DB) UnreadNoticeList(limit int) ([]Notice, error) {
	return db.noticeList(`SELECT `+noticeCols+` FROM notices WHERE read = 0 ORDER BY ts DESC, seq DESC LIMIT ?`, limit)
}

func (db *DB) noticeList(query string, limit int) ([]Notice, error) {
	rows, err := db.r.Query(query, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: notices: %w", err)
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			return nil, fmt.Errorf("store: notices: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: notices: %w", err)
	}
	return out, nil
}

// MarkNoticeRead marks the notice seq as read. An unknown seq is an error
// wrapping ErrNotFound.
func (db *DB) MarkNoticeRead(seq int64) error {
	err := db.writeTx(func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE notices SET read = 1 WHERE seq = ?`, seq)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = fmt.Errorf("%w: notice %d", ErrNotFound, seq)
			}
			return err
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return err
		}
		return fmt.Errorf("store: mark notice read: %w", err)
	}
	return nil
}

// UnreadNotices returns how many notices are unread.
func (db *DB) UnreadNotices() (int, error) {
	var n int
	if err := db.r.QueryRow(`SELECT count(*) FROM notices WHERE read = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: unread notices: %w", err)
	}
	return n, nil
}

// MarkNoticesRead marks every notice with a seq up to and including upTo as
// read and returns how many were unread. Seqs grow as notices are stored,
// so a notice stored after the caller looked keeps its unread mark.
func (db *DB) MarkNoticesRead(upTo int64) (int64, error) {
	var n int64
	err := db.writeTx(func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE notices SET read = 1 WHERE read = 0 AND seq <= ?`, upTo)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: mark notices read: %w", err)
	}
	return n, nil
}
