package xmpp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/stream"
	"mellium.im/xmpp/version"
)

// link is one negotiated session and its socket.
type link struct {
	sess      *mxmpp.Session
	mechanism string // the SASL mechanism that signed in
	conn      *activityConn
	done      chan struct{} // closed when Serve has returned
	err       error         // why Serve returned; read after done
	resumed   bool          // the previous session was resumed (XEP-0198)
	rosterVer bool          // the server offers roster versioning (XEP-0237)

	sendMu  sync.Mutex      // keeps outgoing messages in order
	written map[string]bool // origin-ids of messages written on this session (under sendMu)
}

// activityConn records when bytes last arrived, so the keep-alive pings only
// a quiet link.
type activityConn struct {
	net.Conn
	lastRead    atomic.Int64
	negotiating atomic.Bool // until the session is up: ACK at once (see quickAck)
	readFailed  atomic.Bool // the socket failed (EOF, reset, deadline): the link is gone
}

func (c *activityConn) Read(p []byte) (int, error) {
	if c.negotiating.Load() {
		quickAck(c.Conn)
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	if err != nil {
		c.readFailed.Store(true)
	}
	return n, err
}

// bound makes reads and writes on conn fail once ctx ends. mellium's own
// handling sets a past deadline and clears it at once, which a read already
// blocked can miss: a silent server then held a sign-in forever.
func bound(ctx context.Context, conn net.Conn) (release func()) {
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			_ = conn.SetDeadline(time.Unix(1, 0))
		case <-stop:
		}
	}()
	return func() {
		close(stop)
		<-done
		_ = conn.SetDeadline(time.Time{})
	}
}

func (c *activityConn) quietFor() time.Duration {
	return time.Since(time.Unix(0, c.lastRead.Load()))
}

// establish makes a new session, serves it, fetches the roster and sends the
// initial presence. It is used for the first sign-in and every reconnect.
func (c *Client) establish(ctx context.Context) (*link, error) {
	password, err := c.opts.password(ctx)
	if err != nil {
		return nil, fmt.Errorf("xmpp: get password: %w", err)
	}
	c.mu.Lock()
	plus := !c.noPlus
	c.mu.Unlock()
	l, err := c.negotiate(ctx, password, plus)
	var pf *plusFailure
	if errors.As(err, &pf) {
		// The server offered channel binding but could not do it (it lacks
		// the binding type our TLS version needs). Retry once without
		// -PLUS, no weaker than the server's other mechanisms allow (see
		// allowMechanisms: if channel binding worked with this account
		// before, the retry is refused as a downgrade); only if that
		// works is it remembered for reconnects, so a mistyped password
		// does not switch channel binding off for good.
		c.log.Info("SASL with channel binding unsupported; retrying without", "mechanism", pf.mechanism, "err", pf.err)
		l, err = c.negotiate(ctx, password, false)
		if errors.As(err, &pf) {
			err = pf.err
		}
		if err == nil {
			c.mu.Lock()
			c.noPlus = true
			c.mu.Unlock()
		}
	}
	if err != nil {
		return nil, err
	}
	// abort gives up a session that did not come fully up.
	abort := func(err error) (*link, error) {
		_ = l.conn.Close()
		<-l.done
		c.dropLink(l)
		return nil, err
	}
	if !l.resumed {
		c.caughtUp.Store(false)
	}
	go func() {
		l.err = l.sess.Serve(c.handler)
		_ = l.conn.Close()
		close(l.done)
	}()
	if !l.resumed {
		// A new session: the server knows nothing of the old one.
		c.forgetPresences()
		if err := c.fetchRoster(ctx, l.sess, l.rosterVer); err != nil {
			c.events.push(ErrorOccurred{Err: err})
		}
		// Carbons before presence, so that no message to another device
		// is missed once messages can arrive.
		if err := c.enableCarbons(ctx, l.sess); err != nil {
			c.log.Info("carbons not enabled", "err", err)
		}
		if err := c.announcePresence(ctx, l.sess); err != nil {
			return abort(fmt.Errorf("xmpp: send initial presence: %w", err))
		}
	}
	// A server handles one stream's stanzas in order: once it answers this
	// ping it has processed the presence, so messages sent to us from now on
	// are routed to this session and not to offline storage.
	if err := ping.Send(ctx, l.sess, c.account.Domain()); err != nil {
		return abort(fmt.Errorf("xmpp: first ping: %w", err))
	}
	// Only a session that is fully up is published to the methods, and none
	// after Close.
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.signOff(l)
		c.dropLink(l)
		return nil, errClosed
	}
	c.link = l
	// The rooms of earlier sessions; JoinRoom enters the ones joined from
	// now on itself.
	var rejoin []*roomState
	for _, r := range c.roomsToRejoin() {
		// A resumed session is still in its rooms, except one that was
		// being rejoined (after the room forgot the client) when the
		// link dropped: that one's rejoin died with the old link.
		if !l.resumed || !r.joined {
			rejoin = append(rejoin, r)
		}
	}
	c.mu.Unlock()
	// The outbox goes out before anything sent from now on (Send waits
	// for sendMu).
	c.flushOutbox(l)
	c.setState(Online, nil, 0)
	if len(rejoin) > 0 {
		// A new session is in no room: enter them again.
		go c.rejoinRooms(l, rejoin)
	}
	if !l.resumed {
		go c.catchUp(l)
		if c.opts.autojoin {
			go c.autojoin()
		}
	}
	return l, nil
}

