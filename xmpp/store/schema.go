package store

// migrations[i] brings a database from user_version i to i+1. Entries are
// never edited once released; a change to the schema is a new entry.
var migrations = []string{
	// 1: messages with their indexes, the trigram and bigram search
	// indexes, the roster cache, notices and a key/value table.
	`
CREATE TABLE messages (
	seq       INTEGER PRIMARY KEY, -- Time in µs since 1970, made unique (see doc.go)
	peer      TEXT    NOT NULL,
	dir       INTEGER NOT NULL,
	resource  TEXT    NOT NULL DEFAULT '',
	id        TEXT    NOT NULL DEFAULT '',
	origin_id TEXT    NOT NULL DEFAULT '',
	stanza_id TEXT    NOT NULL DEFAULT '',
	type      TEXT    NOT NULL DEFAULT '',
	body      TEXT    NOT NULL DEFAULT '',
	subject   TEXT    NOT NULL DEFAULT '',
	thread    TEXT    NOT NULL DEFAULT '',
	ts        INTEGER NOT NULL,
	state     INTEGER NOT NULL,
	error     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX messages_peer_ts ON messages (peer, ts, seq);
CREATE UNIQUE INDEX messages_stanza_id ON messages (stanza_id) WHERE stanza_id <> '';
CREATE INDEX messages_origin_id ON messages (peer, dir, origin_id) WHERE origin_id <> '';
CREATE INDEX messages_id ON messages (peer, dir, id) WHERE id <> '';
CREATE INDEX messages_outbox ON messages (seq) WHERE dir = 1 AND state = 1;

CREATE VIRTUAL TABLE messages_fts USING fts5 (
	body, subject,
	content = 'messages', content_rowid = 'seq',
	tokenize = 'trigram', columnsize = 0
);
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, body, subject) VALUES ('delete', old.seq, old.body, old.subject);
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF body, subject ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, body, subject) VALUES ('delete', old.seq, old.body, old.subject);
	INSERT INTO messages_fts (rowid, body, subject) VALUES (new.seq, new.body, new.subject);
END;

CREATE VIRTUAL TABLE messages_bigram USING fts5 (
	grams,
	content = '', contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER messages_bigram_ad AFTER DELETE ON messages BEGIN
	DELETE FROM messages_bigram WHERE rowid = old.seq;
END;

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value ANY
) WITHOUT ROWID;

CREATE TABLE roster (
	jid          TEXT PRIMARY KEY,
	name         TEXT NOT NULL DEFAULT '',
	subscription TEXT NOT NULL DEFAULT '',
	ask          TEXT NOT NULL DEFAULT '',
	groups       TEXT NOT NULL DEFAULT '[]'
) WITHOUT ROWID;

CREATE TABLE notices (
	seq       INTEGER PRIMARY KEY,
	from_jid  TEXT    NOT NULL,
	id        TEXT    NOT NULL DEFAULT '',
	stanza_id TEXT    NOT NULL DEFAULT '',
	subject   TEXT    NOT NULL DEFAULT '',
	body      TEXT    NOT NULL DEFAULT '',
	ts        INTEGER NOT NULL,
	read      INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX notices_stanza_id ON notices (stanza_id) WHERE stanza_id <> '';
CREATE INDEX notices_from_id ON notices (from_jid, id);
CREATE INDEX notices_ts ON notices (ts, seq);
CREATE INDEX notices_unread ON notices (seq) WHERE read = 0;
`,
	// 2: profiles (vCard-temp) fetched from the server, by bare JID. Photos
	// are files named by their hash beside the database (see Avatars).
	`
CREATE TABLE profiles (
	jid        TEXT    PRIMARY KEY,
	fetched    INTEGER NOT NULL, -- µs since 1970
	data       TEXT    NOT NULL, -- JSON, as the client core wrote it
	photo_hash TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;
`,
	// 3: group chat rooms: the notification setting and what the client
	// learnt of the room (members-only), and the nicks the account has
	// used in each room, to tell its own messages in the room's history.
	`
CREATE TABLE rooms (
	room         TEXT    PRIMARY KEY,          -- bare JID
	notify       TEXT    NOT NULL DEFAULT '',  -- '' (the default), 'all', 'mentions', 'none'
	members_only INTEGER                       -- NULL: not known yet
) WITHOUT ROWID;

CREATE TABLE room_nicks (
	room  TEXT    NOT NULL,
	nick  TEXT    NOT NULL,
	until INTEGER,                             -- µs since 1970 when given up; NULL while in use
	PRIMARY KEY (room, nick)
) WITHOUT ROWID;
`,
	// 4: a stanza-id (XEP-0359) is unique only within the archive that
	// assigned it: the own server's for one-to-one chats, each room's for
	// its messages. Two rooms on different services (or an ejabberd room
	// and the account, whose ids are timestamps) can hand out the same id,
	// so the unique index, like the duplicate rule that uses it, is per
	// conversation. Ids stored so far were unique on their own, hence
	// also per peer: the new index always builds.
	`
DROP INDEX messages_stanza_id;
CREATE UNIQUE INDEX messages_stanza_id ON messages (peer, stanza_id) WHERE stanza_id <> '';
`,
	// 5: the trigram index takes the first 16,384 characters of a body and
	// of a subject (indexedChars in search.go), so that one huge message
	// costs no more to index than that. The triggers remove from it what
	// was put in (an external-content FTS5 table must be given the same
	// text to delete), and the rows indexed in full so far are indexed
	// again, cut.
	`
DROP TRIGGER messages_fts_ad;
DROP TRIGGER messages_fts_au;
INSERT INTO messages_fts (messages_fts, rowid, body, subject)
	SELECT 'delete', seq, body, subject FROM messages WHERE length(body) > 16384 OR length(subject) > 16384;
INSERT INTO messages_fts (rowid, body, subject)
	SELECT seq, substr(body, 1, 16384), substr(subject, 1, 16384) FROM messages WHERE length(body) > 16384 OR length(subject) > 16384;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, body, subject)
		VALUES ('delete', old.seq, substr(old.body, 1, 16384), substr(old.subject, 1, 16384));
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF body, subject ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, body, subject)
		VALUES ('delete', old.seq, substr(old.body, 1, 16384), substr(old.subject, 1, 16384));
	INSERT INTO messages_fts (rowid, body, subject) VALUES (new.seq, substr(new.body, 1, 16384), substr(new.subject, 1, 16384));
END;
`,
	// 6: the unread count of each conversation, as the app last showed it
	// (a chat, a room, a private chat through a room), so that it
	// survives a restart. A conversation without unread messages has no
	// row.
	`
CREATE TABLE unread (
	peer  TEXT    PRIMARY KEY,         -- bare JID; room/nick for a private chat
	room  INTEGER NOT NULL DEFAULT 0,  -- 1 for a group chat room
	count INTEGER NOT NULL
) WITHOUT ROWID;
`,
}
