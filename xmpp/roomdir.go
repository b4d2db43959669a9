package xmpp

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// The room directory: the server's group chat service, found through
// disco#items on the account's domain, lists its public rooms in its own
// disco#items (XEP-0045 §6.3). Searching by name is left to the caller:
// services differ in what, if anything, they search.

// ErrNoRoomService means the server lists no group chat service.
var ErrNoRoomService = errors.New("no group chat service on this server")

// RoomInfo is a room as the service lists it.
type RoomInfo struct {
	JID  jid.JID // bare
	Name string  // the room's name, or "" when the service gives none
	// Set by RoomDetails: a members-only room; how many are in it (-1 when
	// the room does not say); whether any occupant may set the subject
	// (otherwise only moderators).
	MembersOnly bool
	Occupants   int
	SubjectOpen bool
}

// RoomDetails asks a room about itself (disco#info), also a room the
// service does not list: its name ("" when it has none beyond its address)
// and whether it is members-only. For an invitation to a private room, say.
func (c *Client) RoomDetails(ctx context.Context, room jid.JID) (RoomInfo, error) {
	sess, err := c.session()
	if err != nil {
		return RoomInfo{}, err
	}
	info, err := discoRoom(ctx, sess, room.Bare())
	if err != nil {
		return RoomInfo{}, fmt.Errorf("xmpp: ask %s about itself: %w", room, err)
	}
	return RoomInfo{JID: room.Bare(), Name: info.name, MembersOnly: info.membersOnly,
		Occupants: info.occupants, SubjectOpen: info.subjectOpen}, nil
}

// RoomService returns the server's group chat service: the first item of
// the domain's disco#items with the identity conference/text. It returns
// ErrNoRoomService when there is none.
func (c *Client) RoomService(ctx context.Context) (jid.JID, error) {
	sess, err := c.session()
	if err != nil {
		return jid.JID{}, err
	}
	services, err := c.roomServices(ctx, sess)
	switch {
	case err != nil:
		return jid.JID{}, err
	case len(services) == 0:
		return jid.JID{}, ErrNoRoomService
	}
	return services[0], nil
}

// roomServices returns the group chat services of the own server (the
// items of the domain's disco#items with the identity conference/text), in
// the server's order, and remembers them (see roomKinds).
func (c *Client) roomServices(ctx context.Context, sess *mxmpp.Session) ([]jid.JID, error) {
	domain := c.account.Domain()
	var items discoItemsQuery
	err := sess.UnmarshalIQElement(ctx, xmlPayload(discoItemsQuery{}), stanza.IQ{Type: stanza.GetIQ, To: domain}, &items)
	if err != nil && !isStanzaError(err) {
		return nil, fmt.Errorf("xmpp: look for the group chat service: %w", err)
	}
	var candidates []jid.JID
	for _, it := range items.Items {
		if j, err := jid.Parse(it.JID); err == nil && it.Node == "" {
			candidates = append(candidates, j)
		}
	}
	found := make([]bool, len(candidates))
	var failure error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, service := range candidates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			infoCtx, cancel := context.WithTimeout(ctx, discoTimeout)
			defer cancel()
			info, err := disco.GetInfo(infoCtx, "", service, sess)
			if err != nil {
				if !isStanzaError(err) {
					mu.Lock()
					failure = err
					mu.Unlock()
				}
				return
			}
			for _, id := range info.Identity {
				if id.Category == "conference" && id.Type == "text" {
					found[i] = true
				}
			}
		}()
	}
	wg.Wait()
	var services []jid.JID
	for i, ok := range found {
		if ok {
			services = append(services, candidates[i])
			c.kinds.noteService(candidates[i].Domain())
		}
	}
	if len(services) == 0 && failure != nil {
		return nil, fmt.Errorf("xmpp: look for the group chat service: %w", failure)
	}
	return services, nil
}

// ListRooms returns the public rooms of a group chat service, sorted by
// name (then address).
func (c *Client) ListRooms(ctx context.Context, service jid.JID) ([]RoomInfo, error) {
	sess, err := c.session()
	if err != nil {
		return nil, err
	}
	var items discoItemsQuery
	err = sess.UnmarshalIQElement(ctx, xmlPayload(discoItemsQuery{}), stanza.IQ{Type: stanza.GetIQ, To: service}, &items)
	if err != nil {
		return nil, fmt.Errorf("xmpp: list the rooms of %s: %w", service, stanzaErr(err))
	}
	var rooms []RoomInfo
	for _, it := range items.Items {
		j, err := jid.Parse(it.JID)
		if err != nil || it.Node != "" || j.Localpart() == "" {
			continue
		}
		rooms = append(rooms, RoomInfo{JID: j.Bare(), Name: it.Name})
	}
	sort.Slice(rooms, func(i, j int) bool {
		if rooms[i].Name != rooms[j].Name {
			return rooms[i].Name < rooms[j].Name
		}
		return rooms[i].JID.String() < rooms[j].JID.String()
	})
	return rooms, nil
}
