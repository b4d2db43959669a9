package xmpp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"magpie/xmpp/store"
)

// Room history from the room's archive (XEP-0313 addressed to the room).
// A join of a room that keeps an archive asks for no join history: the
// room's history is cut at its limit (Prosody: 20 messages by default),
// which loses messages after a long absence. Instead the client pages
// through the archive from the newest room archive id it has stored, while
// the live messages that arrive meanwhile wait (roomState.held), so that
// the store gets everything once and in order. The archive id is the
// stanza-id the room adds to live messages (XEP-0359, by the room's JID),
// so live copies and archive copies are the same message to the store.

// roomArchivePage is how many messages one archive query asks for (Prosody
// answers at most 50 by default).
const roomArchivePage = 50

// roomInfo is what the client needs of a room's disco#info.
type roomInfo struct {
	archived    bool   // urn:xmpp:mam:2
	membersOnly bool   // muc_membersonly
	name        string // the conference identity's name, where set
	occupants   int    // muc#roominfo_occupants; -1 when the room does not say
	subjectOpen bool   // any occupant may set the subject
	// subjectKnown is set when the room said who may set the subject.
	subjectKnown bool
	occupantIDs  bool // urn:xmpp:occupant-id:0: the room sets occupant ids
	nonAnonymous bool // muc_nonanonymous: real JIDs are shown to all
	conference   bool // the identity says it is a room (conference)
}

// discoRoom asks a room about itself and what it supports (disco#info,
// XEP-0045 §6.4).
func discoRoom(ctx context.Context, sess *mxmpp.Session, room jid.JID) (roomInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	in, err := disco.GetInfo(ctx, "", room, sess)
	if err != nil {
		return roomInfo{}, stanzaErr(err)
	}
	ri := roomInfo{occupants: -1}
	for i := range in.Form {
		// The room's extended info (XEP-0045 §15.5.4). Prosody says who
		// may set the subject with the configuration field's name.
		f := &in.Form[i]
		if v, ok := f.Raw("muc#roominfo_occupants"); ok && len(v) > 0 {
			if n, err := strconv.Atoi(strings.TrimSpace(v[0])); err == nil {
				ri.occupants = n
			}
		}
		for _, name := range []string{"muc#roominfo_changesubject", "muc#roomconfig_changesubject"} {
			// Prosody leaves the field without a value when only
			// moderators may.
			if v, ok := f.Raw(name); ok {
				ri.subjectOpen, ri.subjectKnown = len(v) > 0 && parseBool(strings.TrimSpace(v[0])), true
			}
		}
	}
	for _, id := range in.Identity {
		if id.Category == "conference" {
			ri.conference = true
		}
		// Prosody names a room without a configured name by its local
		// part; that says nothing the address does not.
		if id.Category == "conference" && id.Name != "" && id.Name != room.Localpart() {
			ri.name = id.Name
		}
	}
	for _, f := range in.Features {
		switch f.Var {
		case nsMAM:
			ri.archived = true
		case "muc_membersonly":
			ri.membersOnly = true
		case nsOccupantID:
			ri.occupantIDs = true
		case "muc_nonanonymous":
			ri.nonAnonymous = true
		}
	}
	return ri, nil
}

// fillFromArchive fetches what the room's archive holds after what the
// store has of the room: everything after the newest stored room archive
// id, page by page; on a first join the newest maxStanzas messages (one
// page, so at most what the server answers at once). The results arrive
// as messages before each answer and go through onRoomArchiveResult.
func (c *Client) fillFromArchive(ctx context.Context, l *link, r *roomState, a roomAnchor, maxStanzas int) error {
	var q mamQuery
	switch {
	case a.stanzaID != "":
		after := a.stanzaID
		q = mamQuery{Set: rsmSet{Max: roomArchivePage, After: &after}}
	case !a.newest.IsZero():
		// Nothing stored carries a room archive id (the room had no
		// archive then): by time, a minute early for the clocks; the
		// store drops the copies by their ids.
		q = mamQuery{Form: mamSince(a.newest.Add(-time.Minute)), Set: rsmSet{Max: roomArchivePage}}
	case maxStanzas <= 0:
		return nil
	default:
		last := ""
		_, err := c.queryRoomArchive(ctx, l, r, mamQuery{Set: rsmSet{Max: maxStanzas, Before: &last}})
		return err
	}
	for {
		fin, err := c.queryRoomArchive(ctx, l, r, q)
		var se *StanzaError
		if errors.As(err, &se) && se.Condition == string(stanza.ItemNotFound) && q.Form == nil {
			// The archive no longer has the id (expired or reset): by
			// time instead.
			q = mamQuery{Form: mamSince(a.stanzaTime.Add(-time.Minute)), Set: rsmSet{Max: roomArchivePage}}
			continue
		}
		if err != nil {
			return err
		}
		if fin.complete() || fin.Set.Last == "" {
			return nil
		}
		last := fin.Set.Last
		q.Set.After = &last
	}
}

