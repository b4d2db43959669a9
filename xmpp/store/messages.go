package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Direction says who sent a message.
type Direction int

const (
	Incoming Direction = iota // from the peer
	Outgoing                  // from this account (any of its resources)
)

// State is the delivery state of a message.
type State int

const (
	Received  State = iota // an incoming message
	Pending                // outgoing, not yet acknowledged by the server
	Sent                   // outgoing, acknowledged by the server
	Delivered              // outgoing, the recipient sent a receipt
	Failed                 // outgoing, could not be sent (see Message.Error)
)

func (s State) String() string {
	switch s {
	case Received:
		return "received"
	case Pending:
		return "pending"
	case Sent:
		return "sent"
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Message is one stored chat message.
type Message struct {
	Seq      int64     // rowid, set by the store: Time in µs, made unique (see the package doc)
	Peer     string    // bare JID of the other party of the conversation (a room occupant's full JID for private messages)
	Dir      Direction // Incoming or Outgoing
	Resource string    // the peer's resource (incoming) or the own sending resource (outgoing), may be ""
	ID       string    // stanza id attribute
	OriginID string    // XEP-0359 origin-id
	StanzaID string    // XEP-0359 stanza-id assigned by the own server (the archive id), may be ""
	Type     string    // "chat", "normal", "headline", "groupchat"
	Body     string
	Subject  string
	Thread   string
	Time     time.Time // when it was sent; stored in microseconds, returned in UTC
	State    State
	Error    string // why it failed, for Failed
}

// Cursor is a position in a conversation: messages are ordered by (Time,
// Seq). The zero Cursor stands for "after the newest message".
type Cursor struct {
	Time time.Time
	Seq  int64
}

// IsZero reports whether c is the zero Cursor.
func (c Cursor) IsZero() bool { return c.Seq == 0 && c.Time.IsZero() }

// Cursor returns the position of m, for History and After.
func (m Message) Cursor() Cursor { return Cursor{Time: m.Time, Seq: m.Seq} }

const msgCols = `seq, peer, dir, resource, id, origin_id, stanza_id, type, body, subject, thread, ts, state, error`

// dupCols is what AddMessages needs of a stored duplicate.
const dupCols = `seq, dir, state, stanza_id`

type scanner interface{ Scan(...any) error }

func scanMessage(s scanner) (Message, error) {
	var m Message
	var ts int64
	err := s.Scan(&m.Seq, &m.Peer, &m.Dir, &m.Resource, &m.ID, &m.OriginID, &m.StanzaID,
		&m.Type, &m.Body, &m.Subject, &m.Thread, &ts, &m.State, &m.Error)
	m.Time = fromMicro(ts)
	return m, err
}

func scanMessages(rows *sql.Rows, err error) ([]Message, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func toMicro(t time.Time) int64    { return t.UnixMicro() }
func fromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }

type dupRow struct {
	seq      int64
	dir      Direction
	state    State
	stanzaID string
}

// AddMessages stores msgs in one transaction and returns the ones that were
// new, with Seq set (and Time truncated to microseconds, in UTC; a zero Time
// becomes now), in input order. Duplicates, of stored messages or of earlier
// messages in msgs, are skipped; see the package documentation for the rules
// and for what a duplicate updates on the stored row.
func (db *DB) AddMessages(msgs []Message) ([]Message, error) {
	added, _, err := db.AddMessagesConfirmed(msgs)
	return added, err
}

// AddMessagesConfirmed is AddMessages that also returns the stored outgoing
// messages a duplicate in msgs confirmed (moved from Pending or Failed to
// Sent or Delivered; see the package documentation), as stored afterwards:
// the copy the server sent back is the only news that such a message
// reached it, and the caller has to report that once.
func (db *DB) AddMessagesConfirmed(msgs []Message) (added, confirmed []Message, err error) {
	if len(msgs) == 0 {
		return nil, nil, nil
	}
	added, confirmed, err = db.addMessages(msgs)
	if err != nil {
		return nil, nil, fmt.Errorf("store: add messages: %w", err)
	}
	return added, confirmed, nil
}

func (db *DB) addMessages(msgs []Message) (added, confirmed []Message, err error) {
	ctx := context.Background()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	findDup := tx.StmtContext(ctx, db.stmts.findDup)
	insert := tx.StmtContext(ctx, db.stmts.insert)
	seqFree := tx.StmtContext(ctx, db.stmts.seqFree)
	seqTop := tx.StmtContext(ctx, db.stmts.seqTop)
	merge := tx.StmtContext(ctx, db.stmts.merge)

	now := time.Now()
	for _, m := range msgs {
		if m.Peer == "" {
			return nil, nil, errors.New("empty Peer")
		}
		if m.Dir != Incoming && m.Dir != Outgoing {
			return nil, nil, fmt.Errorf("invalid direction %d", m.Dir)
		}
		d, found, err := lookupDup(ctx, findDup, m)
		if err != nil {
			return nil, nil, err
		}
		if found {
			moved, err := mergeDup(ctx, merge, d, m)
			if err != nil {
				return nil, nil, err
			}
			if moved {
				row, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+msgCols+` FROM messages WHERE seq = ?`, d.seq))
				if err != nil {
					return nil, nil, err
				}
				confirmed = append(confirmed, row)
			}
			continue
		}
		if m.Time.IsZero() {
			m.Time = now
		}
		m.Time = fromMicro(toMicro(m.Time))
		if m.Seq, err = freeSeq(ctx, seqFree, seqTop, toMicro(m.Time)); err != nil {
			return nil, nil, err
		}
		_, err = insert.ExecContext(ctx, m.Seq, m.Peer, m.Dir, m.Resource, m.ID, m.OriginID, m.StanzaID,
			m.Type, m.Body, m.Subject, m.Thread, toMicro(m.Time), m.State, m.Error)
		if err != nil {
			return nil, nil, err
		}
		added = append(added, m)
	}
	if err := db.indexNew(ctx, tx, added); err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, err
	}
	return added, confirmed, nil
}

