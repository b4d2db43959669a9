package xmppuri_test

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"magpie/xmpp/xmppuri"
)

func TestParse(t *testing.T) {
	type param = xmppuri.Param
	for i, tc := range []struct {
		in      string
		account string
		to      string
		action  string
		params  []param
	}{
		0: {in: "xmpp:user@host", to: "user@host"},
		1: {in: "xmpp:zhangsan@oa.example?message;body=Hello", to: "zhangsan@oa.example", action: "message",
			params: []param{{"body", "Hello"}}},
		// XEP-0147's own example, percent-encoded.
		2: {in: "xmpp:romeo@montague.net?message;subject=Test%20Message;body=Here%27s%20a%20test%20message",
			to: "romeo@montague.net", action: "message",
			params: []param{{"subject", "Test Message"}, {"body", "Here's a test message"}}},
		// An IRI: Chinese as it is, in the localpart and the body.
		3: {in: "xmpp:张三@oa.example?message;body=你好，明天开会", to: "张三@oa.example", action: "message",
			params: []param{{"body", "你好，明天开会"}}},
		// The same as a URI: UTF-8, percent-encoded.
		4: {in: "xmpp:%E5%BC%A0%E4%B8%89@oa.example?message;body=%E4%BD%A0%E5%A5%BD", to: "张三@oa.example",
			action: "message", params: []param{{"body", "你好"}}},
		5: {in: "xmpp:lisi@oa.example?roster;name=Li%20Si%20%E6%9D%8E%E5%9B%9B;group=%E7%A0%94%E5%8F%91%E9%83%A8",
			to: "lisi@oa.example", action: "roster", params: []param{{"name", "Li Si 李四"}, {"group", "研发部"}}},
		6:  {in: "xmpp:lisi@oa.example?subscribe", to: "lisi@oa.example", action: "subscribe"},
		7:  {in: "xmpp:dev@conference.oa.example?join;password=s%3Bcret", to: "dev@conference.oa.example", action: "join", params: []param{{"password", "s;cret"}}},
		8:  {in: "xmpp:user@host/phone?message", to: "user@host/phone", action: "message"},
		9:  {in: "xmpp://me@oa.example/bob@oa.example?message;body=hi", account: "me@oa.example", to: "bob@oa.example", action: "message", params: []param{{"body", "hi"}}},
		10: {in: "XMPP:User@OA.Example", to: "user@oa.example"},
		// A trailing ";" is forgiven; a "+" is a plus, not a space.
		11: {in: "xmpp:a@b?message;body=1+1=2;", to: "a@b", action: "message", params: []param{{"body", "1+1=2"}}},
		// Encoded delimiters are data.
		12: {in: "xmpp:a@b?message;body=a%3Bb%3Dc%26d%3Fe%23f", to: "a@b", action: "message", params: []param{{"body", "a;b=c&d?e#f"}}},
		13: {in: "xmpp:oa.example", to: "oa.example"},
		14: {in: "  xmpp:a@b?message;body=x  \n", to: "a@b", action: "message", params: []param{{"body", "x"}}},
		15: {in: "xmpp:a@b#frag", to: "a@b"},
		16: {in: "xmpp:a@b?", to: "a@b"},
		17: {in: "xmpp:a@b?message;body=line%0Aline", to: "a@b", action: "message", params: []param{{"body", "line\nline"}}},
		18: {in: "xmpp:a@b/res%2Fwith%20slash", to: "a@b/res/with slash"},
		19: {in: "xmpp:a@b?message;body=", to: "a@b", action: "message", params: []param{{"body", ""}}},
		20: {in: "xmpp:a@b?roster;group=A;group=B", to: "a@b", action: "roster", params: []param{{"group", "A"}, {"group", "B"}}},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			u, err := xmppuri.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := u.To.String(); got != tc.to {
				t.Errorf("To = %q, want %q", got, tc.to)
			}
			if got := u.Account.String(); got != tc.account {
				t.Errorf("Account = %q, want %q", got, tc.account)
			}
			if u.Action != tc.action {
				t.Errorf("Action = %q, want %q", u.Action, tc.action)
			}
			if !reflect.DeepEqual(u.Params, tc.params) {
				t.Errorf("Params = %q, want %q", u.Params, tc.params)
			}
			// What String gives, Parse reads back the same.
			again, err := xmppuri.Parse(u.String())
			if err != nil || !reflect.DeepEqual(again, u) {
				t.Errorf("Parse(String()) = %+v, %v; String() = %q", again, err, u.String())
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	for i, tc := range []struct {
		in   string
		want string // in the error
	}{
		0:  {"", "not an xmpp: URI"},
		1:  {"https://oa.example/", "not an xmpp: URI"},
		2:  {"mailto:a@b", "not an xmpp: URI"},
		3:  {"xmpp:", "no address"},
		4:  {"xmpp:@host", "empty user name"},
		5:  {"xmpp:user@", "no domain"},
		6:  {"xmpp:user@host/", "empty resource"},
		7:  {"xmpp:user@host?message;body", "has no value"},
		8:  {"xmpp:user@host?message;body=%ZZ", "bad percent-encoding"},
		9:  {"xmpp:user@host?message;body=%FF", "not UTF-8"},
		10: {"xmpp:%E5%BC@host", "not UTF-8"},
		11: {"xmpp:user@host?;body=x", "without a query type"},
		12: {"xmpp:user@host?message;=x", "has no name"},
		13: {"xmpp:a%40b@host", "forbidden"},
		14: {"xmpp:us%20er@host", "disallowed"},
		15: {"xmpp://me@oa.example", "no address"},
		16: {"xmpp://oa.example/bob@oa.example", "not a bare user address"},
		17: {"xmpp:?message;body=x", "no address"},
		18: {"xmpp:a@..", "bad domain"},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			u, err := xmppuri.Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tc.in, u)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q): %v, want it to say %q", tc.in, err, tc.want)
			}
		})
	}
	if _, err := xmppuri.Parse("http://x"); !errors.Is(err, xmppuri.ErrNotXMPP) {
		t.Errorf("not xmpp: %v", err)
	}
}

