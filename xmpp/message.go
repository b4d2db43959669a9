package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"magpie/xmpp/store"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"
)

const nsSID = "urn:xmpp:sid:0" // XEP-0359 unique and stable stanza IDs

// Message is a received or sent message.
type Message struct {
	// ID is the stanza id the sender chose; OriginID its XEP-0359 origin-id
	// (the same value for messages Magpie sends). StanzaID is the id the
	// own server assigned (XEP-0359 stanza-id by the own bare JID, or the
	// archive id), empty when the server assigns none.
	ID       string
	OriginID string
	StanzaID string
	From     jid.JID
	To       jid.JID
	Type     stanza.MessageType
	Body     string
	Subject  string
	Thread   string
	// Time is when the message was sent: for one delivered late (Delayed
	// set) the XEP-0203 delay stamp that the own server, its archive or
	// the room added, else when it arrived. A stamp the sender wrote
	// itself is ignored, and no stamp is later than the arrival (see
	// "Time" in the package documentation).
	Time    time.Time
	Delayed bool
	// Outgoing is set on messages the own account sent: from this client,
	// or from another of its devices (Carbon) or the archive.
	Outgoing bool
	// Carbon is set on copies of messages another device of the account
	// sent or received (XEP-0280); Archived on messages fetched from the
	// server's archive (XEP-0313) at sign-in.
	Carbon   bool
	Archived bool
	// Private is set on a private message with a room's occupant (XEP-0045
	// §7.5): a chat sent through the room, whose From (incoming) or To
	// (outgoing) is the occupant's JID room@service/nick. Peer returns that
	// full JID, so the conversation is kept apart from the room's and from
	// the occupant's other conversations (the occupant's nick may belong to
	// someone else tomorrow).
	Private bool
	// Seq is the message's place in the local store (0 without a store).
	Seq   int64
	State DeliveryState
	Error string // why it failed, for DeliveryFailed

	backfill bool      // from a first sync, which pages from the newest backwards
	arrived  time.Time // when it reached this client
	mention  bool      // a room message that mentions the own nick (RoomMessage.Mention)
}

func messageType(s string) stanza.MessageType {
	if s == "" {
		return stanza.NormalMessage
	}
	return stanza.MessageType(s)
}

const (
	nsCarbons  = "urn:xmpp:carbons:2"
	nsForward  = "urn:xmpp:forward:0"
	nsMAM      = "urn:xmpp:mam:2"
	nsReceipts = "urn:xmpp:receipts"
	nsRSM      = "http://jabber.org/protocol/rsm"
)

type wireText struct {
	Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Text string `xml:",chardata"`
}

// wireDelay is a delay stamp (XEP-0203); From is who added it. The stamp is
// kept as text and parsed only when it is used: a sender's malformed stamp
// on its own message must not make the whole message undecodable.
type wireDelay struct {
	From  string `xml:"from,attr"`
	Stamp string `xml:"stamp,attr"`
}

// time is the stamp (XEP-0082), zero when it does not parse.
func (d *wireDelay) time() time.Time {
	if d == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(d.Stamp))
	if err != nil {
		return time.Time{}
	}
	return t
}

type wireForwarded struct {
	Delay   *wireDelay   `xml:"urn:xmpp:delay delay"`
	Message *wireMessage `xml:"jabber:client message"`
}

