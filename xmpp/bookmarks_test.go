package xmpp

import (
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"magpie/xmpp/prosodytest"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

var _ Event = BookmarksChanged{}

// TestLegacyStorageKeepsOthers checks that writing XEP-0048 storage back
// keeps what other clients keep there (URL bookmarks).
func TestLegacyStorageKeepsOthers(t *testing.T) {
	in := `<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>` +
		`<conference jid='a@conference.example' autojoin='1' name='A'><nick>me</nick></conference>` +
		`<url name='Intranet' url='https://intranet.example/'/></storage></query>`
	var q wirePrivateQuery
	if err := xml.Unmarshal([]byte(in), &q); err != nil {
		t.Fatal(err)
	}
	got := legacyBookmarks(q.Storage)
	want := []Bookmark{{Room: jid.MustParse("a@conference.example"), Name: "A", Autojoin: true, Nick: "me"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("bookmarks = %+v, want %+v", got, want)
	}
	var out strings.Builder
	enc := xml.NewEncoder(&out)
	if err := enc.Encode(xmlPayloadValue(t, q)); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, `url="https://intranet.example/"`) || !strings.Contains(s, `>me</nick>`) {
		t.Fatalf("written back: %s", s)
	}
}

// xmlPayloadValue drains xmlPayload into tokens an encoder can write.
func xmlPayloadValue(t *testing.T, v any) xml.Marshaler {
	t.Helper()
	r := xmlPayload(v)
	var toks []xml.Token
	for {
		tok, err := r.Token()
		if err != nil {
			break
		}
		toks = append(toks, xml.CopyToken(tok))
	}
	return tokens(toks)
}

type tokens []xml.Token

func (ts tokens) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	for _, tok := range ts {
		if err := e.EncodeToken(tok); err != nil {
			return err
		}
	}
	return e.Flush()
}

// TestBookmarks runs bookmarks against Prosody with mod_bookmarks (PEP,
// XEP-0402) and without it (private XML storage, XEP-0048): set on one
// device, seen on another (and notified, in PEP), kept across sign-ins, and
// the autojoin bookmark joined on the next sign-in.
func TestBookmarks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		modules []string
		mode    bookmarkMode
	}{
		{"pep", []string{"bookmarks"}, bookmarksPEP},
		{"private", nil, bookmarksPrivate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := prosodytest.Start(t, prosodytest.Options{Modules: tc.modules, Components: []prosodytest.Component{{
				Domain: "conference.magpie.test", Module: "muc",
			}}})
			service := "conference." + srv.Domain
			office, chat := jid.MustParse("office@"+service), jid.MustParse("chat@"+service)
			const wait = 10 * time.Second

			phone, _ := online(t, srv, "alice", WithResource("phone"))
			desk, deskEv := onlineAs(t, srv, "alice", WithResource("desk"))
			if list, err := desk.Bookmarks(ctxT(t)); err != nil || len(list) != 0 {
				t.Fatalf("bookmarks of a new account: %+v, %v", list, err)
			}
			if _, mode, err := desk.bookmarkStore(ctxT(t)); err != nil || mode != tc.mode {
				t.Fatalf("bookmarks kept in mode %d (%v), want %d", mode, err, tc.mode)
			}

			officeMark := Bookmark{Room: office, Name: "办公室", Autojoin: true, Nick: "Ally", Password: "s3cret"}
			for _, b := range []Bookmark{officeMark, {Room: chat, Name: "Chat"}} {
				if err := phone.SetBookmark(ctxT(t), b); err != nil {
					t.Fatalf("set %s: %v\n%s", b.Room, err, srv.Log())
				}
			}
			if tc.mode == bookmarksPEP {
				got := waitFor(t, deskEv, wait, func(e BookmarksChanged) bool {
					return len(e.Changed) == 1 && e.Changed[0].Room.Equal(office)
				})
				if !reflect.DeepEqual(got.Changed[0], officeMark) {
					t.Fatalf("notified %+v, want %+v", got.Changed[0], officeMark)
				}
			}
			want := []Bookmark{{Room: chat, Name: "Chat"}, officeMark}
			if list, err := desk.Bookmarks(ctxT(t)); err != nil || !reflect.DeepEqual(list, want) {
				t.Fatalf("the other device reads %+v, %v; want %+v", list, err, want)
			}

			if err := desk.RemoveBookmark(ctxT(t), chat); err != nil {
				t.Fatal(err)
			}
			if err := desk.RemoveBookmark(ctxT(t), chat); err != nil {
				t.Fatalf("removing a missing bookmark: %v", err)
			}
			if tc.mode == bookmarksPEP {
				waitFor(t, deskEv, wait, func(e BookmarksChanged) bool { return len(e.Removed) == 1 && e.Removed[0].Equal(chat) })
			}

			// The office room must exist with its password for the
			// autojoin to pass it: phone creates it.
			if err := phone.JoinRoom(ctxT(t), office, "Phone"); err != nil {
				t.Fatal(err)
			}
			configureRoom(t, phone, office, map[string]string{
				"muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "s3cret",
			})

			// A new sign-in sees the bookmark and joins the room as the
			// bookmark's nick.
			desk.Close()
			laptop, laptopEv := onlineAs(t, srv, "alice", WithResource("laptop"), WithAutojoin())
			j := waitFor(t, laptopEv, wait, func(e RoomJoined) bool { return e.Room.Equal(office) })
			if j.Nick != "Ally" {
				t.Fatalf("autojoined as %q", j.Nick)
			}
			if list, err := laptop.Bookmarks(ctxT(t)); err != nil || !reflect.DeepEqual(list, []Bookmark{officeMark}) {
				t.Fatalf("after a new sign-in: %+v, %v", list, err)
			}

			// In PEP, a bookmark added elsewhere with autojoin is joined
			// at once.
			if tc.mode == bookmarksPEP {
				if err := phone.SetBookmark(ctxT(t), Bookmark{Room: chat, Autojoin: true}); err != nil {
					t.Fatal(err)
				}
				j := waitFor(t, laptopEv, wait, func(e RoomJoined) bool { return e.Room.Equal(chat) })
				if j.Nick != "alice" {
					t.Fatalf("joined as %q, want the user name", j.Nick)
				}
			}
		})
	}
}

