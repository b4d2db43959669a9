package xmpp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // decoders for image.DecodeConfig: GIF,
	_ "image/jpeg" // JPEG
	_ "image/png"  // and PNG avatars
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// PEP avatars (XEP-0084), beside the vCard photos of vcard.go (XEP-0153).
//
// A contact's account publishes the image in its PEP node
// urn:xmpp:avatar:data, as an item named by the image's SHA-1, and a
// description of it in urn:xmpp:avatar:metadata. Magpie advertises
// urn:xmpp:avatar:metadata+notify, so the server pushes every new metadata
// item of the contacts we see the presence of (and of the own account), and
// the last one at sign-in, as a pubsub event message. onPubsubEvent turns
// those into AvatarChanged and remembers, per contact, which hash came
// through PEP, so that Avatar knows where to fetch it. Images are fetched
// only when asked for, and kept in the store by hash.
//
// mellium's pubsub package is not used: its Fetch sends the item id as an
// attribute of <items/> instead of an <item/> child, and Publish has no
// publish-options.

const (
	nsPubsub         = "http://jabber.org/protocol/pubsub"
	nsPubsubEvent    = "http://jabber.org/protocol/pubsub#event"
	nsAvatarData     = "urn:xmpp:avatar:data"
	nsAvatarMetadata = "urn:xmpp:avatar:metadata"
	nsDataForm       = "jabber:x:data"
	nsPublishOptions = "http://jabber.org/protocol/pubsub#publish-options"
)

// avatarFetchTimeout bounds one fetch of an image. The fetch outlives the
// caller that started it (others may wait for the same hash), so it does not
// run on that caller's context.
const avatarFetchTimeout = 30 * time.Second

// avatarState is what the client knows about PEP avatars. The zero value is
// ready to use.
type avatarState struct {
	mu sync.Mutex
	// pep holds the hash each bare JID last announced through PEP, "" for
	// a removed avatar.
	pep map[string]string
	// fetching holds the fetches under way, by hash: a second caller
	// waits for the first instead of asking the server again.
	fetching map[string]*avatarFetch
	// fetches counts the fetches that went to the network.
	fetches atomic.Int64
}

type avatarFetch struct {
	done  chan struct{}
	photo []byte
	err   error
}

// notePEP remembers who's PEP hash and reports whether it changed.
func (s *avatarState) notePEP(who jid.JID, hash string) (changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pep == nil {
		s.pep = map[string]string{}
	}
	old, known := s.pep[who.String()]
	s.pep[who.String()] = hash
	return !known || old != hash
}

// pepHash returns the hash who last announced through PEP.
func (s *avatarState) pepHash(who jid.JID) (hash string, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hash, known = s.pep[who.String()]
	return hash, known
}

// once runs fetch for hash unless a fetch of it is under way, and waits for
// the result or for ctx.
func (s *avatarState) once(ctx context.Context, hash string, fetch func(context.Context) ([]byte, error)) ([]byte, error) {
	s.mu.Lock()
	f, running := s.fetching[hash]
	if !running {
		if s.fetching == nil {
			s.fetching = map[string]*avatarFetch{}
		}
		f = &avatarFetch{done: make(chan struct{})}
		s.fetching[hash] = f
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), avatarFetchTimeout)
			defer cancel()
			f.photo, f.err = fetch(fctx)
			s.mu.Lock()
			delete(s.fetching, hash)
			s.mu.Unlock()
			close(f.done)
		}()
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.photo, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Wire forms. One pubsub type serves requests and answers.

type wirePubsub struct {
	XMLName        xml.Name         `xml:"http://jabber.org/protocol/pubsub pubsub"`
	Items          *wirePubsubItems `xml:"items"`
	Publish        *wirePubsubItems `xml:"publish"`
	PublishOptions *struct {
		Form wireDataForm `xml:"jabber:x:data x"`
	} `xml:"publish-options"`
	Retract *wirePubsubRetract `xml:"retract"`
}

// wirePubsubRetract removes items from a node.
type wirePubsubRetract struct {
	Node   string `xml:"node,attr"`
	Notify string `xml:"notify,attr,omitempty"`
	Items  []struct {
		ID string `xml:"id,attr"`
	} `xml:"item"`
}

type wirePubsubItems struct {
	Node  string           `xml:"node,attr"`
	Items []wireAvatarItem `xml:"item"`
}

