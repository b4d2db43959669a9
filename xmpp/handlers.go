package xmpp

import (
	"bytes"
	"crypto/sha1" // #nosec G505 -- XEP-0115 defines the verification string with SHA-1
	"encoding/xml"
	"io"

	"mellium.im/xmlstream"
	mcrypto "mellium.im/xmpp/crypto"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/version"
)

// capsNode identifies Magpie in entity capabilities (XEP-0115).
const capsNode = "https://magpie.im/caps"

// features are what Magpie answers to disco#info. Keep them true: peers and
// the server act on them.
var features = []string{
	disco.NSCaps,
	disco.NSInfo,
	ping.NS,
	version.NS,
	nsSID,
	nsReceipts,
	nsCarbons,
	nsAvatarMetadata + "+notify", // PEP avatars of contacts (XEP-0084)
	IdleNS,                       // idle time in presence (XEP-0319)
	nsBookmarks + "+notify",      // bookmark changes from other devices (XEP-0402)
}

// clientInfo is the disco#info answer, and the input of the caps hash.
func clientInfo(node string) disco.Info {
	in := disco.Info{
		InfoQuery: disco.InfoQuery{Node: node},
		Identity:  []info.Identity{{Category: "client", Type: "pc", Name: "Magpie"}},
	}
	for _, f := range features {
		in.Features = append(in.Features, info.Feature{Var: f})
	}
	return in
}

// capsVer is the XEP-0115 verification string of clientInfo.
var capsVer = clientInfo("").Hash(sha1.New())

func capsElement() xml.TokenReader {
	return disco.Caps{Hash: mcrypto.SHA1, Node: capsNode, Ver: capsVer}.TokenReader()
}

// stanzaHandler is what Serve calls for every top-level element. Messages
// and presences are decoded whole, once: mellium's mux would call a handler
// once per child element, so a presence with show, status and caps would be
// handled three times. IQs go through the mux, one handler per namespace.
type stanzaHandler struct {
	c   *Client
	iqs *mux.ServeMux
}

func newStanzaHandler(c *Client) *stanzaHandler {
	return &stanzaHandler{c: c, iqs: mux.New(stanza.NSClient,
		ping.Handle(),
		// Anyone may ask (XEP-0092): the answer names the program and its
		// version, never the operating system, which would tell a
		// stranger what to attack.
		version.Handle(version.Query{Name: "Magpie", Version: c.opts.version}),
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: disco.NSInfo, Local: "query"}, c.onDiscoInfo),
		mux.IQFunc(stanza.SetIQ, xml.Name{Space: nsRoster, Local: "query"}, c.onRosterIQ),
	)}
}

// HandleXMPP implements xmpp.Handler. It never returns an error for a bad
// stanza: an error from a handler would end the whole session.
func (h *stanzaHandler) HandleXMPP(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start.Name.Space == nsSM {
		return h.c.onSMElement(t, start)
	}
	if start.Name.Space == stanza.NSClient {
		switch start.Name.Local {
		case "message":
			var w wireMessage
			if err := decodeStanza(t, start, &w); err != nil {
				h.c.log.Debug("undecodable message", "err", err)
				return nil
			}
			h.c.onMessage(w, t)
			return nil
		case "presence":
			var w wirePresence
			if err := decodeStanza(t, start, &w); err != nil {
				h.c.log.Debug("undecodable presence", "err", err)
				return nil
			}
			h.c.onPresence(w)
			return nil
		}
	}
	if start.Name.Space == stanza.NSClient && start.Name.Local == "iq" {
		return h.onIQ(t, start)
	}
	// Any other element: nothing of ours; mellium skips what is left of it.
	return nil
}

// maxIQTokens bounds the tokens of one request held for its handler. The
// requests Magpie answers are a few dozen tokens; a roster push is one item.
const maxIQTokens = 10000

// onIQ routes an IQ to the handler for its type and payload. mellium's mux
// returned an error, which ends the session, for an IQ whose first child
// is text or an empty error IQ, and handed a request with several children
// to the handler of the first: anyone who can address the client could
// knock it offline with one stanza. Here nothing from the network becomes
// an error. A request (get or set) that is not exactly one child element,
// or whose addresses do not parse, is answered bad-request; a result or an
// error that nobody waits for (mellium has already passed the awaited ones
// to their callers) is dropped; a handler that fails on what it was sent is
// logged and, if it had not answered, answered bad-request. Only a failed
// write, or a read that finds the stream itself broken, is returned.
func (h *stanzaHandler) onIQ(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var id string
	var typ stanza.IQType
	for _, a := range start.Attr {
		switch {
		case a.Name.Space != "" && a.Name.Space != start.Name.Space:
		case a.Name.Local == "id":
			id = a.Value
		case a.Name.Local == "type":
			typ = stanza.IQType(a.Value)
		}
	}
	if typ != stanza.GetIQ && typ != stanza.SetIQ {
		return nil
	}
	w := &replyWatch{enc: t}
	iq, err := stanza.NewIQ(*start)
	if err != nil {
		// Only a broken server sends an address that does not parse. The
		// answer goes without one (to the server), and it keeps mellium
		// from answering in our place, which fails on the same address.
		h.c.log.Debug("IQ with a bad address", "id", id, "err", err)
		return w.badRequest(stanza.IQ{ID: id, Type: typ}, "bad address")
	}
	payload, body, problem, err := readIQPayload(t)
	if err != nil {
		return err
	}
	if problem != "" {
		h.c.log.Debug("malformed IQ request", "from", iq.From, "id", iq.ID, "problem", problem)
		return w.badRequest(iq, problem)
	}
	handler, _ := h.iqs.IQHandler(iq.Type, payload.Name)
	err = handler.HandleIQ(iq, struct {
		xml.TokenReader
		xmlstream.Encoder
	}{&tokenReplay{tokens: body}, w}, &payload)
	if err == nil || w.failed != nil {
		return err
	}
	h.c.log.Debug("IQ handler failed", "from", iq.From, "payload", payload.Name.Space+" "+payload.Name.Local, "err", err)
	if w.wrote {
		return nil
	}
	return w.badRequest(iq, "")
}

