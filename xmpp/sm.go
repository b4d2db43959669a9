package xmpp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmlstream"
	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// Stream management (XEP-0198), which mellium lacks.
//
// Counting is done on the bytes of the stream, not in the stanza handler:
// mellium consumes IQ results addressed to its own SendIQ calls before any
// handler sees them, and the server counts those too. smConn sits between
// mellium and the TLS connection and splits each direction into its
// top-level elements (elementSplitter). That gives exact counts in both
// directions, and the raw bytes of every unacknowledged outgoing stanza,
// which are written again unchanged after a resumption.
//
// Acknowledgements the other way are exact too: the splitter notes the
// inbound count at each <r/> it sees, and the stanza handler answers that
// <r/> with the noted count, after the messages before it are stored (see
// storeWriter.barrier). Serve handles elements in order, so every stanza
// counted has been handled.

const nsSM = "urn:xmpp:sm:3"

// smItem is an outgoing stanza the server has not acknowledged.
type smItem struct {
	seq   uint32
	raw   []byte
	msgID string // the id of a message stanza, else ""
	to    string // the to of a message stanza
}

// streamMgmt is the stream management state of a client. It outlives each
// connection, so a new connection can resume the old session.
type streamMgmt struct {
	mu sync.Mutex
	// The current connection's state.
	inCounting  bool // counting received stanzas (after <enabled/> or <resumed/>)
	outCounting bool // counting sent stanzas (after <enable/> or a resumption)
	in          uint32
	out         uint32
	queue       []smItem
	rMarks      []uint32 // the inbound count at each <r/> not yet answered
	// What a later connection needs to resume.
	id        string  // resumption id; "" = nothing to resume
	bound     jid.JID // the full JID of the session to resume
	maxResume time.Duration
	lostAt    time.Time
	enabled   bool // the current session has stream management

	onAcked func(msgs []smItem) // messages the server acknowledged

	// The stanzas and bytes sent since the last ack request. Past
	// ackEvery or ackBytes a request is due (ackDue), so the resend queue
	// stays short: at sign-in with a company roster the server's PEP
	// services send thousands of disco#info queries, and each answer
	// would otherwise be held until the next message.
	sinceAck, bytesSinceAck int
	ackDue                  chan struct{}
}

// Past this many unacknowledged stanzas, or bytes, the client asks the
// server for an ack.
const (
	ackEvery = 50
	ackBytes = 64 << 10
)

// ackRequests returns the channel that signals an ack request is due.
func (m *streamMgmt) ackRequests() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ackDue == nil {
		m.ackDue = make(chan struct{}, 1)
	}
	return m.ackDue
}

// reset forgets everything: after a clean sign-out, or when the server
// refused to resume.
func (m *streamMgmt) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inCounting, m.outCounting = false, false
	m.in, m.out = 0, 0
	m.queue = nil
	m.rMarks = nil
	m.id = ""
	m.enabled = false
}

// resumable reports whether the last session can be resumed now.
func (m *streamMgmt) resumable() (id string, h uint32, bound jid.JID, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.id == "" || (m.maxResume > 0 && !m.lostAt.IsZero() && time.Since(m.lostAt) > m.maxResume) {
		return "", 0, jid.JID{}, false
	}
	return m.id, m.in, m.bound, true
}

// lost notes that the connection ended; counting stops until the next
// connection enables or resumes.
func (m *streamMgmt) lost() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inCounting, m.outCounting = false, false
	m.rMarks = nil
	m.enabled = false
	if m.lostAt.IsZero() {
		m.lostAt = time.Now()
	}
}

// isEnabled reports whether the current session acknowledges stanzas.
func (m *streamMgmt) isEnabled() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.enabled
}

// pendingMessages returns the ids of the messages in the resend queue.
func (m *streamMgmt) pendingMessages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for _, it := range m.queue {
		if it.msgID != "" {
			ids = append(ids, it.msgID)
		}
	}
	return ids
}

