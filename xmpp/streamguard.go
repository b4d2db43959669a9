package xmpp

import (
	"bytes"
	"crypto/tls"
	"net"
	"strconv"
)

// nsStream is the namespace of the stream root and of the elements that
// may appear directly under it (features, stream errors).
const nsStream = "http://etherx.jabber.org/streams"

// nsDefused replaces nsStream on elements inside a stanza: an unknown
// namespace, which every handler ignores.
const nsDefused = "urn:x-magpie:stream-namespace-in-stanza"

// guardConn is the connection mellium reads once TLS is up. It passes the
// server's bytes through unchanged except for one thing: an element inside
// a stanza that claims the stream namespace (nsStream) is moved to
// nsDefused.
//
// mellium's stream reader treats every element in the stream namespace as a
// stream-level event wherever it appears: <stream:error> is returned as the
// stream's error, <stream:stream> as an unexpected restart, and any other
// name as an unknown stream element, and the end tag of such an element
// that it did not expect ends Serve with bad-format or EOF. Servers relay
// what is inside a stanza as the sender wrote it (Prosody does), so a
// single chat message, presence or IQ carrying
// <x xmlns='http://etherx.jabber.org/streams'/> anywhere inside it ended the
// session, whatever the stanza handlers did. RFC 6120 defines no element of
// that namespace below the stream's children, so nothing legitimate is
// lost.
type guardConn struct {
	net.Conn
	guard   streamGuard
	scratch []byte
	out     []byte // rewritten bytes not yet read
	outAt   int
	err     error // the read error to return once out is drained
}

func newGuardConn(c net.Conn) *guardConn {
	return &guardConn{Conn: c, scratch: make([]byte, 16*1024)}
}

func (c *guardConn) Read(p []byte) (int, error) {
	for c.outAt == len(c.out) {
		if c.err != nil {
			return 0, c.err
		}
		c.out, c.outAt = c.out[:0], 0
		n, err := c.Conn.Read(c.scratch)
		c.out = c.guard.feed(c.out, c.scratch[:n])
		if err != nil {
			// What was held back (an unfinished tag) goes out as it
			// is: the stream ends here anyway.
			c.out = c.guard.flush(c.out)
			c.err = err
		}
	}
	n := copy(p, c.out[c.outAt:])
	c.outAt += n
	return n, nil
}

// ConnectionState lets mellium see the TLS state underneath (channel
// binding needs it).
func (c *guardConn) ConnectionState() tls.ConnectionState {
	if tc, ok := c.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}

// streamGuard is the rewriting of guardConn, fed the stream in pieces. It
// is a tokenizer just big enough for the job: text, end tags, comments,
// CDATA sections and processing instructions pass through as they come;
// start tags below the stream root are held until complete, so that their
// attributes can be read whole.
type streamGuard struct {
	state    guardState
	prev     byte
	quote    byte
	tag      []byte // the start tag being held, from its '<'
	bang     []byte // the first bytes of a <! construct, to tell its kind
	bangKind bangKind
	tail     [3]byte // the last bytes of a comment or CDATA section
	depth    int     // 0 outside the stream root, 1 directly under it
	// streamPrefixes are the prefixes the stream header binds to nsStream
	// (normally "stream"); an element inside a stanza that uses one of
	// them without binding it again is given a binding to nsDefused.
	streamPrefixes map[string]bool
	// open holds, per element open below the root, the prefixes it binds.
	open [][]string
}

type guardState int

const (
	gText     guardState = iota
	gOpen                // read '<'
	gStartTag            // in a start tag (held in tag)
	gQuote               // in a quoted attribute value of a start tag
	gEndTag              // in an end tag
	gPI                  // in <? ... ?>
	gBang                // in <! ... > (comment or CDATA)
)

// feed rewrites src and appends what can be passed on to dst.
func (g *streamGuard) feed(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		b := src[i]
		switch g.state {
		case gText:
			// Pass the run of text up to the next '<' in one go.
			j := bytes.IndexByte(src[i:], '<')
			if j < 0 {
				dst = append(dst, src[i:]...)
				g.prev = src[len(src)-1]
				return dst
			}
			dst = append(dst, src[i:i+j]...)
			i += j
			b = '<'
			g.state = gOpen
		case gOpen:
			switch b {
			case '/':
				dst = append(dst, '<', '/')
				g.state = gEndTag
			case '?':
				dst = append(dst, '<', '?')
				g.state = gPI
			case '!':
				dst = append(dst, '<', '!')
				g.state = gBang
				g.bang, g.bangKind, g.tail = g.bang[:0], bangUnknown, [3]byte{}
			default:
				g.tag = append(g.tag[:0], '<', b)
				g.state = gStartTag
			}
		case gStartTag:
			// Hold the run up to the next quote or '>' in one go.
			j := bytes.IndexAny(src[i:], `"'>`)
			if j < 0 {
				g.tag = append(g.tag, src[i:]...)
				g.prev = src[len(src)-1]
				return dst
			}
			if j > 0 {
				g.tag = append(g.tag, src[i:i+j]...)
				i += j
				g.prev = src[i-1]
				b = src[i]
			}
			g.tag = append(g.tag, b)
			switch b {
			case '"', '\'':
				g.state, g.quote = gQuote, b
			case '>':
				dst = g.startTag(dst, g.prev == '/')
				g.state = gText
			}
		case gQuote:
			j := bytes.IndexByte(src[i:], g.quote)
			if j < 0 {
				g.tag = append(g.tag, src[i:]...)
				g.prev = src[len(src)-1]
				return dst
			}
			g.tag = append(g.tag, src[i:i+j+1]...)
			i += j
			b = src[i]
			g.state = gStartTag
		case gEndTag:
			dst = append(dst, b)
			if b == '>' {
				g.endTag()
				g.state = gText
			}
		case gPI:
			dst = append(dst, b)
			if b == '>' && g.prev == '?' {
				g.state = gText
			}
		case gBang:
			dst = append(dst, b)
			if g.bangEnded(b) {
				g.state = gText
			}
		}
		g.prev = b
	}
	return dst
}