type wireAvatarItem struct {
	ID       string              `xml:"id,attr,omitempty"`
	Data     *wireAvatarData     `xml:"urn:xmpp:avatar:data data"`
	Metadata *wireAvatarMetadata `xml:"urn:xmpp:avatar:metadata metadata"`
	// Conference is the payload of a bookmark (bookmarks.go).
	Conference *wireConference `xml:"urn:xmpp:bookmarks:1 conference"`
}

type wireAvatarData struct {
	Base64 string `xml:",chardata"`
}

type wireAvatarMetadata struct {
	Info []wireAvatarInfo `xml:"info"`
}

// wireAvatarInfo describes one image. The numbers are strings: a peer's
// malformed number must not make the whole message undecodable.
type wireAvatarInfo struct {
	ID     string `xml:"id,attr"`
	Bytes  string `xml:"bytes,attr"`
	Type   string `xml:"type,attr"`
	Width  string `xml:"width,attr,omitempty"`
	Height string `xml:"height,attr,omitempty"`
	URL    string `xml:"url,attr,omitempty"`
}

type wireDataForm struct {
	Type   string          `xml:"type,attr"`
	Fields []wireFormField `xml:"field"`
}

type wireFormField struct {
	Var   string `xml:"var,attr"`
	Type  string `xml:"type,attr,omitempty"`
	Value string `xml:"value"`
}

// wirePubsubEvent is a notification (XEP-0060 §7.1.2, §7.2.2.1, §8.5).
type wirePubsubEvent struct {
	Items *struct {
		Node     string           `xml:"node,attr"`
		Items    []wireAvatarItem `xml:"item"`
		Retracts []struct {
			ID string `xml:"id,attr"`
		} `xml:"retract"`
	} `xml:"items"`
	Purge *struct {
		Node string `xml:"node,attr"`
	} `xml:"purge"`
	Delete *struct {
		Node string `xml:"node,attr"`
	} `xml:"delete"`
}

// node is the node the notification is about.
func (ev *wirePubsubEvent) node() string {
	switch {
	case ev.Items != nil:
		return ev.Items.Node
	case ev.Purge != nil:
		return ev.Purge.Node
	case ev.Delete != nil:
		return ev.Delete.Node
	}
	return ""
}

func normHash(hash string) string { return strings.ToLower(strings.TrimSpace(hash)) }

// metadataHash is the hash a metadata item announces, "" when it announces
// that there is no avatar (an empty <metadata/>). The item is named by the
// SHA-1 of the image/png version, which the data node holds; an <info/>
// with a url points elsewhere and is not fetched.
func (it wireAvatarItem) metadataHash() string {
	if it.Metadata == nil { // a notification without payload
		return normHash(it.ID)
	}
	if len(it.Metadata.Info) == 0 {
		return ""
	}
	first := ""
	for _, in := range it.Metadata.Info {
		if in.URL != "" {
			continue
		}
		if normHash(in.ID) == normHash(it.ID) {
			return normHash(it.ID)
		}
		if first == "" {
			first = normHash(in.ID)
		}
	}
	if first != "" {
		return first
	}
	return normHash(it.ID)
}

// onPubsubEvent handles a pubsub event message. Only avatar metadata is
// looked at; other nodes are ignored. PEP notifications come from the
// publisher's bare JID (mellium blanks the own one), so those from a full
// JID, which any client could send, are dropped.
func (c *Client) onPubsubEvent(w wireMessage) {
	from, err := c.sender(w.From)
	if err != nil || from.Resourcepart() != "" {
		c.log.Debug("pubsub event from a full or bad JID", "from", w.From)
		return
	}
	who := from.Bare()
	ev := w.Event
	if node := ev.node(); node == nsBookmarks {
		if who.Equal(c.account) { // only the account's own node
			c.onBookmarksEvent(ev)
		}
		return
	}
	hash, found := "", false
	switch {
	case ev.Items != nil && ev.Items.Node == nsAvatarMetadata:
		if n := len(ev.Items.Items); n > 0 {
			hash, found = ev.Items.Items[n-1].metadataHash(), true
			break
		}
		// The current item retracted: the avatar is gone.
		current, known := c.avatars.pepHash(who)
		for _, r := range ev.Items.Retracts {
			if known && current != "" && normHash(r.ID) == current {
				found = true
			}
		}
	case ev.Purge != nil && ev.Purge.Node == nsAvatarMetadata,
		ev.Delete != nil && ev.Delete.Node == nsAvatarMetadata:
		found = true
	}
	if found && c.avatars.notePEP(who, hash) {
		c.events.push(AvatarChanged{JID: who, Hash: hash})
	}
}

