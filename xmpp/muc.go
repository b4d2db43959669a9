package xmpp

import (
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"magpie/xmpp/store"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Group chat (XEP-0045). mellium's muc.Client drops other occupants'
// presence, hangs when the server changes the nick and can block Serve on a
// kick, so joins, occupants and room messages are handled here: the stanza
// handler only translates room presence and messages into events and wakes
// a waiting JoinRoom; everything that sends runs in the calling goroutine.

const (
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCUser  = nsMUC + "#user"
	nsMUCAdmin = nsMUC + "#admin"
	nsMUCOwner = nsMUC + "#owner"
	// nsOccupantID is XEP-0421: a room that supports it gives each
	// occupant an id of its own making, stable per account.
	nsOccupantID = "urn:xmpp:occupant-id:0"
)

// The MUC status codes Magpie acts on (XEP-0045 §15.6).
const (
	statusConfigChanged = 104 // the room's configuration changed
	statusNonAnonymous  = 172 // the room now shows real JIDs to all
	statusSemiAnonymous = 173 // the room now shows real JIDs to moderators only
	statusSelf          = 110
	statusCreated       = 201
	statusNickFixed     = 210 // the service assigned or changed the nick on join
	statusBanned        = 301
	statusNickChanged   = 303
	statusKicked        = 307
	statusAffiliation   = 321 // removed after an affiliation change
	statusMembersOnly   = 322 // removed: the room became members-only
	statusShutdown      = 332 // the service is shutting down
)

// Errors of JoinRoom, also matched by a *RoomError through errors.Is.
var (
	// ErrNickConflict means someone in the room already uses the nick:
	// ask for another one.
	ErrNickConflict = errors.New("xmpp: nickname already in use in the room")
	// ErrRoomPassword means the room needs a password (or it was wrong).
	ErrRoomPassword = errors.New("xmpp: the room requires a password")
	// ErrRoomBanned means the account is banned from the room.
	ErrRoomBanned = errors.New("xmpp: banned from the room")
	// ErrMembersOnly means the room admits only its members.
	ErrMembersOnly = errors.New("xmpp: the room is members-only")
	// ErrRoomNotFound means the room does not exist and cannot be created.
	ErrRoomNotFound = errors.New("xmpp: no such room")
	// ErrNotInRoom is returned for a room the client has not joined.
	ErrNotInRoom = errors.New("xmpp: not in the room")
)

// errJoinOvertaken ends a join that must not send its presence any more:
// the room was left (LeaveRoom) or another join of it is under way. A join
// presence sent after the leave would put the account back in the room
// while the client has forgotten it; two joins at once would overwrite
// each other's state.
var errJoinOvertaken = errors.New("xmpp: the room was left or is being joined by another call")

// errNickSuperseded answers a ChangeNick that a later ChangeNick of the
// same room replaced before the room answered: only the later one learns
// the room's answer.
var errNickSuperseded = errors.New("superseded by a later change")

// RoomError is a room's refusal of a join (or of another request), with the
// stanza error's condition. errors.Is matches it against ErrNickConflict,
// ErrRoomPassword, ErrRoomBanned, ErrMembersOnly and ErrRoomNotFound.
type RoomError struct {
	Room      jid.JID
	Condition string // e.g. "conflict", "not-authorized"
	Text      string
}

func (e *RoomError) Error() string {
	s := fmt.Sprintf("xmpp: room %s: %s", e.Room, e.Condition)
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

// definite reports whether the room refused for good: asking again would
// get the same answer, so a rejoin gives the room up. Anything else (a
// MUC service restarting answers service-unavailable,
// remote-server-not-found, remote-server-timeout or internal-server-error)
// is temporary, and the rejoin is tried again later.
func (e *RoomError) definite() bool {
	switch e.Condition {
	case string(stanza.Forbidden), string(stanza.RegistrationRequired), string(stanza.NotAuthorized),
		string(stanza.Conflict), string(stanza.ItemNotFound), string(stanza.Gone), string(stanza.NotAllowed),
		// Removed from the room while joining (onRoomPresence).
		string(LeftKicked), string(LeftBanned), string(LeftAffiliation), string(LeftMembersOnly), string(LeftDestroyed):
		return true
	}
	return false
}

// Is maps the room's conditions onto the sentinel errors.
func (e *RoomError) Is(target error) bool {
	switch target {
	case ErrNickConflict:
		return e.Condition == string(stanza.Conflict)
	case ErrRoomPassword:
		return e.Condition == string(stanza.NotAuthorized)
	case ErrRoomBanned:
		return e.Condition == string(stanza.Forbidden)
	case ErrMembersOnly:
		return e.Condition == string(stanza.RegistrationRequired)
	case ErrRoomNotFound:
		return e.Condition == string(stanza.ItemNotFound)
	}
	return false
}

// Occupant is someone in a room.
type Occupant struct {
	Nick        string
	Role        string  // moderator, participant, visitor or none
	Affiliation string  // owner, admin, member, outcast or none
	JID         jid.JID // the real JID, when the room shows it (else zero)
}

// LeaveReason says why the client is no longer in a room.
type LeaveReason string

// The reasons for RoomLeft and for an occupant's OccupantChanged.Left.
const (
	LeftByUser      LeaveReason = "left"
	LeftKicked      LeaveReason = "kicked"
	LeftBanned      LeaveReason = "banned"
	LeftAffiliation LeaveReason = "affiliation-changed"
	LeftMembersOnly LeaveReason = "members-only"
	LeftShutdown    LeaveReason = "shutdown"
	LeftDestroyed   LeaveReason = "destroyed"
	LeftError       LeaveReason = "error" // the room failed a rejoin or sent an error
)

// RoomJoined reports that the client is in a room: after JoinRoom, and again
// (Rejoin set) after a reconnect. Nick is the nick the room gave (the server
// may change the one asked for); Occupants are the others present.
type RoomJoined struct {
	Room      jid.JID
	Nick      string
	Occupants []Occupant
	Rejoin    bool
}

// OccupantChanged reports that someone (also the own occupant) came, left,
// or changed role, affiliation or nick. With NewNick set, Nick changed to
// NewNick. With Left set the occupant left, for Reason.
type OccupantChanged struct {
	Room     jid.JID
	Occupant Occupant
	Self     bool
	NewNick  string
	Left     bool
	Reason   LeaveReason
	Text     string // the reason the moderator gave, if any
	Actor    string // the nick of the moderator who kicked or banned, if the room says
}

// RoomMessage reports a group chat message: live, or from the room's
// history on join (Message.Delayed; Message.Archived when it came from the
// room's archive). With a store it is reported once, when it is first
// stored. Message.Outgoing is set on the own messages where the room
// vouches for the sender (see ownRoomMessage): also on those sent under an
// earlier nick or from another device, where the room gives occupant ids
// (XEP-0421) or its archive the real JID.
type RoomMessage struct {
	Message
	Room jid.JID
	Nick string
	// Mention is set when someone else's message names the own current
	// nick (see Mentions) or references the own occupant or account JID
	// (XEP-0372): the app notifies of it even in a room set to
	// NotifyMentions.
	Mention bool
}

// RoomSubject reports a room's subject, on join and when it changes.
type RoomSubject struct {
	Room    jid.JID
	Nick    string // who set it, "" for the room itself
	Subject string
}

// RoomLeft reports that the client is out of a room: it left, was kicked or
// banned, the room was destroyed (Alternative: where to go instead) or the
// service shut down.
type RoomLeft struct {
	Room        jid.JID
	Reason      LeaveReason
	Text        string
	Actor       string // the nick of the moderator who kicked or banned, if the room says
	Alternative jid.JID
	Err         error // for LeftError
}

func (RoomJoined) isEvent()      {}
func (OccupantChanged) isEvent() {}
func (RoomMessage) isEvent()     {}
func (RoomSubject) isEvent()     {}
func (RoomLeft) isEvent()        {}

// Room is a room the client is in (or joining).
type Room struct {
	JID  jid.JID // bare
	Name string  // the room's own name (disco#info), "" if it has none
	// SubjectOpen is set when any occupant may set the subject, as the
	// room said when joined; otherwise only moderators may. SubjectKnown
	// is false when the room did not say (then try, and take the answer).
	SubjectOpen, SubjectKnown bool
	Nick                      string
	Subject                   string
	Joined                    bool // false while a join or rejoin waits for the room
	// Notify is the room's notification level (RoomNotify).
	Notify NotifyLevel
}

// roomState is the client's view of one room (under Client.mu).
type roomState struct {
	room     jid.JID
	nick     string
	password string
	subject  string
	joined   bool
	// everJoined is set once the first join succeeded: later joins are
	// rejoins after a reconnect.
	everJoined bool
	occupants  map[string]Occupant
	// pending receives the outcome of a join under way, on joinLink.
	pending chan joinResult
	// nickWait receives the room's answer to a ChangeNick under way: nil
	// for the new nick, the refusal otherwise.
	nickWait chan error
	joinLink *link
	// What the room's disco#info said on the last join: it admits only
	// members.
	membersOnly, infoKnown    bool
	name                      string // from disco#info, "" if none
	subjectOpen, subjectKnown bool   // any occupant may set the subject (disco#info)
	// What the room's disco#info said about the senders of its messages:
	// it sets occupant ids itself (XEP-0421, urn:xmpp:occupant-id:0), it
	// shows real JIDs to all (muc_nonanonymous).
	occupantIDs, nonAnonymous bool
	// selfOccupantID is the own occupant id, from the room's presence for
	// the own occupant, where occupantIDs: the same for every nick and
	// device of the account.
	selfOccupantID string
	// While filling (the archive query after a join), live messages wait
	// in held, so that the store gets the missed ones first, in order.
	filling  bool
	held     []Message
	mamQuery string // the id of the archive query under way
	// fillBy is the pending channel of the join that fills, so that a
	// join overtaken on a lost link cannot end the fill of the next one.
	fillBy chan joinResult
	// rejoining is set while a rejoin within the session is scheduled
	// (the room service restarted), to wait rejoinWait.
	rejoining  bool
	rejoinWait time.Duration
}

type joinResult struct {
	created bool
	err     error
}

// JoinOption configures JoinRoom.
type JoinOption func(*joinOptions)

type joinOptions struct {
	password   string
	maxStanzas int
	// created, when set, configures a room the join created instead of
	// accepting its defaults (CreateRoom, muc_owner.go).
	created func(ctx context.Context, room jid.JID) error
}

// WithRoomPassword joins a password-protected room.
func WithRoomPassword(pw string) JoinOption { return func(o *joinOptions) { o.password = pw } }

// WithRoomHistory sets how many messages of history to fetch when the
// store knows nothing of the room yet (default 50; 0 for none). For a room
// the store knows, everything after its newest stored message is fetched
// (see JoinRoom).
func WithRoomHistory(maxStanzas int) JoinOption {
	return func(o *joinOptions) { o.maxStanzas = maxStanzas }
}

// wireOccupantID is a XEP-0421 occupant id.
type wireOccupantID struct {
	ID string `xml:"id,attr"`
}

// wireMUCUser is the muc#user element of room presence and messages.
// wireMUCItem is an occupant's item in muc#user.
type wireMUCItem struct {
	Affiliation string `xml:"affiliation,attr"`
	Role        string `xml:"role,attr"`
	JID         string `xml:"jid,attr"`
	Nick        string `xml:"nick,attr"`
	Reason      string `xml:"reason"`
	Actor       struct {
		Nick string `xml:"nick,attr"`
	} `xml:"actor"` // who kicked or banned
}

type wireMUCUser struct {
	Items    []wireMUCItem `xml:"item"`
	Statuses []struct {
		Code string `xml:"code,attr"`
	} `xml:"status"`
	Destroy *struct {
		JID    string `xml:"jid,attr"`
		Reason string `xml:"reason"`
	} `xml:"destroy"`
}

func (x *wireMUCUser) has(code int) bool {
	if x == nil {
		return false
	}
	for _, s := range x.Statuses {
		if n, err := strconv.Atoi(s.Code); err == nil && n == code {
			return true
		}
	}
	return false
}

// isRoom reports whether bare is a room the client is in or joining.
func (c *Client) isRoom(bare jid.JID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.rooms[bare.String()]
	return ok
}

// JoinRoom enters room (a bare JID) as nick and waits until the room lets the
// client in (and reports RoomJoined) or refuses: a *RoomError that matches
// ErrNickConflict, ErrRoomPassword, ErrRoomBanned, ErrMembersOnly or
// ErrRoomNotFound. A room that does not exist yet is created as an instant
// room. The room is rejoined after every reconnect until LeaveRoom.
//
// The messages missed since the newest one stored come back once, in
// order, before JoinRoom returns. A room that keeps an archive (its
// disco#info lists urn:xmpp:mam:2) is asked for no join history and its
// archive is queried instead (XEP-0313, paged, after the newest stored
// stanza-id of the room), which has no size limit; other rooms send the
// join history of the last seconds since the newest stored message
// (XEP-0045 §7.2.15, limited by the room). Copies of stored messages are
// dropped by their ids (see the store's duplicate rules). A failed
// archive query is reported as ErrorOccurred; the join stands.
//
// If the connection drops before the room answers, JoinRoom fails at once
// with an error matching ErrNotConnected and the room is forgotten: the
// caller decides whether to join again once online.
func (c *Client) JoinRoom(ctx context.Context, room jid.JID, nick string, opts ...JoinOption) error {
	room = room.Bare()
	if nick == "" {
		return errors.New("xmpp: join room: empty nick")
	}
	if _, err := room.WithResource(nick); err != nil {
		return fmt.Errorf("xmpp: join room: invalid nick %q: %w", nick, err)
	}
	o := joinOptions{maxStanzas: 50}
	for _, f := range opts {
		f(&o)
	}
	c.mu.Lock()
	l := c.link
	if l == nil {
		c.mu.Unlock()
		return ErrNotConnected
	}
	if c.rooms == nil {
		c.rooms = map[string]*roomState{}
	}
	if r, ok := c.rooms[room.String()]; ok && (r.joined || r.pending != nil) {
		c.mu.Unlock()
		return fmt.Errorf("xmpp: join room %s: already joined or joining", room)
	}
	// Joined again: autojoin may bring it back after a reconnect.
	delete(c.userLeft, room.String())
	r := &roomState{room: room, nick: nick, password: o.password, occupants: map[string]Occupant{}}
	c.rooms[room.String()] = r
	c.mu.Unlock()
	res, err := c.join(ctx, l, r, o.maxStanzas, false)
	if err != nil {
		c.mu.Lock()
		forgotten := c.rooms[room.String()] == r
		if forgotten {
			delete(c.rooms, room.String())
		}
		c.mu.Unlock()
		if forgotten {
			c.failRoomOutbox(room, err)
		}
		return err
	}
	if res.created {
		// Prosody (and others) keep a new room locked until its owner
		// accepts or submits the configuration: accept the defaults.
		configure := c.acceptInstantRoom
		if o.created != nil {
			configure = o.created
		}
		if err := configure(ctx, room); err != nil {
			return fmt.Errorf("xmpp: create room %s: %w", room, err)
		}
		// Only now can the room say what it is (for RoomNotify).
		if info, err := discoRoom(ctx, l.sess, room); err == nil {
			c.noteRoomInfo(r, info)
		}
	}
	// Messages that wait for the room (typed while it was being joined,
	// or left pending by an earlier run of the client) go out now.
	c.flushRoomOutbox(ctx, l, room)
	return nil
}

// join sends the join presence for r on l and waits for the outcome (the
// stanza handler reports RoomJoined), then fills the room from its archive.
// It gives up as soon as l drops.
//
// Only one join of a room runs at a time, and only while the room is
// wanted: a join (rejoin set: a rejoin) starts only when r is still the
// client's room and no other join of it is under way, and it checks again
// just before the join presence goes out, with l.sendMu held so that a
// LeaveRoom's unavailable presence (sent under the same lock) cannot
// overtake it. Otherwise it fails with errJoinOvertaken and changes
// nothing.
func (c *Client) join(ctx context.Context, l *link, r *roomState, maxStanzas int, rejoin bool) (joinResult, error) {
	ctx, cancel := linkContext(ctx, l)
	defer cancel()
	ch := make(chan joinResult, 1)
	key := r.room.String()
	c.mu.Lock()
	// A join still waiting on a lost link is failing: a rejoin on the new
	// link takes over (its clear and endFill touch only their own join).
	stale := r.pending != nil && r.joinLink != l && r.joinLink.isDone()
	if c.rooms[key] != r || (r.pending != nil && !stale) || (rejoin && r.joined && r.joinLink == l) {
		c.mu.Unlock()
		return joinResult{}, fmt.Errorf("xmpp: join room %s: %w", r.room, errJoinOvertaken)
	}
	r.pending, r.joinLink, r.joined = ch, l, false
	c.mu.Unlock()
	clear := func() {
		c.mu.Lock()
		if r.pending == ch {
			r.pending = nil
		}
		c.mu.Unlock()
	}
	fail := func(err error) (joinResult, error) {
		clear()
		if linkLost(l, err) {
			err = fmt.Errorf("xmpp: join room %s: connection lost: %w", r.room, ErrNotConnected)
		}
		return joinResult{}, err
	}
	info, infoErr := discoRoom(ctx, l.sess, r.room)
	if infoErr != nil && (l.isDone() || ctx.Err() != nil) {
		return fail(fmt.Errorf("xmpp: join room %s: %w", r.room, infoErr))
	}
	anchor := c.roomAnchor(r.room)

	archived := infoErr == nil && info.archived // unknown: the join history it is
	c.mu.Lock()
	if c.rooms[key] != r || r.pending != ch {
		// Left (or taken over) while the room was asked about itself.
		c.mu.Unlock()
		return fail(fmt.Errorf("xmpp: join room %s: %w", r.room, errJoinOvertaken))
	}
	r.occupants = map[string]Occupant{}
	c.storeHeldLocked(r) // held by a fill on a lost link
	r.filling, r.fillBy = archived, ch
	nick, password := r.nick, r.password
	c.mu.Unlock()
	if infoErr == nil {
		c.noteRoomInfo(r, info)
	}
	// Whatever happens, what waits in held goes to the store.
	defer c.endFill(r, ch)

	var children []xml.TokenReader
	if password != "" {
		children = append(children, textElement("password", password))
	}
	children = append(children, xmlstream.Wrap(nil, joinHistory(archived, anchor, maxStanzas, time.Now())))
	to, _ := r.room.WithResource(nick)
	p := stanza.Presence{To: to}.Wrap(xmlstream.MultiReader(
		xmlstream.Wrap(xmlstream.MultiReader(children...), xml.StartElement{Name: xml.Name{Space: nsMUC, Local: "x"}}),
		capsElement(),
	))
	c.mu.Lock()
	hook := c.beforeJoinPresence
	c.mu.Unlock()
	if hook != nil {
		hook(r.room)
	}
	l.sendMu.Lock()
	c.mu.Lock()
	current := c.rooms[key] == r && r.pending == ch
	c.mu.Unlock()
	if !current {
		l.sendMu.Unlock()
		return fail(fmt.Errorf("xmpp: join room %s: %w", r.room, errJoinOvertaken))
	}
	err := l.sess.Send(ctx, p)
	l.sendMu.Unlock()
	if err != nil {
		return fail(fmt.Errorf("xmpp: join room %s: %w", r.room, err))
	}
	var res joinResult
	select {
	case res = <-ch:
		if res.err != nil {
			return res, res.err
		}
	case <-ctx.Done():
		return fail(fmt.Errorf("xmpp: join room %s: %w", r.room, ctx.Err()))
	}
	if archived {
		if err := c.fillFromArchive(ctx, l, r, anchor, maxStanzas); err != nil {
			c.log.Info("room archive", "room", r.room, "err", err)
			if !l.isDone() {
				c.events.push(ErrorOccurred{Err: fmt.Errorf("xmpp: history of room %s: %w", r.room, err)})
			}
		}
	}
	return res, nil
}

// noteRoomInfo keeps what the room's disco#info said, also in the store.
func (c *Client) noteRoomInfo(r *roomState, info roomInfo) {
	c.mu.Lock()
	r.membersOnly, r.infoKnown, r.name = info.membersOnly, true, info.name
	r.occupantIDs, r.nonAnonymous = info.occupantIDs, info.nonAnonymous
	if info.conference {
		c.kinds.noteJID(r.room, true)
	}
	r.subjectOpen, r.subjectKnown = info.subjectOpen, info.subjectKnown
	if s, ok := c.roomSettings[r.room.String()]; ok {
		s.MembersOnly, s.Known = info.membersOnly, true
		c.roomSettings[r.room.String()] = s
	}
	c.mu.Unlock()
	c.store.do(func(db *store.DB) {
		if db == nil {
			return
		}
		if err := db.SetRoomMembersOnly(r.room.String(), info.membersOnly); err != nil {
			c.log.Error("store room info", "err", err)
		}
	})
}

// refreshRoomInfo asks a joined room about itself again, after it said
// that its configuration changed.
func (c *Client) refreshRoomInfo(room jid.JID) {
	sess, err := c.session()
	if err != nil {
		return
	}
	info, err := discoRoom(context.Background(), sess, room)
	if err != nil {
		c.log.Debug("room info after a configuration change", "room", room.String(), "err", err)
		return
	}
	c.mu.Lock()
	r, ok := c.rooms[room.String()]
	c.mu.Unlock()
	if ok {
		c.noteRoomInfo(r, info)
	}
}

// joinHistory is the <history/> of a join presence (XEP-0045 §7.2.15). A
// room with an archive is asked for none: the archive query fills the gap
// without the room's history limit. Otherwise a room the store knows is
// asked for the seconds since its newest stored message; a relative time,
// unlike since, does not depend on the two clocks agreeing. The few
// seconds added for the way there overlap with what is stored, and the
// store drops those copies by their ids.
func joinHistory(archived bool, a roomAnchor, maxStanzas int, now time.Time) xml.StartElement {
	history := xml.StartElement{Name: xml.Name{Local: "history"}}
	attr := func(name string, v int) {
		history.Attr = append(history.Attr, xml.Attr{Name: xml.Name{Local: name}, Value: strconv.Itoa(v)})
	}
	switch {
	case archived:
		attr("maxstanzas", 0)
	case !a.newest.IsZero():
		secs := int(now.Sub(a.newest)/time.Second) + 5
		attr("seconds", max(secs, 5))
	default:
		attr("maxstanzas", maxStanzas)
	}
	return history
}

// roomAnchor is where a room's history stands in the store.
type roomAnchor struct {
	stanzaID   string    // the newest stored stanza-id of the room (its archive id)
	stanzaTime time.Time // that message's time
	newest     time.Time // the newest stored message's time (zero: none)
}

// roomAnchor reads the store: what is stored of room decides what the join
// asks for. Read before the join presence goes out: live messages stored
// after it must not move the anchor past the gap.
func (c *Client) roomAnchor(room jid.JID) roomAnchor {
	var a roomAnchor
	if c.opts.store == nil {
		return a
	}
	c.store.barrier() // what the handler received is in the store
	db := c.opts.store
	// The newest stored before now (a time ahead of the clock, from a
	// stamp an older version took, would cut the join history short).
	if last, err := db.History(room.String(), store.Cursor{Time: time.Now()}, 1); err == nil && len(last) == 1 {
		a.newest = last[0].Time
	}
	var err error
	if a.stanzaID, a.stanzaTime, err = db.NewestStanzaID(room.String()); err != nil {
		c.log.Error("read room anchor", "err", err)
	}
	return a
}

// endFill ends the archive fill of r by the join whose pending channel is
// ch (a later join's fill is not this one's to end): the live messages held
// meanwhile go to the store, after the archive's (the store writer keeps
// order). Under c.mu, so that a message arriving meanwhile cannot overtake
// them.
func (c *Client) endFill(r *roomState, ch chan joinResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.fillBy != ch {
		return
	}
	r.filling, r.mamQuery, r.fillBy = false, "", nil
	c.storeHeldLocked(r)
}

// storeHeldLocked hands the live messages r held during a fill to the
// store, in order. Under c.mu.
func (c *Client) storeHeldLocked(r *roomState) {
	for _, m := range r.held {
		c.store.message(m, false)
	}
	r.held = nil
}

// linkContext is ctx, also cancelled when l drops: an IQ on a dead session
// would otherwise wait for the whole deadline.
func linkContext(ctx context.Context, l *link) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func (l *link) isDone() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// acceptInstantRoom unlocks a room just created with its default
// configuration (XEP-0045 §10.1.2).
func (c *Client) acceptInstantRoom(ctx context.Context, room jid.JID) error {
	sess, err := c.session()
	if err != nil {
		return err
	}
	form := xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: nsDataForm, Local: "x"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "submit"}},
	})
	q := xmlstream.Wrap(form, xml.StartElement{Name: xml.Name{Space: nsMUCOwner, Local: "query"}})
	resp, err := sess.SendIQElement(ctx, q, stanza.IQ{Type: stanza.SetIQ, To: room})
	if err != nil {
		return stanzaErr(err)
	}
	defer resp.Close()
	return iqError(resp)
}