type wireMessage struct {
	XMLName  xml.Name   `xml:"message"`
	ID       string     `xml:"id,attr"`
	From     string     `xml:"from,attr"`
	To       string     `xml:"to,attr"`
	Type     string     `xml:"type,attr"`
	Lang     string     `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Bodies   []wireText `xml:"body"`
	Subjects []wireText `xml:"subject"`
	Thread   string     `xml:"thread"`
	OriginID struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:sid:0 origin-id"`
	StanzaIDs []struct {
		ID string `xml:"id,attr"`
		By string `xml:"by,attr"`
	} `xml:"urn:xmpp:sid:0 stanza-id"`
	// Delays are the message's delay stamps: each hop that held it may
	// add one (XEP-0203), and so may the sender, about itself. A slice:
	// decoding several into one pointer would mix their attributes.
	Delays []wireDelay   `xml:"urn:xmpp:delay delay"`
	Error  *stanza.Error `xml:"error"`
	// Carbons (XEP-0280), archive results (XEP-0313), receipts (XEP-0184).
	CarbonReceived *struct {
		Forwarded wireForwarded `xml:"urn:xmpp:forward:0 forwarded"`
	} `xml:"urn:xmpp:carbons:2 received"`
	CarbonSent *struct {
		Forwarded wireForwarded `xml:"urn:xmpp:forward:0 forwarded"`
	} `xml:"urn:xmpp:carbons:2 sent"`
	ArchiveResult *struct {
		QueryID   string        `xml:"queryid,attr"`
		ID        string        `xml:"id,attr"`
		Forwarded wireForwarded `xml:"urn:xmpp:forward:0 forwarded"`
	} `xml:"urn:xmpp:mam:2 result"`
	ReceiptRequest *struct{} `xml:"urn:xmpp:receipts request"`
	Receipt        *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:receipts received"`
	// PEP notifications (XEP-0163), e.g. a contact's new avatar.
	Event *wirePubsubEvent `xml:"http://jabber.org/protocol/pubsub#event event"`
	// Room invitations and declines (XEP-0045, XEP-0249); see muc_invite.go.
	MUCUser    *wireMUCUserMessage `xml:"http://jabber.org/protocol/muc#user x"`
	Conference *wireDirectInvite   `xml:"jabber:x:conference x"`
	// The sender's XEP-0421 occupant id in a room that supports it.
	OccupantID *wireOccupantID `xml:"urn:xmpp:occupant-id:0 occupant-id"`
	// Mentions in group chat messages (XEP-0372).
	References []struct {
		Type string `xml:"type,attr"`
		URI  string `xml:"uri,attr"`
	} `xml:"urn:xmpp:reference:0 reference"`
}

// pickText chooses the text in the stanza's language, else the one without
// a language, else the first (RFC 6121 §5.2.3 allows one per language).
func pickText(texts []wireText, lang string) string {
	if len(texts) == 0 {
		return ""
	}
	for _, t := range texts {
		if t.Lang == "" || t.Lang == lang {
			return t.Text
		}
	}
	return texts[0].Text
}

// sender parses a stanza's from. mellium blanks a from equal to the own bare
// JID (the server, PEP, carbons), so empty means the own account.
func (c *Client) sender(from string) (jid.JID, error) {
	if from == "" {
		return c.account, nil
	}
	return jid.Parse(from)
}

// translate builds a Message from its wire form; ok is false when the
// addresses do not parse.
func (c *Client) translate(w wireMessage) (Message, bool) {
	from, err := c.sender(w.From)
	if err != nil {
		c.log.Debug("message with bad from", "from", w.From)
		return Message{}, false
	}
	to, _ := jid.Parse(w.To)
	m := Message{
		ID:       w.ID,
		OriginID: w.OriginID.ID,
		From:     from,
		To:       to,
		Type:     messageType(w.Type),
		Body:     pickText(w.Bodies, w.Lang),
		Subject:  pickText(w.Subjects, w.Lang),
		Thread:   w.Thread,
		Time:     time.Now(),
	}
	m.arrived = m.Time
	own := c.account.String()
	for _, sid := range w.StanzaIDs {
		if sid.By == own { // only our own server's id can be trusted
			m.StanzaID = sid.ID
		}
	}
	if stamp, ok := c.trustedDelay(w.Delays, m); ok {
		m.Time, m.Delayed = stamp, true
	}
	m.Outgoing = from.Bare().Equal(c.account) && !to.Bare().Equal(c.account)
	m.Private = c.isPrivate(w, m)
	return m, true
}

