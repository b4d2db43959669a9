package xmpp

import (
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmlstream"
	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Show is the availability a user shows (RFC 6121 §4.7.2.1). The zero value
// is plain "available".
type Show string

// The show values.
const (
	ShowAvailable Show = ""
	ShowChat      Show = "chat"
	ShowAway      Show = "away"
	ShowXA        Show = "xa"
	ShowDND       Show = "dnd"
)

// ParseShow accepts the protocol values and the words a user would type:
// available/online, chat, away, xa/extended-away, dnd/busy.
func ParseShow(s string) (Show, error) {
	switch s {
	case "", "available", "online":
		return ShowAvailable, nil
	case "chat":
		return ShowChat, nil
	case "away":
		return ShowAway, nil
	case "xa", "extended-away":
		return ShowXA, nil
	case "dnd", "busy", "do-not-disturb":
		return ShowDND, nil
	}
	return "", fmt.Errorf("unknown presence %q (available, away, xa, dnd, chat)", s)
}

// Presence is one resource's presence.
type Presence struct {
	From jid.JID // full JID
	// Type is "" for available and "unavailable" when the resource went
	// offline. Error presences have Type "error".
	Type     string
	Show     Show
	Status   string
	Priority int8
	// AvatarHash is the SHA-1 (hex) of the resource's photo as its presence
	// announces it (XEP-0153), "" when it announces none; fetch the photo
	// with Client.Avatar.
	AvatarHash string
	// IdleSince is when the resource's user was last active, as its
	// presence says (XEP-0319, or the older XEP-0256 seconds); the zero time
	// when it says nothing.
	IdleSince time.Time
}

// IdleNS is the namespace of last user interaction in presence (XEP-0319).
const IdleNS = "urn:xmpp:idle:1"

// Available reports whether the resource is online.
func (p Presence) Available() bool { return p.Type == "" }

// wirePresence is the presence stanza as decoded.
type wirePresence struct {
	XMLName  xml.Name `xml:"presence"`
	From     string   `xml:"from,attr"`
	Type     string   `xml:"type,attr"`
	Show     string   `xml:"show"`
	Status   string   `xml:"status"`
	Priority string   `xml:"priority"`
	Update   *struct {
		Photo string `xml:"photo"`
	} `xml:"vcard-temp:x:update x"`
	Idle *struct {
		Since string `xml:"since,attr"`
	} `xml:"urn:xmpp:idle:1 idle"`
	Last *struct {
		Seconds string `xml:"seconds,attr"`
	} `xml:"jabber:iq:last query"`
	// Group chat (XEP-0045): occupant data, and why a join failed.
	MUCUser *wireMUCUser  `xml:"http://jabber.org/protocol/muc#user x"`
	Error   *stanza.Error `xml:"error"`
	// The occupant's XEP-0421 id, which a room that supports it sets
	// itself (removing any the occupant sent).
	OccupantID *wireOccupantID `xml:"urn:xmpp:occupant-id:0 occupant-id"`
}

// idleSince reads when the sender was last active: XEP-0319's timestamp,
// else XEP-0256's seconds before now. A time in the future (a clock ahead
// of ours) counts as now.
func (p wirePresence) idleSince(now time.Time) time.Time {
	var since time.Time
	switch {
	case p.Idle != nil:
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(p.Idle.Since))
		if err != nil {
			return time.Time{}
		}
		since = t
	case p.Last != nil:
		secs, err := strconv.ParseUint(strings.TrimSpace(p.Last.Seconds), 10, 32)
		if err != nil || secs == 0 {
			return time.Time{}
		}
		since = now.Add(-time.Duration(secs) * time.Second)
	default:
		return time.Time{}
	}
	if since.After(now) {
		since = now
	}
	return since
}