// indexNew adds the messages just inserted in tx (in ascending Seq order) to
// the search indexes. The indexes are filled with one statement per batch:
// FTS5 flushes its pending terms to disk at the end of every statement that
// writes to it, and a statement per row made building the index five times
// slower (many tiny segments to merge).
func (db *DB) indexNew(ctx context.Context, tx *sql.Tx, added []Message) error {
	if err := db.indexTrigram(ctx, tx, added); err != nil {
		return err
	}
	return db.indexBigram(ctx, tx, added)
}

func (db *DB) indexTrigram(ctx context.Context, tx *sql.Tx, added []Message) error {
	if len(added) == 0 {
		return nil
	}
	seqs := []byte{'['}
	for i, m := range added {
		if i > 0 {
			seqs = append(seqs, ',')
		}
		seqs = strconv.AppendInt(seqs, m.Seq, 10)
	}
	seqs = append(seqs, ']')
	if _, err := tx.StmtContext(ctx, db.stmts.insertFTS).ExecContext(ctx, indexedChars, string(seqs)); err != nil {
		return fmt.Errorf("trigram index: %w", err)
	}
	return nil
}

func (db *DB) indexBigram(ctx context.Context, tx *sql.Tx, added []Message) error {
	grams := []byte{'['} // JSON: [[seq, "bigram bigram ..."], ...]
	for _, m := range added {
		mark := len(grams)
		if mark > 1 {
			grams = append(grams, ',')
		}
		grams = strconv.AppendInt(append(grams, '['), m.Seq, 10)
		grams = append(grams, ',', '"')
		if g := appendBigrams(grams, m.Body, m.Subject); len(g) > len(grams) {
			grams = append(g, '"', ']')
		} else {
			grams = g[:mark]
		}
	}
	if len(grams) == 1 {
		return nil
	}
	grams = append(grams, ']')
	if _, err := tx.StmtContext(ctx, db.stmts.insertGrams).ExecContext(ctx, string(grams)); err != nil {
		return fmt.Errorf("bigram index: %w", err)
	}
	return nil
}

// freeSeq returns the Seq for a new message sent at us (µs since 1970): us
// itself, or the next value up that is not taken. Seq 0 is never used (a zero
// Cursor has Seq 0).
func freeSeq(ctx context.Context, seqFree, seqTop *sql.Stmt, us int64) (int64, error) {
	seq := max(us, 1)
	// Taken: go past the highest seq in the run that follows (one indexed
	// query, where probing one by one was quadratic for the thousands of
	// archived messages that share one time stamp).
	for range 64 {
		var free bool
		if err := seqFree.QueryRowContext(ctx, seq).Scan(&free); err != nil {
			return 0, err
		}
		if free {
			return seq, nil
		}
		var top sql.NullInt64
		if err := seqTop.QueryRowContext(ctx, seq, seq+1<<20).Scan(&top); err != nil {
			return 0, err
		}
		seq = top.Int64 + 1
	}
	return 0, fmt.Errorf("no free seq near %d", us)
}

