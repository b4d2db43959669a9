package store

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func mustAdd(t *testing.T, db *DB, ms ...Message) []Message {
	t.Helper()
	added, err := db.AddMessages(ms)
	if err != nil {
		t.Fatal(err)
	}
	return added
}

func bodies(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Body
	}
	return out
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Received: "received", Pending: "pending", Sent: "sent", Delivered: "delivered", Failed: "failed"} {
		if s.String() != want {
			t.Errorf("%d: %q", s, s.String())
		}
	}
}

func TestAddMessagesRoundTrip(t *testing.T) {
	db := newDB(t)
	local := time.FixedZone("CST", 8*3600)
	m := Message{Peer: "bob@x", Dir: Outgoing, Resource: "laptop", ID: "i1", OriginID: "o1", StanzaID: "s1", Type: "chat",
		Body: "你好 world", Subject: "subj", Thread: "th", Time: time.Date(2026, 1, 2, 3, 4, 5, 123456789, local), State: Sent, Error: ""}
	added := mustAdd(t, db, m)
	if len(added) != 1 || added[0].Seq == 0 {
		t.Fatalf("added %+v", added)
	}
	got, err := db.Message(added[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	want := m
	want.Seq = added[0].Seq
	want.Time = m.Time.Truncate(time.Microsecond).UTC()
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(added[0], want) {
		t.Fatalf("got   %+v\nadded %+v\nwant  %+v", got, added[0], want)
	}
	if _, err := db.Message(12345); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing message: %v", err)
	}
	if _, err := db.AddMessages([]Message{{Body: "no peer"}}); err == nil {
		t.Error("message without peer accepted")
	}
}

func TestDedup(t *testing.T) {
	stored := []Message{
		{Peer: "bob@x", Dir: Incoming, ID: "a", OriginID: "oa", StanzaID: "sa", Body: "one", Time: at(1)},
		{Peer: "bob@x", Dir: Incoming, ID: "b", Body: "two", Time: at(2)},
		{Peer: "bob@x", Dir: Outgoing, ID: "c", OriginID: "oc", Body: "three", Time: at(3), State: Pending},
		{Peer: "bob@x", Dir: Outgoing, ID: "d", OriginID: "od", Body: "four", Time: at(4), State: Failed, Error: "timeout"},
	}
	tests := []struct {
		name string
		in   Message
		dup  bool
	}{
		{"1 same stanza-id, other fields differ", Message{Peer: "bob@x", Dir: Outgoing, StanzaID: "sa", Body: "x"}, true},
		// Stanza-ids are unique per archive (XEP-0359 "by"): another
		// conversation's message with the same id is another message.
		{"1 same stanza-id other peer", Message{Peer: "room@conference.x", Dir: Incoming, StanzaID: "sa", Body: "one", Type: "groupchat"}, false},
		{"1 different stanza-id, nothing else", Message{Peer: "bob@x", StanzaID: "sz", Body: "one"}, false},
		{"2 same origin-id same peer and dir", Message{Peer: "bob@x", Dir: Incoming, OriginID: "oa", Body: "edited?"}, true},
		{"2 same origin-id other peer", Message{Peer: "carol@x", Dir: Incoming, OriginID: "oa", Body: "one"}, false},
		{"2 same origin-id other dir", Message{Peer: "bob@x", Dir: Outgoing, OriginID: "oa", Body: "one"}, false},
		{"3 same id and body", Message{Peer: "bob@x", Dir: Incoming, ID: "b", Body: "two"}, true},
		{"3 same id other body", Message{Peer: "bob@x", Dir: Incoming, ID: "b", Body: "TWO"}, false},
		{"3 same id and body other dir", Message{Peer: "bob@x", Dir: Outgoing, ID: "b", Body: "two"}, false},
		{"no ids at all is never a duplicate", Message{Peer: "bob@x", Dir: Incoming, Body: "two"}, false},
		{"empty ids do not match empty ids", Message{Peer: "bob@x", Dir: Incoming, Body: "one", Time: at(1)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := newDB(t)
			mustAdd(t, db, stored...)
			added := mustAdd(t, db, tc.in)
			if (len(added) == 0) != tc.dup {
				t.Fatalf("added %v, want duplicate=%v", added, tc.dup)
			}
		})
	}
}

func TestDedupInBatch(t *testing.T) {
	db := newDB(t)
	in := []Message{
		{Peer: "bob@x", OriginID: "o1", Body: "a", Time: at(1)},
		{Peer: "bob@x", StanzaID: "s1", Body: "b", Time: at(2)},
		{Peer: "bob@x", OriginID: "o1", Body: "a again", Time: at(3)}, // rule 2
		{Peer: "bob@x", StanzaID: "s1", Body: "b again", Time: at(4)}, // rule 1
		{Peer: "bob@x", ID: "i", Body: "c", Time: at(5)},
		{Peer: "bob@x", ID: "i", Body: "c", Time: at(6)}, // rule 3
		{Peer: "bob@x", ID: "i", Body: "d", Time: at(7)},
	}
	added := mustAdd(t, db, in...)
	if got, want := bodies(added), []string{"a", "b", "c", "d"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("added %q, want %q", got, want)
	}
	for i := 1; i < len(added); i++ {
		if added[i].Seq <= added[i-1].Seq { // the times ascend
			t.Fatal("Seq not ascending")
		}
	}
	if again := mustAdd(t, db, in...); len(again) != 0 {
		t.Fatalf("second add stored %v", bodies(again))
	}
}

// TestStanzaIDPerConversation: XEP-0359 stanza-ids are unique only within
// the archive that assigned them (its "by"): two rooms, or a room and the
// account's own archive (ejabberd uses timestamp-like ids in both), can use
// the same id for different messages. Both are stored, and each still
// drops its own copies.
func TestStanzaIDPerConversation(t *testing.T) {
	db := newDB(t)
	in := []Message{
		{Peer: "dev@conference.x", Type: "groupchat", StanzaID: "1700000000000001", Body: "in dev", Time: at(1)},
		{Peer: "ops@conference.x", Type: "groupchat", StanzaID: "1700000000000001", Body: "in ops", Time: at(1)},
		{Peer: "bob@x", Type: "chat", StanzaID: "1700000000000001", Body: "from bob", Time: at(1)},
	}
	if got := bodies(mustAdd(t, db, in...)); !reflect.DeepEqual(got, []string{"in dev", "in ops", "from bob"}) {
		t.Fatalf("added %q, want all three", got)
	}
	for _, m := range in {
		m.Body += " (archive copy)"
		if added := mustAdd(t, db, m); len(added) != 0 {
			t.Fatalf("copy in %s stored again: %+v", m.Peer, added)
		}
	}
	// The rule is one lookup in the (peer, stanza_id) index.
	var plan []string
	rows, err := db.w.Query(`EXPLAIN QUERY PLAN SELECT seq FROM messages WHERE peer = ?1 AND stanza_id = ?2 AND stanza_id <> ''`, "bob@x", "1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if len(plan) != 1 || !strings.Contains(plan[0], "USING COVERING INDEX messages_stanza_id (peer=? AND stanza_id=?)") {
		t.Fatalf("query plan %q, want a lookup in messages_stanza_id", plan)
	}
}

func TestDedupMerges(t *testing.T) {
	tests := []struct {
		name      string
		stored    Message
		dup       Message
		wantState State
		wantSID   string
		wantErr   string
	}{
		{"pending outgoing seen in archive",
			Message{Peer: "bob@x", Dir: Outgoing, OriginID: "o", Body: "hi", State: Pending},
			Message{Peer: "bob@x", Dir: Outgoing, OriginID: "o", StanzaID: "arch-1", Body: "hi", State: Sent},
			Sent, "arch-1", ""},
		{"failed outgoing seen as carbon (no stanza-id)",
			Message{Peer: "bob@x", Dir: Outgoing, OriginID: "o", Body: "hi", State: Failed, Error: "timeout"},
			Message{Peer: "bob@x", Dir: Outgoing, OriginID: "o", Body: "hi", State: Sent},
			Sent, "", ""},
		{"pending re-added as pending stays pending",
			Message{Peer: "bob@x", Dir: Outgoing, ID: "i", Body: "hi", State: Pending},
			Message{Peer: "bob@x", Dir: Outgoing, ID: "i", Body: "hi", State: Pending},
			Pending, "", ""},
		{"pending re-added as pending but with archive id",
			Message{Peer: "bob@x", Dir: Outgoing, ID: "i", Body: "hi", State: Pending},
			Message{Peer: "bob@x", Dir: Outgoing, ID: "i", Body: "hi", State: Pending, StanzaID: "arch-2"},
			Sent, "arch-2", ""},
		{"delivered is not lowered by an archive copy",
			Message{Peer: "bob@x", Dir: Outgoing, OriginID: "o", Body: "hi", State: Delivered},
			Message{Peer: "bob@x", Dir: Outgoing, OriginID: "o", StanzaID: "arch-3", Body: "hi", State: Sent},
			Delivered, "arch-3", ""},
		{"stanza-id kept when both have one",
			Message{Peer: "bob@x", Dir: Incoming, OriginID: "o", StanzaID: "first", Body: "hi"},
			Message{Peer: "bob@x", Dir: Incoming, OriginID: "o", StanzaID: "second", Body: "hi"},
			Received, "first", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := newDB(t)
			s := mustAdd(t, db, tc.stored)[0]
			if added := mustAdd(t, db, tc.dup); len(added) != 0 {
				t.Fatalf("duplicate was added: %+v", added)
			}
			got, err := db.Message(s.Seq)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tc.wantState || got.StanzaID != tc.wantSID || got.Error != tc.wantErr {
				t.Fatalf("stored is now %v %q %q, want %v %q %q", got.State, got.StanzaID, got.Error, tc.wantState, tc.wantSID, tc.wantErr)
			}
			if tc.wantSID != "" {
				// The merged stanza-id now dedups by rule 1.
				if added := mustAdd(t, db, Message{Peer: tc.stored.Peer, StanzaID: tc.wantSID, Body: "z"}); len(added) != 0 {
					t.Fatal("merged stanza-id not used for dedup")
				}
			}
		})
	}
}

