package xmpp

import (
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Company directory search (XEP-0055, jabber:iq:search), which mellium
// lacks. The server names its directory in disco (usually a service such
// as search.DOMAIN or vjud.DOMAIN), and each server asks in its own way:
//
//   - Prosody's mod_vjud: the legacy fields first, last, nick and email,
//     ORed, each at least two bytes long;
//   - Openfire's search plugin: a data form (XEP-0004) with one text field,
//     "search", and booleans choosing where to look (Username, Name,
//     Email), ORed;
//   - ejabberd's mod_vcard: a data form with one text field per vCard
//     field (user, fn, first, last, nick, email, orgunit, ...), ANDed; a
//     value ending in "*" matches as a prefix.
//
// SearchDirectory turns one free-text box into what the service
// understands, and the answers (legacy items or a result form with its
// reported columns) into DirectoryEntry values. mellium's form package
// cannot read result forms (reported and item), so the forms are decoded
// here.

// nsSearch is the namespace of directory search (XEP-0055).
const nsSearch = "jabber:iq:search"

// discoTimeout bounds each disco#info query of the discovery, so one
// service that never answers does not hold up the others.
const discoTimeout = 8 * time.Second

// ErrNoDirectory means the server offers no user directory: neither it nor
// any service it lists in disco#items supports jabber:iq:search (or the
// directory is switched off).
var ErrNoDirectory = errors.New("no company directory on this server")

// errEmptyQuery is returned for a search with nothing to look for.
var errEmptyQuery = errors.New("xmpp: directory search: nothing to search for")

// DirectoryEntry is one colleague found in the company directory.
type DirectoryEntry struct {
	JID   jid.JID // bare
	Name  string  // full name, or given and family name
	Nick  string
	Email string
	Org   string // organisation
	Unit  string // organisational unit (department)
	Title string
	// Fields holds every non-empty column the service returned, by the
	// service's name for it (e.g. "orgunit", "Username", "first").
	Fields map[string]string
}

// DisplayName is the name to show for the entry: its name, else its
// nickname, else the user part of its address.
func (e DirectoryEntry) DisplayName() string {
	return cmp.Or(e.Name, e.Nick, e.JID.Localpart(), e.JID.String())
}

// directoryCache keeps what discovery found on one session; a new session
// (after a reconnect) discovers again.
type directoryCache struct {
	mu       sync.Mutex
	sess     *mxmpp.Session
	known    bool      // services (possibly none) are known for sess
	services []jid.JID // best first
	forms    map[string]*searchForm
}

// lookup returns the services found on sess, if it looked already.
func (d *directoryCache) lookup(sess *mxmpp.Session) ([]jid.JID, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess != sess || !d.known {
		return nil, false
	}
	return slices.Clone(d.services), true
}

func (d *directoryCache) store(sess *mxmpp.Session, services []jid.JID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess != sess {
		d.sess, d.forms = sess, nil
	}
	d.known, d.services = true, slices.Clone(services)
}

func (d *directoryCache) form(sess *mxmpp.Session, service jid.JID) *searchForm {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess != sess {
		return nil
	}
	return d.forms[service.String()]
}

func (d *directoryCache) storeForm(sess *mxmpp.Session, service jid.JID, f *searchForm) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess != sess {
		d.sess, d.known, d.services, d.forms = sess, false, nil, nil
	}
	if d.forms == nil {
		d.forms = map[string]*searchForm{}
	}
	d.forms[service.String()] = f
}

// DirectoryServices returns the services that search the company directory,
// best first: those that call themselves a directory, then the others. It
// asks the server once per session (disco#items on the account's domain,
// then disco#info on the domain and on each item) and returns
// ErrNoDirectory when there is none.
func (c *Client) DirectoryServices(ctx context.Context) ([]jid.JID, error) {
	sess, err := c.session()
	if err != nil {
		return nil, err
	}
	services, ok := c.directory.lookup(sess)
	if !ok {
		if services, err = discoverDirectories(ctx, sess, c.account.Domain()); err != nil {
			return nil, fmt.Errorf("xmpp: look for the company directory: %w", err)
		}
		c.directory.store(sess, services)
	}
	if len(services) == 0 {
		return nil, ErrNoDirectory
	}
	return services, nil
}

type discoItemsQuery struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/disco#items query"`
	Items   []struct {
		JID  string `xml:"jid,attr"`
		Name string `xml:"name,attr"`
		Node string `xml:"node,attr"`
	} `xml:"item"`
}

