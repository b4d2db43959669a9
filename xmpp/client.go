package xmpp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"magpie/xmpp/store"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// Client is one signed-in account. Create it with New, start it with Connect,
// read what happens from Events, and end it with Close. A Client is safe for
// concurrent use.
type Client struct {
	account  jid.JID // bare
	resource string
	opts     options
	log      *slog.Logger
	events   *eventQueue

	mu      sync.Mutex
	link    *link // the live session, nil while offline
	state   State
	running bool // Connect succeeded and the reconnect loop runs
	closed  bool
	noPlus  bool // channel binding failed once with this server: skip -PLUS
	// saslFloor is the rank (mechanismRank) of the weakest SASL mechanism
	// still accepted; see allowMechanisms.
	saslFloor  int
	cancelLoop context.CancelFunc
	loopDone   chan struct{}
	// cancelConnect stops a Connect under way (Close calls it).
	cancelConnect context.CancelFunc
	roster        map[string]Contact             // by bare JID
	presences     map[string]map[string]Presence // bare JID -> resource -> presence
	ownShow       Show
	ownStatus     string
	ownPrio       int8
	hidden        bool // AppearOffline: no presence, also after reconnects
	// ownIdleSince is when the user was last active, sent with the
	// presence (XEP-0319); zero while the user is not idle.
	ownIdleSince time.Time

	handler   *stanzaHandler
	closeOnce sync.Once

	sm            streamMgmt      // stream management, across connections
	store         *storeWriter    // the message pipeline into the store
	caughtUp      atomic.Bool     // the archive catch-up of this session is done
	archivedAdded atomic.Int64    // new messages found in the archive, ever
	mamQueries    map[string]bool // our archive queries under way: id -> pages backwards
	archiveSeen   time.Time       // the newest archived message seen (under mu)
	avatars       avatarState     // PEP avatars announced, and fetches under way
	// rosterFromCache is set when the last sign-in's roster came from the
	// store because the server said it was unchanged.
	rosterFromCache atomic.Bool
	// directory is what directory search (XEP-0055) found on this session.
	directory directoryCache
	// noticeSenders are the notifier accounts' bare JIDs (under mu).
	noticeSenders map[string]bool
	// sendTo holds the full JID of messages Send was given one for, by
	// origin-id, until they are written (under mu); the store keeps only
	// the bare peer.
	sendTo map[string]jid.JID
	// bounced are the origin-ids of room messages their room refused with
	// not-acceptable, to be written again after the rejoin; refused are
	// all that were ever refused so, to fail a second refusal (under mu;
	// see roomBounced).
	bounced, refused map[string]bool
	// rooms are the group chats the client is in or joining, by bare JID
	// (under mu); see muc.go.
	rooms map[string]*roomState
	// leftRooms are rooms left whose confirmation is still due, with when
	// (under mu); see LeaveRoom.
	leftRooms map[string]time.Time
	// userLeft are the rooms the user left with LeaveRoom during this
	// Client's life and has not joined again (under mu): the autojoin
	// after a reconnect skips them, although their bookmarks still say
	// autojoin (see WithAutojoin).
	userLeft map[string]bool
	// roomSettings caches the store's settings of each room read so far
	// (under mu), so that Rooms and RoomNotify, which the app calls on
	// its UI thread, read the store once per room (see RoomNotify).
	roomSettings map[string]store.RoomSettings
	// beforeJoinPresence, when set (by tests), runs in a join after the
	// room's disco#info and before the join presence goes out.
	beforeJoinPresence func(room jid.JID)
	// bookmarks remembers where the bookmarks live; see bookmarks.go.
	bookmarks bookmarkCache
	// roomOps tracks subject changes, invitations and declines; see
	// muc_owner.go and muc_invite.go.
	roomOps roomOps
	// sentHere tracks the messages this client sent until their last
	// state is reported (see setDelivery).
	sentHere sentHere
	// kinds remembers which JIDs are rooms (see roomkind.go).
	kinds roomKinds
	// subRequests are the subscription requests reported lately, by
	// bare JID (see flood.go).
	subRequests recentKeys
}

// Option configures a Client.
type Option func(*options)

type options struct {
	password         func(context.Context) (string, error)
	server           string
	directTLS        bool
	pins             []string
	caFile           string
	resource         string
	logger           *slog.Logger
	version          string
	keepAliveIdle    time.Duration
	keepAliveTimeout time.Duration
	dialTimeout      time.Duration
	backoffMin       time.Duration
	backoffMax       time.Duration
	sendPresence     bool
	show             Show
	status           string
	priority         int8
	store            *store.DB
	noticeSenders    []string
	autojoin         bool
	saslFloor        string
}

