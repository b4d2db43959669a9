package store

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func newDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenCreatesAndReopens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "magpie", "alice@example.com")
	path := filepath.Join(dir, "history.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.r.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var ver, fk, busy, sync int
	db.r.QueryRow(`PRAGMA user_version`).Scan(&ver)
	db.r.QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
	db.r.QueryRow(`PRAGMA busy_timeout`).Scan(&busy)
	db.r.QueryRow(`PRAGMA synchronous`).Scan(&sync)
	if ver != len(migrations) || fk != 1 || busy != busyTimeoutMS || sync != 1 {
		t.Errorf("user_version %d foreign_keys %d busy_timeout %d synchronous %d", ver, fk, busy, sync)
	}
	if _, err := db.AddMessages([]Message{{Peer: "bob@example.com", Body: "hi", Time: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for _, c := range []struct {
			path string
			want os.FileMode
		}{{dir, 0o700}, {path, 0o600}, {path + "-wal", 0o600}} {
			fi, err := os.Stat(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != c.want {
				t.Errorf("%s: mode %v, want %v", c.path, got, c.want)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	db, err = Open(path)
	if err != nil {
		t.Fatal("reopen:", err)
	}
	defer db.Close()
	ms, err := db.History("bob@example.com", Cursor{}, 10)
	if err != nil || len(ms) != 1 || ms[0].Body != "hi" {
		t.Fatalf("after reopen: %v %v", ms, err)
	}
	if err := db.Check(); err != nil {
		t.Error(err)
	}
}

func TestOpenRefusesBadFiles(t *testing.T) {
	tooNew := func(t *testing.T, path string) {
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		for _, q := range []string{`PRAGMA user_version = 999`, `PRAGMA journal_mode = DELETE`} {
			if _, err := raw.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  error
	}{
		{"1 garbage", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("not a database\n"), 8192/15+1)[:8192], 0o600)
		}, ErrCorrupt},
		{"2 sqlite header then garbage", func(t *testing.T, path string) {
			b := bytes.Repeat([]byte{0xA5}, 8192)
			copy(b, sqliteHeader)
			os.WriteFile(path, b, 0o600)
		}, ErrCorrupt},
		{"3 short file", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("SQLite"), 0o600)
		}, ErrCorrupt},
		{"4 user_version 999", tooNew, ErrTooNew},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.db")
			tc.setup(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			db, err := Open(path)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("file was changed")
			}
			if _, err := os.Stat(path + "-wal"); err == nil {
				t.Error("a -wal file was created")
			}
		})
	}
}

func TestOpenRejectsPaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", filepath.Join(t.TempDir(), "a?b.db")} {
		if db, err := Open(p); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		t.Skip("tests the XDG layout")
	}
	base := t.TempDir()
	t.Setenv("XDG_DATA_HOME", base)
	tests := []struct {
		account, want string // want "" = error
	}{
		{"alice@example.com", "alice@example.com"},
		{"Alice@Example.COM", "alice@example.com"},
		{"alice@example.com/laptop", "alice@example.com"},
		{"张三@example.cn", "张三@example.cn"},
		{`a\b@example.com`, "a%5Cb@example.com"},
		{"a:b?c%d@example.com", "a%3Ab%3Fc%25d@example.com"},
		{"..", ""},
		{".", ""},
		{"", ""},
		{"/res", ""},
		{"...", "%2E%2E%2E"},
		{"example.com.", "example%2Ecom%2E"},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, err := DefaultPath(tc.account)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("DefaultPath(%q) = %q, want error", tc.account, got)
				}
				return
			}
			want := filepath.Join(base, "magpie", tc.want, "history.db")
			if err != nil || got != want {
				t.Fatalf("DefaultPath(%q) = %q, %v; want %q", tc.account, got, err, want)
			}
			if filepath.Dir(filepath.Dir(got)) != filepath.Join(base, "magpie") {
				t.Fatalf("%q escapes the data dir", got)
			}
		})
	}
	t.Setenv("XDG_DATA_HOME", "")
	home, _ := os.UserHomeDir()
	if got, _ := DefaultPath("a@b"); got != filepath.Join(home, ".local", "share", "magpie", "a@b", "history.db") {
		t.Errorf("without XDG_DATA_HOME: %q", got)
	}
}

// TestTwoHandlesWriteConcurrently simulates the GUI and the CLI: two
// independent handles (separate connection pools, as two processes would
// have) write and read the same file at the same time.
func TestTwoHandlesWriteConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	gui, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer gui.Close()
	cli, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	const writers, batches, per = 4, 20, 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers+2)
	for w := range writers {
		for h, db := range []*DB{gui, cli} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range batches {
					var ms []Message
					for i := range per {
						id := fmt.Sprintf("h%d-w%d-b%d-%d", h, w, b, i)
						ms = append(ms, Message{Peer: fmt.Sprintf("p%d@x", i%3), Dir: Outgoing, OriginID: id, Body: "msg " + id,
							Time: time.Unix(int64(1000+b), 0), State: Pending})
					}
					// ms[0] twice: the in-batch copy must be skipped.
					if _, err := db.AddMessages(append(ms, ms[0])); err != nil {
						errs <- err
						return
					}
					if _, _, err := db.SetState("p0@x", ms[0].OriginID, Sent, ""); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	for _, db := range []*DB{gui, cli} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := db.History("p1@x", Cursor{}, 20); err != nil {
					errs <- err
					return
				}
				if _, err := db.Search("msg", "", 10); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int
	gui.r.QueryRow(`SELECT count(*) FROM messages`).Scan(&n)
	if want := 2 * writers * batches * per; n != want {
		t.Errorf("%d messages stored, want %d", n, want)
	}
	hits, err := cli.Search("h1-w3-b19", "", 100)
	if err != nil || len(hits) != per {
		t.Errorf("search after concurrent writes: %d hits, %v", len(hits), err)
	}
}