// discoverDirectories asks domain for its services and each of them (and
// domain itself) whether it searches users.
func discoverDirectories(ctx context.Context, sess *mxmpp.Session, domain jid.JID) ([]jid.JID, error) {
	var items discoItemsQuery
	err := sess.UnmarshalIQElement(ctx, xmlPayload(discoItemsQuery{}), stanza.IQ{Type: stanza.GetIQ, To: domain}, &items)
	if err != nil && !isStanzaError(err) {
		return nil, err // a refusal only means there are no items
	}
	candidates := []jid.JID{domain}
	seen := map[string]bool{domain.String(): true}
	for _, it := range items.Items {
		j, err := jid.Parse(it.JID)
		if err != nil || it.Node != "" || seen[j.String()] {
			continue // nodes are parts of an entity, not services
		}
		seen[j.String()] = true
		candidates = append(candidates, j)
	}

	type verdict struct {
		search, directory bool
		err               error
	}
	verdicts := make([]verdict, len(candidates))
	var wg sync.WaitGroup
	slots := make(chan struct{}, 8)
	for i, service := range candidates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			infoCtx, cancel := context.WithTimeout(ctx, discoTimeout)
			defer cancel()
			info, err := disco.GetInfo(infoCtx, "", service, sess)
			if err != nil {
				verdicts[i].err = err
				return
			}
			for _, f := range info.Features {
				verdicts[i].search = verdicts[i].search || f.Var == nsSearch
			}
			for _, id := range info.Identity {
				verdicts[i].directory = verdicts[i].directory || id.Category == "directory"
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var directories, others []jid.JID
	var failure error
	for i, v := range verdicts {
		switch {
		case v.err != nil && !isStanzaError(v.err):
			failure = cmp.Or(failure, fmt.Errorf("%s: %w", candidates[i], v.err))
		case v.search && v.directory:
			directories = append(directories, candidates[i])
		case v.search:
			others = append(others, candidates[i])
		}
	}
	found := append(directories, others...)
	if len(found) == 0 && failure != nil {
		return nil, failure // not "no directory": the link failed, try again later
	}
	return found, nil
}

func isStanzaError(err error) bool {
	var se stanza.Error
	return errors.As(err, &se)
}

// The wire forms of jabber:iq:search and of data forms (XEP-0004).

type searchQuery struct {
	XMLName      xml.Name     `xml:"jabber:iq:search query"`
	Instructions string       `xml:"instructions,omitempty"`
	Form         *dataForm    `xml:"jabber:x:data x,omitempty"`
	Items        []legacyItem `xml:"item,omitempty"`
	Fields       []textElem   `xml:",any"` // the legacy fields: first, last, nick, email
}

type textElem struct {
	XMLName xml.Name
	Text    string `xml:",chardata"`
}

type legacyItem struct {
	JID    string     `xml:"jid,attr"`
	Fields []textElem `xml:",any"`
}

type dataForm struct {
	XMLName      xml.Name     `xml:"jabber:x:data x"`
	Type         string       `xml:"type,attr"`
	Title        string       `xml:"title,omitempty"`
	Instructions []string     `xml:"instructions,omitempty"`
	Fields       []formField  `xml:"field"`
	Reported     []formFields `xml:"reported,omitempty"`
	Items        []formFields `xml:"item,omitempty"`
}

type formFields struct {
	Fields []formField `xml:"field"`
}

type formField struct {
	Var      string    `xml:"var,attr,omitempty"`
	Type     string    `xml:"type,attr,omitempty"`
	Label    string    `xml:"label,attr,omitempty"`
	Required *struct{} `xml:"required"`
	Values   []string  `xml:"value"`
}

// searchMode is how a service is asked.
type searchMode int

const (
	// legacyMode: one query with the legacy fields (mod_vjud ORs them).
	legacyMode searchMode = iota
	// freeTextMode: a data form with one text field for everything and
	// booleans that choose where to look (Openfire).
	freeTextMode
	// perFieldMode: a data form with a field per column, ANDed (ejabberd):
	// one query per useful field, merged.
	perFieldMode
)

// legacyFields are the XEP-0055 fields filled with the query.
var legacyFields = []string{"first", "last", "nick", "email"}

// searchForm is what a service asks for, read from its answer to a get.
type searchForm struct {
	mode   searchMode
	legacy []string  // legacyMode: the legacy fields offered
	form   *dataForm // the blank data form, in the form modes
	text   string    // freeTextMode: the field for the query
	fields []string  // perFieldMode: the fields to query, one at a time
	// prefix is set where a value ending in "*" asks for a prefix
	// (ejabberd); without it, ejabberd matches whole values only.
	prefix bool
}

// The fields (in lower case) that hold a name, an account or an email
// address: a per-field service is asked through each of them.
var (
	nameColumns    = []string{"fn", "name", "fullname", "displayname", "first", "given", "last", "family", "nick", "nickname"}
	accountColumns = []string{"user", "username", "jid", "uid", "login"}
	emailColumns   = []string{"email", "mail"}
)

func newSearchForm(q searchQuery) (*searchForm, error) {
	f := &searchForm{}
	for _, e := range q.Fields {
		if (e.XMLName.Space == nsSearch || e.XMLName.Space == "") && slices.Contains(legacyFields, e.XMLName.Local) {
			f.legacy = append(f.legacy, e.XMLName.Local)
		}
	}
	if form := q.Form; form != nil {
		if form.Type == "cancel" { // Openfire, when the plugin is switched off
			return nil, fmt.Errorf("%w: the directory service is switched off (%s)", ErrNoDirectory,
				strings.Join(form.Instructions, " "))
		}
		var texts, useful []string
		for _, fld := range form.Fields {
			if fld.Var == "" || (fld.Type != "" && fld.Type != "text-single" && fld.Type != "text-multi") {
				continue
			}
			name := strings.ToLower(fld.Var)
			if name == "search" {
				f.mode, f.form, f.text = freeTextMode, form, fld.Var
				return f, nil
			}
			texts = append(texts, fld.Var)
			if slices.Contains(nameColumns, name) || slices.Contains(accountColumns, name) || slices.Contains(emailColumns, name) {
				useful = append(useful, fld.Var)
				f.prefix = f.prefix || name == "fn" || name == "user"
			}
		}
		switch {
		case len(useful) > 0:
			f.mode, f.form, f.fields = perFieldMode, form, useful
			return f, nil
		case len(texts) == 1: // one box of its own: the query goes there
			f.mode, f.form, f.text = freeTextMode, form, texts[0]
			return f, nil
		}
	}
	if len(f.legacy) > 0 {
		f.mode = legacyMode
		return f, nil
	}
	return nil, errors.New("the directory's search form has no field for a name or an account")
}

// searchRequest is one query sent for a search.
type searchRequest struct {
	values map[string]string // field -> value
	// main is set on the query as typed: the search fails when every main
	// request fails. The others are helpers whose failure does not matter.
	main bool
	// tokens, when set, keep only the entries that contain every one:
	// the query was split up for a service that matches single fields.
	tokens []string
}

// maxTokens bounds the queries a search is split into.
const maxTokens = 3

// requests are the queries to send for query. mod_vjud matches each
// field on its own (given name, family name, nickname, email) and not the
// full name, so "Wei Wang" or 张三 would find nobody: such a query is also
// sent word by word (a Chinese name by its family name, the first
// character), and only the entries containing the whole query are kept.
// An account is also looked up as user@domain, which mod_vjud answers with
// that user.
func (f *searchForm) requests(query, domain string) []searchRequest {
	switch f.mode {
	case freeTextMode:
		return []searchRequest{{values: map[string]string{f.text: query}, main: true}}
	case perFieldMode:
		value := query
		if f.prefix && !strings.HasSuffix(value, "*") {
			value += "*"
		}
		var reqs []searchRequest
		for _, field := range f.fields {
			reqs = append(reqs, searchRequest{values: map[string]string{field: value}, main: true})
		}
		return reqs
	}
	fill := func(value string) map[string]string {
		values := map[string]string{}
		for _, field := range f.legacy {
			values[field] = value
		}
		return values
	}
	reqs := []searchRequest{{values: fill(query), main: true}}
	if slices.Contains(f.legacy, "email") && !strings.ContainsAny(query, "@ \t") {
		reqs = append(reqs, searchRequest{values: map[string]string{"email": query + "@" + domain}})
	}
	words := strings.Fields(strings.ToLower(query))
	switch {
	case len(words) > 1:
		unique := slices.Compact(slices.Sorted(slices.Values(words)))
		for _, w := range unique[:min(len(unique), maxTokens)] {
			reqs = append(reqs, searchRequest{values: fill(w), tokens: words})
		}
	case hasHan(query) && len([]rune(query)) > 1:
		reqs = append(reqs, searchRequest{values: fill(string([]rune(query)[:1])), tokens: words})
	}
	return reqs
}

// matches reports whether the entry contains every token, in any column.
func (e DirectoryEntry) matches(tokens []string) bool {
	var b strings.Builder
	for _, s := range []string{e.Name, e.Nick, e.Email, e.Org, e.Unit, e.Title, e.JID.String()} {
		b.WriteString(strings.ToLower(s) + "\n")
	}
	for _, v := range e.Fields {
		b.WriteString(strings.ToLower(v) + "\n")
	}
	text := b.String()
	for _, t := range tokens {
		if !strings.Contains(text, t) {
			return false
		}
	}
	return true
}

func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}