// iqError reads an IQ reply and returns its error, if it is one.
func iqError(resp xml.TokenReader) error {
	var reply struct {
		Type  string        `xml:"type,attr"`
		Error *stanza.Error `xml:"error"`
	}
	if err := xml.NewTokenDecoder(resp).Decode(&reply); err != nil {
		return err
	}
	if reply.Type == string(stanza.ErrorIQ) {
		se := &StanzaError{Condition: "undefined-condition"}
		if reply.Error != nil {
			se = &StanzaError{Condition: string(reply.Error.Condition), Type: string(reply.Error.Type), Text: errorText(*reply.Error)}
		}
		return se
	}
	return nil
}

// LeaveRoom leaves a room (and stops rejoining it). RoomLeft follows with
// LeftByUser. A join or rejoin of the room under way stops (a JoinRoom
// waiting for the room fails), and messages to the room still waiting in
// the outbox fail (MessageStateChanged with DeliveryFailed). The room stays
// out of the autojoin after a reconnect, even if its bookmark says
// autojoin, until JoinRoom enters it again (see WithAutojoin).
func (c *Client) LeaveRoom(ctx context.Context, room jid.JID) error {
	room = room.Bare()
	c.mu.Lock()
	r, ok := c.rooms[room.String()]
	l := c.link
	if ok {
		delete(c.rooms, room.String())
		if c.userLeft == nil {
			c.userLeft = map[string]bool{}
		}
		c.userLeft[room.String()] = true
		if l != nil {
			// The room's confirmation is still due: a join started
			// before it arrives must not take it for its answer.
			if c.leftRooms == nil {
				c.leftRooms = map[string]time.Time{}
			}
			c.leftRooms[room.String()] = time.Now()
		}
		r.finishJoin(joinResult{err: fmt.Errorf("xmpp: join room %s: %w", room, errJoinOvertaken)})
		r.answerNick(ErrNotInRoom)
	}
	c.mu.Unlock()
	if !ok {
		return ErrNotInRoom
	}
	c.failRoomOutbox(room, fmt.Errorf("xmpp: not sent: you left the room %s", room))
	c.events.push(RoomLeft{Room: room, Reason: LeftByUser})
	if l == nil {
		return nil // offline: the server has dropped the occupant already
	}
	to, _ := room.WithResource(r.nick)
	// Under sendMu: a join presence that passed its last check is written
	// before this, never after (see join).
	l.sendMu.Lock()
	err := l.sess.Send(ctx, stanza.Presence{To: to, Type: stanza.UnavailablePresence}.Wrap(nil))
	l.sendMu.Unlock()
	if err != nil {
		return fmt.Errorf("xmpp: leave room %s: %w", room, err)
	}
	return nil
}

