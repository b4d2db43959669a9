package xmpp

import (
	"context"
	"encoding/xml"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmlstream"
	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
)

// answers records what the client answered to the IQs a fake server sent:
// by IQ id, "result" or the error condition.
type answers struct {
	mu   sync.Mutex
	byID map[string]string
	wake chan struct{}
}

func newAnswers() *answers {
	return &answers{byID: map[string]string{}, wake: make(chan struct{}, 1)}
}

func (a *answers) set(id, answer string) {
	a.mu.Lock()
	a.byID[id] = answer
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *answers) get(id string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.byID[id]
	return v, ok
}

func (a *answers) forget(id string) {
	a.mu.Lock()
	delete(a.byID, id)
	a.mu.Unlock()
}

// handlers are the server's handlers that record the client's answers.
func (a *answers) handlers() []mux.Option {
	return []mux.Option{
		mux.IQFunc(stanza.ErrorIQ, xml.Name{Local: "error"}, func(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			var e stanza.Error
			if err := decodeStanza(t, start, &e); err != nil {
				a.set(iq.ID, "undecodable error")
				return nil
			}
			a.set(iq.ID, string(e.Condition))
			return nil
		}),
		mux.IQFunc(stanza.ResultIQ, xml.Name{}, func(iq stanza.IQ, _ xmlstream.TokenReadEncoder, _ *xml.StartElement) error {
			a.set(iq.ID, "result")
			return nil
		}),
	}
}

// wait returns the answer to id, or "" when none came within d.
func (a *answers) wait(id string, d time.Duration) string {
	deadline := time.After(d)
	for {
		if v, ok := a.get(id); ok {
			return v
		}
		select {
		case <-a.wake:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			return ""
		}
	}
}

// writeRawTo writes XML as it is on a server session's connection, holding
// the session's writer so that nothing mellium writes meanwhile interleaves.
func writeRawTo(sess *mxmpp.Session, raw string) error {
	w := sess.TokenWriter()
	defer w.Close()
	_, err := sess.Conn().Write([]byte(raw))
	return err
}

// malformedIQs are IQs and other stanzas an attacker can address to a
// client, with the answer the client must give: "" for none (a result or
// an error), else the condition or "result". %s is the sender, %t the
// client's full JID.
var malformedIQs = []struct {
	name, xml, answer string
}{
	{"get, text before the payload", `<iq type='get' id='text-get' from='%s' to='%t'>hello<ping xmlns='urn:xmpp:ping'/></iq>`, "bad-request"},
	{"set, only text", `<iq type='set' id='text-set' from='%s' to='%t'>just text</iq>`, "bad-request"},
	{"get, no payload", `<iq type='get' id='empty-get' from='%s' to='%t'/>`, "bad-request"},
	{"get, two payloads", `<iq type='get' id='two' from='%s' to='%t'><ping xmlns='urn:xmpp:ping'/><query xmlns='jabber:iq:version'/></iq>`, "bad-request"},
	{"get, payload then text", `<iq type='get' id='ping-text' from='%s' to='%t'><ping xmlns='urn:xmpp:ping'/>trailing</iq>`, "bad-request"},
	{"get, unknown payload", `<iq type='get' id='unknown' from='%s' to='%t'><x xmlns='urn:x-nobody'/></iq>`, "service-unavailable"},
	{"get, stream-namespace payload", `<iq type='get' id='stream-ns' from='%s' to='%t'><stream xmlns='http://etherx.jabber.org/streams'/></iq>`, "service-unavailable"},
	{"get, stream error inside the payload", `<iq type='get' id='nested' from='%s' to='%t'><ping xmlns='urn:xmpp:ping'><error xmlns='http://etherx.jabber.org/streams'/></ping></iq>`, "result"},
	{"set, roster push from a stranger", `<iq type='set' id='push' from='%s' to='%t'><query xmlns='jabber:iq:roster'><item jid='mallory@fake.test'/></query></iq>`, "service-unavailable"},
	{"get, disco of a foreign node", `<iq type='get' id='node' from='%s' to='%t'><query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>`, "item-not-found"},
	{"empty error", `<iq type='error' id='empty-error' from='%s' to='%t'/>`, ""},
	{"empty result", `<iq type='result' id='empty-result' from='%s' to='%t'/>`, ""},
	{"result, text", `<iq type='result' id='text-result' from='%s' to='%t'>text</iq>`, ""},
	{"error, text before the error", `<iq type='error' id='text-error' from='%s' to='%t'>x<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`, ""},
	{"unknown type", `<iq type='bogus' id='bogus' from='%s' to='%t'><ping xmlns='urn:xmpp:ping'/></iq>`, ""},
	{"message, stream-namespace child", `<message type='chat' id='m-stream' from='%s' to='%t'><stream xmlns='http://etherx.jabber.org/streams'/></message>`, ""},
	{"message, stream error deep inside", `<message type='chat' id='m-deep' from='%s' to='%t'><x xmlns='urn:x-nobody'><error xmlns='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></error></x></message>`, ""},
	{"presence, stream features child", `<presence id='p-stream' from='%s' to='%t'><features xmlns='http://etherx.jabber.org/streams'/></presence>`, ""},
}

