package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrCorrupt is returned (wrapped, with the path) by Open when the file is
// not an SQLite database or fails PRAGMA quick_check. The file is left as it
// was.
var ErrCorrupt = errors.New("store: database file is corrupt or not a database")

// ErrTooNew is returned (wrapped, with the path) by Open when the file's
// schema version (PRAGMA user_version) is newer than this code knows: it was
// written by a newer Magpie. The file is left as it was.
var ErrTooNew = errors.New("store: database was written by a newer version")

// ErrNotFound is returned by Message (and Around) when no message has the
// given Seq.
var ErrNotFound = errors.New("store: not found")

// busyTimeoutMS is how long a writer waits for another process (the GUI, the
// CLI) holding the write lock before it gives up with SQLITE_BUSY.
const busyTimeoutMS = 10000

// quickCheckMaxBytes bounds the size of a file that Open runs PRAGMA
// quick_check on. quick_check reads every page, so its cost grows with the
// file; bigger files get the cheap checks (header, schema,
// user_version) on open and can be checked in full with DB.Check.
const quickCheckMaxBytes = 32 << 20

// DB is one account's message store. It is safe for concurrent use by many
// goroutines, and several processes may open the same file at once.
type DB struct {
	path string
	w    *sql.DB // one connection, BEGIN IMMEDIATE: all writes
	r    *sql.DB // a small pool of read-only connections

	stmts struct {
		findDup, seqFree, seqTop, insert, insertFTS, insertGrams, merge *sql.Stmt
	}

	closeOnce sync.Once
	closeErr  error
}

// DefaultPath returns where the store of account (a bare JID) lives:
// <data dir>/magpie/<account>/history.db on Unix ($XDG_DATA_HOME, else
// ~/.local/share), %LocalAppData%\Magpie\<account>\history.db on Windows and
// ~/Library/Application Support/Magpie/<account>/history.db on macOS.
//
// A resource part ("/...") is dropped and the JID lower-cased. Characters that
// are unsafe or awkward in a directory name ('\\', ':', '?', '%', control
// characters, ...) are escaped as %XX; "", "." and ".." are rejected.
func DefaultPath(account string) (string, error) {
	dir, err := accountDir(account)
	if err != nil {
		return "", err
	}
	base, err := dataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, dir, "history.db"), nil
}

func accountDir(account string) (string, error) {
	bare, _, _ := strings.Cut(account, "/")
	bare = strings.ToLower(strings.TrimSpace(bare))
	if bare == "" || bare == "." || bare == ".." {
		return "", fmt.Errorf("store: invalid account %q", account)
	}
	var b strings.Builder
	for i := 0; i < len(bare); i++ {
		c := bare[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '@', c == '.', c == '-', c == '_', c == '+':
			b.WriteByte(c)
		case c >= 0x80: // UTF-8 bytes of non-ASCII letters are fine in names
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	s := b.String()
	if strings.Trim(s, ".") == "" || strings.HasSuffix(s, ".") {
		// "...", or a trailing dot (Windows strips it): escape dots.
		s = strings.ReplaceAll(s, ".", "%2E")
	}
	return s, nil
}

func dataDir() (string, error) {
	switch runtime.GOOS {
	case "windows":
		d := os.Getenv("LocalAppData")
		if d == "" {
			return "", errors.New("store: %LocalAppData% is not set")
		}
		return filepath.Join(d, "Magpie"), nil
	case "darwin", "ios":
		h, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(h, "Library", "Application Support", "Magpie"), nil
	default:
		if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "magpie"), nil
		}
		h, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(h, ".local", "share", "magpie"), nil
	}
}

// sqliteHeader starts every SQLite 3 database file.
const sqliteHeader = "SQLite format 3\x00"

// Open opens (creating it if needed) the store at path. See the package
// documentation for what it checks and sets.
func Open(path string) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("store: unsupported database path %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	size, err := prepareFile(path)
	if err != nil {
		return nil, err
	}

	params := fmt.Sprintf("?_busy_timeout=%d&_fk=1&_sync=NORMAL", busyTimeoutMS)
	w, err := sql.Open("sqlite", path+params+"&_txlock=immediate&_pragma=cache_size(-32768)")
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := &DB{path: path, w: w}
	if err := db.init(size); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", path+params+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	n := runtime.GOMAXPROCS(0)
	n = max(2, min(n, 8))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	db.r = r
	if err := db.prepare(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return db, nil
}

// prepareFile creates path with mode 0600 when it does not exist, and checks
// the header of an existing file without letting SQLite touch it. It returns
// the file's size.
func prepareFile(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("store: %s: not a regular file", path)
	}
	if fi.Size() == 0 {
		return 0, nil
	}
	hdr := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, hdr); err != nil || string(hdr) != sqliteHeader {
		return 0, fmt.Errorf("%w: %s: no SQLite header", ErrCorrupt, path)
	}
	return fi.Size(), nil
}

