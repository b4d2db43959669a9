package xmpp

import (
	"encoding/xml"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// prosodyConfigForm is Prosody 0.12's configuration form of a room just
// created with the password s3cret in the join presence (captured from
// TestInvitations with mod_stanza_debug).
const prosodyConfigForm = `<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='form'>` +
	`<title>Configuration for board@conference.magpie.test</title><instructions>Complete and submit this form to configure the room.</instructions>` +
	`<field type='hidden' var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>` +
	`<field type='fixed'><value>Room information</value></field>` +
	`<field type='text-single' label='Title' var='muc#roomconfig_roomname'/>` +
	`<field type='text-single' label='Description' var='muc#roomconfig_roomdesc'><desc>A brief description of the room</desc><value/></field>` +
	`<field type='text-single' label='Language tag for room (e.g. &apos;en&apos;, &apos;de&apos;, &apos;fr&apos; etc.)' var='muc#roomconfig_lang'><desc>Indicate the primary language spoken in this room</desc><validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:language'/><value>en</value></field>` +
	`<field type='boolean' label='Persistent (room should remain even when it is empty)' var='muc#roomconfig_persistentroom'><desc>Rooms are automatically deleted when they are empty, unless this option is enabled</desc></field>` +
	`<field type='boolean' label='Include room information in public lists' var='muc#roomconfig_publicroom'><desc>Enable this to allow people to find the room</desc><value>0</value></field>` +
	`<field type='fixed'><value>Access to the room</value></field>` +
	`<field type='text-private' label='Password' var='muc#roomconfig_roomsecret'><value>s3cret</value></field>` +
	`<field type='boolean' label='Only allow members to join' var='muc#roomconfig_membersonly'><desc>Enable this to only allow access for room owners, admins and members</desc></field>` +
	`<field type='boolean' label='Allow members to invite new members' var='{http://prosody.im/protocol/muc}roomconfig_allowmemberinvites'/>` +
	`<field type='fixed'><value>Permissions in the room</value></field>` +
	`<field type='boolean' label='Allow anyone to set the room&apos;s subject' var='muc#roomconfig_changesubject'><desc>Choose whether anyone, or only moderators, may set the room&apos;s subject</desc></field>` +
	`<field type='boolean' label='Moderated (require permission to speak)' var='muc#roomconfig_moderatedroom'><desc>In moderated rooms occupants must be given permission to speak by a room moderator</desc></field>` +
	`<field type='list-single' label='Addresses (JIDs) of room occupants may be viewed by:' var='muc#roomconfig_whois'><option label='Moderators only'><value>moderators</value></option><option label='Anyone'><value>anyone</value></option><value>moderators</value></field>` +
	`<field type='fixed'><value>Other options</value></field>` +
	`<field type='text-single' label='Maximum number of history messages returned by room' var='muc#roomconfig_historylength'><desc>Specify the maximum number of previous messages that should be sent to users when they join the room</desc><validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:integer'/><value>20</value></field>` +
	`<field type='text-single' label='Default number of history messages returned by room' var='muc#roomconfig_defaulthistorymessages'><desc>Specify the number of previous messages sent to new users when they join the room</desc><validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:integer'/><value>20</value></field>` +
	`<field type='list-multi' label='Only show participants with roles:' var='muc#roomconfig_presencebroadcast'><option label='none'><value>none</value></option><option label='visitor'><value>visitor</value></option><option label='participant'><value>participant</value></option><option label='moderator'><value>moderator</value></option><value>participant</value><value>visitor</value><value>moderator</value></field>` +
	`</x></query>`

func TestRoomConfigForm(t *testing.T) {
	var q ownerQuery
	if err := xml.Unmarshal([]byte(prosodyConfigForm), &q); err != nil {
		t.Fatal(err)
	}
	got := roomConfigFromForm(q.Form)
	want := RoomConfig{Password: "s3cret", HistoryLength: 20, Fields: map[string][]string{
		"muc#roomconfig_lang":                   {"en"},
		"muc#roomconfig_defaulthistorymessages": {"20"},
		"muc#roomconfig_presencebroadcast":      {"participant", "visitor", "moderator"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %+v\nwant %+v", got, want)
	}

	cfg := RoomConfig{Name: "Board", Description: "The board", MembersOnly: true, Password: "s3cret", NonAnonymous: true,
		AllowSubjectChange: true, AllowInvites: true, Fields: map[string][]string{"muc#roomconfig_lang": {"zh"}, "unknown": {"x"}}}
	sub, err := cfg.submission(q.Form)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string][]string{}
	for _, f := range sub.Fields {
		values[f.Var] = f.Values
	}
	for i, tc := range []struct {
		field string
		want  []string
	}{
		{"FORM_TYPE", []string{nsRoomConfig}},
		{fieldRoomName, []string{"Board"}},
		{fieldRoomDesc, []string{"The board"}},
		{fieldPersistent, []string{"0"}},
		{fieldPublic, []string{"0"}},
		{fieldSecret, []string{"s3cret"}},
		{fieldMembersOnly, []string{"1"}},
		{fieldProsodyInvites, []string{"1"}},
		{fieldWhois, []string{"anyone"}},
		{fieldChangeSubject, []string{"1"}},
		{fieldHistoryLength, []string{"20"}}, // 0: the current value goes back
		{"muc#roomconfig_lang", []string{"zh"}},
		{"muc#roomconfig_presencebroadcast", []string{"participant", "visitor", "moderator"}},
		{"unknown", nil},            // not in the form
		{fieldEnableArchiving, nil}, // not in the form (muc_log_all_rooms)
		{fieldPasswordOn, nil},      // Prosody has no switch
		{"muc#roomconfig_allowinvites", nil},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			got, ok := values[tc.field]
			if tc.want == nil && ok {
				t.Fatalf("%s submitted as %q", tc.field, got)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s = %q, want %q", tc.field, got, tc.want)
			}
		})
	}
	if sub.Type != "submit" || sub.Fields[0].Var != "FORM_TYPE" || sub.Fields[0].Type != "hidden" {
		t.Fatalf("submission %+v", sub)
	}

	// A form without members-only or password: refused, not an open room.
	var bare dataForm
	bare.Fields = []formField{{Var: fieldRoomName}}
	if _, err := (RoomConfig{MembersOnly: true}).submission(&bare); !errors.Is(err, ErrRoomConfigUnsupported) {
		t.Fatalf("members-only without the field: %v", err)
	}
	if _, err := (RoomConfig{Password: "x"}).submission(&bare); !errors.Is(err, ErrRoomConfigUnsupported) {
		t.Fatalf("a password without the field: %v", err)
	}
	sub, err = (RoomConfig{Name: "x"}).submission(&bare)
	if err != nil || len(sub.Fields) != 2 || sub.Fields[0].Var != "FORM_TYPE" {
		t.Fatalf("a plain room on a small form: %+v, %v", sub, err)
	}
}