// sentElement is called for every top-level element written.
func (m *streamMgmt) sentElement(name string, raw []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch name {
	case "enable":
		m.outCounting, m.out, m.queue = true, 0, nil
		return
	case "message", "presence", "iq":
	default:
		return
	}
	if !m.outCounting {
		return
	}
	m.out++
	it := smItem{seq: m.out}
	// Answers to queries (iq result or error) are not kept for a resend:
	// they are most of what is written at sign-in with a company roster
	// (the disco#info answers to thousands of contacts' PEP services),
	// and a late answer after a resumption helps nobody. Requests,
	// messages and presences are kept, byte for byte.
	keep := true
	if name == "iq" {
		typ := startAttr(raw, "type")
		keep = typ != "result" && typ != "error"
	}
	if keep {
		it.raw = bytes.Clone(raw)
	}
	// Only a message with a body can be in the store for its ack to move
	// on; a receipt (sent for every message received) or a chat state
	// would cost a store lookup each. The body's text cannot hold "<body":
	// the encoder escapes "<".
	if name == "message" && bytes.Contains(raw, []byte("<body")) {
		it.msgID, it.to = startAttr(raw, "id"), startAttr(raw, "to")
	}
	m.queue = append(m.queue, it)
	m.sinceAck++
	m.bytesSinceAck += len(raw)
	if m.sinceAck >= ackEvery || m.bytesSinceAck >= ackBytes {
		m.sinceAck, m.bytesSinceAck = 0, 0
		if m.ackDue == nil {
			m.ackDue = make(chan struct{}, 1)
		}
		select {
		case m.ackDue <- struct{}{}:
		default: // one is already due
		}
	}
}

// receivedElement is called for every top-level element read.
func (m *streamMgmt) receivedElement(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch name {
	case "enabled":
		m.inCounting, m.in = true, 0
	case "resumed":
		m.inCounting = true
	case "r":
		m.rMarks = append(m.rMarks, m.in)
	case "message", "presence", "iq":
		if m.inCounting {
			m.in++
		}
	}
}

// nextMark returns the count to answer the oldest unanswered <r/> with.
func (m *streamMgmt) nextMark() uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.rMarks) == 0 {
		return m.in
	}
	h := m.rMarks[0]
	m.rMarks = m.rMarks[1:]
	return h
}

// ack drops what the server has acknowledged (h counts from the start of
// the session, modulo 2^32) and reports the messages among it.
func (m *streamMgmt) ack(h uint32) {
	m.mu.Lock()
	var msgs []smItem
	n := 0
	for _, it := range m.queue {
		if int32(it.seq-h) > 0 { // seq after h, with wrap-around
			break
		}
		if it.msgID != "" {
			msgs = append(msgs, smItem{msgID: it.msgID, to: it.to})
		}
		n++
	}
	m.queue = m.queue[n:]
	onAcked := m.onAcked
	m.mu.Unlock()
	if len(msgs) > 0 && onAcked != nil {
		onAcked(msgs)
	}
}

// startAttr returns an attribute of the first start element in raw.
func startAttr(raw []byte, name string) string {
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := d.RawToken()
		if err != nil {
			return ""
		}
		if start, ok := tok.(xml.StartElement); ok {
			for _, a := range start.Attr {
				if a.Name.Local == name && a.Name.Space == "" {
					return a.Value
				}
			}
			return ""
		}
	}
}

// smConn is the connection mellium reads and writes once TLS is up. It
// reports every top-level element in each direction to the stream
// management state.
type smConn struct {
	net.Conn
	sm  *streamMgmt
	in  elementSplitter
	out elementSplitter
	wmu sync.Mutex
}

func newSMConn(c net.Conn, sm *streamMgmt) *smConn {
	s := &smConn{Conn: c, sm: sm}
	s.in.onElement = func(name string, _ []byte) { sm.receivedElement(name) }
	s.out.keepRaw = true
	s.out.onElement = sm.sentElement
	return s
}

func (c *smConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.feed(p[:n])
	return n, err
}

func (c *smConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, err := c.Conn.Write(p)
	c.out.feed(p[:n])
	return n, err
}

// ConnectionState lets mellium see the TLS state underneath (channel
// binding needs it).
func (c *smConn) ConnectionState() tls.ConnectionState {
	if tc, ok := c.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}

// elementSplitter finds the children of the stream root in one direction of
// an XMPP stream. It is a tokenizer just big enough for that: it tracks tag
// nesting, quoted attribute values, the XML declaration and CDATA sections
// (XMPP forbids comments, processing instructions and DTDs in the stream).
// A <stream:stream> start tag (re)starts the stream at depth one.
type elementSplitter struct {
	keepRaw   bool
	onElement func(name string, raw []byte)

	depth   int
	state   splitState
	quote   byte
	isEnd   bool
	prev    byte
	name    []byte
	naming  bool
	inElem  bool // inside a child of the root
	topName string
	raw     []byte
	bang    []byte // the start of a <! construct
}

type splitState int

const (
	stText  splitState = iota
	stOpen             // just read '<'
	stTag              // inside a tag
	stQuote            // inside a quoted attribute value
	stPI               // inside <? ... ?>
	stBang             // inside <! ... > (CDATA)
)

