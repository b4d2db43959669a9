package store

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestUnreadCounts: counts are kept per conversation across a reopen of
// the store; a count of 0 removes the conversation.
func TestUnreadCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetUnread([]Unread{
		{Peer: "lisi@oa.example", Count: 3},
		{Peer: "room@conference.oa.example", Room: true, Count: 1200},
		{Peer: "room@conference.oa.example/王五", Count: 1},
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetUnread([]Unread{{Peer: "lisi@oa.example", Count: 4}, {Peer: "room@conference.oa.example/王五", Count: 0}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.UnreadCounts()
	want := []Unread{{Peer: "lisi@oa.example", Count: 4}, {Peer: "room@conference.oa.example", Room: true, Count: 1200}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("unread counts %+v, %v; want %+v", got, err, want)
	}
}