// Rooms returns the rooms the client is in or joining, sorted by JID. It
// reads the store only for a room's notification setting not read before
// (see RoomNotify), so it is cheap enough for a UI thread.
func (c *Client) Rooms() []Room {
	c.mu.Lock()
	out := make([]Room, 0, len(c.rooms))
	for _, r := range c.rooms {
		out = append(out, r.public())
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].JID.String() < out[j].JID.String() })
	for i := range out {
		out[i].Notify = c.RoomNotify(out[i].JID)
	}
	return out
}

// Room returns one of Rooms: the client's view of room, if it is in the
// room or getting (back) in.
func (c *Client) Room(room jid.JID) (Room, bool) {
	c.mu.Lock()
	r, ok := c.rooms[room.Bare().String()]
	var out Room
	if ok {
		out = r.public()
	}
	c.mu.Unlock()
	if !ok {
		return Room{}, false
	}
	out.Notify = c.RoomNotify(out.JID)
	return out, true
}

// finishJoin answers the join under way, if any; under c.mu. The channel
// is buffered and written once: pending is cleared.
func (r *roomState) finishJoin(res joinResult) {
	if r.pending != nil {
		r.pending <- res
		r.pending = nil
	}
}

// answerNick answers the ChangeNick under way, if any: nil for the new
// nick, else why not; under c.mu.
func (r *roomState) answerNick(err error) {
	if r.nickWait != nil {
		r.nickWait <- err
		r.nickWait = nil
	}
}