// submission is the query element that asks for values.
func (f *searchForm) submission(values map[string]string) searchQuery {
	if f.form == nil {
		var q searchQuery
		for _, field := range f.legacy {
			if v, ok := values[field]; ok {
				q.Fields = append(q.Fields, textElem{XMLName: xml.Name{Local: field}, Text: v})
			}
		}
		return q
	}
	sub := &dataForm{Type: "submit"}
	for _, fld := range f.form.Fields {
		switch {
		case fld.Var == "":
		case fld.Type == "hidden":
			sub.Fields = append(sub.Fields, formField{Var: fld.Var, Type: "hidden", Values: fld.Values})
		case fld.Type == "boolean" && f.mode == freeTextMode:
			// Openfire: look in every column it offers.
			sub.Fields = append(sub.Fields, formField{Var: fld.Var, Type: "boolean", Values: []string{"1"}})
		case fld.Type == "boolean":
			sub.Fields = append(sub.Fields, formField{Var: fld.Var, Type: "boolean", Values: fld.Values})
		default:
			if v, ok := values[fld.Var]; ok {
				sub.Fields = append(sub.Fields, formField{Var: fld.Var, Values: []string{v}})
			}
		}
	}
	return searchQuery{Form: sub}
}

// SearchDirectory looks colleagues up in the company directory by part of
// their name, their account or their email address, and returns them
// sorted by name, each once. It uses the best of DirectoryServices and
// fetches its search form once per session. Entries listed without a
// department, title or organisation (mod_vjud and Openfire list only names
// and email) are completed from the colleagues' profiles, as far as they
// can be had within a few seconds. A service that refuses the query (e.g.
// mod_vjud's "too short" below two characters) comes back as a
// *StanzaError; ErrNoDirectory when there is no directory. Call it off the
// UI thread: it waits for the server.
func (c *Client) SearchDirectory(ctx context.Context, query string) ([]DirectoryEntry, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return nil, errEmptyQuery
	}
	services, err := c.DirectoryServices(ctx)
	if err != nil {
		return nil, err
	}
	sess, err := c.session()
	if err != nil {
		return nil, err
	}
	service := services[0]
	form := c.directory.form(sess, service)
	if form == nil {
		var blank searchQuery
		err := sess.UnmarshalIQElement(ctx, xmlPayload(searchQuery{}), stanza.IQ{Type: stanza.GetIQ, To: service}, &blank)
		if err != nil {
			return nil, fmt.Errorf("xmpp: the search form of %s: %w", service, stanzaErr(err))
		}
		if form, err = newSearchForm(blank); err != nil {
			return nil, fmt.Errorf("xmpp: the search form of %s: %w", service, err)
		}
		c.directory.storeForm(sess, service, form)
	}

	domain := c.account.Domain().String()
	requests := form.requests(query, domain)
	type answer struct {
		entries []DirectoryEntry
		err     error
	}
	answers := make([]answer, len(requests))
	var wg sync.WaitGroup
	for i, req := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var reply searchQuery
			err := sess.UnmarshalIQElement(ctx, xmlPayload(form.submission(req.values)), stanza.IQ{Type: stanza.SetIQ, To: service}, &reply)
			if err != nil {
				answers[i].err = fmt.Errorf("xmpp: search the directory %s: %w", service, stanzaErr(err))
				return
			}
			for _, e := range reply.entries(domain) {
				if req.tokens == nil || e.matches(req.tokens) {
					answers[i].entries = append(answers[i].entries, e)
				}
			}
		}()
	}
	wg.Wait()

	// The answer stands when one of the main requests got through.
	var firstErr error
	answered := false
	for i, a := range answers {
		if requests[i].main {
			answered = answered || a.err == nil
			firstErr = cmp.Or(firstErr, a.err)
		}
	}
	if !answered {
		return nil, firstErr
	}
	byJID := map[string]*DirectoryEntry{}
	var found []*DirectoryEntry
	for _, a := range answers {
		for _, e := range a.entries {
			if have, ok := byJID[e.JID.String()]; ok {
				have.merge(e)
				continue
			}
			byJID[e.JID.String()] = &e
			found = append(found, &e)
		}
	}
	entries := make([]DirectoryEntry, len(found))
	for i, e := range found {
		entries[i] = *e
	}
	c.completeEntries(ctx, entries)
	slices.SortFunc(entries, func(a, b DirectoryEntry) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.DisplayName()), strings.ToLower(b.DisplayName())),
			strings.Compare(a.JID.String(), b.JID.String()))
	})
	return entries, nil
}

