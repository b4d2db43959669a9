package xmpp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"magpie/xmpp/store"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// WithStore keeps the account's history in db: every message the client
// sends or receives is stored (duplicates dropped), messages typed while
// offline wait in the outbox and go out in order once online, and every
// sign-in catches up from the server's archive. Several clients (the app
// and the command line) may share one store.
func WithStore(db *store.DB) Option { return func(o *options) { o.store = db } }

// DeliveryState is where an outgoing message is on its way.
type DeliveryState = store.State

// The delivery states. Incoming messages are DeliveryReceived.
const (
	DeliveryReceived  = store.Received
	DeliveryPending   = store.Pending
	DeliverySent      = store.Sent
	DeliveryDelivered = store.Delivered
	DeliveryFailed    = store.Failed
)

// MessageStateChanged reports that an outgoing message moved on: the server
// acknowledged it (DeliverySent) or the recipient's client confirmed it
// (DeliveryDelivered). A bounce is reported as MessageFailed, except a
// room's not-acceptable: the client rejoins and sends the message again
// (it goes back to pending in the store). DeliveryFailed
// with Err comes from the client itself: a group chat message (or a private
// message to an occupant) that can no longer be sent because the client is
// out of the room (left, refused, kicked); Err says why (also stored as the
// message's Error).
type MessageStateChanged struct {
	ID string
	// Peer is the conversation (Message.Peer): a bare JID, or a room
	// occupant's full JID for a private message.
	Peer  jid.JID
	State DeliveryState
	Err   error
}

// HistorySynced reports that the catch-up from the server's archive after a
// sign-in has finished; Added messages were new (each was also reported as
// a MessageReceived with Archived set).
type HistorySynced struct {
	Added int
	Err   error
}

func (MessageStateChanged) isEvent() {}
func (HistorySynced) isEvent()       {}

// Peer returns the other party of a one-to-one message: a bare JID, or for
// a private message through a room (Private) the occupant's full JID
// room@service/nick. Conversations are stored, and History takes them, by
// Peer.
func (m Message) Peer() jid.JID {
	switch {
	case m.Private && m.Outgoing:
		return m.To
	case m.Private:
		return m.From
	case m.Outgoing:
		return m.To.Bare()
	}
	return m.From.Bare()
}

// conversation returns the store's key for the conversation with j: its
// bare JID, or for a room's occupant (private messages) its full JID, when
// the client is in that room or knows it for one (roomKind), or the store
// holds private messages with j.
// Any other full JID stands for its bare JID.
func (c *Client) conversation(j jid.JID) jid.JID {
	if j.Resourcepart() == "" || j.Localpart() == "" {
		return j.Bare()
	}
	if c.knownRoom(j.Bare()) {
		return j
	}
	if c.opts.store != nil {
		if rs, err := c.opts.store.History(j.String(), store.Cursor{}, 1); err == nil && len(rs) > 0 {
			return j // a room left since
		}
	}
	return j.Bare()
}

// peerKeys are the store keys a delivery update for an outgoing message to
// peer may concern: for a full JID the occupant's private conversation
// first, then the bare JID (a chat with a contact's resource, the room of a
// group chat message). Only private messages are stored under a full JID.
func peerKeys(peer jid.JID) []string {
	if peer.Resourcepart() != "" && peer.Localpart() != "" {
		return []string{peer.String(), peer.Bare().String()}
	}
	return []string{peer.Bare().String()}
}

// record turns a message into its stored form.
func (c *Client) record(m Message) store.Message {
	r := store.Message{
		Peer:     m.Peer().String(),
		Dir:      store.Incoming,
		ID:       m.ID,
		OriginID: m.OriginID,
		StanzaID: m.StanzaID,
		Type:     string(m.Type),
		Body:     m.Body,
		Subject:  m.Subject,
		Thread:   m.Thread,
		Time:     m.Time,
		State:    m.State,
		Error:    m.Error,
		Resource: m.From.Resourcepart(), // the peer's, or the own device's that sent it
	}
	if m.Outgoing {
		r.Dir = store.Outgoing
		if r.State == store.Received {
			r.State = store.Sent
		}
	}
	return r
}

