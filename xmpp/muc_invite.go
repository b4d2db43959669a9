package xmpp

import (
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Invitations to rooms come two ways:
//
//   - direct (XEP-0249): a message from the inviter to the invitee with
//     <x xmlns='jabber:x:conference' jid='ROOM' password='...'
//     reason='...'/>. Clients send these by default (Gajim, Conversations,
//     Dino): they reach the invitee whether or not the room lets the
//     inviter send mediated ones.
//   - mediated (XEP-0045 §7.8.2): the inviter sends <invite to='INVITEE'/>
//     in a muc#user element to the room, which forwards it from the room's
//     JID with <invite from='INVITER'/> and the room's password. In a
//     members-only room the service adds the invitee to the member list
//     when the inviter may do so (Prosody: an admin or owner, or any member
//     where members may invite), so only a mediated invitation lets a
//     colleague in there. Prosody and Openfire add a jabber:x:conference
//     element to it too, and Prosody a body for clients that know neither.
//
// Invite sends a direct invitation and, to a members-only room, a mediated
// one as well; InviteMediated sends only the mediated one. Received
// invitations become InvitationReceived, never a chat message or a notice,
// whatever body they carry; the same invitation arriving both ways is
// reported once. Declines (only XEP-0045 has them) go through the room.

// invitationDedupWindow is how long a reported invitation swallows its twin
// arriving the other way, and any other to the same room.
const invitationDedupWindow = 10 * time.Minute

// InvitationReceived reports an invitation to a room the client is not in.
// Join with JoinRoom (and WithRoomPassword(Password)); decline with
// DeclineInvitation, or ignore it.
type InvitationReceived struct {
	Room jid.JID // bare
	// From is the inviter's bare JID. For a mediated invitation it is what
	// the room says: in an anonymous room possibly the inviter's occupant
	// JID (room/nick); zero when the room invites on its own (Openfire's
	// admin console).
	From     jid.JID
	Reason   string
	Password string // the room's password, when the invitation carries it
	// Direct is set for a direct invitation (XEP-0249), unset for one
	// mediated by the room (XEP-0045).
	Direct bool
	// Time is when it was sent (the delay stamp of one kept while the
	// client was offline, Delayed set), else when it arrived.
	Time    time.Time
	Delayed bool
}

// InvitationDeclined reports that someone declined an invitation to Room
// (XEP-0045 §7.8.2; the room forwards the decline to the inviter).
type InvitationDeclined struct {
	Room   jid.JID // bare
	From   jid.JID // who declined (bare), zero when the room does not say
	Reason string
}

func (InvitationReceived) isEvent() {}
func (InvitationDeclined) isEvent() {}

// wireMUCUserMessage is the muc#user element of a message: what room
// presence has too (items, status codes), and a mediated invitation or
// decline (XEP-0045 §7.8.2).
type wireMUCUserMessage struct {
	wireMUCUser
	Invites  []wireMUCInvite `xml:"invite"`
	Decline  *wireMUCInvite  `xml:"decline"`
	Password string          `xml:"password"`
}

type wireMUCInvite struct {
	From   string `xml:"from,attr,omitempty"`
	To     string `xml:"to,attr,omitempty"`
	Reason string `xml:"reason,omitempty"`
}

// wireDirectInvite is a direct invitation (XEP-0249). Before XEP-0249 the
// element carried the reason as its text (Prosody still adds it that way
// to mediated invitations).
type wireDirectInvite struct {
	JID      string `xml:"jid,attr"`
	Password string `xml:"password,attr"`
	Reason   string `xml:"reason,attr"`
	Text     string `xml:",chardata"`
}

// parseInvitation reads an invitation or a decline out of a message from
// from, as the message claims it: a mediated one (from a room) before a
// direct one. Both are nil for any other message (groupchat and error
// messages included: neither can be an invitation).
func parseInvitation(w wireMessage, from jid.JID) (*InvitationReceived, *InvitationDeclined) {
	if inv, decline := parseMediated(w, from); inv != nil || decline != nil {
		return inv, decline
	}
	return parseDirect(w, from), nil
}

// invitationType reports whether a message of w's type can be an
// invitation.
func invitationType(w wireMessage) bool {
	t := messageType(w.Type)
	return t == stanza.NormalMessage || t == stanza.ChatMessage
}

// parseMediated reads a mediated invitation or a decline (XEP-0045 §7.8.2)
// out of a message from from, which is taken for the room: only a room
// sends them, which the caller checks (see onInvitation).
func parseMediated(w wireMessage, from jid.JID) (*InvitationReceived, *InvitationDeclined) {
	x := w.MUCUser
	if !invitationType(w) || x == nil || (len(x.Invites) == 0 && x.Decline == nil) {
		return nil, nil
	}
	room := from.Bare()
	if room.Localpart() == "" {
		return nil, nil // a room has a local part: this is not one
	}
	if x.Decline != nil {
		d := &InvitationDeclined{Room: room, Reason: strings.TrimSpace(x.Decline.Reason)}
		if j, err := jid.Parse(x.Decline.From); err == nil && x.Decline.From != "" {
			d.From = j.Bare()
		}
		return nil, d
	}
	inv := &InvitationReceived{Room: room, Password: x.Password}
	for _, it := range x.Invites { // Openfire may split from and reason
		inv.Reason = cmp.Or(inv.Reason, strings.TrimSpace(it.Reason))
		if j, err := jid.Parse(it.From); err == nil && it.From != "" && inv.From.Equal(jid.JID{}) {
			inv.From = j.Bare()
			if inv.From.Equal(room) {
				inv.From = j // an occupant JID: the bare one would be the room
			}
		}
	}
	return inv, nil
}

// parseDirect reads a direct invitation (XEP-0249) out of a message from
// from: the inviter is from, whatever else the message claims.
func parseDirect(w wireMessage, from jid.JID) *InvitationReceived {
	x := w.Conference
	if !invitationType(w) || x == nil {
		return nil
	}
	room, err := jid.Parse(x.JID)
	if err != nil || x.JID == "" || room.Localpart() == "" {
		return nil
	}
	reason := strings.TrimSpace(x.Reason)
	if reason == "" {
		reason = strings.TrimSpace(x.Text)
	}
	return &InvitationReceived{Room: room.Bare(), From: from.Bare(), Reason: reason, Password: x.Password, Direct: true}
}

// invitationKey identifies an invitation for de-duplication: by the room
// alone. The two copies of one invitation do not always name the inviter
// alike (Prosody's mediated one gives the inviter's occupant JID in a room
// that hides real JIDs, the direct one the account), and a second
// colleague's invitation to the same room within the window asks nothing
// new of the user.
func invitationKey(inv *InvitationReceived) string {
	return inv.Room.String()
}

// firstInvitation reports whether inv is to be reported: its room had
// none reported within the window, and its inviter fewer than
// invitationsPerInviter. A room refused for the inviter's flood stays
// unreported for the window, whoever invites to it next.
func (o *roomOps) firstInvitation(inv *InvitationReceived) bool {
	now := time.Now()
	if o.invitations.note(invitationKey(inv), now) > 1 {
		return false
	}
	return o.inviters.note(inv.From.Bare().String(), now) <= invitationsPerInviter
}

// onInvitation takes invitations and declines (live, carbon copies and
// archived copies alike) out of the message flow, so that none is stored
// as a chat or a notice, and reports the live ones. It reports whether m
// was one. It runs in Serve.
//
// A mediated invitation or a decline counts only from a room (roomKind;
// when the client does not know the sender, it asks, off Serve, and acts
// on the answer). From anyone else the message is what it is besides: a
// direct invitation from its sender, if it carries one, else an ordinary
// message (returned false here, or handed on after the answer).
func (c *Client) onInvitation(w wireMessage, m Message) bool {
	inv, decline := parseInvitation(w, m.From)
	if inv == nil && decline == nil {
		return false
	}
	if m.Outgoing || m.Archived {
		// A copy of one this account sent, or an old one from the
		// archive: neither a chat nor a prompt.
		return true
	}
	if inv != nil && inv.Direct {
		c.reportInvitation(inv, m)
		return true
	}
	sender := m.From.Bare()
	room, known := c.roomKind(sender)
	switch {
	case known && room:
		c.reportMediated(inv, decline, m)
		return true
	case known:
		return c.notFromRoom(w, m)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		room := c.verifyRoom(ctx, sender)
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		switch {
		case closed: // signed out meanwhile: nothing more to show
		case room:
			c.reportMediated(inv, decline, m)
		case !c.notFromRoom(w, m):
			c.onPlainMessage(w, m)
		}
	}()
	return true
}

// notFromRoom handles a message shaped as a mediated invitation or decline
// whose sender is no room: a direct invitation in it is reported, from
// the sender (and true returned); otherwise it is an ordinary message.
func (c *Client) notFromRoom(w wireMessage, m Message) bool {
	c.log.Debug("a mediated invitation or decline not from a room", "from", m.From)
	if inv := parseDirect(w, m.From); inv != nil {
		c.reportInvitation(inv, m)
		return true
	}
	return false
}

// reportMediated reports what a room sent: a decline, or an invitation.
func (c *Client) reportMediated(inv *InvitationReceived, decline *InvitationDeclined, m Message) {
	if decline != nil {
		c.events.push(*decline)
		return
	}
	c.reportInvitation(inv, m)
}

// reportInvitation reports an invitation to a room the client is not in,
// once (see firstInvitation).
func (c *Client) reportInvitation(inv *InvitationReceived, m Message) {
	if c.isRoom(inv.Room) {
		return // in the room already (or joining it)
	}
	inv.Time, inv.Delayed = m.Time, m.Delayed
	if c.roomOps.firstInvitation(inv) {
		c.events.push(*inv)
	}
}

// roomPassword returns the password the client joined room with, if any.
func (c *Client) roomPassword(room jid.JID) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.rooms[room.String()]; ok {
		return r.password
	}
	return ""
}