// readIQPayload reads what is inside an IQ request: its one child
// element's start, and the tokens after it up to and including its end.
// problem says why the request is malformed (text, no child, several
// children, too big); err is a read error, which means the stream broke.
func readIQPayload(r xml.TokenReader) (payload xml.StartElement, body []xml.Token, problem string, err error) {
	depth, children := 0, 0
	for {
		tok, err := r.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return payload, nil, "", err
		}
		if depth == 0 {
			// Between children: whitespace, the next child, or junk.
			switch tok := tok.(type) {
			case xml.StartElement:
				children++
				depth++
				if children == 1 {
					payload = tok.Copy()
				}
			case xml.CharData:
				if len(bytes.TrimSpace(tok)) > 0 {
					problem = "text in the IQ"
				}
			}
			continue
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
		if children > 1 {
			continue
		}
		if len(body) == maxIQTokens {
			problem = "payload too big"
			continue
		}
		body = append(body, xml.CopyToken(tok))
	}
	switch {
	case problem != "":
	case children == 0:
		problem = "no payload"
	case children > 1:
		problem = "more than one payload"
	}
	if problem != "" {
		return payload, nil, problem, nil
	}
	return payload, body, "", nil
}

// tokenReplay reads back held tokens.
type tokenReplay struct {
	tokens []xml.Token
	at     int
}

func (r *tokenReplay) Token() (xml.Token, error) {
	if r.at >= len(r.tokens) {
		return nil, io.EOF
	}
	r.at++
	return r.tokens[r.at-1], nil
}

// replyWatch is the encoder an IQ handler writes its answer to. It tells a
// failed write (the socket is gone: the session may end) from a handler's
// complaint about its input (it must not), and whether anything was
// written.
type replyWatch struct {
	enc    xmlstream.Encoder
	wrote  bool
	failed error
}

func (w *replyWatch) EncodeToken(t xml.Token) error {
	w.wrote = true
	err := w.enc.EncodeToken(t)
	if err != nil && w.failed == nil {
		w.failed = err
	}
	return err
}

func (w *replyWatch) Encode(v any) error {
	w.wrote = true
	err := w.enc.Encode(v)
	if err != nil && w.failed == nil {
		w.failed = err
	}
	return err
}

func (w *replyWatch) EncodeElement(v any, start xml.StartElement) error {
	w.wrote = true
	err := w.enc.EncodeElement(v, start)
	if err != nil && w.failed == nil {
		w.failed = err
	}
	return err
}

// badRequest answers iq with bad-request.
func (w *replyWatch) badRequest(iq stanza.IQ, text string) error {
	e := stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest}
	if text != "" {
		e.Text = map[string]string{"": text}
	}
	_, err := xmlstream.Copy(w, iq.Error(e))
	return err
}

// decodeStanza decodes a whole element; the token readers Serve and the mux
// hand over start after the start element, so it is put back in front (a
// decoder that has not seen it rejects the end element).
func decodeStanza(t xml.TokenReader, start *xml.StartElement, v any) error {
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
	return d.Decode(v)
}

// onDiscoInfo answers disco#info for the client and for its caps node.
// mellium's disco.Handle answers "node#ver" queries with nothing, which makes
// peers see a caps mismatch.
func (c *Client) onDiscoInfo(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	node := ""
	for _, a := range start.Attr {
		if a.Name.Local == "node" {
			node = a.Value
		}
	}
	if node != "" && node != capsNode+"#"+capsVer {
		_, err := xmlstream.Copy(t, iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound}))
		return err
	}
	_, err := xmlstream.Copy(t, iq.Result(clientInfo(node).TokenReader()))
	return err
}

// onRosterIQ handles roster pushes and acknowledges them.
func (c *Client) onRosterIQ(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var q rosterQuery
	if err := decodeStanza(t, start, &q); err != nil {
		_, err = xmlstream.Copy(t, iq.Error(stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest}))
		return err
	}
	if !c.onRosterPush(iq, q) {
		// RFC 6121 §2.1.6: ignore pushes from anyone but our own account.
		_, err := xmlstream.Copy(t, iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}))
		return err
	}
	_, err := xmlstream.Copy(t, iq.Result(nil))
	return err
}

// xmlPayload turns a value with xml tags into the token stream mellium's
// send functions take.
func xmlPayload(v any) xml.TokenReader {
	b, err := xml.Marshal(v)
	if err != nil {
		// Only our own fixed types are marshalled here; failing is a bug.
		panic("xmpp: marshal payload: " + err.Error())
	}
	return dropXMLNSAttr{xml.NewDecoder(bytes.NewReader(b))}
}

// dropXMLNSAttr removes xmlns attributes: encoding/xml's decoder reports the
// namespace both in Name.Space and as an attribute, and mellium's writer
// adds the attribute again from Name.Space (a duplicate attribute is not
// well-formed XML, and Prosody closes the stream).
type dropXMLNSAttr struct{ d *xml.Decoder }

func (r dropXMLNSAttr) Token() (xml.Token, error) {
	tok, err := r.d.Token()
	if start, ok := tok.(xml.StartElement); ok {
		attrs := start.Attr[:0:0]
		for _, a := range start.Attr {
			if a.Name.Space == "" && a.Name.Local == "xmlns" {
				continue
			}
			attrs = append(attrs, a)
		}
		start.Attr = attrs
		tok = start
	}
	return tok, err
}