func TestSetState(t *testing.T) {
	tests := []struct {
		from, to State
		want     State
	}{
		{Pending, Sent, Sent},
		{Pending, Delivered, Delivered},
		{Sent, Delivered, Delivered},
		{Delivered, Sent, Delivered}, // late server ack after the receipt
		{Sent, Pending, Sent},
		{Delivered, Pending, Delivered},
		{Pending, Failed, Failed},
		{Sent, Failed, Failed},
		{Delivered, Failed, Delivered},
		{Failed, Pending, Pending}, // retry
		{Failed, Sent, Sent},       // late ack
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%d %v->%v", i, tc.from, tc.to), func(t *testing.T) {
			db := newDB(t)
			mustAdd(t, db, Message{Peer: "bob@x", Dir: Outgoing, ID: "id1", OriginID: "o1", Body: "hi", State: tc.from, Time: at(0)})
			got, ok, err := db.SetState("bob@x", "o1", tc.to, "boom")
			if err != nil || !ok {
				t.Fatal(ok, err)
			}
			again, _ := db.Message(got.Seq)
			if got.State != tc.want || again.State != tc.want {
				t.Fatalf("state %v (stored %v), want %v", got.State, again.State, tc.want)
			}
			if wantErr := map[bool]string{true: "boom"}[tc.want == Failed]; again.Error != wantErr {
				t.Fatalf("error text %q, want %q", again.Error, wantErr)
			}
		})
	}
	t.Run("lookup", func(t *testing.T) {
		db := newDB(t)
		mustAdd(t, db,
			Message{Peer: "bob@x", Dir: Outgoing, ID: "x1", OriginID: "o1", Body: "a", State: Pending},
			Message{Peer: "bob@x", Dir: Outgoing, ID: "o1", Body: "b", State: Pending}, // id attribute equal to another's origin-id
			Message{Peer: "bob@x", Dir: Incoming, ID: "in", Body: "c"},
			Message{Peer: "carol@x", Dir: Outgoing, ID: "c1", Body: "d", State: Pending},
		)
		if m, ok, _ := db.SetState("bob@x", "o1", Sent, ""); !ok || m.Body != "a" {
			t.Errorf("origin-id first: %v %+v", ok, m)
		}
		if m, ok, _ := db.SetState("bob@x", "x1", Delivered, ""); !ok || m.Body != "a" || m.State != Delivered {
			t.Errorf("by id attribute: %v %+v", ok, m)
		}
		if _, ok, _ := db.SetState("bob@x", "in", Sent, ""); ok {
			t.Error("incoming message matched")
		}
		if _, ok, _ := db.SetState("bob@x", "c1", Sent, ""); ok {
			t.Error("other peer's message matched")
		}
		if _, ok, _ := db.SetState("bob@x", "", Sent, ""); ok {
			t.Error("empty id matched")
		}
		if _, _, err := db.SetState("bob@x", "x1", Received, ""); err == nil {
			t.Error("SetState(Received) accepted")
		}
	})
}