// enableCarbons asks the server for copies of the messages the account's
// other devices send and receive (XEP-0280).
func (c *Client) enableCarbons(ctx context.Context, sess *mxmpp.Session) error {
	type enable struct {
		XMLName xml.Name `xml:"urn:xmpp:carbons:2 enable"`
	}
	err := sess.UnmarshalIQElement(ctx, xmlPayload(enable{}), stanza.IQ{Type: stanza.SetIQ}, nil)
	return stanzaErr(err)
}

// plusFailure marks a SASL failure with a -PLUS mechanism that means channel
// binding is unsupported, which is retried without channel binding.
type plusFailure struct {
	mechanism string
	err       error
}

func (e *plusFailure) Error() string { return e.err.Error() }
func (e *plusFailure) Unwrap() error { return e.err }

// mechanismRank orders the SASL mechanisms Magpie speaks by strength: a
// -PLUS mechanism (channel binding, which detects a man in the middle
// relaying the exchange) above every one without, SCRAM above PLAIN (which
// hands the server the password).
var mechanismRank = map[string]int{
	"PLAIN":              1,
	"SCRAM-SHA-1":        2,
	"SCRAM-SHA-256":      3,
	"SCRAM-SHA-1-PLUS":   4,
	"SCRAM-SHA-256-PLUS": 5,
}

// mechanismByRank is the name of a rank, "" for 0.
func mechanismByRank(rank int) string {
	for name, r := range mechanismRank {
		if r == rank {
			return name
		}
	}
	return ""
}

// offerRank is what a mechanism the server offers says about the floor: a
// -PLUS mechanism counts as its base (the server supports SCRAM with that
// hash, even if its channel binding turns out not to work with us); channel
// binding itself raises the floor only once it has worked (see negotiate).
func offerRank(name string) int {
	return mechanismRank[strings.TrimSuffix(name, "-PLUS")]
}

// maxSCRAMIterations caps the SCRAM iteration count a server may ask for
// (RFC 5802 §5.1 leaves it to the server). The work grows with it: at
// 2,000,000,000 the client spends about 15 CPU seconds before answering,
// a way for a hostile server to tie up every client that connects. Prosody
// and ejabberd use 4,096 to 10,000; RFC 7677 suggests at least 4,096.
const maxSCRAMIterations = 1_000_000