// fromRecord turns a stored message back into a Message.
func (c *Client) fromRecord(r store.Message) Message {
	peer, _ := jid.Parse(r.Peer)
	m := Message{
		Seq:      r.Seq,
		ID:       r.ID,
		OriginID: r.OriginID,
		StanzaID: r.StanzaID,
		Type:     messageType(r.Type),
		Body:     r.Body,
		Subject:  r.Subject,
		Thread:   r.Thread,
		Time:     r.Time,
		State:    r.State,
		Error:    r.Error,
		Outgoing: r.Dir == store.Outgoing,
	}
	m.From, m.To = peer, c.account
	if m.Outgoing {
		m.From, m.To = c.account, peer
	}
	if full, err := m.From.WithResource(r.Resource); err == nil { // "" keeps it bare
		m.From = full
	}
	// Only private messages with a room's occupant are stored under a
	// full JID (the incoming ones' resource is the occupant's nick).
	m.Private = peer.Resourcepart() != "" && m.Type != stanza.GroupChatMessage
	return m
}

// ErrNoStore is returned by the history methods of a client without a store.
var ErrNoStore = errors.New("xmpp: no local store")

// History returns up to limit messages exchanged with peer before the
// cursor (the zero cursor: the newest), oldest first. peer is a contact or
// a room (its bare JID), or a room's occupant (room@service/nick) for the
// private messages with it (Message.Peer); another full JID stands for its
// bare JID.
func (c *Client) History(peer jid.JID, before store.Cursor, limit int) ([]Message, error) {
	if c.opts.store == nil {
		return nil, ErrNoStore
	}
	rs, err := c.opts.store.History(c.conversation(peer).String(), before, limit)
	return c.fromRecords(rs), err
}

// HistoryAfter returns up to limit messages with peer (as for History)
// after the cursor, oldest first.
func (c *Client) HistoryAfter(peer jid.JID, after store.Cursor, limit int) ([]Message, error) {
	if c.opts.store == nil {
		return nil, ErrNoStore
	}
	rs, err := c.opts.store.After(c.conversation(peer).String(), after, limit)
	return c.fromRecords(rs), err
}

// HistoryAround returns the stored message seq with up to n messages of the
// same conversation on each side (to show a search hit in context).
func (c *Client) HistoryAround(seq int64, n int) ([]Message, error) {
	if c.opts.store == nil {
		return nil, ErrNoStore
	}
	rs, err := c.opts.store.Around(seq, n)
	return c.fromRecords(rs), err
}

// SearchHit is a message that matched a history search, with the byte
// ranges of the matches in its Body.
type SearchHit struct {
	Message
	Matches [][2]int
}

// SearchHistory finds stored messages containing text (English or Chinese,
// no word splitting needed), newest first, with peer (as for History) or,
// when peer is the zero JID, in all conversations.
func (c *Client) SearchHistory(text string, peer jid.JID, limit int) ([]SearchHit, error) {
	if c.opts.store == nil {
		return nil, ErrNoStore
	}
	p := ""
	if !peer.Equal(jid.JID{}) {
		p = c.conversation(peer).String()
	}
	hits, err := c.opts.store.Search(text, p, limit)
	out := make([]SearchHit, 0, len(hits))
	for _, h := range hits {
		out = append(out, SearchHit{Message: c.fromRecord(h.Message), Matches: h.Matches})
	}
	return out, err
}

func (c *Client) fromRecords(rs []store.Message) []Message {
	out := make([]Message, 0, len(rs))
	for _, r := range rs {
		out = append(out, c.fromRecord(r))
	}
	return out
}

// storeWriter puts what the stanza handler receives into the store, in
// order, in batches (one transaction per burst), and reports each message
// only once it is known to be new. Without a store it reports at once.
type storeWriter struct {
	c      *Client
	db     *store.DB
	mu     sync.Mutex
	todo   []storeItem
	closed bool
	wake   chan struct{}

	// newest is the latest time stored per conversation (read from the
	// store on first use), for placing stamped messages; only run uses it.
	newest map[string]time.Time
}

type storeItem struct {
	msg     *Message
	live    bool // arrived live (not from the archive) on a caught-up session
	op      func(*store.DB)
	barrier chan struct{}
}