// trustedDelay returns the delay stamp (XEP-0203) of a message that someone
// the client trusts added, with ok unset when there is none. The delay's
// from says who added it: for a group chat message only the room counts
// (Prosody drops stamps an occupant forges in the room's name); for any
// other message the own server, by its domain (offline storage) or by the
// own bare JID (Prosody's stream management, for stanzas it held while
// the client was away). A stamp the sender wrote is only the sender's word
// for when it was written, so it is ignored: taken, a peer could date a
// message 2099 and pin its conversation to the top, or drag every later
// message there. Of several trusted stamps the earliest is the closest to
// when the message was sent. The stamp is never later than the arrival:
// nothing arrives before it was sent.
func (c *Client) trustedDelay(delays []wireDelay, m Message) (time.Time, bool) {
	var stamp time.Time
	for _, d := range delays {
		at := d.time()
		if at.IsZero() || !c.delayTrusted(d.From, m) {
			continue
		}
		if stamp.IsZero() || at.Before(stamp) {
			stamp = at
		}
	}
	if stamp.IsZero() {
		return time.Time{}, false
	}
	return notAfter(stamp, m.arrived), true
}

// delayTrusted reports whether a delay stamp added by from is trusted on
// m (see trustedDelay).
func (c *Client) delayTrusted(from string, m Message) bool {
	by, err := jid.Parse(from)
	if err != nil || from == "" {
		return false
	}
	if m.Type == stanza.GroupChatMessage {
		return by.Resourcepart() == "" && by.Equal(m.From.Bare())
	}
	if by.Resourcepart() != "" {
		return false
	}
	if by.Localpart() == "" {
		return strings.EqualFold(by.Domainpart(), c.account.Domainpart())
	}
	return by.Equal(c.account)
}

// notAfter is stamp, or arrived when stamp is later: a time stamp from the
// future (a server whose clock runs ahead) would place a message after
// everything that comes later.
func notAfter(stamp, arrived time.Time) time.Time {
	if stamp.After(arrived) {
		return arrived
	}
	return stamp
}

// isPrivate reports whether a message is a private message with a room's
// occupant (XEP-0045 §7.5): a chat or normal message whose other party (the
// sender, or the recipient of an own message) is a full JID whose bare JID
// is a room the client is in or joining, or that carries the muc#user
// element rooms add to private messages (and clients, Magpie too, add to
// the ones they send). The element is what tells them in the archive and in
// carbons, which may come before the room is joined again, or for a room
// only another device of the account is in. Anyone can add the element,
// though: from someone else it counts only when the sender is a room the
// client knows of (roomKind: its service, the own server's among them, is
// looked up before the archive is read); a stranger's chat with it stays a
// chat with the stranger. The account's own devices are trusted with it.
func (c *Client) isPrivate(w wireMessage, m Message) bool {
	if m.Type != stanza.ChatMessage && m.Type != stanza.NormalMessage && m.Type != stanza.HeadlineMessage {
		return false
	}
	occupant := m.From
	if m.Outgoing {
		occupant = m.To
	}
	if occupant.Resourcepart() == "" || occupant.Localpart() == "" || occupant.Bare().Equal(c.account) {
		return false // a room's occupant JID is room@service/nick
	}
	if c.isRoom(occupant.Bare()) {
		return true
	}
	return w.MUCUser != nil && (m.Outgoing || c.knownRoom(occupant.Bare()))
}

// fromOwnAccount reports whether a wrapper (carbon, archive result) came
// from the own account: mellium blanks a from equal to the own bare JID.
// Anyone else could forge one.
func (c *Client) fromOwnAccount(w wireMessage) bool {
	return w.From == "" || w.From == c.account.String()
}

