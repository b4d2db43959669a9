package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Room bookmarks. Where the server keeps them in PEP (XEP-0402: one item
// per room on the node urn:xmpp:bookmarks:1, readable only by the account)
// they are read and written there, and changes from the account's other
// devices arrive as PEP notifications. Elsewhere they live in private XML
// storage (XEP-0048 on XEP-0049), which has no notifications. Prosody's
// mod_bookmarks keeps the two in sync and says so with
// urn:xmpp:bookmarks:1#compat on the account. mellium's bookmarks package
// speaks only XEP-0402 and has no fallback, so both are written here.

const (
	nsBookmarks       = "urn:xmpp:bookmarks:1"
	nsBookmarksCompat = nsBookmarks + "#compat"
	nsPrivate         = "jabber:iq:private"
	nsLegacyBookmarks = "storage:bookmarks"
)

// Bookmark is a saved room.
type Bookmark struct {
	Room     jid.JID // bare
	Name     string
	Autojoin bool   // join the room after sign-in
	Nick     string // "" for the account's user name
	Password string
}

// BookmarksChanged reports bookmarks that another device of the account (or
// this client) added, changed or removed. It comes only where bookmarks
// live in PEP; read Bookmarks again for the whole list.
type BookmarksChanged struct {
	Changed []Bookmark
	Removed []jid.JID
}

func (BookmarksChanged) isEvent() {}

// WithAutojoin makes the client join the rooms bookmarked with autojoin
// after each new sign-in (a resumed session is still in its rooms), and
// those that another device bookmarks with autojoin while it is online.
// A room that refuses is reported as ErrorOccurred.
//
// A room the user left with LeaveRoom stays left for the rest of the
// Client's life, although its bookmark keeps autojoin (which is for the
// next start of the app, and other devices): a reconnect after a network
// drop does not bring it back. JoinRoom of the room ends that, and a new
// Client (the next start) autojoins every autojoin bookmark again. To
// leave a room for good, clear the bookmark's autojoin as well.
func WithAutojoin() Option { return func(o *options) { o.autojoin = true } }

// bookmarkMode is where the account's bookmarks live.
type bookmarkMode int

const (
	bookmarksPEP bookmarkMode = iota + 1
	bookmarksPrivate
)

// bookmarkCache remembers, per session, where bookmarks live.
type bookmarkCache struct {
	mu   sync.Mutex
	sess *mxmpp.Session
	mode bookmarkMode
}

// wireConference is a XEP-0402 bookmark, the payload of one PEP item.
type wireConference struct {
	XMLName  xml.Name `xml:"urn:xmpp:bookmarks:1 conference"`
	Name     string   `xml:"name,attr,omitempty"`
	Autojoin string   `xml:"autojoin,attr,omitempty"`
	Nick     string   `xml:"nick,omitempty"`
	Password string   `xml:"password,omitempty"`
}

// wireLegacyStorage is the XEP-0048 storage element; Other keeps what other
// clients store there (URL bookmarks) when it is written back.
type wireLegacyStorage struct {
	XMLName     xml.Name               `xml:"storage:bookmarks storage"`
	Conferences []wireLegacyConference `xml:"conference"`
	Other       []wireAnyElement       `xml:",any"`
}

type wireLegacyConference struct {
	JID      string `xml:"jid,attr"`
	Name     string `xml:"name,attr,omitempty"`
	Autojoin string `xml:"autojoin,attr,omitempty"`
	Nick     string `xml:"nick,omitempty"`
	Password string `xml:"password,omitempty"`
}

type wireAnyElement struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   string     `xml:",innerxml"`
}

type wirePrivateQuery struct {
	XMLName xml.Name          `xml:"jabber:iq:private query"`
	Storage wireLegacyStorage `xml:"storage"`
}

func parseBool(s string) bool { b, _ := strconv.ParseBool(s); return b }

func boolAttr(b bool) string {
	if b {
		return "true"
	}
	return ""
}

// bookmarkFromItem reads one PEP item; ok is false for an item that names
// no room.
func bookmarkFromItem(it wireAvatarItem) (Bookmark, bool) {
	room, err := jid.Parse(it.ID)
	if err != nil || it.ID == "" {
		return Bookmark{}, false
	}
	b := Bookmark{Room: room.Bare()}
	if conf := it.Conference; conf != nil {
		b.Name, b.Autojoin, b.Nick, b.Password = conf.Name, parseBool(conf.Autojoin), conf.Nick, conf.Password
	}
	return b, true
}