func newStoreWriter(c *Client, db *store.DB) *storeWriter {
	w := &storeWriter{c: c, db: db, wake: make(chan struct{}, 1), newest: map[string]time.Time{}}
	if db != nil {
		go w.run()
	}
	return w
}

func (w *storeWriter) push(it storeItem) {
	if w.db == nil {
		switch {
		case it.msg != nil:
			w.c.emitMessage(*it.msg)
		case it.barrier != nil:
			close(it.barrier)
		}
		return
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		switch {
		case it.barrier != nil:
			close(it.barrier)
		case it.op != nil:
			it.op(nil) // ops see a nil store after Close
		}
		return
	}
	w.todo = append(w.todo, it)
	select { // under mu: close cannot close wake in between
	case w.wake <- struct{}{}:
	default:
	}

	w.mu.Unlock()
}

// message stores m and reports it if new.
func (w *storeWriter) message(m Message, live bool) { w.push(storeItem{msg: &m, live: live}) }

// do runs f on the store after everything queued before it; after close, f
// gets nil.
func (w *storeWriter) do(f func(*store.DB)) { w.push(storeItem{op: f}) }

// barrier waits until everything queued so far is stored.
func (w *storeWriter) barrier() {
	done := make(chan struct{})
	w.push(storeItem{barrier: done})
	<-done
}

// close stores what is queued and stops the writer.
func (w *storeWriter) close() {
	if w.db == nil {
		return
	}
	w.barrier()
	w.mu.Lock()
	w.closed = true
	close(w.wake)
	w.mu.Unlock()
}

// storeBatchInterval spaces the writer's transactions: what arrives after
// a quiet spell is stored at once, what follows within the interval waits
// for it and is stored with whatever else came meanwhile. A burst of
// messages arriving one every few milliseconds then costs a transaction
// per interval instead of one (and an archive cursor update) per message.
const storeBatchInterval = 50 * time.Millisecond

func (w *storeWriter) run() {
	var last time.Time // when the last batch was taken
	for range w.wake {
		for {
			if wait := time.Until(last.Add(storeBatchInterval)); wait > 0 {
				time.Sleep(wait)
			}
			w.mu.Lock()
			todo := w.todo
			w.todo = nil
			w.mu.Unlock()
			if len(todo) == 0 {
				break
			}
			last = time.Now()
			w.process(todo)
		}
	}
}

func (w *storeWriter) process(todo []storeItem) {
	var batch []Message
	var live []bool
	flush := func() {
		if len(batch) == 0 {
			return
		}
		recs := make([]store.Message, len(batch))
		for i := range batch {
			w.place(&batch[i])
			recs[i] = w.c.record(batch[i])
		}
		added, confirmed, err := w.db.AddMessagesConfirmed(recs)
		if err != nil {
			w.c.log.Error("store messages", "err", err, "count", len(recs))
			w.c.events.push(ErrorOccurred{Err: fmt.Errorf("xmpp: store %d messages: %w", len(recs), err)})
			// Still show them: losing them from view would be worse.
			for _, m := range batch {
				w.c.emitMessage(m)
			}
			batch, live = batch[:0], live[:0]
			return
		}
		// AddMessages returns the new ones in input order; match them up
		// to keep each message's flags.
		j := 0
		var newest store.Message
		var newestAt time.Time
		for i, m := range batch {
			if j < len(added) && sameRecord(added[j], recs[i]) {
				m.Seq, m.State = added[j].Seq, added[j].State
				if m.Archived {
					w.c.archivedAdded.Add(1)
				}
				w.c.emitMessage(m)
				j++
			}
			if live[i] && recs[i].StanzaID != "" {
				newest, newestAt = recs[i], m.arrived
			}
		}
		// Copies that showed the server had an outgoing message still
		// pending (an archive copy, a room's echo): reported here, once,
		// as nothing else will move it on.
		for _, r := range confirmed {
			id := cmp.Or(r.OriginID, r.ID)
			if peer, err := jid.Parse(r.Peer); err == nil && id != "" {
				w.c.sentHere.reported(id, r.State)
				w.c.events.push(MessageStateChanged{ID: id, Peer: peer, State: r.State})
			}
		}
		if newest.StanzaID != "" {
			// With the time it arrived, not the one it carries: only
			// the archive's id and the client's clock say where the
			// catch-up stands (a catch-up by time starts there when the
			// server forgot the id). The message's time may be a stamp
			// the server copied from the sender.
			if err := w.db.SetArchiveCursor(newest.StanzaID, cmp.Or(newestAt, newest.Time)); err != nil {
				w.c.log.Error("store archive cursor", "err", err)
			}
		}
		batch, live = batch[:0], live[:0]
	}
	for _, it := range todo {
		switch {
		case it.msg != nil:
			batch = append(batch, *it.msg)
			live = append(live, it.live)
			if len(batch) >= 2000 {
				flush()
			}
		case it.op != nil:
			flush()
			it.op(w.db)
		case it.barrier != nil:
			flush()
			close(it.barrier)
		}
	}
	flush()
}