// queryRoomArchive asks the room's archive for one page.
func (c *Client) queryRoomArchive(ctx context.Context, l *link, r *roomState, q mamQuery) (mamFin, error) {
	q.QueryID = randomHex(8)
	c.mu.Lock()
	if r.joinLink != l {
		// A join on a lost link that a rejoin took over: its query
		// must not replace the one the rejoin waits for.
		c.mu.Unlock()
		return mamFin{}, fmt.Errorf("xmpp: archive of room %s: %w", r.room, ErrNotConnected)
	}
	r.mamQuery = q.QueryID
	c.mu.Unlock()
	var fin mamFin
	err := l.sess.UnmarshalIQElement(ctx, xmlPayload(q), stanza.IQ{Type: stanza.SetIQ, To: r.room}, &fin)
	return fin, stanzaErr(err)
}

// onRoomArchiveResult takes a result of a room archive query under way
// (from the room's bare JID, with that query's id), and reports whether w
// was one.
func (c *Client) onRoomArchiveResult(w wireMessage) bool {
	res := w.ArchiveResult
	if w.From == "" {
		return false
	}
	room, err := jid.Parse(w.From)
	if err != nil || room.Resourcepart() != "" {
		return false
	}
	c.mu.Lock()
	r, ok := c.rooms[room.String()]
	ours := ok && r.mamQuery != "" && r.mamQuery == res.QueryID
	c.mu.Unlock()
	if !ours {
		return false
	}
	if res.Forwarded.Message == nil {
		return true
	}
	inner := *res.Forwarded.Message
	m, ok := c.translate(inner)
	if !ok || m.Type != stanza.GroupChatMessage || !m.From.Bare().Equal(room) {
		return true
	}
	m.StanzaID, m.Archived, m.Delayed = res.ID, true, true
	if at := res.Forwarded.Delay.time(); !at.IsZero() {
		m.Time = notAfter(at, m.arrived) // the archive's: when the room stored it
	}
	c.onRoomMessage(inner, m, true)
	return true
}

// roomBounced handles a room's not-acceptable answer to an own message
// (XEP-0410: the room no longer counts the client as an occupant, e.g. its
// service restarted). The room did not take the message, so it does not
// fail: it goes back to pending and is written again, as the same message,
// once the rejoin that onRoomError starts lets the client back in; if the
// room is given up instead, it fails with the room's outbox. Until it is
// written again, an acknowledgement of the refused copy (a stream
// management ack or ping answer, which come after the refusal) does not
// mark it sent. A message refused a second time fails as any bounce does,
// so a room that refuses it for another reason is not rejoined for ever.
// Reports whether it handled the error: not for a room the client no
// longer holds, without a store, or for a message the store does not hold
// as pending or sent.
func (c *Client) roomBounced(from jid.JID, id string, se *stanza.Error) bool {
	if se == nil || se.Condition != stanza.NotAcceptable || id == "" || from.Resourcepart() != "" || c.opts.store == nil {
		return false
	}
	key := from.String()
	c.mu.Lock()
	r, held := c.rooms[key]
	again := c.refused[id]
	c.mu.Unlock()
	if !held || again {
		return false
	}
	// The state moves back before the rejoin starts, so the rejoin's
	// outbox flush finds it pending (through failed, the way Resend goes:
	// a stream management ack or ping may have marked it sent already).
	found := false
	done := make(chan struct{})
	c.store.do(func(db *store.DB) {
		defer close(done)
		if db == nil {
			return
		}
		m, ok, moved, err := db.MoveState(key, id, store.Failed, "not-acceptable")
		if err != nil || !ok || !moved || m.Dir != store.Outgoing {
			return // not ours, or delivered already
		}
		if _, ok, err = db.SetState(key, id, store.Pending, ""); err != nil || !ok {
			c.log.Error("store delivery state", "err", err)
			return
		}
		found = true
	})
	<-done
	if !found {
		return false
	}
	c.mu.Lock()
	if c.rooms[key] != r {
		// Given up meanwhile: its outbox failed before the message was
		// back in it.
		c.mu.Unlock()
		c.failRoomOutbox(from, fmt.Errorf("xmpp: not sent: out of the room %s", from))
		return true
	}
	if c.bounced == nil {
		c.bounced, c.refused = map[string]bool{}, map[string]bool{}
	}
	c.bounced[id], c.refused[id] = true, true
	c.mu.Unlock()
	c.log.Debug("room refused a message: rejoining, then sending it again", "room", from, "id", id)
	c.onRoomError(from, se)
	return true
}

// takeBounced reports whether id is a message its room refused (see
// roomBounced) and that waits to be written again; it is written now.
func (c *Client) takeBounced(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.bounced[id] {
		return false
	}
	delete(c.bounced, id)
	return true
}

// awaitsRewrite reports whether id was refused by its room and not yet
// written again: what acknowledges the refused copy does not make it sent.
func (c *Client) awaitsRewrite(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bounced[id]
}

// onRoomError handles an error message from a room: "not-acceptable" means
// the room no longer counts the client as an occupant (the room service
// restarted and lost it, XEP-0410 §3.2): rejoin it.
func (c *Client) onRoomError(from jid.JID, se *stanza.Error) {
	if se == nil || se.Condition != stanza.NotAcceptable || from.Resourcepart() != "" {
		return
	}
	c.mu.Lock()
	r, ok := c.rooms[from.String()]
	if !ok || !r.joined {
		c.mu.Unlock()
		return
	}
	r.joined = false
	self := r.occupants[r.nick]
	self.Nick = r.nick
	c.scheduleRejoinLocked(r)
	c.mu.Unlock()
	c.events.push(OccupantChanged{Room: from, Occupant: self, Self: true, Left: true, Reason: LeftError, Text: errorText(*se)})
}