// bookmarkStore finds where the account's bookmarks live, once per session:
// PEP when the server syncs them (#compat) or when they are there already
// (another XEP-0402 client put them there), else private XML storage.
func (c *Client) bookmarkStore(ctx context.Context) (*mxmpp.Session, bookmarkMode, error) {
	sess, err := c.session()
	if err != nil {
		return nil, 0, err
	}
	c.bookmarks.mu.Lock()
	defer c.bookmarks.mu.Unlock()
	if c.bookmarks.sess == sess {
		return sess, c.bookmarks.mode, nil
	}
	info, err := disco.GetInfo(ctx, "", c.account, sess)
	if err != nil && !isStanzaError(err) {
		return nil, 0, fmt.Errorf("xmpp: bookmarks: ask the server: %w", err)
	}
	mode := bookmarksPrivate
	publishOptions := false
	for _, f := range info.Features {
		switch f.Var {
		case nsBookmarksCompat:
			mode = bookmarksPEP
		case nsPublishOptions:
			publishOptions = true
		}
	}
	if mode != bookmarksPEP && publishOptions {
		if items, err := c.pepBookmarks(ctx, sess); err == nil && len(items) > 0 {
			mode = bookmarksPEP
		}
	}
	c.bookmarks.sess, c.bookmarks.mode = sess, mode
	return sess, mode, nil
}