// noteSent records the time of a message this client sent (run on the
// writer's goroutine, like place).
func (w *storeWriter) noteSent(r store.Message) {
	if r.Time.After(w.newest[r.Peer]) {
		w.newest[r.Peer] = r.Time
	}
}

// place decides where a message goes in its conversation. History is in
// the order messages reached this client. A message that carries a server
// time stamp instead (delivered late from offline storage or a resumed
// stream, or caught up from the archive) is placed by its stamp, but never
// before what the conversation already holds: servers stamp to the second,
// and everything caught up is newer than what was stored (the catch-up
// starts after the newest stored archive id). Only a first sync, which
// pulls history newest page first, places by stamp alone.
func (w *storeWriter) place(m *Message) {
	peer := m.Peer().String()
	newest, ok := w.newest[peer]
	if !ok {
		// The newest stored before now: a stored time ahead of the clock
		// (a peer's stamp that an older version took, a clock that was
		// wrong) must not drag every stamped message after it.
		if last, err := w.db.History(peer, store.Cursor{Time: time.Now()}, 1); err == nil && len(last) == 1 {
			newest = last[0].Time
		}
	}
	if (m.Delayed || m.Archived) && !m.backfill && !m.Time.After(newest) {
		// Just after: stamps of one second are shared by many messages.
		m.Time = newest.Add(time.Microsecond)
	}
	if m.Time.After(newest) {
		newest = m.Time
	}
	w.newest[peer] = newest
}

func sameRecord(a, b store.Message) bool {
	return a.Peer == b.Peer && a.Dir == b.Dir && a.ID == b.ID && a.OriginID == b.OriginID &&
		a.StanzaID == b.StanzaID && a.Body == b.Body
}

// emitMessage reports a chat or room message (notices have their own
// event).
func (c *Client) emitMessage(m Message) {
	if m.Type == stanza.GroupChatMessage {
		c.events.push(RoomMessage{Message: m, Room: m.Peer(), Nick: m.From.Resourcepart(), Mention: m.mention})
		return
	}
	c.events.push(MessageReceived{m})
}

// setDelivery moves an outgoing message on and reports it when it moved:
// once per state, however many confirmations arrive (a stream management
// ack and a group chat room's echo both say "sent").
//
// peer is whom the message went to, or who answered for it: a bare or full
// JID. It may move only the messages of the conversations deliveryKeys
// gives it: a room's occupant none of the room's messages, a contact none
// of anyone else's.
//
// A message this client sent is reported as moved also when the store had
// it there already: another client sharing the store (the app beside the
// command line, both in the room) may have taken the same confirmation
// first.
func (c *Client) setDelivery(peer jid.JID, id string, st DeliveryState, errText string) {
	if st == store.Sent && c.awaitsRewrite(id) {
		return // the ack of a copy the room refused (roomBounced)
	}
	keys := c.deliveryKeys(peer)
	if c.opts.store == nil {
		if st == store.Failed {
			return
		}
		c.mu.Lock() // a late ping answer must not follow Close's Offline
		if key, ok := c.sentHere.report(id, keys, st); ok && !c.closed {
			conv, _ := jid.Parse(key)
			c.events.push(MessageStateChanged{ID: id, Peer: conv, State: st})
		}
		c.mu.Unlock()
		return
	}
	c.store.do(func(db *store.DB) {
		if db == nil {
			return
		}
		for _, key := range keys {
			m, found, moved, err := db.MoveStateIf(key.peer, id, st, errText, key.accept)
			if err != nil {
				c.log.Error("store delivery state", "err", err)
				return
			}
			if !found {
				continue
			}
			if st == store.Failed {
				return
			}
			report := moved
			if !moved && (m.State == st || m.State == store.Delivered) {
				_, report = c.sentHere.report(id, []deliveryKey{key}, st)
			} else if moved {
				c.sentHere.reported(id, st)
			}
			if report {
				conv, _ := jid.Parse(key.peer)
				c.events.push(MessageStateChanged{ID: id, Peer: conv, State: st})
			}
			return
		}
	})
}

