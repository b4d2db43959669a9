package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

const nsSID = "urn:xmpp:sid:0" // XEP-0359 unique and stable stanza IDs

// Message is a received or sent message.
type Message struct {
	// ID is the stanza id the sender chose; OriginID its XEP-0359 origin-id
	// (the same value for messages Magpie sends). StanzaID is the id the
	// own server assigned (XEP-0359 stanza-id by the own bare JID), empty
	// when the server assigns none.
	ID       string
	OriginID string
	StanzaID string
	From     jid.JID
	To       jid.JID
	Type     stanza.MessageType
	Body     string
	Subject  string
	Thread   string
	// Time is when the message was sent: the XEP-0203 delay stamp for
	// messages delivered late (Delayed set), else when it arrived.
	Time    time.Time
	Delayed bool
}

type wireText struct {
	Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Text string `xml:",chardata"`
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
	Delay *struct {
		Stamp time.Time `xml:"stamp,attr"`
	} `xml:"urn:xmpp:delay delay"`
	Error *stanza.Error `xml:"error"`
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

// onMessage translates an incoming message into an event.
func (c *Client) onMessage(w wireMessage) {
	from, err := c.sender(w.From)
	if err != nil {
		c.log.Debug("message with bad from", "from", w.From)
		return
	}
	to, _ := jid.Parse(w.To)
	m := Message{
		ID:       w.ID,
		OriginID: w.OriginID.ID,
		From:     from,
		To:       to,
		Type:     stanza.MessageType(w.Type),
		Body:     pickText(w.Bodies, w.Lang),
		Subject:  pickText(w.Subjects, w.Lang),
		Thread:   w.Thread,
		Time:     time.Now(),
	}
	if m.Type == "" {
		m.Type = stanza.NormalMessage
	}
	own := c.account.String()
	for _, sid := range w.StanzaIDs {
		if sid.By == own { // only our own server's id can be trusted
			m.StanzaID = sid.ID
		}
	}
	if w.Delay != nil && !w.Delay.Stamp.IsZero() {
		m.Time, m.Delayed = w.Delay.Stamp, true
	}
	switch m.Type {
	case stanza.ErrorMessage:
		fail := MessageFailed{ID: m.ID, To: from, Err: &StanzaError{Condition: "undefined-condition"}}
		if w.Error != nil {
			fail.Err = &StanzaError{Condition: string(w.Error.Condition), Type: string(w.Error.Type), Text: errorText(*w.Error)}
		}
		c.events.push(fail)
	case stanza.ChatMessage:
		if m.Body != "" { // chat states and receipts carry no body
			c.events.push(MessageReceived{m})
		}
	case stanza.HeadlineMessage:
		if m.Body != "" || m.Subject != "" {
			c.events.push(HeadlineReceived{m})
		}
	case stanza.NormalMessage:
		if m.Body != "" || m.Subject != "" {
			c.events.push(NormalMessageReceived{m})
		}
	}
}

// OutgoingMessage is a message to send.
type OutgoingMessage struct {
	To     jid.JID
	Body   string
	Thread string
	// Type defaults to chat.
	Type stanza.MessageType
}

// SendMessage sends a one-to-one chat message and returns its id (also used
// as its origin-id). It returns once the message is written to the server;
// a bounce arrives later as MessageFailed with the same id.
func (c *Client) SendMessage(ctx context.Context, to jid.JID, body string) (string, error) {
	return c.Send(ctx, OutgoingMessage{To: to, Body: body})
}

// Send sends a message and returns its id.
func (c *Client) Send(ctx context.Context, m OutgoingMessage) (string, error) {
	if m.Body == "" {
		return "", errors.New("xmpp: empty message")
	}
	sess, err := c.session()
	if err != nil {
		return "", err
	}
	if m.Type == "" {
		m.Type = stanza.ChatMessage
	}
	id := randomHex(12)
	children := []xml.TokenReader{textElement("body", m.Body)}
	if m.Thread != "" {
		children = append(children, textElement("thread", m.Thread))
	}
	children = append(children, xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: nsSID, Local: "origin-id"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "id"}, Value: id}},
	}))
	msg := stanza.Message{ID: id, To: m.To, Type: m.Type}
	if err := sess.Send(ctx, msg.Wrap(xmlstream.MultiReader(children...))); err != nil {
		return "", fmt.Errorf("xmpp: send message to %s: %w", m.To, err)
	}
	return id, nil
}