// init checks the file and brings the schema up to date. Nothing is written
// before the checks pass.
func (db *DB) init(size int64) error {
	ctx := context.Background()
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return db.wrapOpenErr(err)
	}
	defer conn.Close()

	var ver int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&ver); err != nil {
		return db.wrapOpenErr(err)
	}
	if ver > len(migrations) {
		return fmt.Errorf("%w: %s: schema version %d, this build knows %d", ErrTooNew, db.path, ver, len(migrations))
	}
	if size > 0 {
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			return db.wrapOpenErr(err)
		}
		if size <= quickCheckMaxBytes {
			if err := quickCheck(ctx, conn); err != nil {
				return db.wrapOpenErr(err)
			}
		}
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return db.wrapOpenErr(err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: %s: cannot enable WAL (journal_mode is %s)", db.path, mode)
	}
	return db.migrate(ctx, conn)
}

func quickCheck(ctx context.Context, conn interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) error {
	rows, err := conn.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		if len(problems) > 3 {
			problems = append(problems[:3], "...")
		}
		return fmt.Errorf("%w: quick_check: %s", ErrCorrupt, strings.Join(problems, "; "))
	}
	return nil
}

// Check runs PRAGMA quick_check over the whole file (Open does so only for
// small files). It returns an error wrapping ErrCorrupt when it finds damage.
func (db *DB) Check() error {
	if err := quickCheck(context.Background(), db.r); err != nil {
		return db.wrapOpenErr(err)
	}
	return nil
}

// wrapOpenErr maps SQLite's "not a database"/"corrupt" codes to ErrCorrupt.
func (db *DB) wrapOpenErr(err error) error {
	if errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("%s: %w", db.path, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, db.path, err)
		}
	}
	return fmt.Errorf("store: %s: %w", db.path, err)
}

func (db *DB) migrate(ctx context.Context, conn *sql.Conn) error {
	for {
		// Each step is its own IMMEDIATE transaction and re-reads the
		// version inside it, so two processes opening an old file at the
		// same time migrate it once.
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return db.wrapOpenErr(err)
		}
		var ver int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&ver); err != nil {
			tx.Rollback()
			return db.wrapOpenErr(err)
		}
		if ver > len(migrations) {
			tx.Rollback()
			return fmt.Errorf("%w: %s: schema version %d, this build knows %d", ErrTooNew, db.path, ver, len(migrations))
		}
		if ver == len(migrations) {
			return tx.Rollback()
		}
		if _, err := tx.ExecContext(ctx, migrations[ver]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: %s: migration to version %d: %w", db.path, ver+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", ver+1)); err != nil {
			tx.Rollback()
			return db.wrapOpenErr(err)
		}
		if err := tx.Commit(); err != nil {
			return db.wrapOpenErr(err)
		}
	}
}

func (db *DB) prepare() error {
	var err error
	p := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = db.w.Prepare(q)
		return s
	}
	s := &db.stmts
	// The duplicate rules in one statement (one round trip); coalesce
	// keeps their order of precedence.
	s.findDup = p(`SELECT ` + dupCols + ` FROM messages WHERE seq = coalesce(
		(SELECT seq FROM messages WHERE peer = ?4 AND stanza_id = ?1 AND stanza_id <> ''),
		(SELECT seq FROM messages WHERE peer = ?4 AND dir = ?5 AND origin_id = ?2 AND origin_id <> '' LIMIT 1),
		(SELECT seq FROM messages WHERE ?7 = 'groupchat' AND ?5 = 0 AND peer = ?4 AND dir = 1
			AND origin_id = ?2 AND origin_id <> '' AND stanza_id = '' LIMIT 1),
		(SELECT seq FROM messages WHERE peer = ?4 AND dir = ?5 AND id = ?3 AND id <> '' AND body = ?6 LIMIT 1))`)
	s.seqFree = p(`SELECT NOT EXISTS (SELECT 1 FROM messages WHERE seq = ?)`)
	s.seqTop = p(`SELECT MAX(seq) FROM messages WHERE seq >= ? AND seq < ?`)
	s.insert = p(`INSERT INTO messages (seq, peer, dir, resource, id, origin_id, stanza_id, type, body, subject, thread, ts, state, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	// The first indexedChars characters, as the triggers of migration 5
	// delete them.
	s.insertFTS = p(`INSERT INTO messages_fts (rowid, body, subject) SELECT seq, substr(body, 1, ?1), substr(subject, 1, ?1)
		FROM messages WHERE seq IN (SELECT value FROM json_each(?2))`)
	s.insertGrams = p(`INSERT INTO messages_bigram (rowid, grams) SELECT value ->> 0, value ->> 1 FROM json_each(?)`)
	s.merge = p(`UPDATE messages SET stanza_id = ?, state = ?, error = coalesce(?, error) WHERE seq = ?`)
	return err
}

// Close closes the store. It checkpoints the WAL when this is the last
// connection to the file (SQLite does that on its own).
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		var errs []error
		for _, s := range []*sql.Stmt{db.stmts.findDup, db.stmts.seqFree, db.stmts.seqTop, db.stmts.insert, db.stmts.insertFTS, db.stmts.insertGrams, db.stmts.merge} {
			if s != nil {
				s.Close()
			}
		}
		if db.r != nil {
			errs = append(errs, db.r.Close())
		}
		errs = append(errs, db.w.Close())
		db.closeErr = errors.Join(errs...)
	})
	return db.closeErr
}

// Path returns the file the store was opened from.
func (db *DB) Path() string { return db.path }
