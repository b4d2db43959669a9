package xmpp

import (
	"context"
	"errors"
	"sync"
	"time"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
)

// Which JIDs are rooms. What only a room can say (a mediated invitation, a
// decline, a private message through it) is taken only from a JID that is
// one: a room the client is in or joining, or one whose disco#info says it
// is (identity category "conference"), or any JID on a group chat service
// (a domain whose disco#info says so). Nobody can send from a room's JID
// but the service, and accounts do not live on a service's domain; the
// account's own domain hosts accounts, so nothing there is a room. The
// answers are kept for the Client's life.

// maxRoomKinds caps what roomKinds remembers: strangers choose how many
// JIDs the client asks about.
const maxRoomKinds = 1000

// maxRoomQuestions caps the disco#info queries of verifyRoom under way at
// once: beyond it, an unknown JID counts as no room (a stranger's server
// may take its time to answer, for many JIDs).
const maxRoomQuestions = 16

// roomKinds remembers what the client learnt of JIDs and domains. Safe for
// concurrent use.
type roomKinds struct {
	mu       sync.Mutex
	jids     map[string]bool // bare JID -> a room (disco#info answered)
	services map[string]bool // domains that are group chat services
	// servicesLearnt is set once the own server's services were looked up.
	servicesLearnt bool
	asking         int // verifyRoom queries under way
}

// noteJID remembers whether bare is a room; a room's domain is a group
// chat service.
func (k *roomKinds) noteJID(bare jid.JID, room bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.jids == nil || len(k.jids) >= maxRoomKinds {
		k.jids = map[string]bool{}
	}
	k.jids[bare.String()] = room
	if room {
		k.noteServiceLocked(bare.Domain())
	}
}

// noteService remembers that domain is a group chat service.
func (k *roomKinds) noteService(domain jid.JID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.noteServiceLocked(domain)
}

func (k *roomKinds) noteServiceLocked(domain jid.JID) {
	if k.services == nil || len(k.services) >= maxRoomKinds {
		k.services = map[string]bool{}
	}
	k.services[domain.String()] = true
}

// lookup says whether bare is a room, if known.
func (k *roomKinds) lookup(bare jid.JID) (room, known bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.services[bare.Domain().String()] {
		return true, true
	}
	room, known = k.jids[bare.String()]
	return room, known
}

// roomKind says whether bare (a bare JID) is a room, as far as the client
// knows without asking: known is false when only asking the JID can tell
// (see verifyRoom).
func (c *Client) roomKind(bare jid.JID) (room, known bool) {
	switch {
	case c.isRoom(bare):
		return true, true // in it or joining it
	case bare.Localpart() == "" || bare.Domain().Equal(c.account.Domain()):
		return false, true // a server, or an account of the own server
	}
	return c.kinds.lookup(bare)
}

// knownRoom reports whether bare is a room the client knows of.
func (c *Client) knownRoom(bare jid.JID) bool {
	room, known := c.roomKind(bare)
	return known && room
}

// verifyRoom says whether bare is a room, asking it (disco#info) when the
// client does not know; an answer is remembered, a failure to get one (no
// connection, no answer in time) counts as no room and is asked again
// next time.
func (c *Client) verifyRoom(ctx context.Context, bare jid.JID) bool {
	if room, known := c.roomKind(bare); known {
		return room
	}
	sess, err := c.session()
	if err != nil {
		return false
	}
	c.kinds.mu.Lock()
	busy := c.kinds.asking >= maxRoomQuestions
	if !busy {
		c.kinds.asking++
	}
	c.kinds.mu.Unlock()
	if busy {
		c.log.Debug("too many questions whether JIDs are rooms under way; taking one for no room", "jid", bare)
		return false
	}
	defer func() {
		c.kinds.mu.Lock()
		c.kinds.asking--
		c.kinds.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, discoTimeout)
	defer cancel()
	info, err := disco.GetInfo(ctx, "", bare, sess)
	var se *StanzaError
	switch {
	case err == nil:
	case errors.As(stanzaErr(err), &se):
		// An account answers for itself only to its contacts (Prosody:
		// service-unavailable); a room that does not exist says
		// item-not-found. Neither is a room now.
		c.kinds.noteJID(bare, false)
		return false
	default:
		return false
	}
	room := false
	for _, id := range info.Identity {
		if id.Category == "conference" {
			room = true
		}
	}
	c.kinds.noteJID(bare, room)
	return room
}

// learnRoomServices looks up the own server's group chat services once per
// Client (disco#items of the domain, then each item's disco#info), so that
// private messages through their rooms are told as such in the archive
// before any of the rooms is joined.
func (c *Client) learnRoomServices(ctx context.Context, sess *mxmpp.Session) {
	c.kinds.mu.Lock()
	learnt := c.kinds.servicesLearnt
	c.kinds.mu.Unlock()
	if learnt {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*discoTimeout)
	defer cancel()
	start := time.Now()
	services, err := c.roomServices(ctx, sess)
	if err != nil {
		c.log.Info("look for group chat services", "err", err)
		return
	}
	c.kinds.mu.Lock()
	c.kinds.servicesLearnt = true
	c.kinds.mu.Unlock()
	c.log.Debug("group chat services", "services", services, "took", time.Since(start))
}
