package xmpp

import (
	"sync"
	"time"

	"mellium.im/xmpp/jid"
)

// Event is something that happened on the client. The set of events is
// closed: it is one of the types in this file.
type Event interface{ isEvent() }

// State is the connection state.
type State int

// The connection states, in the order a sign-in passes through them.
const (
	Offline State = iota
	Connecting
	Online
	Reconnecting
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Online:
		return "online"
	case Reconnecting:
		return "reconnecting"
	default:
		return "offline"
	}
}

// StateChanged reports a new connection state. Err is why the connection was
// lost or could not be made (nil on a clean sign-out). RetryIn is set while
// Reconnecting: the time until the next attempt.
type StateChanged struct {
	State   State
	Err     error
	RetryIn time.Duration
}

// RosterUpdated reports roster items. With Full set the list replaces the
// whole roster (after a fetch); otherwise it holds the items a roster push
// changed, with Removed set on those that are gone.
type RosterUpdated struct {
	Contacts []Contact
	Full     bool
	// Cached is set on the roster shown from the store when a sign-in
	// begins, before the server has authenticated the account.
	Cached bool
}

// PresenceChanged reports a contact's (or one of the own account's other
// resources') presence, per resource.
type PresenceChanged struct{ Presence }

// MessageReceived reports an incoming one-to-one chat message, or a private
// message with a room's occupant (Message.Private: its conversation is
// Message.Peer, the occupant's JID room@service/nick, not the room's).
type MessageReceived struct{ Message }

// NoticeReceived reports a new notice: a normal message or headline from
// the server, its broadcast service or a notifier account (see
// WithNoticeSenders and "Notices" in the package documentation). With a store it is reported once it is stored, and only once:
// a copy delivered again is not reported.
type NoticeReceived struct{ Notice }

// MessageFailed reports that a message sent earlier bounced: the server or the
// peer returned it as an error (e.g. the recipient does not exist). Only an
// error from where the message went counts: for a room message the room's
// bare JID, for a private message the occupant, for a chat the contact's
// JID (any of its devices, or its server); an error from anyone else with
// the message's id is ignored.
type MessageFailed struct {
	ID  string
	To  jid.JID // the conversation (Message.Peer)
	Err *StanzaError
}

// SubscriptionRequest reports that someone asks to see the user's presence.
// Answer with ApproveSubscription or DenySubscription.
type SubscriptionRequest struct {
	From   jid.JID
	Status string
}

// SubscriptionChanged reports a peer's answer or change to a subscription:
// Type is "subscribed" (they approved ours), "unsubscribed" (they denied or
// revoked it) or "unsubscribe" (they stopped seeing ours).
type SubscriptionChanged struct {
	From jid.JID
	Type string
}

// ErrorOccurred reports a failure that did not end the session, e.g. a
// roster fetch that timed out.
type ErrorOccurred struct{ Err error }

// AvatarChanged reports that a contact, or the own account (from any of its
// devices), published a new avatar through PEP (XEP-0084), or removed it
// (Hash ""). The server sends the current avatars at sign-in (Prosody: of
// contacts with presence subscriptions both ways) and every change after;
// a JID's hash is reported only when it differs from the last one. Avatars
// announced in presence (XEP-0153) arrive as PresenceChanged with
// Presence.AvatarHash instead. Either way, Client.Avatar(ctx, JID, Hash)
// returns the image.
type AvatarChanged struct {
	JID  jid.JID // bare
	Hash string  // SHA-1 (hex) of the image
}

func (AvatarChanged) isEvent()       {}
func (StateChanged) isEvent()        {}
func (RosterUpdated) isEvent()       {}
func (PresenceChanged) isEvent()     {}
func (MessageReceived) isEvent()     {}
func (NoticeReceived) isEvent()      {}
func (MessageFailed) isEvent()       {}
func (SubscriptionRequest) isEvent() {}
func (SubscriptionChanged) isEvent() {}
func (ErrorOccurred) isEvent()       {}

// eventQueue is an unbounded FIFO in front of the Events channel, so that
// stanza handlers never block on a slow reader (and never drop an event).
type eventQueue struct {
	mu     sync.Mutex
	items  []Event
	closed bool
	wake   chan struct{}
	out    chan Event
}

func newEventQueue() *eventQueue {
	q := &eventQueue{wake: make(chan struct{}, 1), out: make(chan Event)}
	go q.pump()
	return q
}

func (q *eventQueue) push(e Event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close delivers what is queued, then closes the channel.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) pump() {
	for range q.wake {
		for {
			q.mu.Lock()
			if len(q.items) == 0 {
				closed := q.closed
				q.mu.Unlock()
				if closed {
					close(q.out)
					return
				}
				break
			}
			e := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.mu.Unlock()
			q.out <- e
		}
	}
}