// WithPassword sets the function that supplies the password. It is called for
// every connection attempt, so a reconnect asks again (e.g. the keyring).
func WithPassword(f func(ctx context.Context) (string, error)) Option {
	return func(o *options) { o.password = f }
}

// WithServer connects to host:port instead of looking up the domain's SRV
// records (many company servers have none). A missing port means 5222, or
// 5223 with direct TLS.
func WithServer(hostport string) Option { return func(o *options) { o.server = hostport } }

// WithDirectTLS connects with TLS from the first byte (XEP-0368) instead of
// STARTTLS.
func WithDirectTLS(on bool) Option { return func(o *options) { o.directTLS = on } }

// WithTrustedFingerprints pins certificates by SHA-256 fingerprint (see
// ParseFingerprint): a server presenting one of them is trusted even when the
// certificate is self-signed or names another host. A pin is exclusive: with
// pins, any other certificate is refused (a CertificateError whose Reason
// wraps ErrNotPinned), even one that the system's CAs or WithCAFile vouch
// for.
func WithTrustedFingerprints(fps ...string) Option {
	return func(o *options) { o.pins = append(o.pins, fps...) }
}

// WithSASLFloor sets the weakest SASL mechanism the client accepts for the
// account: what Client.SASLFloor returned last time (AccountConfig keeps
// it). A server offering only weaker ones is refused with a DowngradeError
// before any credential is sent. An unknown name is ignored.
func WithSASLFloor(mechanism string) Option { return func(o *options) { o.saslFloor = mechanism } }

// WithCAFile trusts the PEM certificates in path in addition to the system
// roots (a company CA). It does not widen pinned fingerprints
// (WithTrustedFingerprints), which are exclusive.
func WithCAFile(path string) Option { return func(o *options) { o.caFile = path } }

// WithResource sets the resource to bind. The default is "magpie-" and random
// hex, kept for the Client's lifetime so reconnects keep the same full JID.
func WithResource(name string) Option { return func(o *options) { o.resource = name } }

// WithLogger sets the logger. The default discards everything.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithVersion sets the version answered to XEP-0092 queries.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithKeepAlive sets how long the link may be quiet before the client pings
// the server, and how long it waits for the answer before it gives the
// connection up. Defaults: 30 s and 20 s, so a dead link is noticed within a
// minute.
func WithKeepAlive(idle, timeout time.Duration) Option {
	return func(o *options) { o.keepAliveIdle, o.keepAliveTimeout = idle, timeout }
}

// WithBackoff sets the first and the longest wait between reconnect attempts.
// Defaults: 1 s, doubling up to 60 s, each with jitter.
func WithBackoff(first, longest time.Duration) Option {
	return func(o *options) { o.backoffMin, o.backoffMax = first, longest }
}

// WithPresence sets the initial presence sent after sign-in. A negative
// priority keeps the server from routing messages and offline storage to
// this resource (right for tools that only look at the roster).
func WithPresence(show Show, status string, priority int8) Option {
	return func(o *options) {
		o.sendPresence, o.show, o.status, o.priority = true, show, status, priority
	}
}

// WithoutPresence signs in without sending presence: the account does not
// appear online and offline messages stay stored for the other clients.
func WithoutPresence() Option { return func(o *options) { o.sendPresence = false } }

