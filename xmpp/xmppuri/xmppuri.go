// Package xmppuri parses xmpp: URIs and IRIs (RFC 5122) with the query
// components of XEP-0147, as office systems put them in their web pages:
//
//	xmpp:zhangsan@oa.example?message;body=Hello
//	xmpp:张三@oa.example?roster;name=%E5%BC%A0%E4%B8%89;group=R%26D
//	xmpp:room@conference.oa.example?join
//
// # Why not mellium.im/xmpp/uri
//
// mellium's uri package reads the query with net/url, which splits pairs on
// "&" (XEP-0147 uses ";"), drops every pair since Go 1.17 refuses ";" in a
// query, and picks the action from a map, so that "?message;body=Hi" loses
// its body. This package reads the grammar of RFC 5122 itself and leaves the
// address checks (PRECIS, lengths) to mellium's jid package.
//
// # Encoding
//
// Each part (localpart, domainpart, resourcepart, query type, key, value)
// is percent-decoded on its own, after the URI is split, so an encoded "@",
// "/", ";" or "=" is data, not syntax. The decoded bytes must be UTF-8. Raw
// non-ASCII characters (an IRI: "xmpp:张三@oa.example") are taken as they
// are. A "+" stays a "+": RFC 5122 and XEP-0147 encode a space as "%20",
// not as in HTML forms.
//
// # Actions
//
// The query type (XEP-0147's registry: message, roster, subscribe, join,
// ...) is kept as given in [URI.Action]; what to do with an unknown one is
// the caller's choice. A URI without a query has no action. A fragment
// ("#...") is ignored.
package xmppuri

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"mellium.im/xmpp/jid"
)

// Query types from the XMPP URI/IRI Querytypes registry that Magpie acts on.
const (
	ActionMessage   = "message"
	ActionRoster    = "roster"
	ActionSubscribe = "subscribe"
	ActionJoin      = "join"
	ActionVCard     = "vcard"
)

// Scheme is the URI scheme, with its colon.
const Scheme = "xmpp:"

// ErrNotXMPP is returned by Parse for text that is not an xmpp: URI.
var ErrNotXMPP = errors.New("xmppuri: not an xmpp: URI")

// URI is a parsed xmpp: URI or IRI.
type URI struct {
	// Account is the account the link asks to act as, from the
	// "xmpp://account@host/..." form; zero in the usual "xmpp:" form.
	Account jid.JID
	// To is the address the link points at: a contact, a room, a server.
	To jid.JID
	// Action is the query type ("message", "roster", ...), empty when the
	// URI has no query.
	Action string
	// Params are the key-value pairs after the query type, in their order.
	Params []Param
}

// Param is one key-value pair of the query, both decoded.
type Param struct {
	Key, Value string
}

// HasScheme reports whether s starts with "xmpp:" (in any case): whether it
// is meant as an xmpp: URI, valid or not.
func HasScheme(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) >= len(Scheme) && strings.EqualFold(s[:len(Scheme)], Scheme)
}

