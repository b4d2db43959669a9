package store

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SaveProfile caches a contact's profile: data is opaque to the store (the
// core's JSON), photoHash names the photo file (see SaveAvatar).
func (db *DB) SaveProfile(jid string, fetched time.Time, data []byte, photoHash string) error {
	err := db.writeTx(func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT OR REPLACE INTO profiles (jid, fetched, data, photo_hash) VALUES (?, ?, ?, ?)`,
			jid, toMicro(fetched), string(data), photoHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: save profile of %s: %w", jid, err)
	}
	return nil
}

// Profile returns a cached profile; found is false when there is none.
func (db *DB) Profile(jid string) (data []byte, fetched time.Time, photoHash string, found bool, err error) {
	var text string
	var us int64
	err = db.r.QueryRow(`SELECT data, fetched, photo_hash FROM profiles WHERE jid = ?`, jid).Scan(&text, &us, &photoHash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, "", false, nil
	}
	if err != nil {
		return nil, time.Time{}, "", false, fmt.Errorf("store: profile of %s: %w", jid, err)
	}
	return []byte(text), fromMicro(us), photoHash, true, nil
}

// avatarDir is where photos are kept, beside the database.
func (db *DB) avatarDir() string { return filepath.Join(filepath.Dir(db.path), "avatars") }

// validHash accepts the hex hashes avatars are named by, nothing that could
// leave the directory.
func validHash(hash string) bool {
	return hash != "" && len(hash) <= 128 && strings.Trim(hash, "0123456789abcdef") == ""
}

// SaveAvatar keeps a photo under its hash (XEP-0153/0084 use SHA-1 hex), so
// that a photo shared by many presences is stored and fetched once.
func (db *DB) SaveAvatar(hash string, photo []byte) error {
	if !validHash(hash) {
		return fmt.Errorf("store: avatar hash %q is not lower-case hex", hash)
	}
	dir := db.avatarDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: avatar dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("store: save avatar: %w", err)
	}
	_, werr := tmp.Write(photo)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("store: save avatar: %w", errors.Join(werr, cerr))
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, hash)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("store: save avatar: %w", err)
	}
	return nil
}

// Avatar returns the photo saved under hash; found is false when there is
// none.
func (db *DB) Avatar(hash string) (photo []byte, found bool, err error) {
	if !validHash(hash) {
		return nil, false, nil
	}
	photo, err = os.ReadFile(filepath.Join(db.avatarDir(), hash))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: avatar %s: %w", hash, err)
	}
	return photo, true, nil
}
