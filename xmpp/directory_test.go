package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"magpie/xmpp/prosodytest"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
)

// directoryPeople are the colleagues in the test directories: account,
// vCard.
var directoryPeople = []struct {
	user string
	card prosodytest.VCard
}{
	{"zhangsan", prosodytest.VCard{FullName: "张三", Family: "张", Given: "三", Email: "zhangsan@oa.example", Org: "示例公司", Unit: "研发部"}},
	{"zhangwei", prosodytest.VCard{FullName: "张伟", Family: "张", Given: "伟", Email: "zhangwei@oa.example", Unit: "财务部"}},
	{"wangwei", prosodytest.VCard{FullName: "Wei Wang", Family: "Wang", Given: "Wei", Nickname: "Wei", Email: "wei.wang@oa.example", Unit: "Sales"}},
	{"u1024", prosodytest.VCard{FullName: "Anna Weiss", Family: "Weiss", Given: "Anna", Email: "anna@oa.example", Unit: "Legal"}},
}

// names lists the entries' names and addresses, "name <jid>", in order.
func names(entries []DirectoryEntry) string {
	var out []string
	for _, e := range entries {
		out = append(out, e.DisplayName()+" <"+e.JID.String()+">")
	}
	return strings.Join(out, ", ")
}

// TestDirectoryProsody searches Prosody's mod_vjud (prosody-modules) on
// search.DOMAIN, found through disco#items: by part of a name (Chinese and
// Latin), by an address fragment, by account; a vCard published over XMPP
// is found too; a one-letter query is refused with a clear error; a server
// without a directory says so.
func TestDirectoryProsody(t *testing.T) {
	t.Parallel()
	prosodytest.RequireModule(t, "vjud")
	srv := prosodytest.Start(t, prosodytest.DirectoryModules(prosodytest.Options{}))
	d := "@" + srv.Domain
	for _, p := range directoryPeople {
		srv.AddUser(t, p.user, p.user+"-pw")
		if err := srv.SetVCard(p.user, p.card); err != nil {
			t.Fatal(err)
		}
	}
	srv.AddUser(t, "nocard", "nocard-pw") // no vCard: not listed
	alice, _ := online(t, srv, "alice")
	ctx := ctxT(t)

	// alice publishes her own vCard (mod_vcard keeps it where vjud looks).
	sess, err := alice.session()
	if err != nil {
		t.Fatal(err)
	}
	type name struct {
		Family string `xml:"FAMILY"`
		Given  string `xml:"GIVEN"`
	}
	card := struct {
		XMLName struct{} `xml:"vcard-temp vCard"`
		FN      string   `xml:"FN"`
		N       name     `xml:"N"`
	}{FN: "Alice Chen", N: name{"Chen", "Alice"}}
	if err := sess.UnmarshalIQElement(ctx, xmlPayload(card), stanza.IQ{Type: stanza.SetIQ}, nil); err != nil {
		t.Fatal(err)
	}

	services, err := alice.DirectoryServices(ctx)
	if err != nil || len(services) != 1 || services[0].String() != "search."+srv.Domain {
		t.Fatalf("DirectoryServices = %v, %v; want search.%s", services, err, srv.Domain)
	}
	for i, tc := range []struct {
		query, want string
	}{
		0: {"张", "张三 <zhangsan" + d + ">, 张伟 <zhangwei" + d + ">"},
		// "wei": Weiss (family name), Wei (given name), zhangwei@ (email).
		1: {"wei", "Anna Weiss <u1024" + d + ">, Wei Wang <wangwei" + d + ">, 张伟 <zhangwei" + d + ">"},
		2: {"WEI.WANG@oa", "Wei Wang <wangwei" + d + ">"},
		3: {"u1024", "Anna Weiss <u1024" + d + ">"}, // an account, looked up as u1024@DOMAIN
		4: {"chen", "Alice Chen <alice" + d + ">"},
		5: {"没有这个人", ""},
		6: {"wang  WEI", "Wei Wang <wangwei" + d + ">"}, // word by word
		7: {"张三", "张三 <zhangsan" + d + ">"},             // by the family name 张, then kept if it has 张三
		8: {"nocard", ""},                               // an account without a vCard is not listed
	} {
		got, err := alice.SearchDirectory(ctx, tc.query)
		if err != nil || names(got) != tc.want {
			t.Errorf("%d: search %q = %s, %v; want %s", i, tc.query, names(got), err, tc.want)
		}
	}
	got, err := alice.SearchDirectory(ctx, "张三")
	// mod_vjud lists no department: it comes from the profile.
	if err != nil || len(got) != 1 || got[0].Email != "zhangsan@oa.example" || got[0].Fields["first"] != "三" ||
		got[0].Unit != "研发部" || got[0].Org != "示例公司" {
		t.Fatalf("search 张三 = %+v, %v", got, err)
	}

	_, err = alice.SearchDirectory(ctx, "x")
	var se *StanzaError
	if !errors.As(err, &se) || se.Condition != "not-acceptable" || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("one-letter search: %v; want not-acceptable, too short", err)
	}

	plain := startProsody(t)
	bob, _ := online(t, plain, "bob")
	if _, err := bob.SearchDirectory(ctxT(t), "wang"); !errors.Is(err, ErrNoDirectory) {
		t.Fatalf("search on a server without a directory: %v; want ErrNoDirectory", err)
	}
}