// scramIterations reads the iteration count (i=) of a SCRAM server-first
// message; ok is false when there is none that parses (mellium then fails
// the exchange itself).
func scramIterations(serverFirst []byte) (count int64, ok bool) {
	for _, field := range strings.Split(string(serverFirst), ",") {
		if strings.HasPrefix(field, "i=") {
			n, err := strconv.ParseInt(strings.TrimRight(field[2:], "\x00"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// capIterations wraps a SCRAM mechanism so that it refuses a server-first
// message asking for more than maxSCRAMIterations, before any work.
func capIterations(m sasl.Mechanism, refused *error) sasl.Mechanism {
	next := m.Next
	m.Next = func(n *sasl.Negotiator, challenge []byte, data interface{}) (bool, []byte, interface{}, error) {
		if n.State()&sasl.StepMask == sasl.AuthTextSent {
			if count, ok := scramIterations(challenge); ok && count > maxSCRAMIterations {
				err := &SCRAMIterationsError{Count: count, Max: maxSCRAMIterations}
				*refused = err
				return false, nil, nil, err
			}
		}
		return next(n, challenge, data)
	}
	return m
}

// allowMechanisms is the downgrade check of a sign-in. It raises the
// account's floor (the weakest mechanism still accepted) to the strongest
// the server offers now, and returns the offered mechanisms at or above
// it, for mellium to choose from. When none of ours is among them although
// the server offers one of ours below the floor, the sign-in is a
// downgrade and is refused before any credential is sent.
func (c *Client) allowMechanisms(offered []string, ours []sasl.Mechanism) ([]string, error) {
	c.mu.Lock()
	for _, name := range offered {
		c.saslFloor = max(c.saslFloor, offerRank(name))
	}
	floor := c.saslFloor
	c.mu.Unlock()
	isOurs := func(name string) bool {
		for _, m := range ours {
			if m.Name == name {
				return true
			}
		}
		return false
	}
	var allowed []string
	usable, best := false, 0
	for _, name := range offered {
		rank, known := mechanismRank[name]
		if isOurs(name) {
			best = max(best, rank)
		}
		if !known || rank < floor {
			continue
		}
		allowed = append(allowed, name)
		usable = usable || isOurs(name)
	}
	if !usable && best > 0 {
		return nil, &DowngradeError{Floor: mechanismByRank(floor), Offered: mechanismByRank(best)}
	}
	if !usable {
		return offered, nil // nothing of ours at all: mellium says so
	}
	return allowed, nil
}

// SASLFloor returns the weakest SASL mechanism the client accepts for the
// account now: the strongest the server has offered (channel binding counts
// once a sign-in with it has worked), or what WithSASLFloor set if that is
// stronger. Front ends keep it (AccountConfig.SASLFloor) so that the next
// start refuses a downgrade too. It is "" before anything was offered.
func (c *Client) SASLFloor() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return mechanismByRank(c.saslFloor)
}

// plusUnsupported reports whether the failure of a -PLUS exchange means
// that channel binding is unsupported (so that a retry without it makes
// sense), and not a refusal of the credentials or a broken exchange: the
// server said malformed-request or invalid-mechanism (Prosody answers a
// binding type it lacks with malformed-request), or mellium found no
// binding data to send.
func plusUnsupported(err error) bool {
	if condition, ok := saslCondition(err); ok {
		return condition == "malformed-request" || condition == "invalid-mechanism"
	}
	return strings.Contains(err.Error(), "channel binding")
}

// saslCondition returns the condition of a SASL <failure/> from the server.
// mellium keeps it in an internal type; its XML form is read back.
func saslCondition(err error) (string, bool) {
	var m interface{ TokenReader() xml.TokenReader }
	if !errors.As(err, &m) {
		return "", false
	}
	r := m.TokenReader()
	tok, _ := r.Token()
	if start, ok := tok.(xml.StartElement); !ok || start.Name.Local != "failure" || start.Name.Space != "urn:ietf:params:xml:ns:xmpp-sasl" {
		return "", false
	}
	for {
		tok, err := r.Token()
		if err != nil {
			return "", true
		}
		if start, ok := tok.(xml.StartElement); ok {
			return start.Name.Local, true
		}
	}
}

// mechanisms in order of preference; mellium picks the first the server
// offers (of those allowMechanisms lets through). PLAIN is only ever used
// on a secured stream (mellium refuses SASL before TLS), and never when the
// server has offered SCRAM to the account.
func mechanisms(plus bool) []sasl.Mechanism {
	if plus {
		return []sasl.Mechanism{sasl.ScramSha256Plus, sasl.ScramSha1Plus, sasl.ScramSha256, sasl.ScramSha1, sasl.Plain}
	}
	return []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha1, sasl.Plain}
}

// negotiate dials and negotiates one session: TLS (STARTTLS or direct), SASL
// and resource binding. Failures are classified into the sentinel errors.
func (c *Client) negotiate(ctx context.Context, password string, plus bool) (*link, error) {
	domain := c.account.Domainpart()
	var roots *x509.CertPool
	if c.opts.caFile != "" {
		var err error
		if roots, err = loadCAFile(c.opts.caFile); err != nil {
			return nil, fmt.Errorf("xmpp: %w", err)
		}
	}
	cfg := tlsConfig(domain, roots, c.opts.pins, c.opts.directTLS)
	// Keep the certificate verdict where mellium cannot lose it in wrapping.
	var certErr *CertificateError
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		err := verify(cs)
		errors.As(err, &certErr)
		return err
	}

	conn, addr, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*link, error) {
		_ = conn.Close()
		return nil, err
	}

	release := bound(ctx, conn)
	defer release()
	var rw net.Conn = conn
	var state mxmpp.SessionState
	if c.opts.directTLS {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			if certErr != nil {
				return fail(certErr)
			}
			return fail(fmt.Errorf("xmpp: TLS with %s: %w", addr, err))
		}
		rw, state = newSMConn(newGuardConn(tc), &c.sm), mxmpp.Secure
	}

	phase := "stream"
	usedMech := ""
	track := func(f mxmpp.StreamFeature, name string) mxmpp.StreamFeature {
		negotiate := f.Negotiate
		f.Negotiate = func(ctx context.Context, s *mxmpp.Session, data interface{}) (mxmpp.SessionState, io.ReadWriter, error) {
			phase = name
			return negotiate(ctx, s, data)
		}
		return f
	}
	// unsafe is a sign-in refused for the account's safety (a downgrade, an
	// absurd SCRAM iteration count), kept where mellium cannot lose it.
	var unsafe error
	mechs := mechanisms(plus)
	for i := range mechs {
		start := mechs[i].Start
		name := mechs[i].Name
		mechs[i].Start = func(n *sasl.Negotiator) (bool, []byte, interface{}, error) {
			usedMech = name
			return start(n)
		}
		if strings.HasPrefix(name, "SCRAM-") {
			mechs[i] = capIterations(mechs[i], &unsafe)
		}
	}
	saslFeature := mxmpp.SASL("", password, mechs...)
	negotiateSASL := saslFeature.Negotiate
	saslFeature.Negotiate = func(ctx context.Context, s *mxmpp.Session, data interface{}) (mxmpp.SessionState, io.ReadWriter, error) {
		offered, _ := data.([]string)
		allowed, err := c.allowMechanisms(offered, mechs)
		if err != nil {
			unsafe = err
			return 0, nil, err
		}
		return negotiateSASL(ctx, s, allowed)
	}
	origin, err := c.account.WithResource(c.resource)
	if err != nil {
		return fail(fmt.Errorf("xmpp: resource %q: %w", c.resource, err))
	}
	var features []mxmpp.StreamFeature
	if !c.opts.directTLS {
		startTLS := mxmpp.StartTLS(cfg)
		negotiateTLS := startTLS.Negotiate
		// Stream management counts on the TLS connection, so it wraps
		// the one STARTTLS makes.
		startTLS.Negotiate = func(ctx context.Context, s *mxmpp.Session, data interface{}) (mxmpp.SessionState, io.ReadWriter, error) {
			mask, rw, err := negotiateTLS(ctx, s, data)
			if nc, ok := rw.(net.Conn); ok && err == nil {
				rw = newSMConn(newGuardConn(nc), &c.sm)
			}
			return mask, rw, err
		}
		features = append(features, track(startTLS, "tls"))
	}
	neg := &smNegotiation{}
	features = append(features,
		track(saslFeature, "sasl"),
		track(c.smFeature(neg), "resume"),
		track(c.bindOrResumed(origin, neg), "bind"),
		rosterVerFeature(neg),
	)
	// bound owns the socket's deadlines: mellium's own watcher would clear
	// them again on cancellation (a race that left reads blocked), so it is
	// given a context that never ends.
	sess, err := mxmpp.NewSession(context.WithoutCancel(ctx), c.account.Domain(), origin, rw, state,
		mxmpp.NewNegotiator(func(*mxmpp.Session, *mxmpp.StreamConfig) mxmpp.StreamConfig {
			return mxmpp.StreamConfig{Features: features}
		}))
	if err != nil {
		var se stream.Error
		switch {
		case certErr != nil:
			return fail(certErr)
		case unsafe != nil:
			return fail(unsafe)
		case ctx.Err() != nil:
			return fail(fmt.Errorf("xmpp: sign-in to %s stopped during %s: %w", addr, phase, ctx.Err()))
		case conn.readFailed.Load() || isNetworkError(err):
			// The connection broke (the server closed it, a reset, a
			// timeout): retrying later can help, so it is "unreachable".
			return fail(fmt.Errorf("%w: %s closed the connection during %s: %v", ErrUnreachable, addr, phase, err))
		case errors.As(err, &se):
			return fail(fmt.Errorf("xmpp: the server ended the stream during %s: %w", phase, err))
		case phase == "sasl" && strings.Contains(err.Error(), "no matching SASL mechanisms"):
			return fail(fmt.Errorf("xmpp: %s offers no sign-in method Magpie supports (SCRAM or PLAIN)", addr))
		case phase == "sasl":
			// The server refused the credentials (<failure/>), or the SCRAM
			// exchange with it failed.
			authErr := &AuthError{Condition: err.Error()}
			if strings.HasSuffix(usedMech, "-PLUS") && plusUnsupported(err) {
				return fail(&plusFailure{mechanism: usedMech, err: authErr})
			}
			return fail(authErr)
		default:
			return fail(fmt.Errorf("xmpp: %s negotiation with %s: %w", phase, addr, err))
		}
	}
	c.log.Info("signed in", "jid", sess.LocalAddr().String(), "server", addr, "mechanism", usedMech)
	// A mechanism that has worked is the floor from now on: with -PLUS,
	// channel binding is known to work between this client and the server.
	c.mu.Lock()
	c.saslFloor = max(c.saslFloor, mechanismRank[usedMech])
	c.mu.Unlock()
	conn.lastRead.Store(time.Now().UnixNano())
	conn.negotiating.Store(false)
	l := &link{sess: sess, conn: conn, mechanism: usedMech, done: make(chan struct{}), resumed: neg.resumed, rosterVer: neg.rosterVer, written: map[string]bool{}}
	for _, id := range c.sm.pendingMessages() { // written again by the resumption
		l.written[id] = true
	}
	return l, nil
}