// completeMax bounds the profiles fetched to complete one search's results.
const completeMax = 30

// completeTimeout bounds the completion: a slow profile costs the search
// its details, not its results.
const completeTimeout = 5 * time.Second

// completeEntries fills in the department, title and organisation of the
// entries the directory lists without them (mod_vjud and Openfire return
// only names and email) from the colleagues' profiles (vCards), fetched in
// parallel and cached like any profile. It is best effort: an entry whose
// profile cannot be had stays as it was.
func (c *Client) completeEntries(ctx context.Context, entries []DirectoryEntry) {
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	var wg sync.WaitGroup
	slots := make(chan struct{}, 8)
	n := 0
	for i := range entries {
		e := &entries[i]
		if e.Unit != "" || e.Title != "" || e.Org != "" {
			continue
		}
		if n++; n > completeMax {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			p, err := c.Profile(ctx, e.JID)
			if err != nil {
				return
			}
			e.Name, e.Nick, e.Email = cmp.Or(p.FullName, e.Name), cmp.Or(e.Nick, p.Nickname), cmp.Or(e.Email, p.Email)
			e.Org, e.Unit, e.Title = p.Org, p.Unit, p.Title
		}()
	}
	wg.Wait()
}

// merge fills what e lacks from o, the same person found by another query.
func (e *DirectoryEntry) merge(o DirectoryEntry) {
	e.Name, e.Nick, e.Email = cmp.Or(e.Name, o.Name), cmp.Or(e.Nick, o.Nick), cmp.Or(e.Email, o.Email)
	e.Org, e.Unit, e.Title = cmp.Or(e.Org, o.Org), cmp.Or(e.Unit, o.Unit), cmp.Or(e.Title, o.Title)
	for k, v := range o.Fields {
		if _, ok := e.Fields[k]; !ok {
			e.Fields[k] = v
		}
	}
}

