package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"sort"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"magpie/xmpp/store"
)

const nsRoster = "jabber:iq:roster"

// Contact is a roster item.
type Contact struct {
	JID    jid.JID
	Name   string
	Groups []string
	// Subscription is none, to, from or both (RFC 6121 §2.1.2.5).
	Subscription string
	// Pending is set while our subscription request awaits an answer
	// (ask="subscribe").
	Pending bool
	// Approved is set when we pre-approved their subscription.
	Approved bool
	// Removed is set on a roster push that deleted the contact.
	Removed bool
}

// rosterQuery is the roster payload. mellium's roster package has no ask or
// approved attributes, which the UI needs to show pending requests.
type rosterQuery struct {
	XMLName xml.Name     `xml:"jabber:iq:roster query"`
	Ver     *string      `xml:"ver,attr"`
	Items   []rosterItem `xml:"item"`
}

type rosterItem struct {
	JID          string   `xml:"jid,attr"`
	Name         string   `xml:"name,attr,omitempty"`
	Subscription string   `xml:"subscription,attr,omitempty"`
	Ask          string   `xml:"ask,attr,omitempty"`
	Approved     string   `xml:"approved,attr,omitempty"`
	Groups       []string `xml:"group"`
}

func (it rosterItem) contact() (Contact, error) {
	j, err := jid.Parse(it.JID)
	if err != nil {
		return Contact{}, err
	}
	sub := it.Subscription
	if sub == "" {
		sub = "none"
	}
	return Contact{
		JID:          j,
		Name:         it.Name,
		Groups:       it.Groups,
		Subscription: sub,
		Pending:      it.Ask == "subscribe",
		Approved:     it.Approved == "true" || it.Approved == "1",
		Removed:      sub == "remove",
	}, nil
}

// fetchRoster gets the roster and replaces the local copy. When the server
// supports roster versioning (XEP-0237, rosterVer) and the store holds a
// cached roster, the request carries the cached version: an unchanged
// roster then comes back empty and the cache is used, so a sign-in with a
// company-sized roster downloads nothing.
func (c *Client) fetchRoster(ctx context.Context, sess *mxmpp.Session, rosterVer bool) error {
	req := rosterQuery{}
	var cached []store.RosterItem
	if rosterVer && c.opts.store != nil {
		ver, items, err := c.opts.store.Roster()
		if err != nil {
			c.log.Error("read cached roster", "err", err)
			ver, items = "", nil
		}
		req.Ver, cached = &ver, items // "" asks for a version with the roster
	}
	var q rosterQuery
	err := sess.UnmarshalIQElement(ctx, xmlPayload(req), stanza.IQ{Type: stanza.GetIQ}, &q)
	if err != nil {
		return fmt.Errorf("xmpp: fetch roster: %w", stanzaErr(err))
	}
	if q.XMLName.Local == "" && req.Ver != nil && *req.Ver != "" {
		// Unchanged since the cached version: the result is empty.
		c.rosterFromCache.Store(true)
		c.setRoster(contactsFromCache(cached))
		return nil
	}
	c.rosterFromCache.Store(false)
	contacts := make([]Contact, 0, len(q.Items))
	for _, it := range q.Items {
		if ct, err := it.contact(); err == nil {
			contacts = append(contacts, ct)
		}
	}
	c.setRoster(contacts)
	ver := ""
	if q.Ver != nil && rosterVer {
		ver = *q.Ver
	}
	c.cacheRoster(contacts, true, ver)
	return nil
}

// setRoster replaces the local copy of the roster and reports it.
func (c *Client) setRoster(contacts []Contact) { c.replaceRoster(contacts, false) }

// replaceRoster is setRoster; cached marks the store's copy shown before
// the sign-in is through.
func (c *Client) replaceRoster(contacts []Contact, cached bool) {
	fresh := make(map[string]Contact, len(contacts))
	for _, ct := range contacts {
		fresh[ct.JID.String()] = ct
	}
	c.mu.Lock()
	var dropped []string
	for bare := range c.presences {
		if _, ok := fresh[bare]; !ok {
			dropped = append(dropped, bare)
		}
	}
	c.roster = fresh
	c.mu.Unlock()
	c.events.push(RosterUpdated{Contacts: contacts, Full: true, Cached: cached})
	c.forgetPresencesOf(dropped)
}

// showCachedRoster shows the roster from the store before the network is
// up, so a sign-in shows the contacts at once.
func (c *Client) showCachedRoster() {
	if c.opts.store == nil {
		return
	}
	_, items, err := c.opts.store.Roster()
	if err != nil || len(items) == 0 {
		return
	}
	c.replaceRoster(contactsFromCache(items), true)
}