type bangKind int

const (
	bangUnknown bangKind = iota
	bangComment          // <!-- ... -->
	bangCDATA            // <![CDATA[ ... ]]>
	bangOther            // <!DOCTYPE ...>, ended by the first '>'
)

// bangEnded follows a <! construct byte by byte and reports its end.
func (g *streamGuard) bangEnded(b byte) bool {
	g.tail = [3]byte{g.tail[1], g.tail[2], b}
	if g.bangKind == bangUnknown {
		g.bang = append(g.bang, b)
		switch {
		case bytes.Equal(g.bang, []byte("--")):
			g.bangKind, g.tail = bangComment, [3]byte{}
			return false
		case bytes.Equal(g.bang, []byte("[CDATA[")):
			g.bangKind, g.tail = bangCDATA, [3]byte{}
			return false
		case bytes.HasPrefix([]byte("--"), g.bang), bytes.HasPrefix([]byte("[CDATA["), g.bang):
			return false
		}
		g.bangKind = bangOther
	}
	switch g.bangKind {
	case bangComment:
		return g.tail == [3]byte{'-', '-', '>'}
	case bangCDATA:
		return g.tail == [3]byte{']', ']', '>'}
	}
	return b == '>'
}

// flush returns what is held back, unchanged.
func (g *streamGuard) flush(dst []byte) []byte {
	switch g.state {
	case gOpen:
		dst = append(dst, '<')
	case gStartTag, gQuote:
		dst = append(dst, g.tag...)
	}
	g.tag = g.tag[:0]
	g.state = gText
	return dst
}

func (g *streamGuard) endTag() {
	if g.depth > 0 {
		g.depth--
	}
	if len(g.open) > 0 {
		g.open = g.open[:len(g.open)-1]
	}
}

// tagAttr is one attribute of a held start tag: its name, and where its
// value (without the quotes) is in the tag.
type tagAttr struct {
	name       string
	valueStart int
	valueEnd   int
}

// parseStartTag reads a held start tag: its name and attributes. ok is
// false for something that is not a well-formed start tag, which is passed
// on untouched (mellium's parser then fails on it, as it would have).
func parseStartTag(tag []byte) (name string, attrs []tagAttr, ok bool) {
	isSpace := func(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }
	i := 1
	for i < len(tag) && !isSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' {
		i++
	}
	name = string(tag[1:i])
	if name == "" {
		return "", nil, false
	}
	for {
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) {
			return "", nil, false
		}
		if tag[i] == '/' || tag[i] == '>' {
			return name, attrs, true
		}
		start := i
		for i < len(tag) && !isSpace(tag[i]) && tag[i] != '=' && tag[i] != '>' && tag[i] != '/' {
			i++
		}
		attrName := string(tag[start:i])
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if attrName == "" || i >= len(tag) || tag[i] != '=' {
			return "", nil, false
		}
		i++
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || (tag[i] != '"' && tag[i] != '\'') {
			return "", nil, false
		}
		q := tag[i]
		i++
		end := bytes.IndexByte(tag[i:], q)
		if end < 0 {
			return "", nil, false
		}
		attrs = append(attrs, tagAttr{name: attrName, valueStart: i, valueEnd: i + end})
		i += end + 1
	}
}