// configureRoom submits a room configuration form with the given fields.
func configureRoom(t *testing.T, c *Client, room jid.JID, fields map[string]string) {
	t.Helper()
	form := wireDataForm{Type: "submit", Fields: []wireFormField{
		{Var: "FORM_TYPE", Type: "hidden", Value: "http://jabber.org/protocol/muc#roomconfig"},
	}}
	for k, v := range fields {
		form.Fields = append(form.Fields, wireFormField{Var: k, Value: v})
	}
	q := struct {
		XMLName xml.Name     `xml:"http://jabber.org/protocol/muc#owner query"`
		Form    wireDataForm `xml:"jabber:x:data x"`
	}{Form: form}
	sess, err := c.session()
	if err != nil {
		t.Fatal(err)
	}
	if err := stanzaErr(sess.UnmarshalIQElement(ctxT(t), xmlPayload(q), stanza.IQ{Type: stanza.SetIQ, To: room}, nil)); err != nil {
		t.Fatalf("configure %s: %v", room, err)
	}
}

// TestRoomDirectory lists the rooms of Prosody's group chat service, with
// the name a room was given, and finds no service on a server without one.
func TestRoomDirectory(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	alice, _ := online(t, srv, "alice")
	got, err := alice.RoomService(ctxT(t))
	if err != nil || got.String() != service {
		t.Fatalf("RoomService = %v, %v; want %s", got, err, service)
	}
	sales := jid.MustParse("sales@" + service)
	if err := alice.JoinRoom(ctxT(t), sales, "Alice"); err != nil {
		t.Fatal(err)
	}
	configureRoom(t, alice, sales, map[string]string{"muc#roomconfig_roomname": "销售部", "muc#roomconfig_publicroom": "1"})
	rooms, err := alice.ListRooms(ctxT(t), got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rooms, []RoomInfo{{JID: sales, Name: "销售部"}}) {
		t.Fatalf("ListRooms = %+v", rooms)
	}

	plain := startProsody(t)
	bob, _ := online(t, plain, "bob")
	if _, err := bob.RoomService(ctxT(t)); !errors.Is(err, ErrNoRoomService) {
		t.Fatalf("RoomService without a service: %v", err)
	}
}