// wireDirectInviteOut is a direct invitation as sent (XEP-0249).
type wireDirectInviteOut struct {
	XMLName  xml.Name `xml:"jabber:x:conference x"`
	JID      string   `xml:"jid,attr"`
	Password string   `xml:"password,attr,omitempty"`
	Reason   string   `xml:"reason,attr,omitempty"`
}

// wireMUCUserOut is a mediated invitation or decline as sent to the room.
type wireMUCUserOut struct {
	XMLName xml.Name       `xml:"http://jabber.org/protocol/muc#user x"`
	Invite  *wireMUCInvite `xml:"invite,omitempty"`
	Decline *wireMUCInvite `xml:"decline,omitempty"`
}

// Invite invites a colleague to a room. It sends a direct invitation
// (XEP-0249, with the room's password when the client joined with one),
// which every current client understands; to a members-only room it also
// sends a mediated one through the room (XEP-0045 §7.8.2), for only that
// one makes the room add the invitee to its member list (where the client
// may: else the room refuses it, reported later as ErrorOccurred with a
// *RoomRequestError). A Magpie invitee sees one InvitationReceived either
// way. There is no acknowledgement: a bounce arrives as ErrorOccurred.
func (c *Client) Invite(ctx context.Context, room, invitee jid.JID, reason string) error {
	room = room.Bare()
	sess, err := c.session()
	if err != nil {
		return fmt.Errorf("xmpp: invite %s to %s: %w", invitee, room, err)
	}
	info, err := discoRoom(ctx, sess, room)
	var se *StanzaError
	if err != nil && !errors.As(err, &se) {
		return fmt.Errorf("xmpp: invite %s to %s: %w", invitee, room, err)
	}
	id := randomHex(12)
	x := wireDirectInviteOut{JID: room.String(), Password: c.roomPassword(room), Reason: reason}
	msg := stanza.Message{To: invitee, ID: id, Type: stanza.NormalMessage}.Wrap(xmlPayload(x))
	c.roomOps.noteSent(id, sentRoomRequest{room: room, to: invitee, request: "invite"})
	if err := sess.Send(ctx, msg); err != nil {
		return fmt.Errorf("xmpp: invite %s to %s: %w", invitee, room, err)
	}
	if info.membersOnly {
		return c.InviteMediated(ctx, room, invitee, reason)
	}
	return nil
}