// entries reads the results: a result form's items, else legacy items.
func (q searchQuery) entries(domain string) []DirectoryEntry {
	var out []DirectoryEntry
	if q.Form != nil {
		for _, item := range q.Form.Items {
			columns := map[string]string{}
			for _, fld := range item.Fields {
				if len(fld.Values) > 0 && fld.Var != "" {
					columns[fld.Var] = strings.TrimSpace(strings.Join(fld.Values, ", "))
				}
			}
			if e, ok := directoryEntry(columns, domain); ok {
				out = append(out, e)
			}
		}
	}
	for _, item := range q.Items {
		columns := map[string]string{"jid": item.JID}
		for _, fld := range item.Fields {
			columns[fld.XMLName.Local] = strings.TrimSpace(fld.Text)
		}
		if e, ok := directoryEntry(columns, domain); ok {
			out = append(out, e)
		}
	}
	return out
}

// directoryEntry makes an entry of one result's columns. The address is
// the "jid" column, or a user name at the account's domain.
func directoryEntry(columns map[string]string, domain string) (DirectoryEntry, bool) {
	lower := map[string]string{}
	fields := map[string]string{}
	for k, v := range columns {
		if v != "" {
			lower[strings.ToLower(k)] = v
			fields[k] = v
		}
	}
	get := func(names ...string) string {
		for _, n := range names {
			if v := lower[n]; v != "" {
				return v
			}
		}
		return ""
	}
	address := get("jid", "username", "user")
	if address == "" {
		return DirectoryEntry{}, false
	}
	if !strings.Contains(address, "@") {
		address += "@" + domain
	}
	j, err := jid.Parse(address)
	if err != nil || j.Localpart() == "" {
		return DirectoryEntry{}, false
	}
	e := DirectoryEntry{
		JID:    j.Bare(),
		Name:   get("fn", "name", "fullname", "displayname"),
		Nick:   get("nick", "nickname"),
		Email:  get("email", "mail"),
		Org:    get("orgname", "org", "organization", "organisation", "company"),
		Unit:   get("orgunit", "ou", "department", "unit"),
		Title:  get("title"),
		Fields: fields,
	}
	if e.Name == "" {
		e.Name = personName(get("first", "given"), get("last", "family"))
	}
	return e, true
}

// personName joins a given and a family name: "Wei Wang", but 王伟 (family
// name first, no space) when either is written in Han characters.
func personName(given, family string) string {
	if hasHan(given) || hasHan(family) {
		return family + given
	}
	return strings.TrimSpace(given + " " + family)
}