func TestOutbox(t *testing.T) {
	db := newDB(t)
	mustAdd(t, db,
		Message{Peer: "b@x", Dir: Outgoing, OriginID: "1", Body: "first", State: Pending, Time: at(5)},
		Message{Peer: "c@x", Dir: Outgoing, OriginID: "2", Body: "sent", State: Sent, Time: at(1)},
		Message{Peer: "a@x", Dir: Outgoing, OriginID: "3", Body: "second", State: Pending, Time: at(1)},
		Message{Peer: "a@x", Dir: Incoming, OriginID: "4", Body: "incoming", State: Received},
		Message{Peer: "a@x", Dir: Outgoing, OriginID: "5", Body: "third", State: Pending, Time: at(9)},
	)
	db.SetState("a@x", "5", Failed, "nope")
	mustAdd(t, db, Message{Peer: "b@x", Dir: Outgoing, OriginID: "6", Body: "fourth", State: Pending, Time: at(0)})
	db.SetState("a@x", "5", Pending, "") // retry: goes back in, in Seq (= Time) order
	ms, err := db.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := bodies(ms), []string{"fourth", "second", "first", "third"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("outbox %q, want %q", got, want)
	}
}

func TestHistoryPaging(t *testing.T) {
	db := newDB(t)
	// 10 messages: 4 share one timestamp, and three older ones arrive later
	// (archive catch-up), after newer ones were stored.
	var live []Message
	for i := range 7 {
		m := at(10 + i)
		if i >= 2 && i <= 5 {
			m = at(12)
		}
		live = append(live, Message{Peer: "bob@x", Body: fmt.Sprint("live", i), Time: m})
	}
	mustAdd(t, db, live...)
	mustAdd(t, db, Message{Peer: "carol@x", Body: "other", Time: at(11)})
	mustAdd(t, db,
		Message{Peer: "bob@x", Body: "old0", StanzaID: "s0", Time: at(1)},
		Message{Peer: "bob@x", Body: "old1", StanzaID: "s1", Time: at(12)}, // same time as live2..5, larger Seq
		Message{Peer: "bob@x", Body: "old2", StanzaID: "s2", Time: at(2)},
	)
	want := []string{"old0", "old2", "live0", "live1", "live2", "live3", "live4", "live5", "old1", "live6"}

	for _, page := range []int{1, 2, 3, 4, 10, 50} {
		t.Run(fmt.Sprint("History page ", page), func(t *testing.T) {
			var got []string
			c := Cursor{}
			for {
				ms, err := db.History("bob@x", c, page)
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) == 0 {
					break
				}
				if len(ms) > page {
					t.Fatalf("page of %d", len(ms))
				}
				got = append(bodies(ms), got...)
				c = ms[0].Cursor()
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %q\nwant %q", got, want)
			}
		})
		t.Run(fmt.Sprint("After page ", page), func(t *testing.T) {
			var got []string
			c := Cursor{}
			for {
				ms, err := db.After("bob@x", c, page)
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) == 0 {
					break
				}
				got = append(got, bodies(ms)...)
				c = ms[len(ms)-1].Cursor()
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %q\nwant %q", got, want)
			}
		})
	}

	all, _ := db.History("bob@x", Cursor{}, 100)
	for i, tc := range []struct {
		at   int // index into want
		n    int
		want []string
	}{
		{4, 2, want[2:7]},
		{0, 2, want[0:3]},
		{9, 3, want[6:10]},
		{5, 0, want[5:6]},
		{8, 100, want},
	} {
		t.Run(fmt.Sprint("Around ", i), func(t *testing.T) {
			ms, err := db.Around(all[tc.at].Seq, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if got := bodies(ms); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := db.Around(9999, 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("Around(missing) = %v", err)
	}
}

func TestConversations(t *testing.T) {
	db := newDB(t)
	if cs, err := db.Conversations(10); err != nil || len(cs) != 0 {
		t.Fatalf("empty store: %v %v", cs, err)
	}
	mustAdd(t, db,
		Message{Peer: "a@x", Body: "a1", Time: at(1)},
		Message{Peer: "b@x", Body: "b1", Time: at(2)},
		Message{Peer: "c@x", Body: "c1", Time: at(3)},
		Message{Peer: "a@x", Body: "a2", Time: at(4)},
		Message{Peer: "b@x", Body: "b0", Time: at(0)}, // older, arrives later
	)
	cs, err := db.Conversations(0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Peer+":"+c.Last.Body)
	}
	if want := []string{"a@x:a2", "c@x:c1", "b@x:b1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if cs, _ := db.Conversations(2); len(cs) != 2 {
		t.Fatalf("limit 2: %d", len(cs))
	}
}

func TestArchiveCursor(t *testing.T) {
	db := newDB(t)
	if id, tm, err := db.ArchiveCursor(); err != nil || id != "" || !tm.IsZero() {
		t.Fatalf("empty: %q %v %v", id, tm, err)
	}
	when := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC)
	if err := db.SetArchiveCursor("arch-9", when); err != nil {
		t.Fatal(err)
	}
	if id, tm, err := db.ArchiveCursor(); err != nil || id != "arch-9" || !tm.Equal(when) {
		t.Fatalf("got %q %v %v", id, tm, err)
	}
	// Synced with an empty archive: no id, but a time.
	if err := db.SetArchiveCursor("", when); err != nil {
		t.Fatal(err)
	}
	if id, tm, err := db.ArchiveCursor(); err != nil || id != "" || !tm.Equal(when) {
		t.Fatalf("time-only cursor: %q %v %v", id, tm, err)
	}
	db.SetArchiveCursor("", time.Time{})
	if id, _, _ := db.ArchiveCursor(); id != "" {
		t.Fatalf("not cleared: %q", id)
	}
}
