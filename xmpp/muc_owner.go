package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Room creation, configuration and the subject (XEP-0045 §10.1, §10.2,
// §8.1).
//
// A room is created by joining it: the service answers the first occupant
// with status 201 and keeps the room locked (nobody else may enter) until
// its owner either accepts the default configuration (an "instant room",
// an empty submitted form) or fetches the muc#owner configuration form and
// submits it. JoinRoom accepts the defaults on its own; CreateRoom also
// submits a RoomConfig, and refuses to pass a room that was there already
// off as a new one (ErrRoomExists).
//
// The configuration form differs between services. RoomConfig names the
// settings an office needs by their XEP-0045 §15.5.3 fields
// (muc#roomconfig_*) plus the variants some services use (Prosody's
// muc#roomconfig_enablearchiving and its own allowmemberinvites field,
// ejabberd's mam); a setting the form does not offer is skipped, except
// members-only and the password: a room that would silently be open is
// refused with ErrRoomConfigUnsupported. Fields RoomConfig has no name for
// travel in RoomConfig.Fields.
//
// Changing the subject is a groupchat message with only a <subject/>: the
// room answers with the new subject to everyone (RoomSubject), or with an
// error message carrying the request's id. SetSubject waits for either.

// Errors of CreateRoom, ConfigureRoom and SetSubject.
var (
	// ErrRoomExists means CreateRoom found the room already there: it was
	// not created, and the client is not in it because of CreateRoom.
	ErrRoomExists = errors.New("xmpp: the room already exists")
	// ErrNotAllowed means the room refused a request the client has no
	// right to make (a participant changing the subject where only
	// moderators may, a configuration by a non-owner, an invitation to a
	// members-only room by a non-admin).
	ErrNotAllowed = errors.New("xmpp: not allowed in the room")
	// ErrRoomConfigUnsupported means the room's configuration form has no
	// field for a setting asked for that matters for who may enter
	// (members-only, the password).
	ErrRoomConfigUnsupported = errors.New("xmpp: the room service does not offer this setting")
)

// RoomRequestError is a room's refusal of a request other than a join:
// configuration, subject, invitation, decline, destruction. errors.Is
// matches ErrNotAllowed (forbidden, not-allowed) and ErrRoomNotFound
// (item-not-found); errors.As finds the *StanzaError. It is a type of its
// own because RoomError's mapping is about joins (forbidden means banned
// there).
type RoomRequestError struct {
	Room      jid.JID
	Request   string // "configure", "subject", "invite", "decline" or "destroy"
	Condition string // the stanza error condition, e.g. "forbidden"
	Text      string
}

func (e *RoomRequestError) Error() string {
	s := fmt.Sprintf("xmpp: room %s refused the %s: %s", e.Room, e.Request, e.Condition)
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

// Is maps the conditions onto ErrNotAllowed and ErrRoomNotFound.
func (e *RoomRequestError) Is(target error) bool {
	switch target {
	case ErrNotAllowed:
		return e.Condition == string(stanza.Forbidden) || e.Condition == string(stanza.NotAllowed)
	case ErrRoomNotFound:
		return e.Condition == string(stanza.ItemNotFound)
	}
	return false
}

// Unwrap returns the refusal as a *StanzaError.
func (e *RoomRequestError) Unwrap() error {
	return &StanzaError{Condition: e.Condition, Text: e.Text}
}

// roomRequestError turns an error of an owner request into a
// *RoomRequestError when the room refused it.
func roomRequestError(room jid.JID, request string, err error) error {
	var se *StanzaError
	if errors.As(stanzaErr(err), &se) {
		return &RoomRequestError{Room: room, Request: request, Condition: se.Condition, Text: se.Text}
	}
	return err
}

// RoomConfig is a room's configuration. CreateRoom and ConfigureRoom
// submit every setting (the zero value is a temporary, unlisted, open,
// unmoderated, semi-anonymous room without password): to change one
// setting of an existing room, start from RoomConfigForm.
type RoomConfig struct {
	Name        string // the room's title
	Description string
	// Persistent rooms stay when the last occupant leaves.
	Persistent bool
	// Public rooms are listed in the room directory (disco#items).
	Public bool
	// MembersOnly rooms admit only their members, admins and owners.
	MembersOnly bool
	// Password protects the room ("" for none).
	Password string
	// Moderated rooms give newcomers without affiliation a voice only
	// when a moderator grants it.
	Moderated bool
	// NonAnonymous rooms show every occupant's real JID to everyone;
	// otherwise only moderators see them (semi-anonymous).
	NonAnonymous bool
	// AllowSubjectChange lets participants change the subject; otherwise
	// only moderators may.
	AllowSubjectChange bool
	// AllowInvites lets occupants (in a members-only room: members)
	// invite others; otherwise only admins and owners may.
	AllowInvites bool
	// Archive keeps the room's messages in its archive (XEP-0313), where
	// the service lets owners choose (Prosody without
	// muc_log_all_rooms, ejabberd).
	Archive bool
	// HistoryLength is how many past messages the room sends on join at
	// most; 0 leaves the service's value.
	HistoryLength int
	// Fields are the form's other fields, by var, with their values:
	// RoomConfigForm fills it, CreateRoom and ConfigureRoom submit it
	// (a field the form does not have is dropped). Setting a var here
	// changes a setting RoomConfig has no name for.
	Fields map[string][]string
}

// The configuration form fields (XEP-0045 §15.5.3), with the variants of
// Prosody and ejabberd.
const (
	nsRoomConfig         = nsMUC + "#roomconfig"
	fieldRoomName        = "muc#roomconfig_roomname"
	fieldRoomDesc        = "muc#roomconfig_roomdesc"
	fieldPersistent      = "muc#roomconfig_persistentroom"
	fieldPublic          = "muc#roomconfig_publicroom"
	fieldMembersOnly     = "muc#roomconfig_membersonly"
	fieldPasswordOn      = "muc#roomconfig_passwordprotectedroom"
	fieldSecret          = "muc#roomconfig_roomsecret"
	fieldModerated       = "muc#roomconfig_moderatedroom"
	fieldWhois           = "muc#roomconfig_whois" // list-single: moderators or anyone
	fieldChangeSubject   = "muc#roomconfig_changesubject"
	fieldAllowInvites    = "muc#roomconfig_allowinvites"
	fieldProsodyInvites  = "{http://prosody.im/protocol/muc}roomconfig_allowmemberinvites"
	fieldEnableLogging   = "muc#roomconfig_enablelogging"
	fieldEnableArchiving = "muc#roomconfig_enablearchiving" // Prosody's mod_muc_mam
	fieldEjabberdMAM     = "mam"
	fieldHistoryLength   = "muc#roomconfig_historylength"
	fieldMaxHistoryFetch = "muc#maxhistoryfetch"

	whoisAnyone     = "anyone"
	whoisModerators = "moderators"
)

// Data form (XEP-0004) names used here.
const (
	formTypeField       = "FORM_TYPE"
	formFieldTypeFixed  = "fixed"
	formFieldTypeHidden = "hidden"
)

// ownerQuery is the muc#owner query: the configuration form, or the
// destruction of the room.
type ownerQuery struct {
	XMLName xml.Name      `xml:"http://jabber.org/protocol/muc#owner query"`
	Form    *dataForm     `xml:"jabber:x:data x,omitempty"`
	Destroy *ownerDestroy `xml:"destroy,omitempty"`
}

type ownerDestroy struct {
	JID    string `xml:"jid,attr,omitempty"`
	Reason string `xml:"reason,omitempty"`
}

func formBool(b bool) []string {
	if b {
		return []string{"1"}
	}
	return []string{"0"}
}

func isTrue(values []string) bool {
	return len(values) > 0 && (values[0] == "1" || values[0] == "true")
}

// values are the form values cfg sets, by field var. Several vars may say
// the same thing; only those the form has are submitted.
func (cfg RoomConfig) values() map[string][]string {
	whois := whoisModerators
	if cfg.NonAnonymous {
		whois = whoisAnyone
	}
	v := map[string][]string{
		fieldRoomName:        {cfg.Name},
		fieldRoomDesc:        {cfg.Description},
		fieldPersistent:      formBool(cfg.Persistent),
		fieldPublic:          formBool(cfg.Public),
		fieldMembersOnly:     formBool(cfg.MembersOnly),
		fieldPasswordOn:      formBool(cfg.Password != ""),
		fieldSecret:          {cfg.Password},
		fieldModerated:       formBool(cfg.Moderated),
		fieldWhois:           {whois},
		fieldChangeSubject:   formBool(cfg.AllowSubjectChange),
		fieldAllowInvites:    formBool(cfg.AllowInvites),
		fieldProsodyInvites:  formBool(cfg.AllowInvites),
		fieldEnableLogging:   formBool(cfg.Archive),
		fieldEnableArchiving: formBool(cfg.Archive),
		fieldEjabberdMAM:     formBool(cfg.Archive),
	}
	if cfg.HistoryLength > 0 {
		v[fieldHistoryLength] = []string{strconv.Itoa(cfg.HistoryLength)}
		v[fieldMaxHistoryFetch] = []string{strconv.Itoa(cfg.HistoryLength)}
	}
	return v
}

// roomConfigFromForm reads the current configuration out of a form.
func roomConfigFromForm(form *dataForm) RoomConfig {
	var cfg RoomConfig
	passwordOn := true // where the form has no switch, the secret decides
	for _, f := range form.Fields {
		first := ""
		if len(f.Values) > 0 {
			first = f.Values[0]
		}
		switch f.Var {
		case "", formTypeField:
		case fieldRoomName:
			cfg.Name = first
		case fieldRoomDesc:
			cfg.Description = first
		case fieldPersistent:
			cfg.Persistent = isTrue(f.Values)
		case fieldPublic:
			cfg.Public = isTrue(f.Values)
		case fieldMembersOnly:
			cfg.MembersOnly = isTrue(f.Values)
		case fieldPasswordOn:
			passwordOn = isTrue(f.Values)
		case fieldSecret:
			cfg.Password = first
		case fieldModerated:
			cfg.Moderated = isTrue(f.Values)
		case fieldWhois:
			cfg.NonAnonymous = first == whoisAnyone
		case fieldChangeSubject:
			cfg.AllowSubjectChange = isTrue(f.Values)
		case fieldAllowInvites, fieldProsodyInvites:
			cfg.AllowInvites = cfg.AllowInvites || isTrue(f.Values)
		case fieldEnableLogging, fieldEnableArchiving, fieldEjabberdMAM:
			cfg.Archive = cfg.Archive || isTrue(f.Values)
		case fieldHistoryLength, fieldMaxHistoryFetch:
			if n, err := strconv.Atoi(first); err == nil && cfg.HistoryLength == 0 {
				cfg.HistoryLength = n
			}
		default:
			if f.Type == formFieldTypeFixed {
				continue
			}
			if cfg.Fields == nil {
				cfg.Fields = map[string][]string{}
			}
			cfg.Fields[f.Var] = append([]string(nil), f.Values...)
		}
	}
	if !passwordOn {
		cfg.Password = ""
	}
	return cfg
}

// submission fills the room's form with cfg. Every field goes back, with
// its current value where cfg says nothing about it: some services (older
// Openfire) reset what a submission leaves out.
func (cfg RoomConfig) submission(form *dataForm) (*dataForm, error) {
	set := cfg.values()
	offered := map[string]bool{}
	sub := &dataForm{Type: "submit"}
	for _, f := range form.Fields {
		if f.Var == "" || f.Type == formFieldTypeFixed {
			continue
		}
		offered[f.Var] = true
		values := f.Values
		if v, ok := set[f.Var]; ok {
			values = v
		} else if v, ok := cfg.Fields[f.Var]; ok {
			values = v
		}
		out := formField{Var: f.Var, Values: values}
		if f.Type == formFieldTypeHidden {
			out.Type = formFieldTypeHidden
		}
		sub.Fields = append(sub.Fields, out)
	}
	if !offered[formTypeField] {
		sub.Fields = append([]formField{{Var: formTypeField, Type: formFieldTypeHidden, Values: []string{nsRoomConfig}}}, sub.Fields...)
	}
	if cfg.MembersOnly && !offered[fieldMembersOnly] {
		return nil, fmt.Errorf("%w: members-only", ErrRoomConfigUnsupported)
	}
	if cfg.Password != "" && !offered[fieldSecret] {
		return nil, fmt.Errorf("%w: password", ErrRoomConfigUnsupported)
	}
	return sub, nil
}

// roomConfigForm fetches the room's configuration form (XEP-0045 §10.2).
func (c *Client) roomConfigForm(ctx context.Context, room jid.JID) (*dataForm, error) {
	sess, err := c.session()
	if err != nil {
		return nil, err
	}
	var q ownerQuery
	err = sess.UnmarshalIQElement(ctx, xmlPayload(ownerQuery{}), stanza.IQ{Type: stanza.GetIQ, To: room}, &q)
	if err != nil {
		return nil, roomRequestError(room, "configure", err)
	}
	if q.Form == nil {
		return nil, fmt.Errorf("xmpp: room %s sent no configuration form", room)
	}
	return q.Form, nil
}

// RoomConfigForm returns the configuration of a room the account owns, as
// the room's form has it. A non-owner gets a *RoomRequestError matching
// ErrNotAllowed.
func (c *Client) RoomConfigForm(ctx context.Context, room jid.JID) (RoomConfig, error) {
	room = room.Bare()
	form, err := c.roomConfigForm(ctx, room)
	if err != nil {
		return RoomConfig{}, fmt.Errorf("xmpp: configuration of %s: %w", room, err)
	}
	return roomConfigFromForm(form), nil
}

// ConfigureRoom submits cfg as the configuration of a room the account
// owns: it fetches the form, fills it (see RoomConfig) and submits it. A
// non-owner gets a *RoomRequestError matching ErrNotAllowed. When the
// client is in the room, the password is remembered for its rejoins.
func (c *Client) ConfigureRoom(ctx context.Context, room jid.JID, cfg RoomConfig) error {
	room = room.Bare()
	if err := c.configureRoom(ctx, room, cfg); err != nil {
		return fmt.Errorf("xmpp: configure %s: %w", room, err)
	}
	c.mu.Lock()
	if r, ok := c.rooms[room.String()]; ok {
		r.password = cfg.Password
	}
	c.mu.Unlock()
	return nil
}

func (c *Client) configureRoom(ctx context.Context, room jid.JID, cfg RoomConfig) error {
	form, err := c.roomConfigForm(ctx, room)
	if err != nil {
		return err
	}
	sub, err := cfg.submission(form)
	if err != nil {
		return err
	}
	sess, err := c.session()
	if err != nil {
		return err
	}
	err = sess.UnmarshalIQElement(ctx, xmlPayload(ownerQuery{Form: sub}), stanza.IQ{Type: stanza.SetIQ, To: room}, nil)
	if err != nil {
		return roomRequestError(room, "configure", err)
	}
	return nil
}

// CreateRoom creates room (a bare JID on a group chat service) and enters
// it as nick, as its owner. With cfg nil it is an instant room: the
// service's default configuration is accepted. Otherwise the room's
// configuration form is submitted with cfg (see RoomConfig) before anyone
// else can enter.
//
// A room that exists already is not joined: CreateRoom asks the room
// (disco#info) first and returns ErrRoomExists when it answers. Should
// someone create it between that look and the join (the join then lacks
// status 201), the client leaves again (RoomJoined and RoomLeft are
// reported) and returns ErrRoomExists, so an existing room's configuration
// is never overwritten by accident. A join refused in a way that shows the
// room exists (nick taken, password, members-only, banned) returns an
// error matching both ErrRoomExists and the RoomError's sentinel. When the
// configuration fails after the room was created, the room is destroyed
// again (else the service would keep it locked, or, like Prosody after
// five minutes, open it with the defaults).
//
// RoomJoined is reported as for JoinRoom; the room is rejoined after
// reconnects (with cfg.Password) until LeaveRoom.
func (c *Client) CreateRoom(ctx context.Context, room jid.JID, nick string, cfg *RoomConfig) error {
	room = room.Bare()
	if room.Localpart() == "" {
		return fmt.Errorf("xmpp: create room %s: not a room address (name@service)", room)
	}
	if c.isRoom(room) {
		return fmt.Errorf("xmpp: create room %s: %w (the client is in it)", room, ErrRoomExists)
	}
	sess, err := c.session()
	if err != nil {
		return err
	}
	if _, err := disco.GetInfo(ctx, "", room, sess); err == nil {
		return fmt.Errorf("xmpp: create room %s: %w", room, ErrRoomExists)
	} else if !isStanzaError(err) {
		return fmt.Errorf("xmpp: create room %s: %w", room, err)
	}

	created := false
	opts := []JoinOption{WithRoomHistory(0), func(o *joinOptions) {
		o.created = func(ctx context.Context, room jid.JID) error {
			created = true // JoinRoom calls this in this goroutine
			if cfg == nil {
				return c.acceptInstantRoom(ctx, room)
			}
			return c.configureRoom(ctx, room, *cfg)
		}
	}}
	if cfg != nil && cfg.Password != "" {
		opts = append(opts, WithRoomPassword(cfg.Password))
	}
	err = c.JoinRoom(ctx, room, nick, opts...)
	switch {
	case err != nil && created:
		// Not configured: take the half-made room away again.
		cleanup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if derr := c.DestroyRoom(cleanup, room, ""); derr != nil {
			c.log.Warn("destroy a room whose configuration failed", "room", room, "err", derr)
		}
		_ = c.LeaveRoom(cleanup, room) // ErrNotInRoom once the destruction was reported
		return err
	case err != nil:
		if errors.Is(err, ErrNickConflict) || errors.Is(err, ErrRoomPassword) ||
			errors.Is(err, ErrRoomBanned) || errors.Is(err, ErrMembersOnly) {
			return fmt.Errorf("xmpp: create room %s: %w: %w", room, ErrRoomExists, err)
		}
		return err
	case !created:
		leave, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.LeaveRoom(leave, room)
		return fmt.Errorf("xmpp: create room %s: %w (created by someone else meanwhile)", room, ErrRoomExists)
	}
	return nil
}

// DestroyRoom destroys a room the account owns (XEP-0045 §10.9); the
// occupants, the client included, get RoomLeft with LeftDestroyed and
// reason. A non-owner gets a *RoomRequestError matching ErrNotAllowed.
func (c *Client) DestroyRoom(ctx context.Context, room jid.JID, reason string) error {
	room = room.Bare()
	sess, err := c.session()
	if err != nil {
		return err
	}
	q := ownerQuery{Destroy: &ownerDestroy{Reason: reason}}
	err = sess.UnmarshalIQElement(ctx, xmlPayload(q), stanza.IQ{Type: stanza.SetIQ, To: room}, nil)
	if err != nil {
		return fmt.Errorf("xmpp: destroy %s: %w", room, roomRequestError(room, "destroy", err))
	}
	return nil
}

// roomOps tracks what the group chat requests of this file and of
// muc_invite.go wait for, under its own lock (never held with Client.mu).
type roomOps struct {
	mu sync.Mutex
	// subjects are subject changes waiting for the room's answer, by
	// stanza id.
	subjects map[string]*subjectWait
	// sent are invitations and declines sent lately, by stanza id, so that
	// a bounce is reported as what it is.
	sent map[string]sentRoomRequest
	// invitations are the invitations reported lately, by room: the same
	// one arriving twice (direct and mediated) is reported once; inviters
	// counts them by inviter, to limit how many one inviter gets reported
	// (see flood.go). Neither is under mu: they have their own locks.
	invitations, inviters recentKeys
}

type subjectWait struct {
	room    jid.JID
	nick    string
	subject string
	done    chan error // buffered, written once
}

type sentRoomRequest struct {
	room    jid.JID
	to      jid.JID // where it went (the bounce comes from there)
	request string
	at      time.Time
}

// refusedBy reports whether an error from from can be the bounce of the
// request: one through the room only from the room's bare JID; a direct
// invitation from the invitee (any of its devices) or its server on its
// behalf.
func (s sentRoomRequest) refusedBy(from jid.JID) bool {
	if s.to.Equal(s.room) {
		return from.Equal(s.room)
	}
	return from.Bare().Equal(s.to.Bare())
}

// sentRequestTTL is how long a bounce of an invitation or decline is
// recognised as one.
const sentRequestTTL = 5 * time.Minute

func (o *roomOps) noteSent(id string, s sentRoomRequest) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sent == nil {
		o.sent = map[string]sentRoomRequest{}
	}
	for k, v := range o.sent {
		if time.Since(v.at) > sentRequestTTL {
			delete(o.sent, k)
		}
	}
	s.at = time.Now()
	o.sent[id] = s
}

// SetSubject changes the subject of a joined room and waits for the
// room's answer. Everyone in the room, the client included, gets
// RoomSubject. A room that does not let the client change it (only
// moderators may, unless RoomConfig.AllowSubjectChange) returns a
// *RoomRequestError matching ErrNotAllowed. Setting the subject the room
// has already sends nothing.
func (c *Client) SetSubject(ctx context.Context, room jid.JID, subject string) error {
	room = room.Bare()
	c.mu.Lock()
	r, ok := c.rooms[room.String()]
	var nick, current string
	joined := ok && r.joined
	if joined {
		nick, current = r.nick, r.subject
	}
	c.mu.Unlock()
	if !joined {
		return ErrNotInRoom
	}
	if subject == current {
		return nil
	}
	sess, err := c.session()
	if err != nil {
		return err
	}
	id := randomHex(12)
	wait := &subjectWait{room: room, nick: nick, subject: subject, done: make(chan error, 1)}
	c.roomOps.mu.Lock()
	if c.roomOps.subjects == nil {
		c.roomOps.subjects = map[string]*subjectWait{}
	}
	c.roomOps.subjects[id] = wait
	c.roomOps.mu.Unlock()
	defer func() {
		c.roomOps.mu.Lock()
		delete(c.roomOps.subjects, id)
		c.roomOps.mu.Unlock()
	}()
	msg := stanza.Message{To: room, ID: id, Type: stanza.GroupChatMessage}.Wrap(textElement("subject", subject))
	if err := sess.Send(ctx, msg); err != nil {
		return fmt.Errorf("xmpp: set the subject of %s: %w", room, err)
	}
	select {
	case err := <-wait.done:
		if err != nil {
			return fmt.Errorf("xmpp: set the subject of %s: %w", room, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("xmpp: set the subject of %s: %w", room, ctx.Err())
	}
}

// onRoomReply sees every incoming message before it is routed: it wakes a
// SetSubject waiting for the room's echo (and lets the message go on to
// onRoomMessage, which reports RoomSubject), and takes the bounces of
// subject changes, invitations and declines, reporting handled for those.
// It runs in Serve.
func (c *Client) onRoomReply(w wireMessage, m Message) (handled bool) {
	switch m.Type {
	case stanza.GroupChatMessage:
		if len(w.Subjects) == 0 || len(w.Bodies) > 0 {
			return false
		}
		c.roomOps.mu.Lock()
		for id, wait := range c.roomOps.subjects {
			if wait.room.Equal(m.From.Bare()) && wait.nick == m.From.Resourcepart() && wait.subject == m.Subject {
				wait.done <- nil
				delete(c.roomOps.subjects, id)
			}
		}
		c.roomOps.mu.Unlock()
		return false
	case stanza.ErrorMessage:
		if m.ID == "" {
			return false
		}
		refusal := func(room jid.JID, request string) *RoomRequestError {
			e := &RoomRequestError{Room: room, Request: request, Condition: "undefined-condition"}
			if w.Error != nil {
				e.Condition, e.Text = string(w.Error.Condition), errorText(*w.Error)
			}
			return e
		}
		c.roomOps.mu.Lock()
		defer c.roomOps.mu.Unlock()
		// Only the room refuses what went to the room: its occupants,
		// who see the ids of what the room forwards or relays, cannot.
		if wait, ok := c.roomOps.subjects[m.ID]; ok && wait.room.Equal(m.From) {
			wait.done <- refusal(wait.room, "subject")
			delete(c.roomOps.subjects, m.ID)
			return true
		}
		if sent, ok := c.roomOps.sent[m.ID]; ok && sent.refusedBy(m.From) {
			delete(c.roomOps.sent, m.ID)
			c.events.push(ErrorOccurred{Err: refusal(sent.room, sent.request)})
			return true
		}
	}
	return false
}
