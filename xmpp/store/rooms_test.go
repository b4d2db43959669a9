package store

import (
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"
)

func TestRoomSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const room = "office@conference.example.com"
	if s, err := db.RoomSettings(room); err != nil || s != (RoomSettings{}) {
		t.Fatalf("unknown room: %+v, %v", s, err)
	}
	if err := db.SetRoomNotify(room, "mentions"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRoomMembersOnly(room, true); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRoomMembersOnly("other@conference.example.com", false); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRoomNick(room, "Alice", at(10)); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRoomNick(room, "Alicia", at(20)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(path) // it persists
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if s, _ := db.RoomSettings(room); s != (RoomSettings{Notify: "mentions", MembersOnly: true, Known: true}) {
		t.Fatalf("settings %+v", s)
	}
	if s, _ := db.RoomSettings("other@conference.example.com"); s != (RoomSettings{Known: true}) {
		t.Fatalf("other's settings %+v", s)
	}
	if err := db.SetRoomNotify(room, ""); err != nil {
		t.Fatal(err)
	}
	if s, _ := db.RoomSettings(room); s.Notify != "" || !s.MembersOnly {
		t.Fatalf("after clearing: %+v", s)
	}
	nicks, err := db.RoomNicks(room)
	if err != nil {
		t.Fatal(err)
	}
	if want := []RoomNick{{"Alice", at(10)}, {"Alicia", at(20)}}; !reflect.DeepEqual(nicks, want) {
		t.Fatalf("nicks %+v, want %+v", nicks, want)
	}
	if err := db.SetRoomNick(room, "Alicia", time.Time{}); err != nil { // in use again
		t.Fatal(err)
	}
	nicks, _ = db.RoomNicks(room)
	if want := []RoomNick{{"Alice", at(10)}, {"Alicia", time.Time{}}}; !reflect.DeepEqual(nicks, want) {
		t.Fatalf("nicks %+v, want %+v", nicks, want)
	}
}

// TestGroupchatOwnCopy: a room's copy of an own message that the client
// took for someone else's (an unknown nick) is still a duplicate of the
// stored outgoing message by its origin-id, and confirms it sent; a copy
// with another archive id is a different message.
func TestGroupchatOwnCopy(t *testing.T) {
	const room = "office@conference.example.com"
	for i, tc := range []struct {
		stored, copy Message
		added        bool
		confirmed    bool
	}{
		{ // the archive copy, taken for incoming
			Message{Peer: room, Dir: Outgoing, OriginID: "o1", Type: "groupchat", Body: "hi", Time: at(1), State: Pending},
			Message{Peer: room, Dir: Incoming, OriginID: "o1", StanzaID: "s1", Type: "groupchat", Body: "hi", Time: at(1)},
			false, true,
		},
		{ // already confirmed by its echo: a copy with another id is another message
			Message{Peer: room, Dir: Outgoing, OriginID: "o1", StanzaID: "s1", Type: "groupchat", Body: "hi", Time: at(1), State: Sent},
			Message{Peer: room, Dir: Incoming, OriginID: "o1", StanzaID: "s2", Type: "groupchat", Body: "hi", Time: at(2)},
			true, false,
		},
		{ // in a chat, direction still counts
			Message{Peer: "bob@example.com", Dir: Outgoing, OriginID: "o1", Type: "chat", Body: "hi", Time: at(1), State: Pending},
			Message{Peer: "bob@example.com", Dir: Incoming, OriginID: "o1", Type: "chat", Body: "hi", Time: at(2)},
			true, false,
		},
		{ // an outgoing copy (told by the nick) merges as before
			Message{Peer: room, Dir: Outgoing, OriginID: "o1", Type: "groupchat", Body: "hi", Time: at(1), State: Pending},
			Message{Peer: room, Dir: Outgoing, OriginID: "o1", StanzaID: "s1", Type: "groupchat", Body: "hi", Time: at(1), State: Sent},
			false, true,
		},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			db := newDB(t)
			mustAdd(t, db, tc.stored)
			added, confirmed, err := db.AddMessagesConfirmed([]Message{tc.copy})
			if err != nil {
				t.Fatal(err)
			}
			if (len(added) == 1) != tc.added {
				t.Fatalf("added %+v", added)
			}
			if (len(confirmed) == 1) != tc.confirmed {
				t.Fatalf("confirmed %+v", confirmed)
			}
			if tc.confirmed && (confirmed[0].State != Sent || confirmed[0].OriginID != "o1" || confirmed[0].StanzaID != "s1") {
				t.Fatalf("confirmed %+v", confirmed[0])
			}
			// Confirmed once: a second copy moves nothing.
			if _, again, _ := db.AddMessagesConfirmed([]Message{tc.copy}); len(again) != 0 {
				t.Fatalf("confirmed again: %+v", again)
			}
		})
	}
}

func TestMoveState(t *testing.T) {
	db := newDB(t)
	mustAdd(t, db, Message{Peer: "bob@x", Dir: Outgoing, OriginID: "o1", Body: "a", Time: at(1), State: Pending})
	for i, tc := range []struct {
		to           State
		found, moved bool
	}{
		{Sent, true, true},
		{Sent, true, false}, // the second confirmation
		{Pending, true, false},
		{Delivered, true, true},
		{Delivered, true, false},
	} {
		_, found, moved, err := db.MoveState("bob@x", "o1", tc.to, "")
		if err != nil || found != tc.found || moved != tc.moved {
			t.Fatalf("%d: MoveState(%v) = found %v moved %v, %v", i, tc.to, found, moved, err)
		}
	}
	if _, found, moved, _ := db.MoveState("bob@x", "nope", Sent, ""); found || moved {
		t.Fatal("an unknown id moved")
	}
}

// TestMoveStateIf: a message the filter refuses is neither found nor moved.
func TestMoveStateIf(t *testing.T) {
	db := newDB(t)
	const room = "office@conference.example.com"
	mustAdd(t, db, Message{Peer: room, Dir: Outgoing, OriginID: "o1", Type: "groupchat", Body: "a", Time: at(1), State: Sent})
	notGroupChat := func(m Message) bool { return m.Type != "groupchat" }
	if _, found, moved, err := db.MoveStateIf(room, "o1", Failed, "forged", notGroupChat); err != nil || found || moved {
		t.Fatalf("refused: found %v moved %v, %v", found, moved, err)
	}
	if m, found, moved, err := db.MoveStateIf(room, "o1", Failed, "bounced", nil); err != nil || !found || !moved || m.State != Failed {
		t.Fatalf("unfiltered: %+v found %v moved %v, %v", m, found, moved, err)
	}
}

func TestNewestStanzaID(t *testing.T) {
	db := newDB(t)
	const room = "office@conference.example.com"
	if id, ts, err := db.NewestStanzaID(room); err != nil || id != "" || !ts.IsZero() {
		t.Fatalf("empty: %q %v %v", id, ts, err)
	}
	mustAdd(t, db,
		Message{Peer: room, StanzaID: "s1", Type: "groupchat", Body: "a", Time: at(1)},
		Message{Peer: room, StanzaID: "s2", Type: "groupchat", Body: "b", Time: at(2)},
		Message{Peer: room, Dir: Outgoing, OriginID: "o3", Type: "groupchat", Body: "c", Time: at(3), State: Pending},
		Message{Peer: "other@conference.example.com", StanzaID: "s9", Type: "groupchat", Body: "d", Time: at(9)},
	)
	if id, ts, err := db.NewestStanzaID(room); err != nil || id != "s2" || !ts.Equal(at(2)) {
		t.Fatalf("newest: %q %v %v", id, ts, err)
	}
}