// lookupDup finds the stored message m duplicates, by the rules of the
// package documentation.
func lookupDup(ctx context.Context, st *sql.Stmt, m Message) (dupRow, bool, error) {
	var d dupRow
	err := st.QueryRowContext(ctx, m.StanzaID, m.OriginID, m.ID, m.Peer, m.Dir, m.Body, m.Type).Scan(&d.seq, &d.dir, &d.state, &d.stanzaID)
	if errors.Is(err, sql.ErrNoRows) {
		return d, false, nil
	}
	return d, err == nil, err
}

// mergeDup applies what a duplicate m tells about the stored row d, and
// reports whether that moved an outgoing message on (confirmed it sent).
func mergeDup(ctx context.Context, merge *sql.Stmt, d dupRow, m Message) (moved bool, err error) {
	stanzaID, state := d.stanzaID, d.state
	changed := false
	if stanzaID == "" && m.StanzaID != "" {
		stanzaID, changed = m.StanzaID, true
	}
	// The server had the message if the copy came back from the archive (it
	// has a stanza-id) or as a carbon/echo in a state other than
	// Pending/Failed.
	serverHadIt := m.StanzaID != "" || (m.State != Pending && m.State != Failed)
	clearErr := false
	if d.dir == Outgoing && (state == Pending || state == Failed) && serverHadIt {
		state = Sent
		if m.Dir == Outgoing && m.State == Delivered {
			state = Delivered
		}
		changed, clearErr = true, true
	}
	if !changed {
		return false, nil
	}
	var errText any = sql.Null[string]{}
	if clearErr {
		errText = ""
	}
	_, err = merge.ExecContext(ctx, stanzaID, state, errText, d.seq)
	return clearErr, err
}

// SetState changes the state of the outgoing message in conversation peer
// whose origin-id is id or, when none has it, whose stanza id attribute is id
// (the newest such message). States only move forward, Pending → Sent →
// Delivered; Failed can be set from Pending or Sent (not from Delivered), and
// a Failed message can move to any state (a retry sets Pending again, a late
// acknowledgement Sent). errText is stored with Failed and cleared otherwise.
// It returns the message as stored afterwards and whether one was found; a
// request that would move backwards is not an error, the message is returned
// unchanged.
func (db *DB) SetState(peer, id string, st State, errText string) (Message, bool, error) {
	m, found, _, err := db.MoveState(peer, id, st, errText)
	return m, found, err
}

// MoveState is SetState that also reports whether the state changed (or,
// for Failed, the error text was set again): a caller that reports delivery
// states reports each move once, however many acknowledgements of the same
// message arrive (a stream management ack, the group chat room's echo).
func (db *DB) MoveState(peer, id string, st State, errText string) (m Message, found, moved bool, err error) {
	return db.MoveStateIf(peer, id, st, errText, nil)
}

