package store

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"
)

func TestProfilesAndAvatars(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, found, err := db.Profile("lisi@oa.test"); found || err != nil {
		t.Fatalf("profile before any: %v, %v", found, err)
	}
	when := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	if err := db.SaveProfile("lisi@oa.test", when, []byte(`{"FullName":"李四"}`), "ab12"); err != nil {
		t.Fatal(err)
	}
	data, fetched, hash, found, err := db.Profile("lisi@oa.test")
	if err != nil || !found || string(data) != `{"FullName":"李四"}` || !fetched.Equal(when) || hash != "ab12" {
		t.Fatalf("profile: %s %v %q %v %v", data, fetched, hash, found, err)
	}
	photo := []byte("\x89PNG fake")
	if err := db.SaveAvatar("ab12", photo); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "../x", "AB12", "a/b"} {
		if err := db.SaveAvatar(bad, photo); err == nil {
			t.Errorf("SaveAvatar(%q) accepted", bad)
		}
	}
	db.Close()
	// Both survive a reopen (migration 2 ran once).
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, found, err := db.Avatar("ab12"); err != nil || !found || !bytes.Equal(got, photo) {
		t.Fatalf("avatar: %q %v %v", got, found, err)
	}
	if _, found, _ := db.Avatar("ffff"); found {
		t.Fatal("a missing avatar was found")
	}
}