// New returns a client for account, a bare JID such as "zhangsan@oa.example".
// It does not connect.
func New(account string, opts ...Option) (*Client, error) {
	j, err := jid.Parse(account)
	if err != nil {
		return nil, fmt.Errorf("xmpp: account %q: %w", account, err)
	}
	if j.Localpart() == "" {
		return nil, fmt.Errorf("xmpp: account %q: a user name is needed (user@domain)", account)
	}
	o := options{
		keepAliveIdle:    30 * time.Second,
		keepAliveTimeout: 20 * time.Second,
		dialTimeout:      15 * time.Second,
		backoffMin:       time.Second,
		backoffMax:       time.Minute,
		sendPresence:     true,
		version:          "dev",
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.password == nil {
		return nil, errors.New("xmpp: no password source (WithPassword)")
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	for i, fp := range o.pins {
		if o.pins[i], err = ParseFingerprint(fp); err != nil {
			return nil, fmt.Errorf("xmpp: %w", err)
		}
	}
	senders, err := parseNoticeSenders(o.noticeSenders)
	if err != nil {
		return nil, fmt.Errorf("xmpp: %w", err)
	}
	resource := o.resource
	if resource == "" {
		resource = j.Resourcepart()
	}
	if resource == "" {
		resource = "magpie-" + randomHex(4)
	}
	c := &Client{
		account:    j.Bare(),
		resource:   resource,
		opts:       o,
		log:        o.logger,
		events:     newEventQueue(),
		roster:     map[string]Contact{},
		presences:  map[string]map[string]Presence{},
		ownShow:    o.show,
		ownStatus:  o.status,
		ownPrio:    o.priority,
		mamQueries: map[string]bool{},
		rooms:      map[string]*roomState{},
		userLeft:   map[string]bool{},

		roomSettings: map[string]store.RoomSettings{},

		noticeSenders: senders,
		subRequests:   recentKeys{window: requestWindow, max: maxRecentKeys},
	}
	if rank, ok := mechanismRank[o.saslFloor]; ok {
		c.saslFloor = rank
	} else if o.saslFloor != "" {
		c.log.Warn("unknown SASL mechanism as the floor; ignored", "mechanism", o.saslFloor)
	}
	c.roomOps.invitations = recentKeys{window: invitationDedupWindow, max: maxRecentKeys}
	c.roomOps.inviters = recentKeys{window: invitationDedupWindow, max: maxRecentKeys}
	c.handler = newStanzaHandler(c)
	c.store = newStoreWriter(c, o.store)
	c.sm.onAcked = c.onAcked
	return c, nil
}

// Account returns the bare JID the client signs in as.
func (c *Client) Account() jid.JID { return c.account }

// Events returns the stream of everything that happens. Read it until it is
// closed (Close closes it after the last event); events are queued, never
// dropped, while the reader is busy.
func (c *Client) Events() <-chan Event { return c.events.out }

// State returns the current connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// LocalAddr returns the full JID of the current session, or the zero JID
// while offline.
func (c *Client) LocalAddr() jid.JID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.link == nil {
		return jid.JID{}
	}
	return c.link.sess.LocalAddr()
}

// Mechanism returns the SASL mechanism of the current session (e.g.
// "SCRAM-SHA-1-PLUS"), or "" while offline.
func (c *Client) Mechanism() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.link == nil {
		return ""
	}
	return c.link.mechanism
}

func (c *Client) setState(s State, err error, retryIn time.Duration) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
	c.events.push(StateChanged{State: s, Err: err, RetryIn: retryIn})
}

// Connect signs in: it connects, secures and authenticates the stream, binds
// a resource, fetches the roster and sends the initial presence. It returns
// once the client is online, or the error that stopped it (wrapping ErrAuth,
// ErrUnreachable, ErrCertificate or ErrKeyringUnavailable where that is the
// cause). After a successful Connect the client keeps the session alive and
// reconnects on its own until Close.
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed
	}
	if c.running {
		c.mu.Unlock()
		return errors.New("xmpp: already connected")
	}
	c.running = true
	// Close cancels a sign-in under way.
	ctx, cancelConnect := context.WithCancel(ctx)
	defer cancelConnect()
	c.cancelConnect = cancelConnect
	c.mu.Unlock()

	c.setState(Connecting, nil, 0)
	c.showCachedRoster()
	l, err := c.establish(ctx)
	c.mu.Lock()
	c.cancelConnect = nil
	if err == nil && c.closed {
		// Close ran after the session was published but before the loop
		// existed for it to stop: end the session here instead.
		c.mu.Unlock()
		c.signOff(l)
		c.dropLink(l)
		c.mu.Lock()
		err = errClosed
	}
	if err != nil {
		c.running = false
		c.mu.Unlock()
		c.setState(Offline, err, 0)
		return err
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	c.cancelLoop = cancel
	c.loopDone = make(chan struct{})
	done := c.loopDone
	c.mu.Unlock()
	go c.maintain(loopCtx, l, done)
	return nil
}