// bindOrResumed is the client side of resource binding (RFC 6120 §7),
// asking for origin's resource, followed by enabling stream management when
// the server offers it. mellium's BindResource cannot request a resource
// (v0.22 writes the empty JID into <resource>), so every session would get a
// random resource and `--resource` would be ignored. When the stream
// management feature resumed the previous session instead, there is nothing
// to bind.
func (c *Client) bindOrResumed(origin jid.JID, neg *smNegotiation) mxmpp.StreamFeature {
	f := mxmpp.BindResource() // for Name, List, Parse and the state bits
	f.Negotiate = func(ctx context.Context, s *mxmpp.Session, _ interface{}) (mxmpp.SessionState, io.ReadWriter, error) {
		if neg.resumed {
			return mxmpp.Ready, nil, nil
		}
		neg.bound = true
		c.sm.reset() // a new session: nothing of the old one can be resumed
		if _, err := bindResource(s, origin); err != nil {
			return 0, nil, err
		}
		if neg.advertised {
			if err := c.enableSM(s); err != nil {
				return 0, nil, fmt.Errorf("enable stream management: %w", err)
			}
		}
		return mxmpp.Ready, nil, nil
	}
	return f
}

// rosterVerFeature notes whether the server offers roster versioning
// (XEP-0237). There is nothing to negotiate: mellium skips a feature without
// Negotiate after parsing it.
func rosterVerFeature(neg *smNegotiation) mxmpp.StreamFeature {
	return mxmpp.StreamFeature{
		Name:      xml.Name{Space: "urn:xmpp:features:rosterver", Local: "ver"},
		Necessary: mxmpp.Secure | mxmpp.Authn,
		List: func(context.Context, xmlstream.TokenWriter, xml.StartElement) (bool, error) {
			return false, errors.New("xmpp: client does not list features")
		},
		Parse: func(_ context.Context, d *xml.Decoder, _ *xml.StartElement) (bool, interface{}, error) {
			neg.rosterVer = true
			return false, nil, d.Skip()
		},
	}
}

