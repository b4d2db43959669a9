package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestRoster(t *testing.T) {
	db := newDB(t)
	if ver, items, err := db.Roster(); err != nil || ver != "" || items != nil {
		t.Fatalf("empty: %q %v %v", ver, items, err)
	}
	full := []RosterItem{
		{JID: "c@x", Name: "Carol", Subscription: "both", Groups: []string{"Work", "同事"}},
		{JID: "a@x", Name: "Alice", Subscription: "to", Ask: "subscribe"},
		{JID: "b@x", Subscription: "none"},
	}
	if err := db.SaveRoster("v1", full); err != nil {
		t.Fatal(err)
	}
	ver, items, err := db.Roster()
	want := []RosterItem{full[1], full[2], full[0]}
	if err != nil || ver != "v1" || !reflect.DeepEqual(items, want) {
		t.Fatalf("got %q %+v %v", ver, items, err)
	}
	err = db.UpdateRoster("v2",
		[]RosterItem{{JID: "a@x", Name: "Alice A.", Subscription: "both"}, {JID: "d@x", Name: "Dan"}, {JID: "b@x", Subscription: "remove"}},
		[]string{"c@x", "nobody@x"})
	if err != nil {
		t.Fatal(err)
	}
	ver, items, _ = db.Roster()
	want = []RosterItem{{JID: "a@x", Name: "Alice A.", Subscription: "both"}, {JID: "d@x", Name: "Dan"}}
	if ver != "v2" || !reflect.DeepEqual(items, want) {
		t.Fatalf("after push: %q %+v", ver, items)
	}
	if err := db.SaveRoster("v3", []RosterItem{{JID: "z@x"}}); err != nil {
		t.Fatal(err)
	}
	ver, items, _ = db.Roster()
	if ver != "v3" || len(items) != 1 || items[0].JID != "z@x" {
		t.Fatalf("after replace: %q %+v", ver, items)
	}
	if err := db.SaveRoster("v4", []RosterItem{{Name: "no jid"}}); err == nil {
		t.Fatal("item without JID accepted")
	}
	if ver, _, _ := db.Roster(); ver != "v3" {
		t.Fatalf("failed save changed the version to %q", ver)
	}
}

func TestNotices(t *testing.T) {
	db := newDB(t)
	tm := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		n     Notice
		added bool
	}{
		{"1 first", Notice{From: "oa@x", ID: "n1", Subject: "审批", Body: "请审批报销单", Time: tm}, true},
		{"2 same from+id+body", Notice{From: "oa@x", ID: "n1", Body: "请审批报销单", Time: tm.Add(time.Hour)}, false},
		{"3 same id other body", Notice{From: "oa@x", ID: "n1", Body: "另一条", Time: tm.Add(time.Minute)}, true},
		{"4 stanza-id", Notice{From: "x", StanzaID: "s1", Body: "server notice", Time: tm.Add(2 * time.Minute)}, true},
		{"5 same stanza-id", Notice{From: "y", StanzaID: "s1", Body: "other"}, false},
		{"6 no id, same from+body+time", Notice{From: "x", Body: "server notice", Time: tm.Add(2 * time.Minute)}, false},
		{"7 no id, other time", Notice{From: "x", Body: "server notice", Time: tm.Add(3 * time.Minute)}, true},
	}
	var seqs []int64
	for _, tc := range tests {
		n, added, err := db.AddNotice(tc.n)
		if err != nil {
			t.Fatal(tc.name, err)
		}
		if added != tc.added || n.Seq == 0 {
			t.Fatalf("%s: added=%v seq=%d", tc.name, added, n.Seq)
		}
		if added {
			seqs = append(seqs, n.Seq)
		}
	}
	ns, err := db.Notices(0)
	if err != nil || len(ns) != 4 {
		t.Fatalf("%d notices, %v", len(ns), err)
	}
	if ns[0].Seq != seqs[3] || ns[3].Seq != seqs[0] || ns[3].Subject != "审批" || !ns[3].Time.Equal(tm) {
		t.Fatalf("order/content: %+v", ns)
	}
	if n, _ := db.UnreadNotices(); n != 4 {
		t.Fatalf("unread %d", n)
	}
	if err := db.MarkNoticeRead(seqs[1]); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.UnreadNotices(); n != 3 {
		t.Fatalf("unread after mark %d", n)
	}
	if err := db.MarkNoticeRead(999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("mark missing: %v", err)
	}
	if ns, _ := db.Notices(1); len(ns) != 1 || ns[0].Read {
		t.Fatalf("limit 1: %+v", ns)
	}
}