func TestHasScheme(t *testing.T) {
	for in, want := range map[string]bool{
		"xmpp:a@b": true, "XMPP:a@b": true, " xmpp:": true, "xmpp": false, "send": false, "--help": false, "": false,
	} {
		if got := xmppuri.HasScheme(in); got != want {
			t.Errorf("HasScheme(%q) = %v", in, got)
		}
	}
}

func TestGetAndValues(t *testing.T) {
	u, err := xmppuri.Parse("xmpp:a@b?roster;name=N;group=A;group=B")
	if err != nil {
		t.Fatal(err)
	}
	if u.Get("name") != "N" || u.Get("group") != "A" || u.Get("none") != "" {
		t.Errorf("Get: %q %q", u.Get("name"), u.Get("group"))
	}
	if got := u.Values("group"); !reflect.DeepEqual(got, []string{"A", "B"}) {
		t.Errorf("Values: %q", got)
	}
}

func TestString(t *testing.T) {
	u, err := xmppuri.Parse("xmpp:%E5%BC%A0%E4%B8%89@oa.example?message;body=%E4%BD%A0%E5%A5%BD%20Bob%3B%20ok")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "xmpp:张三@oa.example?message;body=你好%20Bob%3B%20ok"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// FuzzParse: Parse never panics, and what it accepts String writes back
// into a URI that parses to the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"xmpp:a@b", "xmpp:张三@oa.example?message;body=你好", "xmpp://me@x/y@z/r?roster;name=%20", "xmpp:a@b?;", "xmpp:%E5@b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := xmppuri.Parse(s)
		if err != nil {
			return
		}
		again, err := xmppuri.Parse(u.String())
		if err != nil || !reflect.DeepEqual(again, u) {
			t.Fatalf("Parse(%q) = %+v; String() = %q parses to %+v, %v", s, u, u.String(), again, err)
		}
	})
}