// bindResource binds origin's resource and sets the session's address to
// the JID the server bound.
func bindResource(s *mxmpp.Session, origin jid.JID) (jid.JID, error) {
	type bindPayload struct {
		XMLName  xml.Name `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
		Resource string   `xml:"resource,omitempty"`
		JID      string   `xml:"jid,omitempty"`
	}
	type bindIQ struct {
		XMLName xml.Name      `xml:"jabber:client iq"`
		ID      string        `xml:"id,attr"`
		Type    string        `xml:"type,attr"`
		Bind    bindPayload   `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
		Err     *stanza.Error `xml:"error"`
	}
	id := randomHex(8)
	w := s.TokenWriter()
	defer w.Close()
	req := bindIQ{ID: id, Type: "set", Bind: bindPayload{Resource: origin.Resourcepart()}}
	if _, err := xmlstream.Copy(w, xmlPayload(req)); err != nil {
		return jid.JID{}, err
	}
	if err := w.Flush(); err != nil {
		return jid.JID{}, err
	}
	r := s.TokenReader()
	defer r.Close()
	var resp bindIQ
	if err := xml.NewTokenDecoder(r).Decode(&resp); err != nil {
		return jid.JID{}, fmt.Errorf("read bind result: %w", err)
	}
	switch {
	case resp.ID != id:
		return jid.JID{}, fmt.Errorf("bind result for id %q, want %q", resp.ID, id)
	case resp.Type == "error" && resp.Err != nil:
		return jid.JID{}, stanzaErr(*resp.Err)
	case resp.Type != "result":
		return jid.JID{}, fmt.Errorf("bind answered with type %q", resp.Type)
	}
	bound, err := jid.Parse(resp.Bind.JID)
	if err != nil {
		return jid.JID{}, fmt.Errorf("bound JID %q: %w", resp.Bind.JID, err)
	}
	s.UpdateAddr(bound)
	return bound, nil
}