// InviteMediated invites a colleague through the room (XEP-0045 §7.8.2):
// the room forwards the invitation, with its password, and in a
// members-only room makes the invitee a member when the client may add
// members. The room's refusal (e.g. forbidden for a non-admin in a
// members-only room) arrives later as ErrorOccurred with a
// *RoomRequestError matching ErrNotAllowed.
func (c *Client) InviteMediated(ctx context.Context, room, invitee jid.JID, reason string) error {
	room = room.Bare()
	sess, err := c.session()
	if err != nil {
		return err
	}
	id := randomHex(12)
	x := wireMUCUserOut{Invite: &wireMUCInvite{To: invitee.String(), Reason: reason}}
	msg := stanza.Message{To: room, ID: id, Type: stanza.NormalMessage}.Wrap(xmlPayload(x))
	c.roomOps.noteSent(id, sentRoomRequest{room: room, to: room, request: "invite"})
	if err := sess.Send(ctx, msg); err != nil {
		return fmt.Errorf("xmpp: invite %s to %s through the room: %w", invitee, room, err)
	}
	return nil
}

// DeclineInvitation declines an invitation: the room forwards the decline
// (XEP-0045 §7.8.2) to the inviter, who gets InvitationDeclined. XEP-0249
// defines no decline for direct invitations; the XEP-0045 one is sent
// through the room for them too, since rooms forward a decline whatever
// way the invitation came (Prosody does; a room that refuses it bounces
// it, reported as ErrorOccurred). Ignoring an invitation needs no call.
func (c *Client) DeclineInvitation(ctx context.Context, inv InvitationReceived, reason string) error {
	room := inv.Room.Bare()
	if inv.From.Equal(jid.JID{}) {
		return fmt.Errorf("xmpp: decline the invitation to %s: the invitation names no inviter", room)
	}
	sess, err := c.session()
	if err != nil {
		return err
	}
	id := randomHex(12)
	x := wireMUCUserOut{Decline: &wireMUCInvite{To: inv.From.String(), Reason: reason}}
	msg := stanza.Message{To: room, ID: id, Type: stanza.NormalMessage}.Wrap(xmlPayload(x))
	c.roomOps.noteSent(id, sentRoomRequest{room: room, to: room, request: "decline"})
	if err := sess.Send(ctx, msg); err != nil {
		return fmt.Errorf("xmpp: decline the invitation to %s: %w", room, err)
	}
	return nil
}