// onPresence translates an incoming presence stanza: availability updates the
// per-resource table, subscription stanzas become events.
func (c *Client) onPresence(p wirePresence) {
	from, err := c.sender(p.From)
	if err != nil {
		c.log.Debug("presence with bad from", "from", p.From)
		return
	}
	if from.Resourcepart() != "" && c.isRoom(from.Bare()) {
		c.onRoomPresence(p, from)
		return
	}
	switch p.Type {
	case "subscribe":
		// Reported once per sender within requestWindow: a request sent
		// fifty times is one prompt (see flood.go).
		if c.subRequests.note(from.Bare().String(), time.Now()) == 1 {
			c.events.push(SubscriptionRequest{From: from.Bare(), Status: p.Status})
		}
		return
	case "subscribed", "unsubscribed", "unsubscribe":
		c.events.push(SubscriptionChanged{From: from.Bare(), Type: p.Type})
		return
	case "", "unavailable", "error":
	default: // probe, or garbage
		return
	}
	prio, _ := strconv.ParseInt(p.Priority, 10, 8)
	pr := Presence{From: from, Type: p.Type, Show: Show(p.Show), Status: p.Status, Priority: int8(prio)}
	if p.Update != nil {
		pr.AvatarHash = strings.ToLower(strings.TrimSpace(p.Update.Photo))
	}
	if pr.Available() {
		pr.IdleSince = p.idleSince(time.Now())
	}
	bare := from.Bare().String()
	c.mu.Lock()
	if _, contact := c.roster[bare]; !contact && !from.Bare().Equal(c.account) {
		// A stranger's presence (directed at us, or anything a server
		// relays): neither kept nor reported, so that strangers cannot
		// grow the table (see flood.go).
		c.mu.Unlock()
		return
	}
	byRes := c.presences[bare]
	if pr.Available() {
		if byRes == nil {
			byRes = map[string]Presence{}
			c.presences[bare] = byRes
		}
		byRes[from.Resourcepart()] = pr
	} else {
		delete(byRes, from.Resourcepart())
		if len(byRes) == 0 {
			delete(c.presences, bare)
		}
	}
	c.mu.Unlock()
	c.events.push(PresenceChanged{pr})
}

// forgetPresencesOf drops the presences of those no longer contacts, and
// reports them gone. Call it without c.mu held.
func (c *Client) forgetPresencesOf(bares []string) {
	var gone []Presence
	c.mu.Lock()
	for _, bare := range bares {
		if _, contact := c.roster[bare]; contact || bare == c.account.String() {
			continue
		}
		for _, p := range c.presences[bare] {
			gone = append(gone, Presence{From: p.From, Type: "unavailable"})
		}
		delete(c.presences, bare)
	}
	c.mu.Unlock()
	for _, p := range gone {
		c.events.push(PresenceChanged{p})
	}
}

// Presences returns the known presences of a contact's resources (empty when
// the contact is offline or not visible to us). Only contacts and the own
// account's other resources have any: the presence of anyone else is not
// kept.
func (c *Client) Presences(contact jid.JID) []Presence {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Presence
	for _, p := range c.presences[contact.Bare().String()] {
		out = append(out, p)
	}
	return out
}

// BestPresence returns the presence of the contact's highest-priority online
// resource, and false when none is online.
func (c *Client) BestPresence(contact jid.JID) (Presence, bool) {
	var best Presence
	found := false
	for _, p := range c.Presences(contact) {
		if !found || p.Priority > best.Priority {
			best, found = p, true
		}
	}
	return best, found
}

// SetPresence changes the own show and status and, when online, broadcasts
// them (ending AppearOffline and any idle time). They are kept and re-sent
// after every reconnect.
func (c *Client) SetPresence(ctx context.Context, show Show, status string) error {
	return c.SetIdlePresence(ctx, show, status, time.Time{})
}

// SetIdlePresence is SetPresence for a user who has not touched the
// computer since idleSince: the presence carries it as XEP-0319 idle time
// (peers show "idle for 12 min"), also after reconnects. The zero time
// means the user is active.
func (c *Client) SetIdlePresence(ctx context.Context, show Show, status string, idleSince time.Time) error {
	c.mu.Lock()
	c.ownShow, c.ownStatus, c.hidden, c.ownIdleSince = show, status, false, idleSince
	prio := c.ownPrio
	c.mu.Unlock()
	sess, err := c.session()
	if err != nil {
		return err
	}
	if err := sess.Send(ctx, c.presenceStanza(show, status, prio, idleSince)); err != nil {
		return fmt.Errorf("xmpp: send presence: %w", err)
	}
	return nil
}