// onMessage translates an incoming message: it unwraps carbons and archive
// results, answers receipt requests through enc, and hands chat messages to
// the store, which reports them once they are known to be new. Notices (see
// isNotice) go to the notices inbox instead.
func (c *Client) onMessage(w wireMessage, enc xmlstream.TokenWriter) {
	switch {
	case w.Event != nil:
		// A pubsub notification is never a chat or a notice, even with a
		// body (fallback text for clients without pubsub).
		c.onPubsubEvent(w)
		return
	case w.ArchiveResult != nil:
		if c.onRoomArchiveResult(w) {
			return
		}
		ours, backwards := c.ownQuery(w.ArchiveResult.QueryID)
		if !c.fromOwnAccount(w) || !ours || w.ArchiveResult.Forwarded.Message == nil {
			return
		}
		inner := w.ArchiveResult.Forwarded
		m, ok := c.translate(*inner.Message)
		if !ok {
			return
		}
		m.StanzaID, m.Archived, m.backfill = w.ArchiveResult.ID, true, backwards
		if at := inner.Delay.time(); !at.IsZero() {
			// The archive's own stamp: when the server stored it.
			m.Time, m.Delayed = notAfter(at, m.arrived), true
		}
		c.mu.Lock()
		if m.Time.After(c.archiveSeen) {
			c.archiveSeen = m.Time
		}
		c.mu.Unlock()
		if c.onInvitation(*inner.Message, m) {
			return
		}
		// Notices are not taken from the archive: the live copy (or the
		// offline one at sign-in) went to the inbox, and a first sync
		// would bring back years of them. Normal messages and headlines
		// from people are chats (see isNotice).
		switch m.Type {
		case stanza.ChatMessage, stanza.NormalMessage, stanza.HeadlineMessage:
		default:
			return
		}
		if c.isNotice(m) {
			return
		}
		if m = withSubject(m); m.Body != "" {
			c.store.message(m, false)
		}
		return
	case w.CarbonReceived != nil || w.CarbonSent != nil:
		if !c.fromOwnAccount(w) {
			c.log.Info("dropped a forged carbon", "from", w.From)
			return
		}
		fw := w.CarbonSent
		if fw == nil {
			fw = w.CarbonReceived
		}
		if fw.Forwarded.Message == nil {
			return
		}
		m, ok := c.translate(*fw.Forwarded.Message)
		if !ok {
			return
		}
		m.Carbon = true
		if w.CarbonSent != nil {
			m.Outgoing = true
		}
		if c.onInvitation(*fw.Forwarded.Message, m) {
			return
		}
		if c.isNotice(m) { // a notifier's message to the bare JID, delivered to another device
			c.notice(m)
			return
		}
		c.onChat(m, *fw.Forwarded.Message, nil)
		return
	}
	m, ok := c.translate(w)
	if !ok {
		return
	}
	if c.onInvitation(w, m) || c.onRoomReply(w, m) {
		return
	}
	switch m.Type {
	case stanza.GroupChatMessage:
		c.onRoomMessage(w, m, false)
	case stanza.ErrorMessage:
		if c.roomBounced(m.From, m.ID, w.Error) {
			return
		}
		se := &StanzaError{Condition: "undefined-condition"}
		if w.Error != nil {
			se = &StanzaError{Condition: string(w.Error.Condition), Type: string(w.Error.Type), Text: errorText(*w.Error)}
		}
		c.failDelivery(m.From, m.ID, se)
		c.onRoomError(m.From, w.Error)
	case stanza.ChatMessage, stanza.NormalMessage, stanza.HeadlineMessage:
		c.onChatOrNotice(w, m, enc)
	}
}

// onChatOrNotice routes a live chat, normal or headline message: to the
// notices inbox (see isNotice), or as a chat.
func (c *Client) onChatOrNotice(w wireMessage, m Message, enc xmlstream.TokenWriter) {
	if c.isNotice(m) {
		c.notice(m)
		return
	}
	if m.Type == stanza.HeadlineMessage && m.From.Bare().Equal(c.account) {
		return // an own headline: nothing to show
	}
	c.onChat(m, w, enc)
}

// onPlainMessage routes a live message that turned out to be an ordinary
// one after Serve moved on (see onInvitation): no receipt is sent for it.
func (c *Client) onPlainMessage(w wireMessage, m Message) {
	switch m.Type {
	case stanza.ChatMessage, stanza.NormalMessage, stanza.HeadlineMessage:
		c.onChatOrNotice(w, m, nil)
	}
}

