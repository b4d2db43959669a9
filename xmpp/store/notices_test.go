package store

import (
	"testing"
	"time"
)

// TestNoticesReadUpTo: the unread list is newest first; marking read up to
// a seq leaves a notice stored after it unread, however old its stamp (a
// delayed one).
func TestNoticesReadUpTo(t *testing.T) {
	db := newDB(t)
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	var seqs []int64
	for i, n := range []Notice{
		{From: "oa.example", ID: "1", Body: "first", Time: at},
		{From: "oa.example", ID: "2", Body: "second", Time: at.Add(time.Hour)},
		{From: "oa.example", ID: "3", Body: "third", Time: at.Add(2 * time.Hour)},
	} {
		stored, added, err := db.AddNotice(n)
		if err != nil || !added {
			t.Fatalf("%d: added %v, %v", i, added, err)
		}
		seqs = append(seqs, stored.Seq)
	}
	if err := db.MarkNoticeRead(seqs[1]); err != nil {
		t.Fatal(err)
	}
	unread, err := db.UnreadNoticeList(0)
	if err != nil || len(unread) != 2 || unread[0].Body != "third" || unread[1].Body != "first" {
		t.Fatalf("unread list %+v, %v", unread, err)
	}
	if unread, _ := db.UnreadNoticeList(1); len(unread) != 1 || unread[0].Body != "third" {
		t.Fatalf("unread list limited to 1: %+v", unread)
	}
	// The user saw the inbox up to the newest seq; then a notice kept
	// offline for a day arrives (older stamp, higher seq).
	late, _, err := db.AddNotice(Notice{From: "oa.example", ID: "4", Body: "late", Time: at.Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.MarkNoticesRead(seqs[2])
	if err != nil || n != 2 {
		t.Fatalf("marked %d read, %v; want 2", n, err)
	}
	unread, _ = db.UnreadNoticeList(0)
	if len(unread) != 1 || unread[0].Seq != late.Seq {
		t.Fatalf("unread after marking up to %d: %+v", seqs[2], unread)
	}
	if n, _ := db.MarkNoticesRead(late.Seq); n != 1 {
		t.Fatalf("marked %d read, want 1", n)
	}
	if c, _ := db.UnreadNotices(); c != 0 {
		t.Fatalf("%d unread", c)
	}
}
