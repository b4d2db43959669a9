package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"time"

	"magpie/xmpp/store"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/stanza"
)

// Archive catch-up (XEP-0313). After every fresh sign-in (not after a
// resumed stream, which loses nothing) the client asks its own archive for
// everything after the newest archive id it knows, page by page, and stores
// it; the store drops what it already has (the same message may also arrive
// from offline storage or as a carbon). On a machine with no history yet it
// pulls the most recent messages instead.

const (
	archivePage       = 250 // messages asked for per page (servers may cap it lower)
	firstSyncMessages = 500 // recent messages pulled on a first sign-in
)

type rsmSet struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/rsm set"`
	Max     int      `xml:"max"`
	After   *string  `xml:"after,omitempty"`
	Before  *string  `xml:"before,omitempty"`
}

type mamField struct {
	Var   string `xml:"var,attr"`
	Type  string `xml:"type,attr,omitempty"`
	Value string `xml:"value"`
}

type mamForm struct {
	XMLName xml.Name   `xml:"jabber:x:data x"`
	Type    string     `xml:"type,attr"`
	Fields  []mamField `xml:"field"`
}

type mamQuery struct {
	XMLName xml.Name `xml:"urn:xmpp:mam:2 query"`
	QueryID string   `xml:"queryid,attr"`
	Form    *mamForm `xml:"jabber:x:data x,omitempty"`
	Set     rsmSet   `xml:"http://jabber.org/protocol/rsm set"`
}

type mamFin struct {
	XMLName  xml.Name `xml:"urn:xmpp:mam:2 fin"`
	Complete string   `xml:"complete,attr"`
	Set      struct {
		First string `xml:"first"`
		Last  string `xml:"last"`
		Count string `xml:"count"`
	} `xml:"http://jabber.org/protocol/rsm set"`
}

func (f mamFin) complete() bool { return f.Complete == "true" || f.Complete == "1" }

// ownQuery reports whether an archive result answers one of our queries,
// and whether that query pages backwards (newest first).
func (c *Client) ownQuery(id string) (ours, backwards bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	backwards, ours = c.mamQueries[id]
	return ours, backwards
}

// queryArchive asks for one page and returns the server's summary of it.
// The results themselves arrive as messages before the answer, and go to
// the store through onMessage.
func (c *Client) queryArchive(ctx context.Context, sess *mxmpp.Session, q mamQuery) (mamFin, error) {
	q.QueryID = randomHex(8)
	c.mu.Lock()
	c.mamQueries[q.QueryID] = q.Set.Before != nil
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.mamQueries, q.QueryID)
		c.mu.Unlock()
	}()
	var fin mamFin
	err := sess.UnmarshalIQElement(ctx, xmlPayload(q), stanza.IQ{Type: stanza.SetIQ}, &fin)
	if err != nil {
		return fin, stanzaErr(err)
	}
	return fin, nil
}

// catchUp fetches what the archive holds beyond the store, and reports
// HistorySynced.
func (c *Client) catchUp(l *link) {
	if c.opts.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ctx, stop := linkContext(ctx, l) // the session ending ends the catch-up
	defer stop()
	// The archive may hold private messages through rooms not joined
	// yet: their service must be known to tell them (see isPrivate).
	c.learnRoomServices(ctx, l.sess)
	before := c.archivedAdded.Load()
	err := c.fetchArchive(ctx, l.sess)
	c.store.barrier()
	if err == nil {
		c.caughtUp.Store(true)
	} else {
		c.log.Info("archive catch-up", "err", err)
	}
	// Not after Close: its Offline is the last event a reader sees.
	c.mu.Lock()
	if !c.closed {
		c.events.push(HistorySynced{Added: int(c.archivedAdded.Load() - before), Err: err})
	}
	c.mu.Unlock()
}

func (c *Client) fetchArchive(ctx context.Context, sess *mxmpp.Session) error {
	lastID, lastTime, err := c.opts.store.ArchiveCursor()
	if err != nil {
		return fmt.Errorf("xmpp: read archive cursor: %w", err)
	}
	var q mamQuery
	switch {
	case lastID == "" && lastTime.IsZero():
		return c.fetchRecent(ctx, sess)
	case lastID == "":
		// The archive was empty at the last sync: everything since.
		q = mamQuery{Form: mamSince(lastTime.Add(-time.Second)), Set: rsmSet{Max: archivePage}}
	default:
		q = mamQuery{Set: rsmSet{Max: archivePage, After: &lastID}}
	}
	for {
		fin, err := c.queryArchive(ctx, sess, q)
		var se *StanzaError
		if errors.As(err, &se) && se.Condition == string(stanza.ItemNotFound) && q.Form == nil {
			// The server no longer knows the id (archive expired or
			// reset): ask by time instead.
			c.log.Info("archive does not know the last id; catching up by time", "id", lastID, "since", lastTime)
			q = mamQuery{Form: mamSince(lastTime.Add(-time.Second)), Set: rsmSet{Max: archivePage}}
			continue
		}
		if err != nil {
			return fmt.Errorf("xmpp: archive query: %w", err)
		}
		c.advanceCursor(fin)
		if fin.complete() || fin.Set.Last == "" {
			return nil
		}
		last := fin.Set.Last
		q.Set.After = &last
	}
}

// fetchRecent pulls the newest messages, newest page first, on a store
// that has never synced.
func (c *Client) fetchRecent(ctx context.Context, sess *mxmpp.Session) error {
	empty := ""
	q := mamQuery{Set: rsmSet{Max: min(archivePage, firstSyncMessages), Before: &empty}}
	newest := ""
	for fetched := 0; fetched < firstSyncMessages; {
		fin, err := c.queryArchive(ctx, sess, q)
		if err != nil {
			return fmt.Errorf("xmpp: archive query: %w", err)
		}
		if newest == "" {
			newest = fin.Set.Last
		}
		n, _ := strconv.Atoi(fin.Set.Count)
		if fin.complete() || fin.Set.First == "" || n == 0 {
			break
		}
		fetched += archivePage
		first := fin.Set.First
		q.Set.Before = &first
	}
	c.store.barrier()
	// With an empty archive the bookmark is the time, so that what is
	// archived from now on is caught up in full.
	if err := c.opts.store.SetArchiveCursor(newest, time.Now()); err != nil {
		return fmt.Errorf("xmpp: store archive cursor: %w", err)
	}
	return nil
}

// advanceCursor remembers the last id of a page once its messages are
// stored. It does not wait for that: the store writer runs the update after
// the page's messages, so the next page is asked for at once.
func (c *Client) advanceCursor(fin mamFin) {
	if fin.Set.Last == "" {
		return
	}
	c.mu.Lock()
	t := c.archiveSeen
	c.mu.Unlock()
	last := fin.Set.Last
	c.store.do(func(db *store.DB) {
		if db == nil {
			return
		}
		if err := db.SetArchiveCursor(last, t); err != nil {
			c.log.Error("store archive cursor", "err", err)
		}
	})
}

func mamSince(t time.Time) *mamForm {
	return &mamForm{Type: "submit", Fields: []mamField{
		{Var: "FORM_TYPE", Type: "hidden", Value: nsMAM},
		{Var: "start", Value: t.UTC().Format(time.RFC3339)},
	}}
}