// fakeDirectory answers disco and jabber:iq:search over directoryPeople as
// Openfire's search plugin or ejabberd's mod_vcard do (their forms and
// result forms as those servers send them), and records what it is asked.
type fakeDirectory struct {
	flavour   string // "openfire" or "ejabberd"
	mu        sync.Mutex
	refuse    bool // answer every search with not-allowed
	itemsAsks int
	formAsks  int
	submitted []map[string]string // the fields of each search, with values
}

func (f *fakeDirectory) service() string {
	switch f.flavour {
	case "ejabberd":
		return "vjud.fake.test" // ejabberd's default host for mod_vcard's search
	case "openfire":
		return "search.fake.test"
	}
	return "proxy.fake.test" // no directory: a service that is something else
}

func (f *fakeDirectory) handlers() []mux.Option {
	return []mux.Option{
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: disco.NSItems, Local: "query"}, f.onItems),
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: disco.NSInfo, Local: "query"}, f.onInfo),
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: nsSearch, Local: "query"}, f.onForm),
		mux.IQFunc(stanza.SetIQ, xml.Name{Space: nsSearch, Local: "query"}, f.onSearch),
	}
}

// reply answers iq with the XML payload.
func reply(t xmlstream.TokenReadEncoder, iq stanza.IQ, payload string) error {
	_, err := xmlstream.Copy(t, iq.Result(dropXMLNSAttr{xml.NewDecoder(strings.NewReader(payload))}))
	return err
}

func (f *fakeDirectory) onItems(iq stanza.IQ, t xmlstream.TokenReadEncoder, _ *xml.StartElement) error {
	f.mu.Lock()
	f.itemsAsks++
	f.mu.Unlock()
	return reply(t, iq, `<query xmlns="http://jabber.org/protocol/disco#items">`+
		`<item jid="conference.fake.test" name="Rooms"/><item jid="fake.test" node="announce"/>`+
		`<item jid="`+f.service()+`" name="Directory"/></query>`)
}

func (f *fakeDirectory) onInfo(iq stanza.IQ, t xmlstream.TokenReadEncoder, _ *xml.StartElement) error {
	var body string
	switch iq.To.String() {
	case "proxy.fake.test":
		body = `<identity category="proxy" type="bytestreams"/><feature var="http://jabber.org/protocol/bytestreams"/>`
	case f.service():
		body = `<identity category="directory" type="user" name="User Search"/><feature var="jabber:iq:search"/>`
	case "conference.fake.test":
		body = `<identity category="conference" type="text"/><feature var="http://jabber.org/protocol/muc"/>`
	default: // the server itself; Openfire's lists jabber:iq:search too
		body = `<identity category="server" type="im"/><feature var="urn:xmpp:ping"/>`
		if f.flavour == "openfire" {
			body += `<feature var="jabber:iq:search"/>`
		}
	}
	return reply(t, iq, `<query xmlns="http://jabber.org/protocol/disco#info">`+body+`</query>`)
}