func contactsFromCache(items []store.RosterItem) []Contact {
	contacts := make([]Contact, 0, len(items))
	for _, it := range items {
		ct, err := rosterItem{JID: it.JID, Name: it.Name, Subscription: it.Subscription, Ask: it.Ask, Groups: it.Groups}.contact()
		if err == nil {
			contacts = append(contacts, ct)
		}
	}
	return contacts
}

// onRosterPush applies a roster push (RFC 6121 §2.1.6) and reports it. Pushes
// are accepted only from our own account (an empty from after mellium's
// rewriting), never from a third party.
func (c *Client) onRosterPush(iq stanza.IQ, q rosterQuery) bool {
	if !iq.From.Equal(jid.JID{}) && !iq.From.Equal(c.account) {
		return false
	}
	var changed []Contact
	var removed []string
	c.mu.Lock()
	for _, it := range q.Items {
		ct, err := it.contact()
		if err != nil {
			continue
		}
		if ct.Removed {
			delete(c.roster, ct.JID.String())
			removed = append(removed, ct.JID.String())
		} else {
			c.roster[ct.JID.String()] = ct
		}
		changed = append(changed, ct)
	}
	c.mu.Unlock()
	if len(changed) > 0 {
		ver := ""
		if q.Ver != nil {
			ver = *q.Ver
		}
		c.cacheRoster(changed, false, ver)
		c.events.push(RosterUpdated{Contacts: changed})
	}
	c.forgetPresencesOf(removed)
	return true
}

// Roster returns the roster, sorted by JID.
func (c *Client) Roster() []Contact {
	c.mu.Lock()
	out := make([]Contact, 0, len(c.roster))
	for _, ct := range c.roster {
		out = append(out, ct)
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].JID.String() < out[j].JID.String() })
	return out
}

// Contact returns one roster item.
func (c *Client) Contact(j jid.JID) (Contact, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct, ok := c.roster[j.Bare().String()]
	return ct, ok
}

// SetContact adds a contact to the roster or updates its name and groups. The
// server answers with a roster push, which updates Roster and emits
// RosterUpdated. A server that manages the item (a shared group) refuses with
// a StanzaError, typically not-acceptable or not-allowed.
func (c *Client) SetContact(ctx context.Context, j jid.JID, name string, groups []string) error {
	return c.rosterSet(ctx, rosterItem{JID: j.Bare().String(), Name: name, Groups: groups})
}

// AddContact adds a contact and asks for their presence subscription, what a
// user means by "add contact".
func (c *Client) AddContact(ctx context.Context, j jid.JID, name string, groups []string) error {
	if err := c.SetContact(ctx, j, name, groups); err != nil {
		return err
	}
	return c.Subscribe(ctx, j)
}

// RenameContact changes a contact's display name, keeping its groups.
func (c *Client) RenameContact(ctx context.Context, j jid.JID, name string) error {
	ct, ok := c.Contact(j)
	if !ok {
		return fmt.Errorf("xmpp: %s is not in the roster", j)
	}
	return c.SetContact(ctx, j, name, ct.Groups)
}

// SetGroups moves a contact into the given groups, keeping its name.
func (c *Client) SetGroups(ctx context.Context, j jid.JID, groups []string) error {
	ct, ok := c.Contact(j)
	if !ok {
		return fmt.Errorf("xmpp: %s is not in the roster", j)
	}
	return c.SetContact(ctx, j, ct.Name, slices.Clone(groups))
}

// RemoveContact removes a contact from the roster; the server also cancels
// the subscriptions both ways.
func (c *Client) RemoveContact(ctx context.Context, j jid.JID) error {
	return c.rosterSet(ctx, rosterItem{JID: j.Bare().String(), Subscription: "remove"})
}

func (c *Client) rosterSet(ctx context.Context, it rosterItem) error {
	sess, err := c.session()
	if err != nil {
		return err
	}
	err = sess.UnmarshalIQElement(ctx, xmlPayload(rosterQuery{Items: []rosterItem{it}}), stanza.IQ{Type: stanza.SetIQ}, nil)
	if err != nil {
		err = stanzaErr(err)
		var se *StanzaError
		if errors.As(err, &se) {
			return fmt.Errorf("xmpp: the server refused to change %s: %w", it.JID, se)
		}
		return fmt.Errorf("xmpp: roster set %s: %w", it.JID, err)
	}
	// The server has accepted the change. Its push (which emits the event)
	// may come after the result, so record the change now: an edit made
	// right after this one must build on it.
	if ct, err := it.contact(); err == nil {
		c.mu.Lock()
		if ct.Removed {
			delete(c.roster, ct.JID.String())
		} else {
			old := c.roster[ct.JID.String()]
			old.JID, old.Name, old.Groups = ct.JID, ct.Name, ct.Groups
			if old.Subscription == "" {
				old.Subscription = "none"
			}
			c.roster[ct.JID.String()] = old
		}
		c.mu.Unlock()
	}
	return nil
}