// announcePresence sends the own current presence on sess, unless the
// client signs in without presence or appears offline.
func (c *Client) announcePresence(ctx context.Context, sess *mxmpp.Session) error {
	c.mu.Lock()
	show, status, prio, hidden, idleSince := c.ownShow, c.ownStatus, c.ownPrio, c.hidden, c.ownIdleSince
	c.mu.Unlock()
	if !c.opts.sendPresence || hidden {
		return nil
	}
	return sess.Send(ctx, c.presenceStanza(show, status, prio, idleSince))
}

// OwnPresence returns the show and status the client announces, and since
// when the user has been idle (zero when active). hidden is true while the
// client appears offline.
func (c *Client) OwnPresence() (show Show, status string, idleSince time.Time, hidden bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ownShow, c.ownStatus, c.ownIdleSince, c.hidden
}

// presenceStanza builds an available presence with the entity capabilities
// (XEP-0115) element, so peers and the server's PEP service know what we
// support without asking each time.
func (c *Client) presenceStanza(show Show, status string, priority int8, idleSince time.Time) xml.TokenReader {
	var children []xml.TokenReader
	if show != ShowAvailable {
		children = append(children, textElement("show", string(show)))
	}
	if status != "" {
		children = append(children, textElement("status", status))
	}
	if priority != 0 {
		children = append(children, textElement("priority", strconv.Itoa(int(priority))))
	}
	if !idleSince.IsZero() {
		children = append(children, xmlstream.Wrap(nil, xml.StartElement{
			Name: xml.Name{Space: IdleNS, Local: "idle"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "since"}, Value: idleSince.UTC().Format(time.RFC3339)}},
		}))
	}
	children = append(children, capsElement())
	return stanza.Presence{}.Wrap(xmlstream.MultiReader(children...))
}

func textElement(name, text string) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.Token(xml.CharData(text)), xml.StartElement{Name: xml.Name{Local: name}})
}

// sendPresenceType sends a directed presence of a subscription type.
func (c *Client) sendPresenceType(ctx context.Context, to jid.JID, typ stanza.PresenceType) error {
	sess, err := c.session()
	if err != nil {
		return err
	}
	if err := sess.Send(ctx, stanza.Presence{To: to.Bare(), Type: typ}.Wrap(nil)); err != nil {
		return fmt.Errorf("xmpp: send %s to %s: %w", typ, to, err)
	}
	return nil
}

// Subscribe asks a contact for permission to see their presence.
func (c *Client) Subscribe(ctx context.Context, to jid.JID) error {
	return c.sendPresenceType(ctx, to, stanza.SubscribePresence)
}

// Unsubscribe stops seeing a contact's presence.
func (c *Client) Unsubscribe(ctx context.Context, to jid.JID) error {
	return c.sendPresenceType(ctx, to, stanza.UnsubscribePresence)
}

// ApproveSubscription lets a contact who asked see the user's presence (or
// pre-approves one who has not asked yet).
func (c *Client) ApproveSubscription(ctx context.Context, to jid.JID) error {
	return c.sendPresenceType(ctx, to, stanza.SubscribedPresence)
}

// DenySubscription refuses a request, or revokes a contact's permission to
// see the user's presence.
func (c *Client) DenySubscription(ctx context.Context, to jid.JID) error {
	return c.sendPresenceType(ctx, to, stanza.UnsubscribedPresence)
}

// AppearOffline signs the presence off while staying connected: contacts
// see the user as offline, and messages to the bare address wait in the
// server's offline storage until SetPresence makes the user available
// again. It holds across reconnects.
func (c *Client) AppearOffline(ctx context.Context) error {
	c.mu.Lock()
	c.hidden = true
	c.mu.Unlock()
	sess, err := c.session()
	if err != nil {
		return err
	}
	if err := sess.Send(ctx, unavailablePresence()); err != nil {
		return fmt.Errorf("xmpp: send presence: %w", err)
	}
	return nil
}