// Get returns the value of the first parameter named key, or "".
func (u URI) Get(key string) string {
	for _, p := range u.Params {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// Values returns the values of every parameter named key, in order.
func (u URI) Values(key string) []string {
	var values []string
	for _, p := range u.Params {
		if p.Key == key {
			values = append(values, p.Value)
		}
	}
	return values
}

// Parse parses an xmpp: URI or IRI. Surrounding white space is ignored.
func Parse(s string) (URI, error) {
	s = strings.TrimSpace(s)
	if !HasScheme(s) {
		return URI{}, ErrNotXMPP
	}
	rest := s[len(Scheme):]
	rest, _, _ = strings.Cut(rest, "#")
	hier, query, hasQuery := strings.Cut(rest, "?")

	var u URI
	path := hier
	if after, ok := strings.CutPrefix(hier, "//"); ok {
		// iauthpath = "//" iauthxmpp [ "/" ipathxmpp ]
		auth, target, _ := strings.Cut(after, "/")
		account, err := parseAddress(auth)
		if err != nil {
			return URI{}, fmt.Errorf("xmppuri: account %q: %w", auth, err)
		}
		if account.Localpart() == "" || account.Resourcepart() != "" {
			return URI{}, fmt.Errorf("xmppuri: account %q is not a bare user address", auth)
		}
		u.Account, path = account, target
	}
	if path == "" {
		return URI{}, errors.New("xmppuri: no address")
	}
	to, err := parseAddress(path)
	if err != nil {
		return URI{}, fmt.Errorf("xmppuri: address %q: %w", path, err)
	}
	u.To = to
	if hasQuery {
		if u.Action, u.Params, err = parseQuery(query); err != nil {
			return URI{}, err
		}
	}
	return u, nil
}

// parseAddress reads [ node "@" ] host [ "/" resource ], splitting before
// decoding, so an encoded "@" or "/" stays in its part (and is refused by
// jid where the part does not allow it).
func parseAddress(s string) (jid.JID, error) {
	addr, resource, hasResource := strings.Cut(s, "/")
	node, host, hasNode := strings.Cut(addr, "@")
	if !hasNode {
		node, host = "", addr
	}
	if hasNode && node == "" {
		return jid.JID{}, errors.New("empty user name before @")
	}
	if hasResource && resource == "" {
		return jid.JID{}, errors.New("empty resource after /")
	}
	if host == "" {
		return jid.JID{}, errors.New("no domain")
	}
	var err error
	for _, part := range []*string{&node, &host, &resource} {
		if *part, err = decode(*part); err != nil {
			return jid.JID{}, err
		}
	}
	if strings.HasPrefix(host, ".") || strings.Contains(host, "..") {
		return jid.JID{}, fmt.Errorf("bad domain %q", host)
	}
	return jid.New(node, host, resource)
}

// parseQuery reads querytype *( ";" key "=" value ). Empty pairs (a
// trailing ";") are skipped; a pair without "=" is an error.
func parseQuery(q string) (string, []Param, error) {
	parts := strings.Split(q, ";")
	action, err := decode(parts[0])
	if err != nil {
		return "", nil, fmt.Errorf("xmppuri: query type: %w", err)
	}
	var params []Param
	for _, pair := range parts[1:] {
		if pair == "" {
			continue
		}
		rawKey, rawValue, ok := strings.Cut(pair, "=")
		if !ok {
			return "", nil, fmt.Errorf("xmppuri: parameter %q has no value (key=value)", pair)
		}
		key, err := decode(rawKey)
		if err != nil {
			return "", nil, fmt.Errorf("xmppuri: parameter %q: %w", rawKey, err)
		}
		if key == "" {
			return "", nil, fmt.Errorf("xmppuri: parameter %q has no name", pair)
		}
		value, err := decode(rawValue)
		if err != nil {
			return "", nil, fmt.Errorf("xmppuri: parameter %q: %w", key, err)
		}
		params = append(params, Param{Key: key, Value: value})
	}
	if action == "" && len(params) > 0 {
		return "", nil, errors.New("xmppuri: parameters without a query type (e.g. ?message;body=...)")
	}
	return action, params, nil
}

// decode percent-decodes s and checks that the result is UTF-8.
func decode(s string) (string, error) {
	d, err := url.PathUnescape(s)
	if err != nil {
		return "", fmt.Errorf("bad percent-encoding: %w", err)
	}
	if !utf8.ValidString(d) {
		return "", fmt.Errorf("%q is not UTF-8 text", s)
	}
	return d, nil
}

// String returns u as an IRI: non-ASCII characters as they are, reserved
// and unsafe ASCII percent-encoded. Parse(u.String()) gives u back.
func (u URI) String() string {
	var b strings.Builder
	b.WriteString(Scheme)
	if u.Account.Domainpart() != "" {
		b.WriteString("//")
		writeAddress(&b, u.Account)
		b.WriteByte('/')
	}
	writeAddress(&b, u.To)
	if u.Action != "" || len(u.Params) > 0 {
		b.WriteByte('?')
		b.WriteString(encode(u.Action))
		for _, p := range u.Params {
			b.WriteByte(';')
			b.WriteString(encode(p.Key))
			b.WriteByte('=')
			b.WriteString(encode(p.Value))
		}
	}
	return b.String()
}

func writeAddress(b *strings.Builder, j jid.JID) {
	if local := j.Localpart(); local != "" {
		b.WriteString(encode(local))
		b.WriteByte('@')
	}
	b.WriteString(encode(j.Domainpart()))
	if res := j.Resourcepart(); res != "" {
		b.WriteByte('/')
		b.WriteString(encode(res))
	}
}

// encode percent-encodes every ASCII byte but the unreserved ones (RFC
// 3986), and keeps other characters (an IRI's ucschar) as they are.
func encode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf,
			'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