func (f *fakeDirectory) onForm(iq stanza.IQ, t xmlstream.TokenReadEncoder, _ *xml.StartElement) error {
	f.mu.Lock()
	f.formAsks++
	f.mu.Unlock()
	if f.flavour == "ejabberd" {
		fields := ""
		for _, v := range []string{"user", "fn", "first", "middle", "last", "nick", "bday", "ctry", "locality", "email", "orgname", "orgunit"} {
			fields += `<field type="text-single" label="` + v + `" var="` + v + `"/>`
		}
		return reply(t, iq, `<query xmlns="jabber:iq:search"><instructions>You need an x:data capable client to search</instructions>`+
			`<x xmlns="jabber:x:data" type="form"><title>Search users in fake.test</title>`+
			`<instructions>Fill in the form to search for any matching XMPP User</instructions>`+fields+`</x></query>`)
	}
	return reply(t, iq, `<query xmlns="jabber:iq:search"><instructions>The following fields are available for search.</instructions>`+
		`<first/><last/><nick/><email/><x xmlns="jabber:x:data" type="form"><title>Advanced User Search</title>`+
		`<instructions>The following fields are available for search.</instructions>`+
		`<field var="FORM_TYPE" type="hidden"><value>jabber:iq:search</value></field>`+
		`<field var="search" type="text-single" label="Search"><required/></field>`+
		`<field var="Username" type="boolean" label="Username"><value>1</value></field>`+
		`<field var="Name" type="boolean" label="Name"><value>1</value></field>`+
		`<field var="Email" type="boolean" label="Email"><value>1</value></field></x></query>`)
}

func (f *fakeDirectory) onSearch(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var q searchQuery
	// The reader starts inside the payload: put its start element back.
	if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(&q); err != nil {
		return err
	}
	asked := map[string]string{}
	if q.Form != nil {
		for _, fld := range q.Form.Fields {
			asked[fld.Var] = strings.Join(fld.Values, "")
		}
	}
	f.mu.Lock()
	f.submitted = append(f.submitted, asked)
	refuse := f.refuse
	f.mu.Unlock()
	if refuse {
		_, err := xmlstream.Copy(t, iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.NotAllowed}))
		return err
	}
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	field := func(name, value string) string {
		return `<field var="` + name + `"><value>` + esc(value) + `</value></field>`
	}
	var items string
	for _, p := range directoryPeople {
		columns := map[string]string{"user": p.user, "fn": p.card.FullName, "first": p.card.Given, "last": p.card.Family,
			"nick": p.card.Nickname, "email": p.card.Email, "orgname": p.card.Org, "orgunit": p.card.Unit}
		if f.flavour == "openfire" {
			// OR over the columns switched on, substring, any case.
			hit := false
			for box, column := range map[string]string{"Username": "user", "Name": "fn", "Email": "email"} {
				hit = hit || (asked[box] == "1" && strings.Contains(strings.ToLower(columns[column]), strings.ToLower(asked["search"])))
			}
			if hit {
				items += "<item>" + field("jid", p.user+"@fake.test") + field("Username", p.user) +
					field("Name", p.card.FullName) + field("Email", p.card.Email) + "</item>"
			}
			continue
		}
		// ejabberd: AND over the fields filled in, whole value or prefix*.
		hit, any := true, false
		for name, want := range asked {
			if want == "" {
				continue
			}
			any = true
			have, want := strings.ToLower(columns[name]), strings.ToLower(want)
			if prefix, ok := strings.CutSuffix(want, "*"); ok {
				hit = hit && strings.HasPrefix(have, prefix)
			} else {
				hit = hit && have == want
			}
		}
		if hit && any {
			items += "<item>" + field("jid", p.user+"@fake.test") + field("fn", p.card.FullName) + field("first", p.card.Given) +
				field("middle", "") + field("last", p.card.Family) + field("nick", p.card.Nickname) + field("email", p.card.Email) +
				field("orgname", p.card.Org) + field("orgunit", p.card.Unit) + "</item>"
		}
	}
	reported := `<reported><field var="jid" label="JID"/><field var="Username" label="Username"/>` +
		`<field var="Name" label="Name"/><field var="Email" label="Email"/></reported>`
	if f.flavour == "ejabberd" {
		reported = `<reported><field var="jid" label="Jabber ID"/><field var="fn" label="Full Name"/>` +
			`<field var="first" label="Name"/><field var="last" label="Family Name"/><field var="orgunit" label="Organization Unit"/></reported>`
	}
	return reply(t, iq, `<query xmlns="jabber:iq:search"><x xmlns="jabber:x:data" type="result">`+
		`<field var="FORM_TYPE" type="hidden"/>`+reported+items+`</x></query>`)
}