func expandRaw(raw, from, to string) string {
	return strings.NewReplacer("%s", from, "%t", to).Replace(raw)
}

// TestMalformedStanzasKeepSession plays a server relaying malformed IQs
// and stanzas with stream-namespace elements from someone: each get or set
// is answered (bad-request where it is malformed), nothing else is, and
// the session stays up: a normal message afterwards arrives on the same
// connection. With mellium's mux the IQs with text, and any stanza with a
// stream-namespace element, ended the session.
func TestMalformedStanzasKeepSession(t *testing.T) {
	t.Parallel()
	cases := append(malformedIQs, struct{ name, xml, answer string }{
		// Only a broken server sends an address that does not parse.
		"get, unparsable sender", `<iq type='get' id='bad-from' from='@@' to='%t'><ping xmlns='urn:xmpp:ping'/></iq>`, "bad-request",
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sessions := make(chan *mxmpp.Session, 4)
			got := newAnswers()
			srv := startFake(t, fakeOptions{password: "secret", onSession: func(s *mxmpp.Session) { sessions <- s }, handlers: got.handlers()})
			c, err := New("alice@fake.test", WithServer(srv.addr), WithTrustedFingerprints(srv.fingerprint),
				WithPassword(func(context.Context) (string, error) { return "secret", nil }))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ev := record(c)
			if err := c.Connect(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			sess := <-sessions
			waitFor(t, ev, 5*time.Second, func(e StateChanged) bool { return e.State == Online })
			mark := ev.mark()
			to := c.LocalAddr().String()
			// Twice: the second copy finds out whether the first left the
			// stream in a state that breaks on the next stanza.
			for range 2 {
				if err := writeRawTo(sess, expandRaw(tc.xml, "mallory@fake.test/desk", to)); err != nil {
					t.Fatal(err)
				}
				id := tc.xml[strings.Index(tc.xml, "id='")+4:]
				id = id[:strings.IndexByte(id, '\'')]
				wait := 5 * time.Second
				if tc.answer == "" {
					wait = 100 * time.Millisecond
				}
				if answer := got.wait(id, wait); answer != tc.answer {
					t.Errorf("answered %q, want %q", answer, tc.answer)
				}
				got.forget(id)
			}
			msg := `<message type='chat' id='after' from='bob@fake.test/desk' to='` + to + `'><body>still there?</body></message>`
			if err := writeRawTo(sess, msg); err != nil {
				t.Fatalf("the server cannot write any more: %v", err)
			}
			waitFrom(t, ev, mark, 5*time.Second, func(e MessageReceived) bool { return e.Body == "still there?" })
			ev.mu.Lock()
			for _, e := range ev.events[mark:] {
				if s, ok := e.(StateChanged); ok {
					t.Errorf("the connection changed state: %+v", s)
				}
			}
			ev.mu.Unlock()
			if n := srv.connections(); n != 1 {
				t.Fatalf("%d connections to the server, want 1 (the session was never lost)", n)
			}
		})
	}
}