// withSubject gives an incoming one-to-one message's subject a place: a
// chat shows only the text, so the subject becomes its first line (the
// whole text when there is no body). A person's headline that is no notice
// ("Approve payment" and a link) is shown as what it is, a chat message
// from that person, with nothing hidden.
func withSubject(m Message) Message {
	subject := strings.TrimSpace(m.Subject)
	if m.Outgoing || subject == "" || m.Type == stanza.GroupChatMessage {
		return m
	}
	if strings.TrimSpace(m.Body) == "" {
		m.Body = subject
	} else {
		m.Body = subject + "\n" + m.Body
	}
	return m
}

// onChat handles a chat message, direct or a carbon (enc nil: no receipt is
// sent for a copy; the device that got the original answers).
func (c *Client) onChat(m Message, w wireMessage, enc xmlstream.TokenWriter) {
	if w.Receipt != nil && w.Receipt.ID != "" {
		if !m.Outgoing { // the peer's client confirms one of ours
			c.setDelivery(m.From, w.Receipt.ID, DeliveryDelivered, "")
		}
		return
	}
	if m = withSubject(m); m.Body == "" { // chat states and such
		return
	}
	if w.ReceiptRequest != nil && enc != nil && m.ID != "" && !m.Outgoing {
		payload := []xml.TokenReader{xmlstream.Wrap(nil, xml.StartElement{
			Name: xml.Name{Space: nsReceipts, Local: "received"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "id"}, Value: m.ID}},
		})}
		if m.Private { // through the room, like the message
			payload = append(payload, mucUserMarker())
		}
		receipt := stanza.Message{To: m.From, ID: randomHex(8), Type: stanza.ChatMessage}.Wrap(
			xmlstream.MultiReader(payload...))
		if _, err := xmlstream.Copy(enc, receipt); err != nil {
			c.log.Debug("send receipt", "err", err)
		}
	}
	c.store.message(m, c.caughtUp.Load())
}

// OutgoingMessage is a message to send.
type OutgoingMessage struct {
	To     jid.JID
	Body   string
	Thread string
	// Subject is rarely used in chats; notices carry one (an OA system's
	// "审批提醒", say).
	Subject string
	// Type defaults to chat.
	Type stanza.MessageType

	private bool // to a room's occupant (see Send)
}

// SendMessage sends a one-to-one chat message and returns its id (also used
// as its origin-id). To a room's occupant (room@service/nick, of a room the
// client is in) it is a private message. See Send.
func (c *Client) SendMessage(ctx context.Context, to jid.JID, body string) (string, error) {
	return c.Send(ctx, OutgoingMessage{To: to, Body: body})
}

// Send sends a message and returns its id.
//
// With a store (WithStore) the message is stored first, as pending: while
// the client is offline or reconnecting it waits in the outbox and goes out,
// in order, once the session is back, so Send succeeds. The server's
// acknowledgement is reported as MessageStateChanged (DeliverySent), the
// recipient's receipt likewise (DeliveryDelivered), a bounce as
// MessageFailed. Without a store Send fails with ErrNotConnected while
// offline.
//
// A chat or normal message to a full JID whose bare JID is a room the
// client is in or joining (room@service/nick) is a private message to that
// occupant (XEP-0045 §7.5): it carries the muc#user element the XEP asks
// clients to add, is stored under the occupant's full JID (see
// Message.Private) and, like a room message, waits in the outbox until the
// client is in the room on the live session, and fails if the room is given
// up (see SendRoomMessage). Without a store it fails with ErrNotConnected
// while the client is not in the room on the live session. The room does
// not echo private messages: DeliverySent comes from the server's
// acknowledgement as for chats, DeliveryDelivered from a receipt if the
// occupant's client sends one.
func (c *Client) Send(ctx context.Context, m OutgoingMessage) (string, error) {
	if m.Body == "" {
		return "", errors.New("xmpp: empty message")
	}
	if m.Type == "" {
		m.Type = stanza.ChatMessage
	}
	m.private = false
	if (m.Type == stanza.ChatMessage || m.Type == stanza.NormalMessage) && m.To.Resourcepart() != "" &&
		m.To.Localpart() != "" && c.isRoom(m.To.Bare()) {
		m.private = true
		return c.sendInRoom(ctx, m.To.Bare(), m)
	}
	return c.send(ctx, m)
}