// public is what Rooms reports of r (without Notify); under c.mu.
func (r *roomState) public() Room {
	return Room{JID: r.room, Name: r.name, SubjectOpen: r.subjectOpen, SubjectKnown: r.subjectKnown,
		Nick: r.nick, Subject: r.subject, Joined: r.joined}
}

// RoomName returns the name a room the client is in gave itself in its
// disco#info (known once joined), or "".
func (c *Client) RoomName(room jid.JID) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.rooms[room.Bare().String()]; ok {
		return r.name
	}
	return ""
}

// Occupants returns who is in a joined room (the own occupant included),
// sorted by nick.
func (c *Client) Occupants(room jid.JID) []Occupant {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.rooms[room.Bare().String()]
	if !ok {
		return nil
	}
	return sortedOccupants(r.occupants)
}

func sortedOccupants(m map[string]Occupant) []Occupant {
	out := make([]Occupant, 0, len(m))
	for _, o := range m {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Nick < out[j].Nick })
	return out
}

// SendRoomMessage sends body to a room the client is in or joining and
// returns its id (also its origin-id). It is stored as pending; the room's
// echo marks it sent (MessageStateChanged).
//
// While the room is being joined or rejoined (after a reconnect, or after
// the room service restarted), or the client is offline, the message waits
// in the outbox, as a chat message does offline, and goes out, in order,
// once the room has let the client in again: nothing typed meanwhile is
// lost. If the room is given up instead (LeaveRoom, a refused rejoin, a
// kick), the message fails (MessageStateChanged with DeliveryFailed). Only
// a room the client is not in or joining at all gives ErrNotInRoom.
// Without a store there is no outbox: a room not joined on the live
// session gives an error matching ErrNotConnected.
func (c *Client) SendRoomMessage(ctx context.Context, room jid.JID, body string) (string, error) {
	room = room.Bare()
	if body == "" {
		return "", errors.New("xmpp: empty message")
	}
	return c.sendInRoom(ctx, room, OutgoingMessage{To: room, Body: body, Type: stanza.GroupChatMessage})
}