// sendIQRaw sends a get or set IQ given as XML text and returns the type of
// the answer and its error condition.
func (c *Client) sendIQRaw(ctx context.Context, raw string) (typ, condition string, err error) {
	sess, err := c.session()
	if err != nil {
		return "", "", err
	}
	resp, err := sess.SendIQ(ctx, dropXMLNSAttr{xml.NewDecoder(strings.NewReader(raw))})
	if err != nil {
		return "", "", err
	}
	defer resp.Close()
	var answer struct {
		Type  string        `xml:"type,attr"`
		Error *stanza.Error `xml:"error"`
	}
	if err := xml.NewTokenDecoder(resp).Decode(&answer); err != nil {
		return "", "", err
	}
	if answer.Error != nil {
		condition = string(answer.Error.Condition)
	}
	return answer.Type, condition, nil
}

// TestMalformedIQsFromPeers has ordinary accounts send the malformed IQs
// and stanzas to a signed-in user through a real Prosody: a contact and a
// stranger to the full JID, and an occupant of a room to the user's
// occupant JID (room@service/nick). Each request is answered (by the user,
// or by Prosody where it stops the IQ itself), and the user's session stays
// the same one throughout: afterwards a message from the contact arrives on
// it, with no reconnect in between. Before, one such IQ a second kept the
// user offline.
func TestMalformedIQsFromPeers(t *testing.T) {
	t.Parallel()
	srv, service := startMUCProsody(t)
	alice, aliceEv := online(t, srv, "alice")
	bob, bobEv := online(t, srv, "bob")
	follow(t, alice, bob, bobEv)
	carol, _ := online(t, srv, "carol")
	dave, daveEv := online(t, srv, "dave")
	room := service
	roomJID := "office@" + room
	if err := alice.JoinRoom(ctxT(t), jid.MustParse(roomJID), "Alice"); err != nil {
		t.Fatal(err)
	}
	if err := dave.JoinRoom(ctxT(t), jid.MustParse(roomJID), "Dave"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, daveEv, 10*time.Second, func(e RoomJoined) bool { return e.Room.String() == roomJID })
	waitFor(t, aliceEv, 10*time.Second, func(e OccupantChanged) bool { return e.Occupant.Nick == "Dave" && !e.Left })

	link := alice.currentLink()
	mark := aliceEv.mark()
	senders := []struct {
		name   string
		from   *Client
		target string
	}{
		{"contact", bob, alice.LocalAddr().String()},
		{"stranger", carol, alice.LocalAddr().String()},
		{"occupant", dave, roomJID + "/Alice"},
	}
	for _, s := range senders {
		for _, tc := range malformedIQs {
			raw := strings.NewReplacer(" from='%s'", "", "%t", s.target).Replace(tc.xml)
			ctx := ctxT(t)
			if !strings.HasPrefix(raw, "<iq type='get'") && !strings.HasPrefix(raw, "<iq type='set'") {
				if err := s.from.sendRaw(ctx, raw); err != nil {
					t.Fatalf("%s, %s: %v", s.name, tc.name, err)
				}
				continue
			}
			typ, condition, err := s.from.sendIQRaw(ctx, raw)
			if err != nil {
				t.Fatalf("%s, %s: no answer: %v", s.name, tc.name, err)
			}
			answer := condition
			if typ == "result" {
				answer = "result"
			}
			if answer != tc.answer {
				t.Errorf("%s, %s: answered %s %q, want %q", s.name, tc.name, typ, answer, tc.answer)
			}
		}
	}
	if _, err := bob.SendMessage(ctxT(t), alice.Account(), "still there?"); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, aliceEv, mark, 10*time.Second, func(e MessageReceived) bool { return e.Body == "still there?" })
	if alice.currentLink() != link {
		t.Fatal("alice's session was replaced: the attack knocked her offline")
	}
	aliceEv.mu.Lock()
	defer aliceEv.mu.Unlock()
	for _, e := range aliceEv.events[mark:] {
		if s, ok := e.(StateChanged); ok {
			t.Errorf("alice's connection changed state: %+v", s)
		}
	}
}