// Bookmarks returns the account's room bookmarks, sorted by room.
func (c *Client) Bookmarks(ctx context.Context) ([]Bookmark, error) {
	sess, mode, err := c.bookmarkStore(ctx)
	if err != nil {
		return nil, err
	}
	var out []Bookmark
	if mode == bookmarksPEP {
		out, err = c.pepBookmarks(ctx, sess)
	} else {
		var storage wireLegacyStorage
		storage, err = privateBookmarks(ctx, sess)
		out = legacyBookmarks(storage)
	}
	if err != nil {
		return nil, fmt.Errorf("xmpp: read bookmarks: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Room.String() < out[j].Room.String() })
	return out, nil
}

// SetBookmark adds or replaces the bookmark of b.Room.
func (c *Client) SetBookmark(ctx context.Context, b Bookmark) error {
	b.Room = b.Room.Bare()
	if b.Room.Localpart() == "" {
		return fmt.Errorf("xmpp: set bookmark: %q is not a room", b.Room)
	}
	sess, mode, err := c.bookmarkStore(ctx)
	if err != nil {
		return err
	}
	if mode == bookmarksPEP {
		err = publishBookmark(ctx, sess, b)
	} else {
		err = updatePrivateBookmarks(ctx, sess, func(s *wireLegacyStorage) {
			conf := wireLegacyConference{JID: b.Room.String(), Name: b.Name, Autojoin: boolAttr(b.Autojoin), Nick: b.Nick, Password: b.Password}
			for i, old := range s.Conferences {
				if sameRoom(old.JID, b.Room) {
					s.Conferences[i] = conf
					return
				}
			}
			s.Conferences = append(s.Conferences, conf)
		})
	}
	if err != nil {
		return fmt.Errorf("xmpp: set bookmark %s: %w", b.Room, err)
	}
	return nil
}

// RemoveBookmark removes the bookmark of room; removing one that does not
// exist is not an error.
func (c *Client) RemoveBookmark(ctx context.Context, room jid.JID) error {
	room = room.Bare()
	sess, mode, err := c.bookmarkStore(ctx)
	if err != nil {
		return err
	}
	if mode == bookmarksPEP {
		retract := &wirePubsubRetract{Node: nsBookmarks, Notify: "true"}
		retract.Items = append(retract.Items, struct {
			ID string `xml:"id,attr"`
		}{room.String()})
		req := wirePubsub{Retract: retract}
		err = stanzaErr(sess.UnmarshalIQElement(ctx, xmlPayload(req), stanza.IQ{Type: stanza.SetIQ}, nil))
		var se *StanzaError
		if errors.As(err, &se) && se.Condition == string(stanza.ItemNotFound) {
			err = nil
		}
	} else {
		err = updatePrivateBookmarks(ctx, sess, func(s *wireLegacyStorage) {
			kept := s.Conferences[:0]
			for _, conf := range s.Conferences {
				if !sameRoom(conf.JID, room) {
					kept = append(kept, conf)
				}
			}
			s.Conferences = kept
		})
	}
	if err != nil {
		return fmt.Errorf("xmpp: remove bookmark %s: %w", room, err)
	}
	return nil
}

func sameRoom(s string, room jid.JID) bool {
	j, err := jid.Parse(s)
	return err == nil && j.Bare().Equal(room)
}

// pepBookmarks fetches the items of the bookmarks node; a node that does
// not exist holds no bookmarks.
func (c *Client) pepBookmarks(ctx context.Context, sess *mxmpp.Session) ([]Bookmark, error) {
	var resp wirePubsub
	req := wirePubsub{Items: &wirePubsubItems{Node: nsBookmarks}}
	err := stanzaErr(sess.UnmarshalIQElement(ctx, xmlPayload(req), stanza.IQ{Type: stanza.GetIQ}, &resp))
	var se *StanzaError
	if errors.As(err, &se) && se.Condition == string(stanza.ItemNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Bookmark
	if resp.Items != nil {
		for _, it := range resp.Items.Items {
			if b, ok := bookmarkFromItem(it); ok {
				out = append(out, b)
			}
		}
	}
	return out, nil
}

// publishBookmark publishes one bookmark. The node must be readable by the
// account alone (passwords are in it): a server that refuses these options
// gets no bookmark rather than a readable one.
func publishBookmark(ctx context.Context, sess *mxmpp.Session, b Bookmark) error {
	item := wireAvatarItem{ID: b.Room.String(), Conference: &wireConference{
		Name: b.Name, Autojoin: boolAttr(b.Autojoin), Nick: b.Nick, Password: b.Password,
	}}
	req := wirePubsub{Publish: &wirePubsubItems{Node: nsBookmarks, Items: []wireAvatarItem{item}}}
	req.PublishOptions = &struct {
		Form wireDataForm `xml:"jabber:x:data x"`
	}{wireDataForm{Type: "submit", Fields: []wireFormField{
		{Var: "FORM_TYPE", Type: "hidden", Value: nsPublishOptions},
		{Var: "pubsub#persist_items", Value: "true"},
		{Var: "pubsub#max_items", Value: "max"},
		{Var: "pubsub#send_last_published_item", Value: "never"},
		{Var: "pubsub#access_model", Value: "whitelist"},
	}}}
	return stanzaErr(sess.UnmarshalIQElement(ctx, xmlPayload(req), stanza.IQ{Type: stanza.SetIQ}, nil))
}

// privateBookmarks reads the XEP-0048 storage.
func privateBookmarks(ctx context.Context, sess *mxmpp.Session) (wireLegacyStorage, error) {
	var resp wirePrivateQuery
	err := stanzaErr(sess.UnmarshalIQElement(ctx, xmlPayload(wirePrivateQuery{}), stanza.IQ{Type: stanza.GetIQ}, &resp))
	return resp.Storage, err
}

func legacyBookmarks(s wireLegacyStorage) []Bookmark {
	var out []Bookmark
	for _, conf := range s.Conferences {
		room, err := jid.Parse(conf.JID)
		if err != nil || room.Localpart() == "" {
			continue
		}
		out = append(out, Bookmark{Room: room.Bare(), Name: conf.Name, Autojoin: parseBool(conf.Autojoin), Nick: conf.Nick, Password: conf.Password})
	}
	return out
}

// updatePrivateBookmarks reads the storage, changes it and writes it back.
// XEP-0049 replaces the whole element: a change another device makes in
// between is lost (the protocol has no compare-and-set).
func updatePrivateBookmarks(ctx context.Context, sess *mxmpp.Session, change func(*wireLegacyStorage)) error {
	storage, err := privateBookmarks(ctx, sess)
	if err != nil {
		return err
	}
	change(&storage)
	storage.XMLName = xml.Name{Space: nsLegacyBookmarks, Local: "storage"}
	q := wirePrivateQuery{Storage: storage}
	return stanzaErr(sess.UnmarshalIQElement(ctx, xmlPayload(q), stanza.IQ{Type: stanza.SetIQ}, nil))
}

// onBookmarksEvent translates a notification of the own bookmarks node. It
// runs in Serve: joins for new autojoin bookmarks go to a goroutine.
func (c *Client) onBookmarksEvent(ev *wirePubsubEvent) {
	var changed BookmarksChanged
	switch {
	case ev.Items != nil:
		for _, it := range ev.Items.Items {
			if b, ok := bookmarkFromItem(it); ok {
				changed.Changed = append(changed.Changed, b)
			}
		}
		for _, r := range ev.Items.Retracts {
			if room, err := jid.Parse(r.ID); err == nil {
				changed.Removed = append(changed.Removed, room.Bare())
			}
		}
	default: // purged or deleted: no bookmarks are left
		changed.Removed = nil
	}
	if len(changed.Changed) == 0 && len(changed.Removed) == 0 && ev.Items != nil {
		return
	}
	c.events.push(changed)
	if !c.opts.autojoin {
		return
	}
	var join []Bookmark
	for _, b := range changed.Changed {
		if b.Autojoin && !c.isRoom(b.Room) {
			join = append(join, b)
		}
	}
	if len(join) > 0 {
		go c.joinBookmarks(join)
	}
}

// autojoin joins the autojoin bookmarks after a new sign-in, except the
// rooms the user left during this Client's life (see WithAutojoin).
func (c *Client) autojoin() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.Bookmarks(ctx)
	if err != nil {
		if !errors.Is(err, ErrNotConnected) {
			c.events.push(ErrorOccurred{Err: fmt.Errorf("xmpp: autojoin: %w", err)})
		}
		return
	}
	var join []Bookmark
	c.mu.Lock()
	for _, b := range list {
		if b.Autojoin && !c.userLeft[b.Room.String()] {
			join = append(join, b)
		}
	}
	c.mu.Unlock()
	c.joinBookmarks(join)
}

// joinBookmarks joins rooms the client is not in yet, one after another.
func (c *Client) joinBookmarks(list []Bookmark) {
	for _, b := range list {
		if c.isRoom(b.Room) {
			continue // joined, or rejoined after the reconnect
		}
		nick := b.Nick
		if nick == "" {
			nick = c.account.Localpart()
		}
		var opts []JoinOption
		if b.Password != "" {
			opts = append(opts, WithRoomPassword(b.Password))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := c.JoinRoom(ctx, b.Room, nick, opts...)
		cancel()
		if err != nil && !errors.Is(err, ErrNotConnected) {
			c.events.push(ErrorOccurred{Err: fmt.Errorf("xmpp: autojoin: %w", err)})
		}
	}
}