// MoveStateIf is MoveState for a message that accept (when not nil) takes:
// one it refuses is left alone and reported as not found. A caller uses it
// to let a confirmation touch only the kind of message its sender may
// confirm (e.g. no group chat message for a room's occupant).
func (db *DB) MoveStateIf(peer, id string, st State, errText string, accept func(Message) bool) (m Message, found, moved bool, err error) {
	if st < Pending || st > Failed {
		return Message{}, false, false, fmt.Errorf("store: set state: %v is not a state of an outgoing message", st)
	}
	if id == "" {
		return Message{}, false, false, nil
	}
	ctx := context.Background()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return Message{}, false, false, fmt.Errorf("store: set state: %w", err)
	}
	defer tx.Rollback()
	m, err = scanMessage(tx.QueryRowContext(ctx, `SELECT `+msgCols+` FROM messages
		WHERE peer = ? AND dir = 1 AND origin_id = ? AND origin_id <> '' ORDER BY seq DESC LIMIT 1`, peer, id))
	if errors.Is(err, sql.ErrNoRows) {
		m, err = scanMessage(tx.QueryRowContext(ctx, `SELECT `+msgCols+` FROM messages
			WHERE peer = ? AND dir = 1 AND id = ? AND id <> '' ORDER BY seq DESC LIMIT 1`, peer, id))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, false, false, nil
	}
	if err != nil {
		return Message{}, false, false, fmt.Errorf("store: set state: %w", err)
	}
	if accept != nil && !accept(m) {
		return Message{}, false, false, nil
	}
	if !stateMayMove(m.State, st) {
		return m, true, false, nil
	}
	if st != Failed {
		errText = ""
	}
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET state = ?, error = ? WHERE seq = ?`, st, errText, m.Seq); err != nil {
		return Message{}, false, false, fmt.Errorf("store: set state: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Message{}, false, false, fmt.Errorf("store: set state: %w", err)
	}
	m.State, m.Error = st, errText
	return m, true, true, nil
}

func stateMayMove(from, to State) bool {
	switch {
	case from == to:
		return to == Failed // update the error text
	case from == Failed:
		return true
	case to == Failed:
		return from == Pending || from == Sent
	case from == Received:
		return false
	default:
		return to > from
	}
}

// History returns up to limit messages of peer that come before the cursor
// (in (Time, Seq) order), oldest first. A zero Cursor gives the newest page.
func (db *DB) History(peer string, before Cursor, limit int) ([]Message, error) {
	limit = pageLimit(limit)
	var ms []Message
	var err error
	if before.IsZero() {
		ms, err = scanMessages(db.r.Query(`SELECT `+msgCols+` FROM messages WHERE peer = ?
			ORDER BY ts DESC, seq DESC LIMIT ?`, peer, limit))
	} else {
		ms, err = scanMessages(db.r.Query(`SELECT `+msgCols+` FROM messages WHERE peer = ? AND (ts, seq) < (?, ?)
			ORDER BY ts DESC, seq DESC LIMIT ?`, peer, toMicro(before.Time), before.Seq, limit))
	}
	if err != nil {
		return nil, fmt.Errorf("store: history: %w", err)
	}
	reverse(ms)
	return ms, nil
}

// After returns up to limit messages of peer that come after the cursor,
// oldest first. A zero Cursor gives the oldest page.
func (db *DB) After(peer string, after Cursor, limit int) ([]Message, error) {
	limit = pageLimit(limit)
	ms, err := scanMessages(db.r.Query(`SELECT `+msgCols+` FROM messages WHERE peer = ? AND (ts, seq) > (?, ?)
		ORDER BY ts, seq LIMIT ?`, peer, afterTS(after), after.Seq, limit))
	if err != nil {
		return nil, fmt.Errorf("store: after: %w", err)
	}
	return ms, nil
}

func afterTS(c Cursor) int64 {
	if c.IsZero() {
		return minInt64
	}
	return toMicro(c.Time)
}

const minInt64 = -1 << 63

// Around returns the message seq with up to n messages of the same
// conversation before it and n after it, oldest first. The three reads see
// one snapshot.
func (db *DB) Around(seq int64, n int) ([]Message, error) {
	if n < 0 {
		n = 0
	}
	ctx := context.Background()
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: around: %w", err)
	}
	defer tx.Rollback()
	m, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+msgCols+` FROM messages WHERE seq = ?`, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: seq %d", ErrNotFound, seq)
	}
	if err != nil {
		return nil, fmt.Errorf("store: around: %w", err)
	}
	ts := toMicro(m.Time)
	before, err := scanMessages(tx.QueryContext(ctx, `SELECT `+msgCols+` FROM messages WHERE peer = ? AND (ts, seq) < (?, ?)
		ORDER BY ts DESC, seq DESC LIMIT ?`, m.Peer, ts, m.Seq, n))
	if err != nil {
		return nil, fmt.Errorf("store: around: %w", err)
	}
	after, err := scanMessages(tx.QueryContext(ctx, `SELECT `+msgCols+` FROM messages WHERE peer = ? AND (ts, seq) > (?, ?)
		ORDER BY ts, seq LIMIT ?`, m.Peer, ts, m.Seq, n))
	if err != nil {
		return nil, fmt.Errorf("store: around: %w", err)
	}
	reverse(before)
	out := make([]Message, 0, len(before)+1+len(after))
	out = append(out, before...)
	out = append(out, m)
	return append(out, after...), nil
}

// Message returns the message with this Seq, or an error wrapping
// ErrNotFound.
func (db *DB) Message(seq int64) (Message, error) {
	m, err := scanMessage(db.r.QueryRow(`SELECT `+msgCols+` FROM messages WHERE seq = ?`, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, fmt.Errorf("%w: seq %d", ErrNotFound, seq)
	}
	if err != nil {
		return Message{}, fmt.Errorf("store: message: %w", err)
	}
	return m, nil
}

// Conversation is a peer with its newest message.
type Conversation struct {
	Peer string
	Last Message
}

// Conversations lists up to limit peers with their newest message, newest
// first. It visits each peer once through the (peer, ts) index, so it costs
// two index lookups per peer, not a scan of the history.
func (db *DB) Conversations(limit int) ([]Conversation, error) {
	if limit <= 0 {
		limit = -1
	}
	ms, err := scanMessages(db.r.Query(`
		WITH RECURSIVE peers (peer) AS (
			SELECT min(peer) FROM messages
			UNION ALL
			SELECT (SELECT min(peer) FROM messages WHERE peer > peers.peer) FROM peers WHERE peers.peer IS NOT NULL
		)
		SELECT `+prefixed("m.", msgCols)+` FROM peers JOIN messages m
			ON m.seq = (SELECT seq FROM messages WHERE peer = peers.peer ORDER BY ts DESC, seq DESC LIMIT 1)
		ORDER BY m.ts DESC, m.seq DESC LIMIT ?`, limit))
	if err != nil {
		return nil, fmt.Errorf("store: conversations: %w", err)
	}
	out := make([]Conversation, len(ms))
	for i, m := range ms {
		out[i] = Conversation{Peer: m.Peer, Last: m}
	}
	return out, nil
}

// Outbox returns the outgoing messages in state Pending, oldest (lowest Seq,
// which follows Time) first: what must be (re)sent when online.
func (db *DB) Outbox() ([]Message, error) {
	ms, err := scanMessages(db.r.Query(`SELECT ` + msgCols + ` FROM messages WHERE dir = 1 AND state = 1 ORDER BY seq`))
	if err != nil {
		return nil, fmt.Errorf("store: outbox: %w", err)
	}
	return ms, nil
}

// ArchiveCursor returns the archive catch-up bookmark saved with
// SetArchiveCursor: the stanza-id of the newest archived message known and
// its time. stanzaID is "" when none was saved. It is deliberately not
// derived from the messages: live messages carry stanza-ids too, and taking
// the newest of those would skip the gap a catch-up still has to fill.
func (db *DB) ArchiveCursor() (stanzaID string, t time.Time, err error) {
	var us sql.NullInt64
	err = db.r.QueryRow(`SELECT
		(SELECT value FROM meta WHERE key = 'archive_cursor_id'),
		(SELECT value FROM meta WHERE key = 'archive_cursor_ts')`).Scan((*nullString)(&stanzaID), &us)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store: archive cursor: %w", err)
	}
	if !us.Valid {
		return stanzaID, time.Time{}, nil
	}
	return stanzaID, fromMicro(us.Int64), nil
}

// SetArchiveCursor saves the archive catch-up bookmark: the newest archive
// id known and its time. An empty stanzaID with a time means "synced up to
// that time, with no archive id known" (the archive was empty); an empty
// stanzaID with the zero time clears the bookmark.
func (db *DB) SetArchiveCursor(stanzaID string, t time.Time) error {
	err := db.writeTx(func(tx *sql.Tx) error {
		if stanzaID == "" && t.IsZero() {
			_, err := tx.Exec(`DELETE FROM meta WHERE key IN ('archive_cursor_id', 'archive_cursor_ts')`)
			return err
		}
		_, err := tx.Exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('archive_cursor_id', ?), ('archive_cursor_ts', ?)`,
			stanzaID, toMicro(t))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set archive cursor: %w", err)
	}
	return nil
}

type nullString string

func (s *nullString) Scan(v any) error {
	var ns sql.NullString
	if err := ns.Scan(v); err != nil {
		return err
	}
	*s = nullString(ns.String)
	return nil
}

func (db *DB) writeTx(f func(*sql.Tx) error) error {
	tx, err := db.w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func pageLimit(limit int) int {
	if limit <= 0 {
		return 50
	}
	return limit
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

func prefixed(p, cols string) string {
	out := make([]byte, 0, len(cols)*2)
	out = append(out, p...)
	for i := 0; i < len(cols); i++ {
		out = append(out, cols[i])
		if cols[i] == ' ' && i > 0 && cols[i-1] == ',' {
			out = append(out, p...)
		}
	}
	return string(out)
}