// TestDirectoryDataForms searches services that ask with data forms, which
// Prosody cannot provide: Openfire's (one text field, ORed booleans: one
// query) and ejabberd's (a field per column, ANDed: one query per field,
// each a prefix). The form and the services are asked for once.
func TestDirectoryDataForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flavour  string
		services string
		queries  int // sent per search
		wei      string
	}{
		// Openfire finds "wei" anywhere: in Weiss, in Wei Wang, in zhangwei.
		{"openfire", "search.fake.test fake.test", 1,
			"Anna Weiss <u1024@fake.test>, Wei Wang <wangwei@fake.test>, 张伟 <zhangwei@fake.test>"},
		// ejabberd only at the start of a value: Weiss, Wei.
		{"ejabberd", "vjud.fake.test", 6,
			"Anna Weiss <u1024@fake.test>, Wei Wang <wangwei@fake.test>"},
	} {
		t.Run(tc.flavour, func(t *testing.T) {
			t.Parallel()
			dir := &fakeDirectory{flavour: tc.flavour}
			c := fakeDirectoryClient(t, dir)
			ctx := ctxT(t)
			services, err := c.DirectoryServices(ctx)
			var got []string
			for _, s := range services {
				got = append(got, s.String())
			}
			if err != nil || strings.Join(got, " ") != tc.services {
				t.Fatalf("DirectoryServices = %v, %v; want %s (a directory first)", got, err, tc.services)
			}
			for i, q := range []struct{ query, want string }{
				0: {"张", "张三 <zhangsan@fake.test>, 张伟 <zhangwei@fake.test>"},
				1: {"wei", tc.wei},
				2: {"u1024", "Anna Weiss <u1024@fake.test>"},
				3: {"nobody", ""},
			} {
				before := len(dir.searches())
				entries, err := c.SearchDirectory(ctx, q.query)
				if err != nil || names(entries) != q.want {
					t.Errorf("%d: search %q = %s, %v; want %s", i, q.query, names(entries), err, q.want)
				}
				sent := dir.searches()[before:]
				if len(sent) != tc.queries {
					t.Errorf("%d: %d queries sent, want %d: %v", i, len(sent), tc.queries, sent)
				}
				for _, s := range sent {
					if tc.flavour == "openfire" && (s["search"] != q.query || s["Username"] != "1" || s["Name"] != "1" ||
						s["Email"] != "1" || s["FORM_TYPE"] != nsSearch) {
						t.Errorf("%d: Openfire form submitted as %v", i, s)
					}
					if tc.flavour == "ejabberd" && (len(s) != 1 || !slices.Contains(slices.Collect(maps.Values(s)), q.query+"*")) {
						t.Errorf("%d: ejabberd form submitted as %v; want one field with %q", i, s, q.query+"*")
					}
				}
			}
			entries, err := c.SearchDirectory(ctx, "张三")
			if err != nil || len(entries) != 1 || entries[0].Name != "张三" || entries[0].JID.String() != "zhangsan@fake.test" {
				t.Fatalf("search 张三 = %+v, %v", entries, err)
			}
			if e := entries[0]; tc.flavour == "ejabberd" && (e.Unit != "研发部" || e.Org != "示例公司" || e.Fields["first"] != "三") {
				t.Errorf("ejabberd entry: %+v", e)
			}
			if e := entries[0]; e.Email != "zhangsan@oa.example" {
				t.Errorf("entry: %+v", e)
			}
			dir.mu.Lock()
			items, forms := dir.itemsAsks, dir.formAsks
			dir.mu.Unlock()
			if items != 1 || forms != 1 {
				t.Errorf("asked for the services %d times and the form %d times; want once each per session", items, forms)
			}

			dir.mu.Lock()
			dir.refuse = true
			dir.mu.Unlock()
			_, err = c.SearchDirectory(ctx, "wang")
			var se *StanzaError
			if !errors.As(err, &se) || se.Condition != "not-allowed" {
				t.Fatalf("refused search: %v; want not-allowed", err)
			}
		})
	}
}

func (f *fakeDirectory) searches() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.submitted)
}