// startTag passes a complete start tag on, rewritten where needed.
func (g *streamGuard) startTag(dst []byte, selfClosing bool) []byte {
	tag := g.tag
	if g.depth >= 1 && plainTag(tag) {
		// The common case: no prefix and no namespace declaration.
		if !selfClosing {
			g.depth++
			g.open = append(g.open, nil)
		}
		return append(dst, tag...)
	}
	name, attrs, ok := parseStartTag(tag)
	if !ok {
		return append(dst, tag...)
	}
	prefix, local := "", name
	if i := bytes.IndexByte([]byte(name), ':'); i >= 0 {
		prefix, local = name[:i], name[i+1:]
	}
	if local == "stream" && g.depth <= 1 {
		// A stream header: the first, or a restart after SASL.
		g.depth, g.open = 1, g.open[:0]
		g.streamPrefixes = map[string]bool{}
		for _, a := range attrs {
			if p, ok := declaredPrefix(a.name); ok && p != "" && isStreamNS(tag[a.valueStart:a.valueEnd]) {
				g.streamPrefixes[p] = true
			}
		}
		return append(dst, tag...)
	}
	if g.depth == 0 {
		return append(dst, tag...) // before any stream: not ours to judge
	}
	inStanza := g.depth >= 2
	var declared []string
	// Replacements of attribute values, in the order of the attributes.
	var defuse []tagAttr
	for _, a := range attrs {
		p, ok := declaredPrefix(a.name)
		if !ok {
			continue
		}
		declared = append(declared, p)
		if !isStreamNS(tag[a.valueStart:a.valueEnd]) {
			continue
		}
		// A top-level element (a stream error, the features) may be in the
		// stream namespace itself; inside a stanza nothing may.
		if !inStanza && p == prefix {
			continue
		}
		defuse = append(defuse, a)
	}
	bindsOwn := false
	for _, p := range declared {
		if p == prefix {
			bindsOwn = true
		}
	}
	addBinding := inStanza && prefix != "" && !bindsOwn && g.streamPrefixes[prefix] && !g.boundBelowRoot(prefix)
	if len(defuse) == 0 && !addBinding {
		dst = append(dst, tag...)
	} else {
		at := 0
		for _, a := range defuse {
			dst = append(dst, tag[at:a.valueStart]...)
			dst = append(dst, nsDefused...)
			at = a.valueEnd
		}
		if addBinding {
			// Bind the prefix again on this element, so that it and its
			// children no longer reach the stream header's binding.
			nameEnd := 1 + len(name)
			if at > nameEnd {
				// Attributes were rewritten already: insert at the end.
				end := len(tag) - 1
				if selfClosing {
					end--
				}
				dst = append(dst, tag[at:end]...)
				dst = append(dst, " xmlns:"+prefix+"='"+nsDefused+"'"...)
				dst = append(dst, tag[end:]...)
				at = len(tag)
			} else {
				dst = append(dst, tag[at:nameEnd]...)
				dst = append(dst, " xmlns:"+prefix+"='"+nsDefused+"'"...)
				at = nameEnd
			}
			declared = append(declared, prefix)
		}
		dst = append(dst, tag[at:]...)
	}
	if !selfClosing {
		g.depth++
		g.open = append(g.open, declared)
	}
	return dst
}

// plainTag reports whether a start tag has no prefixed name and declares
// no namespace, so that nothing in it can need rewriting.
func plainTag(tag []byte) bool {
	end := bytes.IndexAny(tag, " \t\r\n/>")
	if end < 0 {
		end = len(tag)
	}
	return bytes.IndexByte(tag[:end], ':') < 0 && !bytes.Contains(tag, []byte("xmlns"))
}

// boundBelowRoot reports whether an open element below the stream root
// binds prefix (which then hides the stream header's binding).
func (g *streamGuard) boundBelowRoot(prefix string) bool {
	for i := len(g.open) - 1; i >= 0; i-- {
		for _, p := range g.open[i] {
			if p == prefix {
				return true
			}
		}
	}
	return false
}

// declaredPrefix reports whether an attribute declares a namespace, and for
// which prefix ("" for the default namespace).
func declaredPrefix(attr string) (prefix string, ok bool) {
	if attr == "xmlns" {
		return "", true
	}
	if len(attr) > 6 && attr[:6] == "xmlns:" {
		return attr[6:], true
	}
	return "", false
}

// isStreamNS reports whether a raw attribute value is nsStream, reading the
// character and entity references XML allows in it.
func isStreamNS(raw []byte) bool {
	if bytes.IndexByte(raw, '&') < 0 {
		return string(raw) == nsStream
	}
	return unescapeAttr(raw) == nsStream
}

// unescapeAttr resolves the five predefined entities and character
// references of an attribute value; anything else is kept as it is.
func unescapeAttr(raw []byte) string {
	var b bytes.Buffer
	for i := 0; i < len(raw); i++ {
		if raw[i] != '&' {
			b.WriteByte(raw[i])
			continue
		}
		end := bytes.IndexByte(raw[i:], ';')
		if end < 0 {
			b.Write(raw[i:])
			break
		}
		ref := string(raw[i+1 : i+end])
		switch {
		case ref == "amp":
			b.WriteByte('&')
		case ref == "lt":
			b.WriteByte('<')
		case ref == "gt":
			b.WriteByte('>')
		case ref == "quot":
			b.WriteByte('"')
		case ref == "apos":
			b.WriteByte('\'')
		case len(ref) > 2 && (ref[:2] == "#x" || ref[:2] == "#X"):
			if n, err := strconv.ParseUint(ref[2:], 16, 32); err == nil {
				b.WriteRune(rune(n))
			} else {
				b.WriteString("&" + ref + ";")
			}
		case len(ref) > 1 && ref[0] == '#':
			if n, err := strconv.ParseUint(ref[1:], 10, 32); err == nil {
				b.WriteRune(rune(n))
			} else {
				b.WriteString("&" + ref + ";")
			}
		default:
			b.WriteString("&" + ref + ";")
		}
		i += end
	}
	return b.String()
}