// send is Send for a message that goes out as soon as the client is online.
func (c *Client) send(ctx context.Context, m OutgoingMessage) (string, error) {
	c.mu.Lock()
	l, closed := c.link, c.closed
	c.mu.Unlock()
	if closed || (l == nil && c.opts.store == nil) {
		return "", ErrNotConnected
	}
	rec, err := c.storeOutgoing(m)
	if err != nil {
		return "", err
	}
	id := rec.OriginID
	// The session is looked at only after the message is stored: a session
	// published meanwhile flushes the outbox after publishing, so the
	// message is either in that flush or written here (once: see written).
	c.mu.Lock()
	l = c.link
	c.mu.Unlock()
	if l == nil {
		if c.opts.store == nil {
			return "", ErrNotConnected
		}
		return id, nil // in the outbox
	}
	l.sendMu.Lock()
	_, err = c.writeMessage(ctx, l, rec)
	l.sendMu.Unlock()
	if err != nil {
		if c.opts.store != nil {
			return id, nil // stays in the outbox for the next session
		}
		return "", fmt.Errorf("xmpp: send message to %s: %w", m.To, err)
	}
	c.confirmSent(l, rec)
	return id, nil
}

// storeOutgoing gives a message to send its id and, with a store, stores it
// as pending (in the outbox) before anything is written.
func (c *Client) storeOutgoing(m OutgoingMessage) (store.Message, error) {
	id := randomHex(12)
	peer := m.To.Bare()
	switch {
	case m.private:
		peer = m.To // the conversation with the occupant (see Message.Peer)
	case m.To.Resourcepart() != "": // a full JID (e.g. DOMAIN/announce/online)
		c.mu.Lock()
		if c.sendTo == nil {
			c.sendTo = map[string]jid.JID{}
		}
		c.sendTo[id] = m.To
		c.mu.Unlock()
	}
	rec := store.Message{
		Peer:     peer.String(),
		Dir:      store.Outgoing,
		Resource: c.resource,
		ID:       id,
		OriginID: id,
		Type:     string(m.Type),
		Body:     m.Body,
		Subject:  m.Subject,
		Thread:   m.Thread,
		Time:     time.Now(),
		State:    store.Pending,
	}
	if c.opts.store != nil {
		var err error
		done := make(chan struct{})
		c.store.do(func(db *store.DB) {
			defer close(done)
			if db == nil { // closed meanwhile
				err = ErrNotConnected
				return
			}
			if _, err = db.AddMessages([]store.Message{rec}); err == nil {
				c.store.noteSent(rec)
			}
		})
		<-done
		if err != nil {
			return store.Message{}, fmt.Errorf("xmpp: store message: %w", err)
		}
	}
	c.sentHere.add(rec)
	return rec, nil
}

// writeMessage writes a stored outgoing message on l, once per session.
// Hold l.sendMu.
func (c *Client) writeMessage(ctx context.Context, l *link, r store.Message) (wrote bool, err error) {
	// A message its room refused is written again even on the session
	// that wrote it; the mark goes whichever way, so it is written once.
	if rewrite := c.takeBounced(r.OriginID); l.written[r.OriginID] && !rewrite {
		return false, nil
	}
	to, err := jid.Parse(r.Peer)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	full, isFull := c.sendTo[r.OriginID]
	c.mu.Unlock()
	if isFull {
		to = full // from a later sign-in's outbox: the bare JID
	}
	var children []xml.TokenReader
	if r.Subject != "" {
		children = append(children, textElement("subject", r.Subject))
	}
	children = append(children, textElement("body", r.Body))
	if r.Thread != "" {
		children = append(children, textElement("thread", r.Thread))
	}
	children = append(children, xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: nsSID, Local: "origin-id"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "id"}, Value: r.OriginID}},
	}))
	if r.Type == string(stanza.ChatMessage) {
		children = append(children, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsReceipts, Local: "request"}}))
	}
	if privateRecord(r) {
		children = append(children, mucUserMarker())
	}
	msg := stanza.Message{ID: r.OriginID, To: to, Type: messageType(r.Type)}
	if err := l.sess.Send(ctx, msg.Wrap(xmlstream.MultiReader(children...))); err != nil {
		return false, err
	}
	l.written[r.OriginID] = true
	if isFull {
		c.mu.Lock()
		delete(c.sendTo, r.OriginID)
		c.mu.Unlock()
	}
	return true, nil
}

