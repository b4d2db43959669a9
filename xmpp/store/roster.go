package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
)

// RosterItem is a cached roster entry.
type RosterItem struct {
	JID, Name, Subscription, Ask string
	Groups                       []string
}

// SaveRoster replaces the whole roster cache and its version (XEP-0237) in
// one transaction.
func (db *DB) SaveRoster(ver string, items []RosterItem) error {
	err := db.writeTx(func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM roster`); err != nil {
			return err
		}
		if err := upsertRoster(tx, items); err != nil {
			return err
		}
		return setRosterVer(tx, ver)
	})
	if err != nil {
		return fmt.Errorf("store: save roster: %w", err)
	}
	return nil
}

// UpdateRoster applies a roster push: changed items are added or replaced,
// removed JIDs (and changed items with Subscription "remove") are deleted,
// and the version becomes ver.
func (db *DB) UpdateRoster(ver string, changed []RosterItem, removed []string) error {
	err := db.writeTx(func(tx *sql.Tx) error {
		var keep []RosterItem
		for _, it := range changed {
			if it.Subscription == "remove" {
				removed = append(removed, it.JID)
			} else {
				keep = append(keep, it)
			}
		}
		if err := upsertRoster(tx, keep); err != nil {
			return err
		}
		for _, jid := range removed {
			if _, err := tx.Exec(`DELETE FROM roster WHERE jid = ?`, jid); err != nil {
				return err
			}
		}
		return setRosterVer(tx, ver)
	})
	if err != nil {
		return fmt.Errorf("store: update roster: %w", err)
	}
	return nil
}

func upsertRoster(tx *sql.Tx, items []RosterItem) error {
	if len(items) == 0 {
		return nil
	}
	st, err := tx.Prepare(`INSERT OR REPLACE INTO roster (jid, name, subscription, ask, groups) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, it := range items {
		if it.JID == "" {
			return fmt.Errorf("roster item without JID")
		}
		g := it.Groups
		if g == nil {
			g = []string{}
		}
		groups, err := json.Marshal(g)
		if err != nil {
			return err
		}
		if _, err := st.Exec(it.JID, it.Name, it.Subscription, it.Ask, string(groups)); err != nil {
			return err
		}
	}
	return nil
}

func setRosterVer(tx *sql.Tx, ver string) error {
	_, err := tx.Exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('roster_ver', ?)`, ver)
	return err
}

// Roster returns the cached roster, ordered by JID, and its version ("" when
// none was saved). The version and the items are read in one snapshot.
func (db *DB) Roster() (ver string, items []RosterItem, err error) {
	tx, err := db.r.Begin()
	if err != nil {
		return "", nil, fmt.Errorf("store: roster: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRow(`SELECT (SELECT value FROM meta WHERE key = 'roster_ver')`).Scan((*nullString)(&ver)); err != nil {
		return "", nil, fmt.Errorf("store: roster: %w", err)
	}
	rows, err := tx.Query(`SELECT jid, name, subscription, ask, groups FROM roster ORDER BY jid`)
	if err != nil {
		return "", nil, fmt.Errorf("store: roster: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var it RosterItem
		var groups string
		if err := rows.Scan(&it.JID, &it.Name, &it.Subscription, &it.Ask, &groups); err != nil {
			return "", nil, fmt.Errorf("store: roster: %w", err)
		}
		if err := json.Unmarshal([]byte(groups), &it.Groups); err != nil {
			return "", nil, fmt.Errorf("store: roster: groups of %s: %w", it.JID, err)
		}
		if len(it.Groups) == 0 {
			it.Groups = nil
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("store: roster: %w", err)
	}
	return ver, items, nil
}