// failDelivery marks an outgoing message failed on a bounce from peer (an
// error message with the message's id) and reports MessageFailed, when
// peer may fail it (deliveryKeys): a room's error only from the room's
// bare JID, a private message's from the occupant, a chat's from the
// contact. An error anyone else sends with a known or guessed id changes
// nothing and is not reported.
func (c *Client) failDelivery(peer jid.JID, id string, se *StanzaError) {
	keys := c.deliveryKeys(peer)
	if c.opts.store == nil {
		if key, ok := c.sentHere.report(id, keys, store.Failed); ok {
			conv, _ := jid.Parse(key)
			c.events.push(MessageFailed{ID: id, To: conv, Err: se})
		}
		return
	}
	c.store.do(func(db *store.DB) {
		if db == nil {
			return
		}
		for _, key := range keys {
			_, found, moved, err := db.MoveStateIf(key.peer, id, store.Failed, se.Error(), key.accept)
			if err != nil {
				c.log.Error("store delivery state", "err", err)
				return
			}
			if !found {
				continue
			}
			if moved {
				c.sentHere.reported(id, store.Failed)
				conv, _ := jid.Parse(key.peer)
				c.events.push(MessageFailed{ID: id, To: conv, Err: se})
			}
			return
		}
	})
}

// deliveryKey is a conversation whose outgoing messages someone may
// confirm or fail, and which of them (accept nil: all).
type deliveryKey struct {
	peer   string
	accept func(store.Message) bool
}

func notGroupChat(m store.Message) bool { return m.Type != string(stanza.GroupChatMessage) }

// deliveryKeys are the conversations whose outgoing messages from may move
// on (a receipt, an error, an acknowledgement of what was sent to from):
//
//   - a bare JID (a contact, a room, a server): its own conversation. Only
//     a room's bare JID speaks for the room's messages: no occupant can
//     send from it.
//   - a room's occupant (room@service/nick, of a room the client is in or
//     knows, or with whom the store holds private messages): only the
//     private conversation with that occupant, never the room's.
//   - any other full JID (a contact's device, a service's resource): the
//     conversation with its bare JID, its group chat messages excepted.
func (c *Client) deliveryKeys(from jid.JID) []deliveryKey {
	if from.Resourcepart() == "" {
		return []deliveryKey{{peer: from.String()}}
	}
	if conv := c.conversation(from); conv.Resourcepart() != "" {
		return []deliveryKey{{peer: conv.String()}}
	}
	return []deliveryKey{{peer: from.Bare().String(), accept: notGroupChat}}
}

// sentHere tracks the messages this client stored as outgoing, by id, until
// their last state is reported: which conversation each went to, and the
// furthest state reported. The store says where a message is, but another
// client sharing it may record a confirmation before this one hears of it
// (see setDelivery); without a store, it is what tells a confirmation of
// a message sent from one that nobody asked for. Safe for concurrent use.
type sentHere struct {
	mu   sync.Mutex
	msgs map[string]*sentMessage
}

type sentMessage struct {
	peer      string
	groupChat bool          // a room does not confirm delivery: sent is the end
	reported  DeliveryState // Pending until a move is reported
}

// maxSentHere caps sentHere: a chat message whose peer sends no receipts
// is never delivered, so its entry would stay.
const maxSentHere = 5000