func (s *elementSplitter) feed(p []byte) {
	for _, c := range p {
		if s.inElem && s.keepRaw {
			s.raw = append(s.raw, c)
		}
		switch s.state {
		case stText:
			if c == '<' {
				s.state = stOpen
				if s.depth == 1 && !s.inElem {
					s.inElem = true
					s.topName = ""
					if s.keepRaw {
						s.raw = append(s.raw[:0], c)
					}
				}
			}
		case stOpen:
			switch c {
			case '/':
				s.isEnd = true
				s.state = stTag
				s.name = s.name[:0]
				s.naming = true
			case '?':
				s.state = stPI
			case '!':
				s.state = stBang
				s.bang = s.bang[:0]
			default:
				s.isEnd = false
				s.state = stTag
				s.name = append(s.name[:0], c)
				s.naming = true
			}
		case stTag:
			if s.naming {
				if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/' || c == '>' {
					s.naming = false
				} else {
					s.name = append(s.name, c)
				}
			}
			switch c {
			case '"', '\'':
				s.state, s.quote = stQuote, c
			case '>':
				s.state = stText
				s.tagDone(s.prev == '/')
			}
		case stQuote:
			if c == s.quote {
				s.state = stTag
			}
		case stPI:
			if c == '>' && s.prev == '?' {
				s.state = stText
				if s.depth == 1 && s.inElem && s.topName == "" {
					s.inElem = false // the declaration before a stream restart
				}
			}
		case stBang:
			s.bang = append(s.bang, c)
			if c == '>' && (!bytes.HasPrefix(s.bang, []byte("[CDATA[")) || bytes.HasSuffix(s.bang, []byte("]]>"))) {
				s.state = stText
			}
		}
		s.prev = c
	}
}

func (s *elementSplitter) tagDone(selfClosing bool) {
	name := string(s.name)
	local := name
	if i := bytes.IndexByte(s.name, ':'); i >= 0 {
		local = name[i+1:]
	}
	if !s.isEnd && local == "stream" && (s.depth <= 1) {
		// A stream header (the first, or a restart after TLS or SASL).
		s.depth = 1
		s.inElem = false
		return
	}
	if s.inElem && s.topName == "" && !s.isEnd {
		s.topName = local
	}
	switch {
	case s.isEnd:
		s.depth--
		if s.depth <= 0 { // </stream:stream>
			s.depth = 0
			s.inElem = false
			return
		}
		if s.depth == 1 && s.inElem {
			s.emit()
		}
	case selfClosing:
		if s.depth == 1 && s.inElem {
			s.emit()
		}
	default:
		s.depth++
	}
}

func (s *elementSplitter) emit() {
	s.inElem = false
	if s.onElement != nil {
		s.onElement(s.topName, s.raw)
	}
	s.raw = s.raw[:0]
}

// smNegotiation is what the stream features of one negotiation learn and
// tell each other.
type smNegotiation struct {
	advertised bool // the server offers stream management
	bound      bool // a resource was bound: too late to resume
	rosterVer  bool // the server offers roster versioning (XEP-0237)
	resumed    bool
	resumedH   uint32
}

// smFeature is the stream management stream feature. When the last session
// can be resumed, it asks the server to resume it in place of binding a
// resource; the bind feature (bindOrResumed) then has nothing to do, and on
// a fresh session it enables stream management after binding.
func (c *Client) smFeature(neg *smNegotiation) mxmpp.StreamFeature {
	return mxmpp.StreamFeature{
		Name:       xml.Name{Space: nsSM, Local: "sm"},
		Necessary:  mxmpp.Secure | mxmpp.Authn,
		Prohibited: mxmpp.Ready,
		List: func(context.Context, xmlstream.TokenWriter, xml.StartElement) (bool, error) {
			return false, errors.New("xmpp: client does not list features")
		},
		Parse: func(_ context.Context, d *xml.Decoder, _ *xml.StartElement) (bool, interface{}, error) {
			neg.advertised = true
			return false, nil, d.Skip()
		},
		Negotiate: func(ctx context.Context, s *mxmpp.Session, _ interface{}) (mxmpp.SessionState, io.ReadWriter, error) {
			id, h, bound, ok := c.sm.resumable()
			if !ok || neg.bound {
				return 0, nil, nil
			}
			if err := writeRaw(s, fmt.Sprintf(`<resume xmlns='%s' h='%d' previd='%s'/>`, nsSM, h, xmlEscape(id))); err != nil {
				return 0, nil, err
			}
			start, attrs, err := readNonza(s)
			if err != nil {
				return 0, nil, err
			}
			if start != "resumed" {
				// Refused (the server restarted, or we waited too long): a
				// fresh session is bound instead.
				c.log.Info("stream resumption refused; starting a new session", "answer", start)
				c.sm.reset()
				return 0, nil, nil
			}
			acked, _ := strconv.ParseUint(attrs["h"], 10, 32)
			neg.resumed, neg.resumedH = true, uint32(acked)
			s.UpdateAddr(bound)
			c.sm.ack(uint32(acked))
			// Write what the server never got, unchanged, in order. Through
			// the smConn they are counted and queued again.
			c.sm.mu.Lock()
			resend := c.sm.queue
			c.sm.queue = nil
			c.sm.out = uint32(acked)
			c.sm.outCounting = true
			c.sm.enabled = true
			c.sm.lostAt = time.Time{}
			c.sm.mu.Unlock()
			conn := s.Conn()
			for _, it := range resend {
				if it.raw == nil {
					continue // an answer to a query: not resent
				}
				if _, err := conn.Write(it.raw); err != nil {
					return 0, nil, err
				}
			}
			c.log.Info("stream resumed", "jid", bound.String(), "resent", len(resend))
			return mxmpp.Ready, nil, nil
		},
	}
}