// sendInRoom sends m through room: a group chat message, or a private
// message to one of its occupants. With a store it waits in the outbox
// until the client is in the room on the live session.
func (c *Client) sendInRoom(ctx context.Context, room jid.JID, m OutgoingMessage) (string, error) {
	c.mu.Lock()
	r, ok := c.rooms[room.String()]
	l := c.link
	ready := ok && r.joined && l != nil && r.joinLink == l
	c.mu.Unlock()
	switch {
	case !ok:
		return "", ErrNotInRoom
	case c.opts.store == nil && !ready:
		return "", fmt.Errorf("xmpp: send to room %s: not in it on this session yet: %w", room, ErrNotConnected)
	case c.opts.store == nil:
		return c.send(ctx, m)
	}
	rec, err := c.storeOutgoing(m)
	if err != nil {
		return "", err
	}
	// Looked at only after the message is stored: a join that completes
	// meanwhile flushes the room's outbox after it, so the message goes
	// out in that flush or in this one (once: see writeMessage). This
	// flush writes the room's earlier pending messages first.
	c.mu.Lock()
	l = c.link
	c.mu.Unlock()
	if l != nil {
		c.flushRoomOutbox(ctx, l, room)
	}
	return rec.OriginID, nil
}

// failRoomOutbox fails the messages to room (and the private messages to
// its occupants) that wait in the outbox, with why: the client is no longer
// in the room, so nothing would send them (the session's outbox flush
// leaves them to the room's join), and they would show "sending" for ever. It runs on the store
// writer, after what is queued already: a message stored after it (typed
// after a new JoinRoom of the room) is not touched. Safe under c.mu.
func (c *Client) failRoomOutbox(room jid.JID, why error) {
	if c.opts.store == nil {
		return
	}
	c.store.do(func(db *store.DB) {
		if db == nil {
			return
		}
		pending, err := db.Outbox()
		if err != nil {
			c.log.Error("read outbox", "err", err)
			return
		}
		for _, rec := range pending {
			if via, ok := recordRoom(rec); !ok || !via.Equal(room) {
				continue
			}
			id := cmp.Or(rec.OriginID, rec.ID)
			_, _, moved, err := db.MoveState(rec.Peer, id, store.Failed, why.Error())
			if err != nil {
				c.log.Error("store delivery state", "err", err)
				continue
			}
			if moved {
				peer, _ := jid.Parse(rec.Peer) // the room, or the occupant of a private message
				c.events.push(MessageStateChanged{ID: id, Peer: peer, State: DeliveryFailed, Err: why})
			}
		}
	})
}