// linkLost reports whether err, from a request on l, means that l is gone:
// l has ended, or the socket failed under the write before the receive
// loop noticed. A caller's own deadline or cancellation is not a loss.
func linkLost(l *link, err error) bool {
	if l.isDone() {
		return true
	}
	var ne net.Error
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) ||
		(errors.As(err, &ne) && !ne.Timeout())
}

func isNetworkError(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &ne)
}

// dial opens the TCP connection: to the configured server, or to the
// targets of the domain's SRV records (_xmpp-client, or _xmpps-client with
// direct TLS), falling back to the domain itself on the standard port.
// mellium's dial package does the same lookups but returns the socket already
// wrapped in its own TLS, and we need the raw socket underneath: to watch
// for activity, and to run our own certificate check.
func (c *Client) dial(ctx context.Context) (*activityConn, string, error) {
	defaultPort := "5222"
	if c.opts.directTLS {
		defaultPort = "5223"
	}
	var addrs []string
	if c.opts.server != "" {
		addr := c.opts.server
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, defaultPort)
		}
		addrs = []string{addr}
	} else {
		addrs = lookupServer(ctx, c.account.Domainpart(), c.opts.directTLS, defaultPort)
	}
	d := net.Dialer{Timeout: c.opts.dialTimeout, KeepAlive: 15 * time.Second}
	var lastErr error
	for _, addr := range addrs {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			ac := &activityConn{Conn: conn}
			ac.negotiating.Store(true)
			return ac, addr, nil
		}
		lastErr = err
	}
	return nil, "", fmt.Errorf("%w: %s: %w", ErrUnreachable, strings.Join(addrs, ", "), lastErr)
}