// enableSM asks for stream management on a freshly bound session.
func (c *Client) enableSM(s *mxmpp.Session) error {
	if err := writeRaw(s, fmt.Sprintf(`<enable xmlns='%s' resume='true'/>`, nsSM)); err != nil {
		return err
	}
	name, attrs, err := readNonza(s)
	if err != nil {
		return err
	}
	if name != "enabled" {
		c.log.Info("server refused stream management", "answer", name)
		c.sm.reset()
		return nil
	}
	c.sm.mu.Lock()
	c.sm.enabled = true
	c.sm.lostAt = time.Time{}
	c.sm.bound = s.LocalAddr()
	c.sm.id = ""
	if attrs["resume"] == "true" || attrs["resume"] == "1" {
		c.sm.id = attrs["id"]
	}
	c.sm.maxResume = 0
	if secs, err := strconv.Atoi(attrs["max"]); err == nil && secs > 0 {
		c.sm.maxResume = time.Duration(secs) * time.Second
	}
	c.sm.mu.Unlock()
	return nil
}

// writeRaw writes a nonza during negotiation, outside mellium's encoder.
func writeRaw(s *mxmpp.Session, text string) error {
	_, err := io.WriteString(s.Conn(), text)
	return err
}

// readNonza reads one top-level element during negotiation and returns its
// local name and attributes.
func readNonza(s *mxmpp.Session) (string, map[string]string, error) {
	r := s.TokenReader()
	defer r.Close()
	d := xml.NewTokenDecoder(r)
	for {
		tok, err := d.Token()
		if err != nil {
			return "", nil, err
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attrs := map[string]string{}
		for _, a := range start.Attr {
			attrs[a.Name.Local] = a.Value
		}
		if err := d.Skip(); err != nil {
			return "", nil, err
		}
		return start.Name.Local, attrs, nil
	}
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// onSMElement handles stream management elements during the session: the
// server's ack requests and acks.
func (c *Client) onSMElement(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	switch start.Name.Local {
	case "r":
		h := c.sm.nextMark()
		// Everything counted must be stored before it is acknowledged: the
		// server forgets what we ack.
		c.store.barrier()
		if err := t.EncodeToken(xml.StartElement{
			Name: xml.Name{Space: nsSM, Local: "a"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "h"}, Value: strconv.FormatUint(uint64(h), 10)}},
		}); err != nil {
			return err
		}
		return t.EncodeToken(xml.EndElement{Name: xml.Name{Space: nsSM, Local: "a"}})
	case "a":
		for _, a := range start.Attr {
			if a.Name.Local == "h" {
				if h, err := strconv.ParseUint(a.Value, 10, 32); err == nil {
					c.sm.ack(uint32(h))
				}
			}
		}
	}
	return nil
}

// requestAck asks the server to acknowledge what it has received so far.
func requestAck(ctx context.Context, s *mxmpp.Session) error {
	w := s.TokenWriter()
	defer w.Close()
	name := xml.Name{Space: nsSM, Local: "r"}
	if err := w.EncodeToken(xml.StartElement{Name: name}); err != nil {
		return err
	}
	if err := w.EncodeToken(xml.EndElement{Name: name}); err != nil {
		return err
	}
	return w.Flush()
}