// Kick removes an occupant from a room (the client must be a moderator).
func (c *Client) Kick(ctx context.Context, room jid.JID, nick, reason string) error {
	sess, err := c.session()
	if err != nil {
		return err
	}
	var reasonEl xml.TokenReader
	if reason != "" {
		reasonEl = textElement("reason", reason)
	}
	item := xmlstream.Wrap(reasonEl, xml.StartElement{
		Name: xml.Name{Local: "item"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "nick"}, Value: nick}, {Name: xml.Name{Local: "role"}, Value: "none"}},
	})
	q := xmlstream.Wrap(item, xml.StartElement{Name: xml.Name{Space: nsMUCAdmin, Local: "query"}})
	resp, err := sess.SendIQElement(ctx, q, stanza.IQ{Type: stanza.SetIQ, To: room.Bare()})
	if err != nil {
		return fmt.Errorf("xmpp: kick %s from %s: %w", nick, room.Bare(), stanzaErr(err))
	}
	defer resp.Close()
	if err := iqError(resp); err != nil {
		return fmt.Errorf("xmpp: kick %s from %s: %w", nick, room.Bare(), err)
	}
	return nil
}

// leaveReason reads why an occupant is gone from its unavailable presence.
func leaveReason(x *wireMUCUser) LeaveReason {
	switch {
	case x == nil:
		return LeftByUser
	case x.Destroy != nil:
		return LeftDestroyed
	case x.has(statusBanned):
		return LeftBanned
	case x.has(statusKicked):
		return LeftKicked
	case x.has(statusAffiliation):
		return LeftAffiliation
	case x.has(statusMembersOnly):
		return LeftMembersOnly
	case x.has(statusShutdown):
		return LeftShutdown
	}
	return LeftByUser
}

// onRoomPresence translates presence from a room the client is in or
// joining. It runs in Serve: it only updates state, wakes a waiting join and
// emits events.
func (c *Client) onRoomPresence(p wirePresence, from jid.JID) {
	room, nick := from.Bare(), from.Resourcepart()
	x := p.MUCUser
	c.mu.Lock()
	r, ok := c.rooms[room.String()]
	if !ok {
		c.mu.Unlock()
		return
	}
	if at, left := c.leftRooms[room.String()]; left && p.Type == "unavailable" && x.has(statusSelf) {
		delete(c.leftRooms, room.String())
		if !r.joined && leaveReason(x) == LeftByUser && time.Since(at) < time.Minute {
			// The room confirms a LeaveRoom after the client started
			// joining again: it is not about this join.
			c.mu.Unlock()
			return
		}
	}
	var events []Event
	// The own occupant: the room says so (110), or refuses the join
	// (an error from the nick asked for). Once in, presence from the own
	// nick is the own occupant's too (another device of the account
	// sharing it, which the room tells without 110); during a join it
	// may still be the one who held the nick before, leaving.
	self := x.has(statusSelf) || (p.Type == "error" && nick == r.nick) ||
		(r.joined && nick == r.nick && !x.has(statusNickChanged) && p.Type != "error")
	occ := Occupant{Nick: nick}
	var itemNick, itemReason, actor string
	if x != nil && len(x.Items) > 0 {
		it := x.Items[0]
		occ.Role, occ.Affiliation, itemNick, itemReason, actor = it.Role, it.Affiliation, it.Nick, it.Reason, it.Actor.Nick
		if j, err := jid.Parse(it.JID); err == nil && it.JID != "" {
			occ.JID = j
		}
	}
	switch p.Type {
	case "error":
		se := &RoomError{Room: room, Condition: "undefined-condition"}
		if p.Error != nil {
			se.Condition, se.Text = string(p.Error.Condition), errorText(*p.Error)
		}
		switch {
		case r.pending != nil:
			r.finishJoin(joinResult{err: se})
		case !r.joined:
		case r.nickWait != nil:
			r.answerNick(se) // refused: the client stays in the room
		default:
			events = append(events, ErrorOccurred{Err: se})
		}
	case "unavailable":
		if x.has(statusNickChanged) && itemNick != "" {
			if self {
				r.nick = itemNick
				r.answerNick(nil)
			}
			delete(r.occupants, nick)
			renamed := occ
			renamed.Nick = itemNick
			r.occupants[itemNick] = renamed
			events = append(events, OccupantChanged{Room: room, Occupant: occ, Self: self, NewNick: itemNick})
			break
		}
		delete(r.occupants, nick)
		reason := leaveReason(x)
		if !self {
			events = append(events, OccupantChanged{Room: room, Occupant: occ, Left: true, Reason: reason, Text: itemReason, Actor: actor})
			break
		}
		left := RoomLeft{Room: room, Reason: reason, Text: itemReason, Actor: actor}
		if x != nil && x.Destroy != nil {
			left.Text = x.Destroy.Reason
			left.Alternative, _ = jid.Parse(x.Destroy.JID)
		}
		if r.pending != nil {
			r.finishJoin(joinResult{err: &RoomError{Room: room, Condition: string(reason), Text: left.Text}})
		}
		if (reason == LeftByUser || reason == LeftShutdown) && r.everJoined {
			// Not asked for (LeaveRoom forgets the room first): the
			// service is going down (Prosody says so without a status
			// code). Keep the room: when the connection stays up (only
			// the room service restarted), rejoin it in this session;
			// else the reconnect does.
			r.joined = false
			events = append(events, OccupantChanged{Room: room, Occupant: occ, Self: true, Left: true, Reason: LeftShutdown, Text: left.Text})
			c.scheduleRejoinLocked(r)
			break
		}
		delete(c.rooms, room.String())
		r.answerNick(ErrNotInRoom)
		c.failRoomOutbox(room, fmt.Errorf("xmpp: not sent: out of the room %s (%s)", room, reason))
		events = append(events, left)
	case "":
		if self {
			// The room may have given another nick than the one asked
			// for (status 210): the one in the from is ours now.
			r.nick = nick
			if p.OccupantID != nil && p.OccupantID.ID != "" {
				r.selfOccupantID = p.OccupantID.ID
			}
		}
		r.occupants[nick] = occ
		if self && r.pending != nil {
			rejoin := r.everJoined
			r.joined, r.everJoined = true, true
			var others []Occupant
			for n, o := range r.occupants {
				if n != nick {
					others = append(others, o)
				}
			}
			sort.Slice(others, func(i, j int) bool { return others[i].Nick < others[j].Nick })
			events = append(events, RoomJoined{Room: room, Nick: nick, Occupants: others, Rejoin: rejoin})
			r.finishJoin(joinResult{created: x.has(statusCreated)})
			break
		}
		events = append(events, OccupantChanged{Room: room, Occupant: occ, Self: self})
	}
	c.mu.Unlock()
	for _, e := range events {
		c.events.push(e)
	}
}