// errAvatarHash is returned for image data that does not match its hash.
var errAvatarHash = errors.New("the image does not match its hash")

// maxPhotoBytes caps a photo taken from a vCard (XEP-0153) or a PEP data
// node (XEP-0084): 1 MiB. Avatars are published at a few KB to a few
// hundred (Prosody takes no stanza above 256 KiB from a client, Openfire
// none above 1 MiB); a larger one is not decoded, kept or shown.
const maxPhotoBytes = 1 << 20

// errPhotoTooLarge is returned for a photo above maxPhotoBytes.
var errPhotoTooLarge = fmt.Errorf("the image is larger than %d KiB", maxPhotoBytes>>10)

// decodePhotoData decodes a base64 image, folded into lines or not, padded
// or not, refusing one above maxPhotoBytes before decoding it.
func decodePhotoData(b64 string) ([]byte, error) {
	if len(b64) > 2*base64.StdEncoding.EncodedLen(maxPhotoBytes) {
		return nil, errPhotoTooLarge // more than folding adds
	}
	text := strings.Join(strings.Fields(b64), "")
	if base64.StdEncoding.DecodedLen(len(text)) > maxPhotoBytes+2 {
		return nil, errPhotoTooLarge
	}
	photo, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		// Some publishers leave the padding out.
		var rawErr error
		if photo, rawErr = base64.RawStdEncoding.DecodeString(strings.TrimRight(text, "=")); rawErr != nil {
			return nil, fmt.Errorf("image data: %w", err)
		}
	}
	if len(photo) > maxPhotoBytes {
		return nil, errPhotoTooLarge
	}
	if len(photo) == 0 {
		return nil, errors.New("empty image data")
	}
	return photo, nil
}

// decodeAvatarData decodes a base64 image (see decodePhotoData) and checks
// that its SHA-1 is hash, so that no one can pass off an image under
// another's name (the store keeps images by hash, shared by all contacts).
func decodeAvatarData(b64, hash string) ([]byte, error) {
	photo, err := decodePhotoData(b64)
	if err != nil {
		return nil, err
	}
	if photoHash(photo) != normHash(hash) {
		return nil, errAvatarHash
	}
	return photo, nil
}

// Avatar returns the image with the given hash, from an AvatarChanged event
// or a presence's AvatarHash: from the store when it was seen before (by
// anyone: images are kept by hash); else from the contact's PEP node when the
// hash came from there, else from the contact's vCard (each tried when the
// other does not have it). Fetched images are checked against the hash and
// kept in the store. Concurrent calls for one hash share one fetch. Call it
// off the UI thread, in a goroutine: it may wait for the server. An empty
// hash returns the photo of the contact's current vCard.
func (c *Client) Avatar(ctx context.Context, who jid.JID, hash string) ([]byte, error) {
	who, hash = who.Bare(), normHash(hash)
	if hash == "" {
		p, err := c.FetchProfile(ctx, who)
		if err != nil {
			return nil, err
		}
		return p.Photo, nil
	}
	if db := c.opts.store; db != nil {
		if photo, ok, err := db.Avatar(hash); err == nil && ok {
			return photo, nil
		}
	}
	return c.avatars.once(ctx, hash, func(ctx context.Context) ([]byte, error) {
		return c.fetchAvatar(ctx, who, hash)
	})
}

