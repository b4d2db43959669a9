// Package store is Magpie's local message store: one SQLite file per account
// holding the chat history, its search indexes, the roster cache (for
// XEP-0237 roster versioning), an inbox of notices and a few bookmarks (the
// archive catch-up cursor). It knows nothing of XMPP libraries or the UI:
// JIDs are plain strings, and callers pass bare JIDs (a conversation of
// private messages with a group chat room's occupant is the one kept under
// a full JID, room@service/nick).
//
// # Driver
//
// The store uses modernc.org/sqlite, SQLite translated to pure Go. It needs no
// cgo, so the store adds no C toolchain to the build and cross-compiling the
// client (Windows, macOS, ARM) stays a GOOS/GOARCH switch; it ships FTS5 with
// the trigram tokenizer, JSON functions and dbstat; and it is well maintained,
// tracking SQLite releases closely. The price is speed: it runs roughly 1.5 to
// 3 times slower than the C library, which the figures in docs/PERFORMANCE.md
// include.
//
// # Files
//
// DefaultPath puts the file at <data dir>/magpie/<bare JID>/history.db
// ($XDG_DATA_HOME or ~/.local/share on Unix, %LocalAppData%\Magpie on Windows,
// ~/Library/Application Support/Magpie on macOS). The account name is
// lower-cased, its resource dropped, and characters that are unsafe in a
// directory name escaped as %XX; "", "." and ".." are refused.
//
// Open creates missing parent directories with mode 0700 and the file with
// 0600 (SQLite gives its -wal and -shm files the mode of the database). It
// never deletes, truncates or "repairs" a file. Before SQLite writes anything
// it checks that
//
//   - an existing non-empty file starts with the SQLite header;
//   - the schema can be read and, for files up to 32 MB, PRAGMA quick_check
//     reports ok (it reads every page, so bigger files get only the cheap
//     checks on open; DB.Check runs it on demand);
//   - PRAGMA user_version is not newer than this code.
//
// A failure is an error that wraps ErrCorrupt or ErrTooNew and names the path,
// and the file is left byte for byte as it was. Only then are WAL mode and the
// migrations applied.
//
// Every connection runs with journal_mode=WAL, synchronous=NORMAL (a power
// cut can lose the last transactions but never corrupts the file),
// foreign_keys=ON and busy_timeout=10 s.
//
// # Schema and migrations
//
// The schema version is PRAGMA user_version. migrations[i] (schema.go) takes a
// file from version i to i+1; each step runs in its own IMMEDIATE transaction
// that re-reads user_version first, so two processes opening an old file at the
// same moment migrate it once. Released steps are never edited; a change is a
// new step. Version 1 has:
//
//   - messages: one row per chat message. seq is the INTEGER PRIMARY KEY
//     (rowid), ts the send time in microseconds since 1970 (UTC). Indexes:
//     (peer, ts, seq) for paging a conversation, a unique partial index on
//     stanza_id, partial indexes on (peer, dir, origin_id) and (peer, dir, id)
//     for the duplicate rules, and a partial index of the outbox
//     (dir = outgoing AND state = pending).
//   - messages_fts: FTS5, tokenize='trigram', external content (the text is
//     not stored twice), over body and subject.
//   - messages_bigram: contentless FTS5 over the CJK bigrams of each message
//     (see Search below).
//   - roster (jid, name, subscription, ask, groups as a JSON array) and the
//     roster version in meta.
//   - notices (the inbox) with a read flag.
//   - meta: key/value (roster_ver, archive_cursor_id, archive_cursor_ts).
//
// Version 2 adds profiles (vCard-temp, by JID). Version 3 adds, for group
// chat rooms, rooms (the notification level the user chose, and whether
// the room is members-only, which the client's default level depends on)
// and room_nicks (the nicks the account used in each room, with when each
// was given up: see SetRoomNick; the client no longer reads it, as anyone
// may take a nick once it is given up, so an earlier nick does not prove a
// message the account's own). Version 4 makes the unique stanza_id index
// per conversation, (peer, stanza_id), like duplicate rule 1 below.
// Version 5 indexes only the first 16,384 characters of a body and of a
// subject in the trigram index (see Search).
//
// Seq is the message's Time in microseconds, raised by the smallest amount
// that makes it unique (a clash needs two messages stored for the same
// microsecond). So Seq order is time order, except that a message bumped past
// a later one's microsecond sorts by Seq a microsecond late. Paging and the
// (Time, Seq) order of History, After and Around use ts and seq and are exact;
// Search walks its indexes in Seq order, which is why Seq follows Time (see
// below). Callers should treat Seq as an opaque, stable identifier.
//
// Times are stored with microsecond precision and always returned in UTC;
// a zero Time given to AddMessages or AddNotice means now.
//
// # Duplicates
//
// The same message reaches the store more than once: live and again in the
// archive (MAM) catch-up, as a carbon of an own message sent from another
// device, as the server's reflection of our own message. AddMessages treats a
// message as a duplicate of a stored one (or of an earlier one in the same
// batch) when, in this order:
//
//  1. same Peer, and the same non-empty StanzaID (a stanza-id is unique
//     only within the archive that assigned it, XEP-0359's "by": the own
//     server's for one-to-one chats, each room's for its messages; two
//     archives, ejabberd's timestamp-like ids above all, can hand out the
//     same one); or
//  2. same Peer and Dir, and the same non-empty OriginID (XEP-0359); or
//  3. an Incoming message of Type "groupchat" with the OriginID of a stored
//     Outgoing message of the same Peer that has no StanzaID yet: a group
//     chat room's copy of an own message the client could not tell as its
//     own (sent under a nick it no longer knows, or from another device),
//     before any copy gave the stored one the room's id. Once the stored
//     message has the room's id, a copy with another id is another
//     message (someone repeating the origin-id); or
//  4. same Peer and Dir, the same non-empty ID attribute and the same Body
//     (for clients that send no origin-id; the body guards against clients
//     that reuse short ids).
//
// A message with none of the ids is never a duplicate. Duplicates are not
// stored and not returned, but they can update the stored row:
//
//   - if the stored row has no StanzaID and the duplicate has one, the row
//     takes it (an own message sent live, later seen in the archive), so rule 1
//     recognises further copies;
//   - if the stored row is an outgoing message in state Pending or Failed and
//     the duplicate shows that the server had it (it carries a StanzaID, or
//     its State is neither Pending nor Failed, as for a carbon or an archive
//     copy), the row becomes Sent (Delivered if the copy says so) and its Error
//     is cleared.
//
// AddMessagesConfirmed returns the stored outgoing messages such a copy
// moved on, so that the caller reports the change; MoveState likewise
// reports whether a state change happened, so that several confirmations
// of one message (a stream management ack and a room's echo) are reported
// once.
//
// All the rules are checked with one indexed statement per message inside
// the batch's write transaction; the searches together are a few index
// lookups.
//
// Delivery state (SetState) only moves forward, Pending → Sent → Delivered.
// Failed can be set from Pending or Sent, never from Delivered, and a Failed
// message may move to any state: Pending for a retry, Sent or Delivered for a
// late acknowledgement.
//
// # Search
//
// Search is substring search, case-insensitive, with no word splitting, so
// Chinese, Japanese and Korean text is found as typed. Three indexes answer
// it, chosen by the length of the query:
//
//   - Three or more characters: the trigram index. The query is passed to
//     FTS5 as a single quoted phrase (inner quotes doubled), so nothing the
//     user types ("*", AND, NEAR, col:, quotes) is FTS or SQL syntax; all
//     values are bound parameters. A query with a NUL character finds
//     nothing (FTS5 reads a query only up to a NUL).
//   - Two characters with at least one CJK character ("审批", "你好", "A股"):
//     the bigram index. Trigrams cannot answer a two-character query, and
//     two-character words are everyday Chinese. AddMessages stores, for each
//     message, the distinct pairs of adjacent letters/digits of which at least
//     one is Han, Kana or Hangul, lower-cased, as space-separated tokens in a
//     contentless FTS5 table (unicode61 tokenizer); a query is one token.
//     De-duplicating the pairs takes a set, linear in the length of the
//     message (a list made a 250 KB Chinese message take 1.7 s).
//     This finds every match, in all of the history. Its cost, measured on
//     the 1,000,000-message benchmark history (about 60% of the messages
//     contain Chinese): 104 MB of the 687 MB file (15%; the trigram index is
//     225 MB), and 11.6 s of the 67 s bulk build (the trigram index took
//     21 s), that is about 12 µs per message on insert. Latin-only pairs are
//     left out: they would roughly double the table for little use.
//   - One character, or two without a CJK character ("ok", "HR"): a scan with
//     instr() over the newest 30,000 messages of the conversation, or the
//     newest 100,000 of the store when peer is "", stopping at limit (a scan
//     that finds nothing costs 85 ms globally, 68 ms in one conversation). Such a query matches most
//     messages, so the newest hits are found early; very old matches of a
//     rare one are not found. This is the one approximate case.
//
// Both indexes take only the first 16,384 characters of a body and of a
// subject (indexedChars), so that one huge message (a 250 KB Chinese one is
// about 85,000 characters) costs no more to index than that: text within
// them is found as above, text beyond them only by the scan.
//
// Hits are returned newest first. The FTS indexes are keyed by Seq, and Seq
// follows Time, so the query walks the index from the newest entry and stops
// after limit hits: a common word costs no more than a rare one, where sorting
// all hits by time cost 170 ms for a word in 3% of a million messages. With a
// peer, hits of other conversations are skipped on the way, so a word that is
// common elsewhere but rare in this conversation costs more (still within the
// targets in docs/PERFORMANCE.md). The price of time-keyed Seqs is size: the
// FTS doclists store rowid deltas, which become 3-5 byte varints, and the
// 1M-message file grew from 491 MB (insertion-order rowids) to 687 MB. Each Hit carries the byte ranges of the
// matches in Body, computed in Go with the same case folding, for
// highlighting; a hit whose Subject alone matched has none.
//
// # Concurrency
//
// A DB is safe for concurrent use by any number of goroutines. It holds two
// connection pools on the file: a single writer connection whose transactions
// begin IMMEDIATE (taking SQLite's write lock at BEGIN, so a transaction
// never fails half way on a lock upgrade), and a few read-only connections.
// In WAL mode readers never block the writer or each other and see a
// consistent snapshot per statement (Around and Roster read in one
// transaction). Every write is one explicit transaction; AddMessages writes a
// whole batch, including its index entries, in one.
//
// Several processes may open the same file, such as the GUI and the magpie
// CLI: SQLite's locks serialise their writes, and a writer that finds the lock
// taken waits up to busy_timeout (10 s) before failing with SQLITE_BUSY.
// Writes are short (a batch of 500 messages takes about 40 ms), so in practice
// the other process waits milliseconds.
package store