// onRoomMessage translates a groupchat message from a room the client is
// in: a subject change, or a message for the store (which reports it as a
// RoomMessage once it is known to be new). archived is set for a result of
// the room's archive (m carries its archive id as StanzaID); live messages
// that arrive while the archive fills the room wait for it.
func (c *Client) onRoomMessage(w wireMessage, m Message, archived bool) {
	room, nick := m.From.Bare(), m.From.Resourcepart()
	isSubject := len(w.Subjects) > 0 && len(w.Bodies) == 0
	c.mu.Lock()
	r, ok := c.rooms[room.String()]
	if !ok {
		c.mu.Unlock()
		return // not (or no longer) in the room: nothing to show it in
	}
	if isSubject && !archived {
		r.subject = m.Subject
	}
	// Join history carries the room's delay; a delay an occupant added
	// to a live message says nothing about who sent it when.
	history := archived || hasDelayFrom(w.Delays, room.String())
	own := c.ownRoomMessage(r, w, m, history, archived)
	if !isSubject && m.Body != "" && !own {
		m.mention = Mentions(m.Body, r.nick) || c.referencesSelf(w, room, r.nick)
	}
	c.mu.Unlock()
	if isSubject {
		if !archived {
			c.events.push(RoomSubject{Room: room, Nick: nick, Subject: m.Subject})
		}
		return
	}
	if !archived && nick == "" && w.MUCUser != nil &&
		(w.MUCUser.has(statusConfigChanged) || w.MUCUser.has(statusNonAnonymous) || w.MUCUser.has(statusSemiAnonymous)) {
		// Only the room's own status counts: Prosody relays what an
		// occupant puts in a message, and every client in the room
		// would ask the room again for each.
		go c.refreshRoomInfo(room) // who may set the subject, say
	}
	if m.Body == "" {
		return
	}
	if !archived {
		// Only the room's own stanza-id identifies its messages (and its
		// archive); the one the own server would add is for 1:1 chats.
		m.StanzaID = ""
		for _, sid := range w.StanzaIDs {
			if sid.By == room.String() {
				m.StanzaID = sid.ID
			}
		}
	}
	m.To = room // so that Peer is the room for own messages too
	m.Outgoing = own
	if own && m.OriginID != "" {
		// The room has it (an echo, or a copy in its history): sent.
		// Queued before the message, so the stored row moves on here
		// and the copy merging into it changes nothing; setDelivery
		// reports a move once, whatever else (a stream management ack)
		// confirms it too.
		c.setDelivery(room, m.OriginID, DeliverySent, "")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.filling && !archived && c.rooms[room.String()] == r {
		r.held = append(r.held, m)
		return
	}
	c.store.message(m, false) // not live: room ids must not move the account's archive cursor
}

// ownRoomMessage tells whether a room message is the account's own, from
// what the room vouches for, never from what the sender put in it (Prosody
// relays an occupant's muc#user element, and keeps it in the archive):
//
//   - the occupant id (XEP-0421), where the room sets it itself (it says
//     so in its disco#info, and then removes any the sender put in): one
//     per account, so it also tells the messages of other devices and of
//     earlier nicks;
//   - live: the nick, the room's own from: the current own nick is the
//     account's (another device of it shares the nick); another nick is
//     the account's if the room's presence gave the account's real JID
//     for it;
//   - history (the archive's results, and join history with the room's
//     delay): in a room that shows real JIDs, the item the archive adds
//     after anything the sender's message carried (Prosody's muc_mam; in
//     other rooms it strips them all). An earlier own nick alone is not
//     enough: anyone may take it once given up, and the client cannot
//     know when the room saw it given up.
//
// Messages of this device are also told by their origin-id in the store
// (see the store's duplicate rules). Hold c.mu.
func (c *Client) ownRoomMessage(r *roomState, w wireMessage, m Message, history, archived bool) bool {
	nick := m.From.Resourcepart()
	if nick == "" {
		return false // the room itself
	}
	if r.occupantIDs && r.selfOccupantID != "" && w.OccupantID != nil && w.OccupantID.ID != "" {
		return w.OccupantID.ID == r.selfOccupantID
	}
	if !history {
		if nick == r.nick {
			return true
		}
		o, ok := r.occupants[nick]
		return ok && o.JID.Bare().Equal(c.account)
	}
	if archived && r.nonAnonymous {
		if j, ok := archiveSender(w); ok {
			return j.Bare().Equal(c.account)
		}
	}
	return false
}

// archiveSender is the real JID the room's archive gives for the sender of
// an archived message: the last item of the muc#user elements, as
// Prosody's muc_mam appends its own after what the sender's message
// carried.
func archiveSender(w wireMessage) (jid.JID, bool) {
	if w.MUCUser == nil || len(w.MUCUser.Items) == 0 {
		return jid.JID{}, false
	}
	it := w.MUCUser.Items[len(w.MUCUser.Items)-1]
	j, err := jid.Parse(it.JID)
	if err != nil || it.JID == "" {
		return jid.JID{}, false
	}
	return j, true
}

// roomsToRejoin lists the rooms joined on an earlier session (not a first
// join under way: its JoinRoom fails with the old link). Hold c.mu.
func (c *Client) roomsToRejoin() []*roomState {
	var rooms []*roomState
	for _, r := range c.rooms {
		if r.everJoined && (r.pending == nil || r.joinLink != c.link) {
			rooms = append(rooms, r)
		}
	}
	return rooms
}

// rejoinRooms enters again, on a new session (not a resumed one), every room
// the client was in; the join fetches what was missed meanwhile.
func (c *Client) rejoinRooms(l *link, rooms []*roomState) {
	for _, r := range rooms {
		c.rejoin(l, r)
	}
}

// rejoin enters r again on l and reports whether it is in. A definite
// refusal (RoomError.definite) forgets the room (RoomLeft with LeftError)
// and fails its waiting messages; a lost link keeps it for the next
// session's rejoin; a room left meanwhile, or joined by another call,
// is left alone; anything else (no answer, or a temporary error such as
// service-unavailable while the MUC service restarts) is tried again
// later in this session, with growing pauses.
func (c *Client) rejoin(l *link, r *roomState) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	_, err := c.join(ctx, l, r, 50, true)
	cancel()
	if err == nil {
		c.mu.Lock()
		r.rejoinWait = 0
		c.mu.Unlock()
		c.flushRoomOutbox(context.Background(), l, r.room)
		return true
	}
	c.mu.Lock()
	current := c.rooms[r.room.String()] == r
	c.mu.Unlock()
	var refused *RoomError
	switch {
	case !current || errors.Is(err, errJoinOvertaken):
		// Left, or another join of the room decides.
	case l.isDone() || errors.Is(err, ErrNotConnected):
		// The next session rejoins it.
	case errors.As(err, &refused) && refused.definite():
		c.mu.Lock()
		stillOurs := c.rooms[r.room.String()] == r
		if stillOurs {
			delete(c.rooms, r.room.String())
		}
		c.mu.Unlock()
		if stillOurs {
			c.failRoomOutbox(r.room, fmt.Errorf("xmpp: not sent: the room %s refused the rejoin: %w", r.room, err))
			c.events.push(RoomLeft{Room: r.room, Reason: LeftError, Err: err})
		}
	default:
		c.log.Info("rejoin room", "room", r.room, "err", err)
		c.mu.Lock()
		c.scheduleRejoinLocked(r)
		c.mu.Unlock()
	}
	return false
}

