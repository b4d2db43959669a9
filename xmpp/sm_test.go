package xmpp

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestElementSplitter(t *testing.T) {
	stream := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>` +
		`<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>` +
		`<?xml version='1.0'?><stream:stream xmlns='jabber:client' version="1.0">` + // a restart
		`<enabled xmlns='urn:xmpp:sm:3' id='x' resume='true'/>` +
		`<message to='a@b' id="m1" title='a > b'><body>1 &lt; 2 &amp;&amp; 3 > 2</body><x a="/>"/></message>` +
		"\n  " + // whitespace keep-alive between stanzas
		`<iq type='result' id='i1'/>` +
		`<r xmlns='urn:xmpp:sm:3'/>` +
		`<presence><status><![CDATA[<not a tag>]]></status></presence>` +
		`<a xmlns='urn:xmpp:sm:3' h='3'></a>` +
		`</stream:stream>`
	want := []string{"features", "enabled", "message", "iq", "r", "presence", "a"}
	wantRaw := map[string]string{
		"message": `<message to='a@b' id="m1" title='a > b'><body>1 &lt; 2 &amp;&amp; 3 > 2</body><x a="/>"/></message>`,
		"iq":      `<iq type='result' id='i1'/>`,
	}
	// Every way of cutting the stream into two reads gives the same result.
	for cut := 0; cut <= len(stream); cut += 7 {
		t.Run(strconv.Itoa(cut), func(t *testing.T) {
			var got []string
			s := elementSplitter{keepRaw: true, onElement: func(name string, raw []byte) {
				got = append(got, name)
				if w, ok := wantRaw[name]; ok && string(raw) != w {
					t.Errorf("raw %s = %q, want %q", name, raw, w)
				}
			}}
			s.feed([]byte(stream[:cut]))
			s.feed([]byte(stream[cut:]))
			if !slices.Equal(got, want) {
				t.Fatalf("elements %q, want %q", got, want)
			}
		})
	}
}

func TestStreamMgmtCounting(t *testing.T) {
	var m streamMgmt
	var acked []string
	m.onAcked = func(items []smItem) {
		for _, it := range items {
			acked = append(acked, it.msgID+">"+it.to)
		}
	}
	// Nothing counts before <enable/>.
	m.sentElement("iq", []byte(`<iq id='bind'/>`))
	m.sentElement("enable", nil)
	m.sentElement("presence", []byte(`<presence/>`))
	m.sentElement("message", []byte(`<message id='m1' to='b@x'><body>1</body></message>`))
	m.sentElement("r", nil)
	m.sentElement("message", []byte(`<message id='m2' to='c@x'><body>2</body></message>`))
	if len(m.queue) != 3 || m.out != 3 {
		t.Fatalf("queue %d, out %d; want 3, 3", len(m.queue), m.out)
	}
	m.ack(2)
	if !slices.Equal(acked, []string{"m1>b@x"}) || len(m.queue) != 1 || m.queue[0].msgID != "m2" {
		t.Fatalf("after ack 2: acked %q, queue %+v", acked, m.queue)
	}
	// Inbound: counted after <enabled/>; each <r/> answered with the count
	// at its place in the stream, however far reading has got since.
	m.receivedElement("message")
	m.receivedElement("enabled")
	m.receivedElement("message")
	m.receivedElement("iq")
	m.receivedElement("r")
	m.receivedElement("presence")
	if h := m.nextMark(); h != 2 {
		t.Fatalf("first <r/> answered with %d, want 2", h)
	}
	if h := m.nextMark(); h != 3 {
		t.Fatalf("with no <r/> pending the answer is the count, %d, want 3", h)
	}
	// Wrap-around at 2^32.
	m.queue = []smItem{{seq: 1<<32 - 1, msgID: "w1"}, {seq: 0, msgID: "w2"}, {seq: 1, msgID: "w3"}}
	acked = nil
	m.ack(0)
	if !slices.Equal(acked, []string{"w1>", "w2>"}) {
		t.Fatalf("wrap-around ack: %q", acked)
	}
}

// TestAckRequestsDue: past ackEvery unacknowledged stanzas, or ackBytes, an
// ack request falls due, once until it is taken; elements that are not
// stanzas do not count.
func TestAckRequestsDue(t *testing.T) {
	var m streamMgmt
	m.sentElement("enable", nil)
	due := m.ackRequests()
	pending := func() bool {
		select {
		case <-due:
			return true
		default:
			return false
		}
	}
	for i := 1; i < ackEvery; i++ {
		m.sentElement("iq", []byte(`<iq type='result' id='x'/>`))
		m.sentElement("r", []byte(`<r xmlns='urn:xmpp:sm:3'/>`))
	}
	if pending() {
		t.Fatalf("an ack request is due after %d stanzas", ackEvery-1)
	}
	m.sentElement("presence", []byte(`<presence/>`))
	m.sentElement("presence", []byte(`<presence/>`))
	if !pending() {
		t.Fatalf("no ack request due after %d stanzas", ackEvery)
	}
	if pending() {
		t.Fatal("one request was signalled twice")
	}
	m.sentElement("message", bytes.Repeat([]byte("x"), ackBytes))
	if !pending() {
		t.Fatal("no ack request due after a large stanza")
	}
	m.ack(m.out)
	if len(m.queue) != 0 {
		t.Fatalf("%d stanzas still queued after the ack", len(m.queue))
	}
}

// TestAnswersNotKeptForResend: the resend queue keeps requests, messages
// and presences byte for byte, but not answers to queries.
func TestAnswersNotKeptForResend(t *testing.T) {
	var m streamMgmt
	m.sentElement("enable", nil)
	for _, raw := range []string{`<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`, `<iq id='2' type="result"/>`,
		`<iq type='error' id='3'/>`, `<presence/>`, `<message id='m' to='b@example.org'><body>hi</body></message>`} {
		name := strings.TrimPrefix(strings.Fields(raw)[0], "<")
		m.sentElement(strings.TrimSuffix(name, "/>"), []byte(raw))
	}
	var kept []string
	for _, it := range m.queue {
		kept = append(kept, string(it.raw))
	}
	want := []string{`<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`, "", "", `<presence/>`, `<message id='m' to='b@example.org'><body>hi</body></message>`}
	if !slices.Equal(kept, want) || m.out != 5 {
		t.Fatalf("queue %q (out %d), want %q", kept, m.out, want)
	}
}