// maintain keeps a session alive: it watches the link, and when the link is
// lost it reconnects with exponential backoff and jitter. It gives up only on
// errors that retrying cannot fix (wrong password, untrusted certificate, a
// sign-in refused as unsafe).
func (c *Client) maintain(ctx context.Context, l *link, done chan struct{}) {
	defer close(done)
	for {
		go c.keepAlive(l)
		select {
		case <-l.done:
		case <-ctx.Done():
			return
		}
		c.dropLink(l)
		lastErr := l.err
		if lastErr == nil {
			lastErr = errors.New("the server closed the connection")
		}
		c.log.Info("connection lost", "err", lastErr)
		for attempt := 0; ; attempt++ {
			delay := backoff(attempt, c.opts.backoffMin, c.opts.backoffMax)
			c.setState(Reconnecting, lastErr, delay)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
			c.setState(Connecting, nil, 0)
			attemptCtx, cancel := context.WithTimeout(ctx, c.opts.dialTimeout+30*time.Second)
			nl, err := c.establish(attemptCtx)
			cancel()
			if err == nil {
				l = nl
				break
			}
			if _, _, _, ok := c.sm.resumable(); !ok {
				// Not resumable: what we knew is stale. (A stream that
				// can still be resumed keeps them, as dropLink does: the
				// server does not send them again on resumption.)
				c.forgetPresences()
			}
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, ErrAuth) || errors.Is(err, ErrCertificate) || errors.Is(err, ErrUnsafeSignIn) {
				c.mu.Lock()
				c.running = false
				c.mu.Unlock()
				c.setState(Offline, err, 0)
				return
			}
			lastErr = err
		}
	}
}

// backoff returns the wait before reconnect attempt n: first*2^n capped at
// longest, then a random point in its upper half ("equal jitter"), so that a
// whole office does not reconnect in step after a server restart.
func backoff(n int, first, longest time.Duration) time.Duration {
	d := first
	for i := 0; i < n && d < longest; i++ {
		d *= 2
	}
	d = min(d, longest)
	half := d / 2
	if half <= 0 {
		return d
	}
	j, err := rand.Int(rand.Reader, big.NewInt(int64(half)+1))
	if err != nil {
		return d
	}
	return half + time.Duration(j.Int64())
}

// dropLink forgets a lost session. Unless the session can be resumed (which
// keeps the server's presence state), the presences it carried are no longer
// known, so each is reported as gone.
func (c *Client) dropLink(l *link) {
	c.mu.Lock()
	if c.link == l {
		c.link = nil
	}
	c.mu.Unlock()
	c.sm.lost()
	if _, _, _, ok := c.sm.resumable(); ok {
		return
	}
	c.forgetPresences()
}

// forgetPresences reports every known presence as gone.
func (c *Client) forgetPresences() {
	c.mu.Lock()
	var gone []Presence
	for _, byRes := range c.presences {
		for _, p := range byRes {
			gone = append(gone, Presence{From: p.From, Type: "unavailable"})
		}
	}
	c.presences = map[string]map[string]Presence{}
	c.mu.Unlock()
	for _, p := range gone {
		c.events.push(PresenceChanged{p})
	}
}

// Close signs out cleanly (unavailable presence, stream close, socket close),
// stops reconnecting, and closes the Events channel after the last event.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		cancel, done := c.cancelLoop, c.loopDone
		if c.cancelConnect != nil {
			c.cancelConnect()
		}
		c.mu.Unlock()
		if cancel != nil {
			cancel()
			<-done
		}
		c.mu.Lock()
		l := c.link
		c.mu.Unlock()
		if l != nil {
			c.signOff(l)
		}
		c.sm.reset()
		if l != nil {
			c.dropLink(l)
		}
		c.forgetPresences()
		// Everything received is stored before Close returns: the caller
		// may close the store next.
		c.store.close()
		c.setState(Offline, nil, 0)
		c.events.close()
	})
	return nil
}

// signOff ends a session politely, giving the server a few seconds to answer
// the stream close before the socket is closed regardless.
func (c *Client) signOff(l *link) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := l.sess.Send(ctx, unavailablePresence()); err != nil {
		c.log.Debug("send unavailable presence", "err", err)
	}
	if err := l.sess.Close(); err != nil {
		c.log.Debug("close stream", "err", err)
	}
	select {
	case <-l.done:
	case <-ctx.Done():
	}
	_ = l.conn.Close()
	<-l.done
}

// session returns the live session or ErrNotConnected.
func (c *Client) session() (*mxmpp.Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.link == nil {
		return nil, ErrNotConnected
	}
	return c.link.sess, nil
}

// errClosed is returned by a sign-in that Close overtook.
var errClosed = errors.New("xmpp: client is closed")

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