// add starts tracking a stored outgoing message.
func (s *sentHere) add(r store.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.msgs == nil {
		s.msgs = map[string]*sentMessage{}
	}
	if len(s.msgs) >= maxSentHere {
		for id, m := range s.msgs {
			if m.reported >= store.Sent || len(s.msgs) >= maxSentHere {
				delete(s.msgs, id)
			}
		}
	}
	s.msgs[cmp.Or(r.OriginID, r.ID)] = &sentMessage{peer: r.Peer, groupChat: r.Type == string(stanza.GroupChatMessage)}
}

// report reports whether st is news for the message id, sent from here to
// one of keys, and notes it reported; with the key it went to.
func (s *sentHere) report(id string, keys []deliveryKey, st DeliveryState) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[id]
	if !ok {
		return "", false
	}
	for _, k := range keys {
		if k.peer != m.peer || (k.accept != nil && m.groupChat) {
			continue
		}
		if st != store.Failed && m.reported != store.Failed && st <= m.reported {
			return "", false
		}
		s.noteLocked(id, m, st)
		return m.peer, true
	}
	return "", false
}

// reported notes that st was reported for id.
func (s *sentHere) reported(id string, st DeliveryState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.msgs[id]; ok {
		s.noteLocked(id, m, st)
	}
}

func (s *sentHere) noteLocked(id string, m *sentMessage, st DeliveryState) {
	m.reported = st
	if st == store.Delivered || st == store.Failed || (m.groupChat && st == store.Sent) {
		delete(s.msgs, id) // nothing further to report
	}
}

// onAcked marks messages the server acknowledged (stream management) as
// sent.
func (c *Client) onAcked(items []smItem) {
	for _, it := range items {
		to, err := jid.Parse(it.to)
		if err != nil {
			continue
		}
		c.setDelivery(to, it.msgID, store.Sent, "")
	}
}

// Outbox returns the messages waiting to be sent, oldest first.
func (c *Client) Outbox() ([]Message, error) {
	if c.opts.store == nil {
		return nil, ErrNoStore
	}
	rs, err := c.opts.store.Outbox()
	return c.fromRecords(rs), err
}

// flushOutbox sends what waits in the outbox on a new session, in order. It
// runs after the session is published, so a message stored after its read
// of the outbox is written by Send itself.
func (c *Client) flushOutbox(l *link) {
	if c.opts.store == nil {
		return
	}
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	c.store.barrier()
	pending, err := c.opts.store.Outbox()
	if err != nil {
		c.log.Error("read outbox", "err", err)
		return
	}
	if len(pending) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sent []store.Message
	for _, r := range pending {
		if _, viaRoom := recordRoom(r); viaRoom {
			continue // after the room is joined again (flushRoomOutbox)
		}
		wrote, err := c.writeMessage(ctx, l, r)
		if err != nil {
			c.log.Info("outbox: connection lost while sending", "err", err)
			return
		}
		if wrote {
			sent = append(sent, r)
		}
	}
	if len(sent) > 0 {
		c.log.Info("outbox sent", "messages", len(sent))
		c.confirmSent(l, sent...)
	}
}

// rosterItem is a contact as the store caches it.
func rosterRecord(ct Contact) store.RosterItem {
	it := store.RosterItem{JID: ct.JID.String(), Name: ct.Name, Subscription: ct.Subscription, Groups: ct.Groups}
	if ct.Pending {
		it.Ask = "subscribe"
	}
	return it
}

// cacheRoster keeps the store's copy of the roster current: the whole of it
// after a fetch, the changes after a push, each with the server's roster
// version ("" when the server has no versioning), which the next sign-in
// sends to skip the download.
func (c *Client) cacheRoster(contacts []Contact, full bool, ver string) {
	if c.opts.store == nil {
		return
	}
	var changed []store.RosterItem
	var removed []string
	for _, ct := range contacts {
		if ct.Removed {
			removed = append(removed, ct.JID.String())
		} else {
			changed = append(changed, rosterRecord(ct))
		}
	}
	c.store.do(func(db *store.DB) {
		if db == nil {
			return
		}
		var err error
		if full {
			err = db.SaveRoster(ver, changed)
		} else {
			err = db.UpdateRoster(ver, changed, removed)
		}
		if err != nil {
			c.log.Error("cache roster", "err", err)
		}
	})
}