// privateRecord reports whether a stored message is a private message with
// a room's occupant: only those are stored under a full JID (see
// Message.Peer).
func privateRecord(r store.Message) bool {
	return r.Type != string(stanza.GroupChatMessage) && strings.Contains(r.Peer, "/")
}

// recordRoom returns the room a stored outgoing message goes through: the
// room of a group chat message, or of a private message with an occupant.
func recordRoom(r store.Message) (jid.JID, bool) {
	if r.Type != string(stanza.GroupChatMessage) && !privateRecord(r) {
		return jid.JID{}, false
	}
	peer, err := jid.Parse(r.Peer)
	if err != nil {
		return jid.JID{}, false
	}
	return peer.Bare(), true
}

// mucUserMarker is the empty muc#user element that marks a private message
// through a room (XEP-0045 §7.5): clients SHOULD add it, and servers use it
// to tell such messages from chats (Prosody sends no carbons of incoming
// ones).
func mucUserMarker() xml.TokenReader {
	return xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsMUCUser, Local: "x"}})
}

// confirmSent learns that what was written up to r reached the server: with
// stream management by asking for an ack; without it by a ping, which the
// server answers only after it has handled everything before it.
func (c *Client) confirmSent(l *link, rs ...store.Message) {
	if len(rs) == 0 {
		return
	}
	if c.sm.isEnabled() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := requestAck(ctx, l.sess); err != nil {
			c.log.Debug("request ack", "err", err)
		}
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ping.Send(ctx, l.sess, c.account.Domain()); err != nil {
			return
		}
		for _, r := range rs {
			if peer, err := jid.Parse(r.Peer); err == nil {
				c.setDelivery(peer, r.OriginID, DeliverySent, "")
			}
		}
	}()
}

// ErrUnknownMessage is returned by Resend for an id the store does not hold.
var ErrUnknownMessage = errors.New("xmpp: no such stored message")

// Resend sends a stored outgoing message again (after a failure), as the
// same message: the same id and origin-id, so that no history, ours or the
// recipient's, ends up with two copies. It goes back to pending, and out
// at once when online (else with the outbox).
func (c *Client) Resend(ctx context.Context, peer jid.JID, id string) error {
	if c.opts.store == nil {
		return ErrNoStore
	}
	var rec store.Message
	var found bool
	var err error
	done := make(chan struct{})
	c.store.do(func(db *store.DB) {
		defer close(done)
		if db == nil {
			err = ErrNotConnected
			return
		}
		for _, key := range peerKeys(peer) { // a private message's occupant, else the bare JID
			if rec, found, err = db.SetState(key, id, store.Pending, ""); found || err != nil {
				return
			}
		}
	})
	<-done
	switch {
	case err != nil:
		return fmt.Errorf("xmpp: resend %s: %w", id, err)
	case !found || rec.Dir != store.Outgoing:
		return ErrUnknownMessage
	}
	c.sentHere.add(rec)
	c.mu.Lock()
	l := c.link
	c.mu.Unlock()
	if l == nil {
		return nil // in the outbox
	}
	l.sendMu.Lock()
	delete(l.written, rec.OriginID) // it failed on this session: write it again
	_, err = c.writeMessage(ctx, l, rec)
	l.sendMu.Unlock()
	if err == nil {
		c.confirmSent(l, rec)
	}
	return nil // a write error leaves it pending, for the next session
}