func lookupServer(ctx context.Context, domain string, directTLS bool, defaultPort string) []string {
	service := "xmpp-client"
	if directTLS {
		service = "xmpps-client"
	}
	var addrs []string
	_, records, err := net.DefaultResolver.LookupSRV(ctx, service, "tcp", domain)
	if err == nil {
		for _, r := range records {
			if r.Target == "." { // RFC 2782: the service is decidedly not available
				continue
			}
			addrs = append(addrs, net.JoinHostPort(strings.TrimSuffix(r.Target, "."), strconv.Itoa(int(r.Port))))
		}
	}
	if len(addrs) == 0 {
		addrs = []string{net.JoinHostPort(domain, defaultPort)}
	}
	return addrs
}

// keepAlive pings the server whenever the link has been quiet for the idle
// time, and closes the socket when no answer comes, which ends Serve and
// starts a reconnect. It also sends the ack requests that stream
// management finds due (streamMgmt.ackRequests). Without it a dead TCP connection (a laptop moved to
// another network, a NAT that forgot us) can go unnoticed for many minutes.
func (c *Client) keepAlive(l *link) {
	tick := max(c.opts.keepAliveIdle/4, 100*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	acks := c.sm.ackRequests()
	for {
		select {
		case <-l.done:
			return
		case <-acks:
			if c.sm.isEnabled() {
				ctx, cancel := context.WithTimeout(context.Background(), c.opts.keepAliveTimeout)
				if err := requestAck(ctx, l.sess); err != nil {
					c.log.Info("ack request failed", "err", err)
				}
				cancel()
			}
			continue
		case <-t.C:
		}
		if l.conn.quietFor() < c.opts.keepAliveIdle {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.keepAliveTimeout)
		err := ping.Send(ctx, l.sess, c.account.Domain())
		cancel()
		var se stanza.Error
		if err != nil && !errors.As(err, &se) { // an error reply still proves the link lives
			c.log.Info("keep-alive ping failed; dropping the connection", "err", err)
			_ = l.conn.Close()
			return
		}
	}
}

// Ping sends an XMPP ping (XEP-0199) to a JID (the server when to is zero)
// and waits for the answer.
func (c *Client) Ping(ctx context.Context, to jid.JID) error {
	sess, err := c.session()
	if err != nil {
		return err
	}
	if to.Equal(jid.JID{}) {
		to = c.account.Domain()
	}
	if err := ping.Send(ctx, sess, to); err != nil {
		return fmt.Errorf("xmpp: ping %s: %w", to, stanzaErr(err))
	}
	return nil
}

// stanzaErr converts mellium's stanza.Error into our StanzaError, keeping
// other errors as they are.
func stanzaErr(err error) error {
	var se stanza.Error
	if errors.As(err, &se) {
		return &StanzaError{Condition: string(se.Condition), Type: string(se.Type), Text: errorText(se)}
	}
	return err
}

func errorText(se stanza.Error) string {
	for _, t := range se.Text {
		return t
	}
	return ""
}

// unavailablePresence is sent on sign-out.
func unavailablePresence() xml.TokenReader {
	return stanza.Presence{Type: stanza.UnavailablePresence}.Wrap(nil)
}

// SoftwareVersion asks an entity for its software name and version
// (XEP-0092). Use a full JID for a client, a domain for a server.
func (c *Client) SoftwareVersion(ctx context.Context, to jid.JID) (name, ver, os string, err error) {
	sess, err := c.session()
	if err != nil {
		return "", "", "", err
	}
	q, err := version.Get(ctx, sess, to)
	if err != nil {
		return "", "", "", fmt.Errorf("xmpp: version of %s: %w", to, stanzaErr(err))
	}
	return q.Name, q.Version, q.OS, nil
}