func TestRoomRequestErrorIs(t *testing.T) {
	for i, tc := range []struct {
		cond      string
		allowed   bool
		notFound  bool
		notBanned bool
	}{
		{"forbidden", false, false, true},
		{"not-allowed", false, false, true},
		{"item-not-found", true, true, true},
		{"not-acceptable", true, false, true},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			var err error = &RoomRequestError{Condition: tc.cond, Request: "subject"}
			if errors.Is(err, ErrNotAllowed) == tc.allowed {
				t.Errorf("%s: ErrNotAllowed = %v", tc.cond, !tc.allowed)
			}
			if errors.Is(err, ErrRoomNotFound) != tc.notFound {
				t.Errorf("%s: ErrRoomNotFound = %v", tc.cond, !tc.notFound)
			}
			if errors.Is(err, ErrRoomBanned) == tc.notBanned {
				t.Errorf("%s matches ErrRoomBanned", tc.cond)
			}
			var se *StanzaError
			if !errors.As(err, &se) || se.Condition != tc.cond {
				t.Errorf("%s: StanzaError %+v", tc.cond, se)
			}
		})
	}
}

// TestRoomCreate creates rooms on a real Prosody: a configured one (the
// settings read back, a non-member refused, the password needed), an
// instant one (open to others at once), and rooms that exist already
// (ErrRoomExists, not joined).
func TestRoomCreate(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	board := jid.MustParse("board@" + service)
	instant := jid.MustParse("instant@" + service)
	alice, aliceEv := online(t, srv, "alice")
	bob, _ := online(t, srv, "bob")
	dave, _ := online(t, srv, "dave")
	const wait = 10 * time.Second

	cfg := RoomConfig{Name: "Board", Description: "Budget and plans", Persistent: true, MembersOnly: true,
		Password: "s3cret", NonAnonymous: true, Moderated: true, HistoryLength: 30}
	if err := alice.CreateRoom(ctxT(t), board, "Alice", &cfg); err != nil {
		t.Fatalf("create: %v\n%s", err, srv.Log())
	}
	j := waitFor(t, aliceEv, wait, func(e RoomJoined) bool { return e.Room.Equal(board) })
	if j.Nick != "Alice" || len(j.Occupants) != 0 {
		t.Fatalf("alice's RoomJoined %+v", j)
	}
	got, err := alice.RoomConfigForm(ctxT(t), board)
	if err != nil {
		t.Fatal(err)
	}
	got.Fields = nil
	if !reflect.DeepEqual(got, cfg) {
		t.Fatalf("configuration read back:\n%+v\nwant\n%+v", got, cfg)
	}
	if occ := alice.Occupants(board); len(occ) != 1 || occ[0].Affiliation != "owner" {
		t.Fatalf("alice's occupants %+v", occ)
	}

	// The settings hold: a non-member is refused; a member needs the
	// password.
	if err := bob.JoinRoom(ctxT(t), board, "Bob", WithRoomPassword("s3cret")); !errors.Is(err, ErrMembersOnly) {
		t.Fatalf("a non-member joins: %v, want ErrMembersOnly", err)
	}
	// A new password: the room has it, and the client keeps it for
	// rejoins.
	cfg.Password = "n3w"
	if err := alice.ConfigureRoom(ctxT(t), board, cfg); err != nil {
		t.Fatal(err)
	}
	if got, err := alice.RoomConfigForm(ctxT(t), board); err != nil || got.Password != "n3w" {
		t.Fatalf("password after the change: %q, %v", got.Password, err)
	}
	if pw := alice.roomPassword(board); pw != "n3w" {
		t.Fatalf("the client remembers the password %q", pw)
	}
	// Joined again, the client knows the room's name from its disco#info.
	if err := alice.LeaveRoom(ctxT(t), board); err != nil {
		t.Fatal(err)
	}
	if err := alice.JoinRoom(ctxT(t), board, "Alice", WithRoomPassword("n3w")); err != nil {
		t.Fatalf("alice joins her room again: %v", err)
	}
	if name := alice.RoomName(board); name != "Board" {
		t.Fatalf("RoomName = %q, want Board", name)
	}

	// Creating a room that exists: the typed error, and no join.
	for i, tc := range []struct {
		c    *Client
		room jid.JID
	}{
		{alice, board}, // in it
		{dave, board},  // not in it
	} {
		if err := tc.c.CreateRoom(ctxT(t), tc.room, "X", nil); !errors.Is(err, ErrRoomExists) {
			t.Fatalf("%d: create an existing room: %v, want ErrRoomExists", i, err)
		}
	}
	if len(dave.Rooms()) != 0 {
		t.Fatalf("dave is in %+v", dave.Rooms())
	}

	// An instant room: open at once.
	if err := alice.CreateRoom(ctxT(t), instant, "Alice", nil); err != nil {
		t.Fatalf("create an instant room: %v", err)
	}
	if err := bob.JoinRoom(ctxT(t), instant, "Bob"); err != nil {
		t.Fatalf("bob joins the instant room: %v\n%s", err, srv.Log())
	}
	if name := bob.RoomName(instant); name != "" {
		t.Fatalf("an unnamed room's RoomName = %q, want none", name)
	}
	if info, err := dave.RoomDetails(ctxT(t), instant); err != nil || info.Occupants != 2 || info.MembersOnly || info.SubjectOpen {
		t.Fatalf("RoomDetails of the instant room: %+v, %v; want 2 occupants, open", info, err)
	}
	if info, err := dave.RoomDetails(ctxT(t), board); err != nil || !info.MembersOnly || info.Name != "Board" {
		t.Fatalf("RoomDetails of the board, not joined: %+v, %v", info, err)
	}
	if err := dave.CreateRoom(ctxT(t), instant, "Dave", &RoomConfig{Name: "mine"}); !errors.Is(err, ErrRoomExists) {
		t.Fatalf("dave creates the instant room: %v, want ErrRoomExists", err)
	}
	// Only the owner sees or changes the configuration.
	if _, err := bob.RoomConfigForm(ctxT(t), instant); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("bob reads the configuration: %v, want ErrNotAllowed", err)
	}
	if err := bob.ConfigureRoom(ctxT(t), instant, RoomConfig{}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("bob configures: %v, want ErrNotAllowed", err)
	}

	// The owner destroys a room: everyone in it is told.
	if err := alice.DestroyRoom(ctxT(t), instant, "done"); err != nil {
		t.Fatal(err)
	}
	left := waitFor(t, aliceEv, wait, func(e RoomLeft) bool { return e.Room.Equal(instant) })
	if left.Reason != LeftDestroyed || left.Text != "done" {
		t.Fatalf("alice's RoomLeft %+v", left)
	}
}