// scheduleRejoinLocked rejoins r within the current session, after a pause
// and with growing pauses while the room does not answer: the room service
// restarted (or a room told the client it is no longer an occupant) while
// the connection stayed up, so no reconnect would rejoin it. It stops when
// the room is left or the link drops (the reconnect rejoins then). Hold
// c.mu.
func (c *Client) scheduleRejoinLocked(r *roomState) {
	l := c.link
	if r.rejoining || l == nil || c.closed {
		return
	}
	r.rejoining = true
	r.rejoinWait = min(max(2*r.rejoinWait, c.opts.backoffMin), c.opts.backoffMax)
	wait := r.rejoinWait
	go func() {
		select {
		case <-l.done:
		case <-time.After(wait):
		}
		c.mu.Lock()
		r.rejoining = false
		current := c.rooms[r.room.String()] == r && c.link == l && !c.closed && !r.joined && r.pending == nil
		c.mu.Unlock()
		if current && !l.isDone() {
			c.rejoin(l, r)
		}
	}()
}

// flushRoomOutbox writes the messages to room (and the private messages to
// its occupants) that wait in the outbox, in order, when the client is in
// the room on l: they are held back from the
// session's outbox flush until the room is joined (a room refuses messages
// from non-occupants). Each is written once per session (writeMessage), so
// flushes that overlap (a join's and SendRoomMessage's) send nothing twice.
func (c *Client) flushRoomOutbox(ctx context.Context, l *link, room jid.JID) {
	if c.opts.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	c.mu.Lock()
	r, ok := c.rooms[room.String()]
	in := ok && r.joined && r.joinLink == l
	c.mu.Unlock()
	if !in {
		return // the next join of the room sends them
	}
	pending, err := c.opts.store.Outbox()
	if err != nil {
		c.log.Error("read outbox", "err", err)
		return
	}
	var sent []store.Message
	for _, rec := range pending {
		if via, ok := recordRoom(rec); !ok || !via.Equal(room) {
			continue // (private messages to its occupants go too)
		}
		wrote, err := c.writeMessage(ctx, l, rec)
		if err != nil {
			break // pending still: the next join of the room sends it
		}
		if wrote {
			sent = append(sent, rec)
		}
	}
	c.confirmSent(l, sent...)
}

// ChangeNick asks a joined room for a new nick and waits for its answer:
// nil once the room took it (an OccupantChanged with Self and NewNick
// follows), a *RoomError when it refused (ErrNickConflict when the nick is
// taken), or the context's error when the room did not answer in time. A
// later ChangeNick of the same room, asked before the room answered, takes
// over the wait: this one then returns at once with an error saying it
// was superseded (the room's answer goes to the later call). When the
// connection drops it fails at once with an error matching
// ErrNotConnected.
func (c *Client) ChangeNick(ctx context.Context, room jid.JID, nick string) error {
	room = room.Bare()
	to, err := room.WithResource(nick)
	if err != nil || nick == "" {
		return fmt.Errorf("xmpp: change nick: invalid nick %q", nick)
	}
	wait := make(chan error, 1)
	c.mu.Lock()
	l := c.link
	r, ok := c.rooms[room.String()]
	switch {
	case l == nil:
		c.mu.Unlock()
		return ErrNotConnected
	case !ok || !r.joined:
		c.mu.Unlock()
		return ErrNotInRoom
	case r.nick == nick:
		c.mu.Unlock()
		return nil // the room would only say the same presence again
	}
	// The room answers the presences in order, and only the last change
	// counts: an earlier caller stops waiting now.
	r.answerNick(fmt.Errorf("xmpp: change nick in %s: %w (to %q)", room, errNickSuperseded, nick))
	r.nickWait = wait
	c.mu.Unlock()
	ctx, cancel := linkContext(ctx, l)
	defer cancel()
	sess := l.sess
	forget := func() {
		c.mu.Lock()
		if r.nickWait == wait {
			r.nickWait = nil
		}
		c.mu.Unlock()
	}
	if err := sess.Send(ctx, stanza.Presence{To: to}.Wrap(capsElement())); err != nil {
		forget()
		if linkLost(l, err) {
			return fmt.Errorf("xmpp: change nick in %s: connection lost: %w", room, ErrNotConnected)
		}
		return fmt.Errorf("xmpp: change nick in %s: %w", room, err)
	}
	select {
	case err := <-wait:
		if err != nil {
			return err
		}
		return nil
	case <-ctx.Done():
		forget()
		if l.isDone() {
			return fmt.Errorf("xmpp: change nick in %s: connection lost: %w", room, ErrNotConnected)
		}
		return fmt.Errorf("xmpp: change nick in %s: %w", room, ctx.Err())
	}
}

// hasDelayFrom reports whether one of the delay stamps was added by from
// (a room, for its join history).
func hasDelayFrom(delays []wireDelay, from string) bool {
	for _, d := range delays {
		if d.From == from {
			return true
		}
	}
	return false
}