// fetchAvatar asks the server for an image, PEP or vCard first as the
// hash came, and keeps it in the store.
func (c *Client) fetchAvatar(ctx context.Context, who jid.JID, hash string) ([]byte, error) {
	c.avatars.fetches.Add(1)
	pepHash, _ := c.avatars.pepHash(who)
	sources := []func(context.Context, jid.JID, string) ([]byte, error){c.vcardAvatar, c.pepAvatar}
	if pepHash == hash {
		sources[0], sources[1] = sources[1], sources[0]
	}
	var first error
	for _, fetch := range sources {
		photo, err := fetch(ctx, who, hash)
		if err == nil {
			if db := c.opts.store; db != nil {
				if err := db.SaveAvatar(hash, photo); err != nil {
					c.log.Error("cache avatar", "err", err)
				}
			}
			return photo, nil
		}
		if first == nil {
			first = err
		}
		if errors.Is(err, ErrNotConnected) || ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// vcardAvatar returns the photo of who's vCard if it has the hash.
func (c *Client) vcardAvatar(ctx context.Context, who jid.JID, hash string) ([]byte, error) {
	p, err := c.FetchProfile(ctx, who)
	if err != nil {
		return nil, err
	}
	if p.PhotoHash != hash {
		return nil, fmt.Errorf("xmpp: %s announced photo %s but its profile has %q", who, hash, p.PhotoHash)
	}
	return p.Photo, nil
}

// pepAvatar fetches an image from who's PEP data node (XEP-0084 §4.3).
func (c *Client) pepAvatar(ctx context.Context, who jid.JID, hash string) ([]byte, error) {
	sess, err := c.session()
	if err != nil {
		return nil, err
	}
	iq := stanza.IQ{Type: stanza.GetIQ, To: who}
	if who.Equal(c.account) {
		iq.To = jid.JID{} // the own PEP service is addressed without a to
	}
	req := wirePubsub{Items: &wirePubsubItems{Node: nsAvatarData, Items: []wireAvatarItem{{ID: hash}}}}
	var resp wirePubsub
	if err := sess.UnmarshalIQElement(ctx, xmlPayload(req), iq, &resp); err != nil {
		return nil, fmt.Errorf("xmpp: avatar %s of %s: %w", hash, who, stanzaErr(err))
	}
	if resp.Items != nil {
		for _, it := range resp.Items.Items {
			if normHash(it.ID) != hash || it.Data == nil {
				continue
			}
			photo, err := decodeAvatarData(it.Data.Base64, hash)
			if err != nil {
				return nil, fmt.Errorf("xmpp: avatar %s of %s: %w", hash, who, err)
			}
			return photo, nil
		}
	}
	return nil, fmt.Errorf("xmpp: avatar %s of %s: %w", hash, who, &StanzaError{Condition: string(stanza.ItemNotFound)})
}

// avatarMeta describes an image for its metadata item.
func avatarMeta(photo []byte, mimeType string) (wireAvatarInfo, error) {
	in := wireAvatarInfo{ID: photoHash(photo), Bytes: strconv.Itoa(len(photo)), Type: mimeType}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(photo))
	if err != nil {
		if mimeType == "" {
			return in, fmt.Errorf("xmpp: avatar is not a PNG, JPEG or GIF image: %w", err)
		}
		return in, nil // a format Go cannot read: published without its size
	}
	if in.Type == "" {
		in.Type = "image/" + format
	}
	in.Width, in.Height = strconv.Itoa(cfg.Width), strconv.Itoa(cfg.Height)
	return in, nil
}

// SetAvatar publishes a new own avatar (PNG, which XEP-0084 asks for, or
// JPEG bytes; nil removes it) and keeps the rest of the own profile. It goes
// out both ways: as the vCard photo (XEP-0153, for clients that know only
// that, such as Spark) and through PEP (XEP-0084): the image in the data
// node, then its description (hash, size, type, width and height) in the
// metadata node, both readable by contacts who see the user's presence where
// the server accepts that option. Removing publishes an empty description and
// a vCard without photo. A server that lacks one of the two ways still gets
// the other. mimeType may be empty for PNG, JPEG and GIF.
func (c *Client) SetAvatar(ctx context.Context, photo []byte, mimeType string) error {
	var meta wireAvatarInfo
	if len(photo) > 0 {
		var err error
		if meta, err = avatarMeta(photo, mimeType); err != nil {
			return err
		}
		mimeType = meta.Type
	} else {
		photo, mimeType = nil, ""
	}
	// A server that converts vCards to PEP (Prosody's vcard_legacy)
	// purges the avatar nodes on every vCard and publishes the vCard's
	// photo there, without width and height. So a new avatar goes to PEP
	// after the vCard, and the full description is the one that stays. A
	// removal goes to PEP first: the vCard's purge then leaves no item;
	// an empty description left as the last item would have the server
	// announce that item's (random) id as the photo hash in presence.
	var vcardErr, pepErr error
	if photo != nil {
		vcardErr = c.setVCardPhoto(ctx, photo, mimeType)
		if errors.Is(vcardErr, ErrNotConnected) {
			return vcardErr
		}
		pepErr = c.publishPEPAvatar(ctx, photo, meta)
	} else {
		pepErr = c.publishPEPAvatar(ctx, nil, meta)
		if errors.Is(pepErr, ErrNotConnected) {
			return pepErr
		}
		vcardErr = c.setVCardPhoto(ctx, nil, "")
	}
	switch {
	case vcardErr == nil && pepErr == nil:
		return nil
	case vcardErr != nil && pepErr != nil:
		return errors.Join(vcardErr, pepErr)
	case vcardErr != nil && !unsupported(vcardErr):
		return vcardErr
	case pepErr != nil && !unsupported(pepErr):
		return pepErr
	}
	c.log.Info("avatar published one way only", "vcard", vcardErr, "pep", pepErr)
	return nil
}

// setVCardPhoto replaces the photo of the own vCard.
func (c *Client) setVCardPhoto(ctx context.Context, photo []byte, mimeType string) error {
	p, err := c.FetchProfile(ctx, c.account)
	if err != nil {
		return err
	}
	p.Photo, p.PhotoType, p.PhotoHash = photo, mimeType, ""
	return c.SetProfile(ctx, p)
}

// unsupported reports whether err says the server does not offer a service.
func unsupported(err error) bool {
	var se *StanzaError
	return errors.As(err, &se) &&
		(se.Condition == string(stanza.ServiceUnavailable) || se.Condition == string(stanza.FeatureNotImplemented))
}

// publishPEPAvatar publishes the image and its description, or (photo nil)
// an empty description.
func (c *Client) publishPEPAvatar(ctx context.Context, photo []byte, meta wireAvatarInfo) error {
	sess, err := c.session()
	if err != nil {
		return err
	}
	if len(photo) == 0 {
		err := c.pepPublish(ctx, sess, nsAvatarMetadata, wireAvatarItem{Metadata: &wireAvatarMetadata{}})
		if err != nil {
			return fmt.Errorf("xmpp: remove avatar: %w", err)
		}
		return nil
	}
	data := wireAvatarItem{ID: meta.ID, Data: &wireAvatarData{Base64: base64.StdEncoding.EncodeToString(photo)}}
	if err := c.pepPublish(ctx, sess, nsAvatarData, data); err != nil {
		return fmt.Errorf("xmpp: publish avatar: %w", err)
	}
	desc := wireAvatarItem{ID: meta.ID, Metadata: &wireAvatarMetadata{Info: []wireAvatarInfo{meta}}}
	if err := c.pepPublish(ctx, sess, nsAvatarMetadata, desc); err != nil {
		return fmt.Errorf("xmpp: publish avatar description: %w", err)
	}
	return nil
}

// pepPublish publishes one item to a node of the own PEP service, asking
// for the node to be readable by presence subscribers only. A node that
// exists with another access model (e.g. made open by the server's vCard
// conversion) refuses that precondition; then the item is published without
// it rather than not at all.
func (c *Client) pepPublish(ctx context.Context, sess *mxmpp.Session, node string, item wireAvatarItem) error {
	req := wirePubsub{Publish: &wirePubsubItems{Node: node, Items: []wireAvatarItem{item}}}
	req.PublishOptions = &struct {
		Form wireDataForm `xml:"jabber:x:data x"`
	}{wireDataForm{Type: "submit", Fields: []wireFormField{
		{Var: "FORM_TYPE", Type: "hidden", Value: nsPublishOptions},
		{Var: "pubsub#access_model", Value: "presence"},
	}}}
	iq := stanza.IQ{Type: stanza.SetIQ}
	err := stanzaErr(sess.UnmarshalIQElement(ctx, xmlPayload(req), iq, nil))
	var se *StanzaError
	if errors.As(err, &se) && (se.Condition == string(stanza.Conflict) || se.Condition == string(stanza.NotAcceptable) ||
		se.Condition == string(stanza.BadRequest) || se.Condition == string(stanza.FeatureNotImplemented)) {
		c.log.Debug("publish without options", "node", node, "err", err)
		req.PublishOptions = nil
		err = stanzaErr(sess.UnmarshalIQElement(ctx, xmlPayload(req), iq, nil))
	}
	return err
}
