package xmpp

import (
	"strconv"
	"strings"
	"testing"
)

const (
	testHeader = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='fake.test' version='1.0'>`
	defused    = nsDefused
)

// TestStreamGuard feeds streams to the guard whole, byte by byte and split
// at every position: what is legitimate passes unchanged, and the stream
// namespace inside a stanza is replaced however it is written.
func TestStreamGuard(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct{ in, want string }{
		// A whole ordinary stream: header, features, a restart, stanzas
		// with every kind of content, a stream error, the end.
		0: {testHeader +
			`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>` +
			`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` + testHeader + `<stream:features/>` +
			`<message to='a@x/r' from='b@x/r' type='chat'><body>a &lt; b &amp; 'c' "d" &gt; xmlns='http://etherx.jabber.org/streams'</body>` +
			`<x xmlns='urn:x' a='1>2' b="it's"><![CDATA[<stream xmlns='http://etherx.jabber.org/streams'>]]></x><!-- <stream:error/> --></message>` +
			`<r xmlns='urn:xmpp:sm:3'/><stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`, ""},
		// The stream namespace as a child's default namespace.
		1: {testHeader + `<message><stream xmlns='http://etherx.jabber.org/streams'/></message>`,
			testHeader + `<message><stream xmlns='` + defused + `'/></message>`},
		// Deep inside, with double quotes and spaces around '='.
		2: {testHeader + `<iq type='get'><ping xmlns='urn:xmpp:ping'><error xmlns = "http://etherx.jabber.org/streams" x='1'><c/></error></ping></iq>`,
			testHeader + `<iq type='get'><ping xmlns='urn:xmpp:ping'><error xmlns = "` + defused + `" x='1'><c/></error></ping></iq>`},
		// The header's prefix, used inside a stanza without binding it.
		3: {testHeader + `<message><stream:error><text/></stream:error><stream:x a='b'/></message>`,
			testHeader + `<message><stream:error xmlns:stream='` + defused + `'><text/></stream:error><stream:x xmlns:stream='` + defused + `' a='b'/></message>`},
		// A prefix bound to it inside the stanza, written with references.
		4: {testHeader + `<presence><s:features xmlns:s='http&#58;//etherx.jabber.org/&#x73;treams'/></presence>`,
			testHeader + `<presence><s:features xmlns:s='` + defused + `'/></presence>`},
		// Bound on the stanza itself, for its children.
		5: {testHeader + `<message xmlns:s='http://etherx.jabber.org/streams' to='a@x'><s:stream/></message>`,
			testHeader + `<message xmlns:s='` + defused + `' to='a@x'><s:stream/></message>`},
		// The prefix bound again to something else inside: not the stream's.
		6: {testHeader + `<message><y xmlns:stream='urn:other'><stream:x/></y><stream:z/></message>`,
			testHeader + `<message><y xmlns:stream='urn:other'><stream:x/></y><stream:z xmlns:stream='` + defused + `'/></message>`},
		// Rewritten value and the added binding on one element.
		7: {testHeader + `<message><stream:x xmlns='http://etherx.jabber.org/streams'/></message>`,
			testHeader + `<message><stream:x xmlns='` + defused + `' xmlns:stream='` + defused + `'/></message>`},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			want := tc.want
			if want == "" {
				want = tc.in
			}
			feedAll := func(pieces ...string) string {
				var g streamGuard
				var out []byte
				for _, p := range pieces {
					out = g.feed(out, []byte(p))
				}
				return string(g.flush(out))
			}
			if got := feedAll(tc.in); got != want {
				t.Fatalf("whole:\n got %s\nwant %s", got, want)
			}
			if got := feedAll(strings.Split(tc.in, "")...); got != want {
				t.Fatalf("byte by byte:\n got %s\nwant %s", got, want)
			}
			for at := 1; at < len(tc.in); at++ {
				if got := feedAll(tc.in[:at], tc.in[at:]); got != want {
					t.Fatalf("split at %d:\n got %s\nwant %s", at, got, want)
				}
			}
		})
	}
}

// BenchmarkStreamGuard measures the guard over a stream of ordinary chat
// messages (the bytes every stanza passes through once more).
func BenchmarkStreamGuard(b *testing.B) {
	var s strings.Builder
	s.WriteString(testHeader)
	for i := range 1000 {
		s.WriteString(`<message xmlns='jabber:client' to='alice@oa.example/magpie' from='bob@oa.example/desk' type='chat' id='m` + strconv.Itoa(i) + `'>` +
			`<body>消息 message number ` + strconv.Itoa(i) + ` &amp; more text to make it a realistic size</body>` +
			`<request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='o` + strconv.Itoa(i) + `'/>` +
			`<stanza-id xmlns='urn:xmpp:sid:0' by='alice@oa.example' id='s` + strconv.Itoa(i) + `'/></message>`)
	}
	in := []byte(s.String())
	b.SetBytes(int64(len(in)))
	var out []byte
	for b.Loop() {
		var g streamGuard
		out = out[:0]
		for at := 0; at < len(in); at += 16 * 1024 {
			out = g.feed(out, in[at:min(at+16*1024, len(in))])
		}
	}
}