// fakeDirectoryClient signs alice in to a fake server with dir.
func fakeDirectoryClient(t *testing.T, dir *fakeDirectory) *Client {
	t.Helper()
	srv := startFakeServerMux(t, "secret", nil, nil, dir.handlers()...)
	c, err := New("alice@fake.test", WithServer(srv.addr), WithTrustedFingerprints(srv.fingerprint),
		WithPassword(func(context.Context) (string, error) { return "secret", nil }), WithoutPresence())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNoDirectory: a server whose services do not search users has no
// directory, and says so with ErrNoDirectory.
func TestNoDirectory(t *testing.T) {
	t.Parallel()
	dir := &fakeDirectory{flavour: "none"}
	c := fakeDirectoryClient(t, dir)
	for range 2 {
		if _, err := c.SearchDirectory(ctxT(t), "wang"); !errors.Is(err, ErrNoDirectory) {
			t.Fatalf("search = %v; want ErrNoDirectory", err)
		}
	}
	dir.mu.Lock()
	defer dir.mu.Unlock()
	if dir.itemsAsks != 1 {
		t.Fatalf("asked for the services %d times; want once per session", dir.itemsAsks)
	}
}

// TestDirectoryRequests: what is sent for one search box, per kind of
// service, and how a result's columns become an entry.
func TestDirectoryRequests(t *testing.T) {
	t.Parallel()
	vjud := &searchForm{mode: legacyMode, legacy: legacyFields}
	ejabberd := &searchForm{mode: perFieldMode, fields: []string{"user", "fn", "email"}, prefix: true}
	openfire := &searchForm{mode: freeTextMode, text: "search"}
	for i, tc := range []struct {
		form  *searchForm
		query string
		want  string // each request: its values, main or helper, the tokens it must match
	}{
		0: {vjud, "li", "email=li first=li last=li nick=li main | email=li@oa.test helper"},
		1: {vjud, "Wei Wang", "email=Wei Wang first=Wei Wang last=Wei Wang nick=Wei Wang main | " +
			"email=wang first=wang last=wang nick=wang helper [wei wang] | email=wei first=wei last=wei nick=wei helper [wei wang]"},
		2: {vjud, "张三", "email=张三 first=张三 last=张三 nick=张三 main | email=张三@oa.test helper | " +
			"email=张 first=张 last=张 nick=张 helper [张三]"},
		3: {ejabberd, "zhang", "user=zhang* main | fn=zhang* main | email=zhang* main"},
		4: {ejabberd, "zh*", "user=zh* main | fn=zh* main | email=zh* main"},
		5: {openfire, "Wei Wang", "search=Wei Wang main"},
	} {
		var got []string
		for _, r := range tc.form.requests(tc.query, "oa.test") {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(r.values)) {
				parts = append(parts, k+"="+r.values[k])
			}
			kind := " helper"
			if r.main {
				kind = " main"
			}
			if r.tokens != nil {
				kind += " [" + strings.Join(r.tokens, " ") + "]"
			}
			got = append(got, strings.Join(parts, " ")+kind)
		}
		if strings.Join(got, " | ") != tc.want {
			t.Errorf("%d: %q sends\n%s\nwant\n%s", i, tc.query, strings.Join(got, " | "), tc.want)
		}
	}

	for i, tc := range []struct {
		columns map[string]string
		want    string // JID|name|email|unit, or "" for no entry
	}{
		0: {map[string]string{"jid": "zhangsan@oa.test", "first": "三", "last": "张", "email": "z@oa.example"}, "zhangsan@oa.test|张三|z@oa.example|"},
		1: {map[string]string{"jid": "wei@oa.test", "first": "Wei", "last": "Wang"}, "wei@oa.test|Wei Wang||"},
		2: {map[string]string{"Username": "anna", "Name": "Anna Weiss"}, "anna@oa.test|Anna Weiss||"}, // no jid column
		3: {map[string]string{"jid": "Li@OA.test/desk", "fn": "李四", "orgunit": "研发部"}, "li@oa.test|李四||研发部"},
		4: {map[string]string{"fn": "nobody"}, ""},
	} {
		e, ok := directoryEntry(tc.columns, "oa.test")
		got := ""
		if ok {
			got = strings.Join([]string{e.JID.String(), e.Name, e.Email, e.Unit}, "|")
		}
		if got != tc.want {
			t.Errorf("%d: %v -> %q, want %q", i, tc.columns, got, tc.want)
		}
	}
}