// TestSubject: the owner's subject reaches everyone; a participant gets
// ErrNotAllowed until the room lets participants change it.
func TestSubject(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	room := jid.MustParse("news@" + service)
	alice, aliceEv := online(t, srv, "alice")
	bob, bobEv := online(t, srv, "bob")
	carol, carolEv := online(t, srv, "carol")
	const wait = 10 * time.Second

	if err := alice.CreateRoom(ctxT(t), room, "Alice", nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Client{bob, carol} {
		if err := c.JoinRoom(ctxT(t), room, c.Account().Localpart()); err != nil {
			t.Fatal(err)
		}
	}
	if err := carol.SetSubject(ctxT(t), jid.MustParse("elsewhere@"+service), "x"); !errors.Is(err, ErrNotInRoom) {
		t.Fatalf("subject of a room carol is not in: %v", err)
	}

	mark := []int{aliceEv.mark(), bobEv.mark(), carolEv.mark()}
	if err := alice.SetSubject(ctxT(t), room, "Q3 planning"); err != nil {
		t.Fatalf("the owner sets the subject: %v", err)
	}
	for i, r := range []*recorder{aliceEv, bobEv, carolEv} {
		s := waitFrom(t, r, mark[i], wait, func(e RoomSubject) bool { return e.Room.Equal(room) && e.Subject == "Q3 planning" })
		if s.Nick != "Alice" {
			t.Fatalf("%d: subject %+v", i, s)
		}
	}
	if rs := bob.Rooms(); len(rs) != 1 || rs[0].Subject != "Q3 planning" {
		t.Fatalf("bob's rooms %+v", rs)
	}
	if err := alice.SetSubject(ctxT(t), room, "Q3 planning"); err != nil {
		t.Fatalf("the same subject again: %v", err)
	}

	// Participants may not (Prosody's default).
	err := bob.SetSubject(ctxT(t), room, "bob's topic")
	var rre *RoomRequestError
	if !errors.Is(err, ErrNotAllowed) || !errors.As(err, &rre) || rre.Condition != "forbidden" || rre.Request != "subject" {
		t.Fatalf("a participant sets the subject: %v, want ErrNotAllowed", err)
	}
	if rs := bob.Rooms(); rs[0].Subject != "Q3 planning" {
		t.Fatalf("bob's subject after the refusal: %q", rs[0].Subject)
	}

	// Until the owner lets them.
	cfg, err := alice.RoomConfigForm(ctxT(t), room)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AllowSubjectChange {
		t.Fatalf("a new room lets participants change the subject: %+v", cfg)
	}
	cfg.AllowSubjectChange = true
	if err := alice.ConfigureRoom(ctxT(t), room, cfg); err != nil {
		t.Fatal(err)
	}
	mark = []int{aliceEv.mark(), bobEv.mark(), carolEv.mark()}
	if err := bob.SetSubject(ctxT(t), room, "bob's topic"); err != nil {
		t.Fatalf("a participant sets the subject where allowed: %v", err)
	}
	for i, r := range []*recorder{aliceEv, bobEv, carolEv} {
		s := waitFrom(t, r, mark[i], wait, func(e RoomSubject) bool { return e.Subject == "bob's topic" })
		if s.Nick != "bob" {
			t.Fatalf("%d: subject %+v", i, s)
		}
	}
	// Cleared.
	if err := carol.SetSubject(ctxT(t), room, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, wait, func(e RoomSubject) bool { return e.Subject == "" && e.Nick == "carol" })
}
