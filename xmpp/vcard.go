package xmpp

import (
	"context"
	"crypto/sha1" // #nosec G505 -- XEP-0153 names photos by their SHA-1
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Profiles (vCard-temp, XEP-0054), which mellium lacks. OA servers fill
// them from the company directory (name, department, title, phone, email,
// photo). They are fetched lazily, cached in the store, and fetched again
// after profileMaxAge.

// profileMaxAge is how long a cached profile is used without asking again.
const profileMaxAge = 24 * time.Hour

// Profile is a contact's business card.
type Profile struct {
	JID      jid.JID
	FullName string
	Nickname string
	Org      string // organisation
	Unit     string // organisational unit (department)
	Title    string
	Phone    string
	Email    string
	// PhotoHash is the SHA-1 of the photo (hex), "" without one; the photo
	// itself is Photo, and in the store under that hash.
	PhotoHash string
	PhotoType string
	Photo     []byte `json:"-"`
	Fetched   time.Time
}

type wireVCard struct {
	XMLName  xml.Name `xml:"vcard-temp vCard"`
	FN       string   `xml:"FN,omitempty"`
	Nickname string   `xml:"NICKNAME,omitempty"`
	Org      *struct {
		Name string `xml:"ORGNAME"`
		Unit string `xml:"ORGUNIT,omitempty"`
	} `xml:"ORG,omitempty"`
	Title string `xml:"TITLE,omitempty"`
	Tel   []struct {
		Number string `xml:"NUMBER"`
	} `xml:"TEL,omitempty"`
	Email []struct {
		UserID string `xml:"USERID"`
	} `xml:"EMAIL,omitempty"`
	Photo *struct {
		Type   string `xml:"TYPE,omitempty"`
		BinVal string `xml:"BINVAL"`
	} `xml:"PHOTO,omitempty"`
}

func (v wireVCard) profile(who jid.JID) Profile {
	p := Profile{JID: who, FullName: strings.TrimSpace(v.FN), Nickname: strings.TrimSpace(v.Nickname), Title: strings.TrimSpace(v.Title)}
	if v.Org != nil {
		p.Org, p.Unit = strings.TrimSpace(v.Org.Name), strings.TrimSpace(v.Org.Unit)
	}
	for _, t := range v.Tel {
		if p.Phone = strings.TrimSpace(t.Number); p.Phone != "" {
			break
		}
	}
	for _, e := range v.Email {
		if p.Email = strings.TrimSpace(e.UserID); p.Email != "" {
			break
		}
	}
	if v.Photo != nil {
		// A photo above maxPhotoBytes, or not base64, is left out.
		if raw, err := decodePhotoData(v.Photo.BinVal); err == nil {
			p.Photo, p.PhotoType, p.PhotoHash = raw, v.Photo.Type, photoHash(raw)
		}
	}
	return p
}

func photoHash(photo []byte) string {
	sum := sha1.Sum(photo) // #nosec G401 -- the hash XEP-0153 specifies
	return hex.EncodeToString(sum[:])
}

// Profile returns a contact's profile: from the store when it was fetched
// less than a day ago, else from the server (and then cached). Call it off
// the UI thread; it may wait for the server. A contact without a vCard has
// an empty profile, not an error.
func (c *Client) Profile(ctx context.Context, who jid.JID) (Profile, error) {
	who = who.Bare()
	if p, ok := c.cachedProfile(who); ok && time.Since(p.Fetched) < profileMaxAge {
		return p, nil
	}
	return c.FetchProfile(ctx, who)
}

// FetchProfile asks the server for a contact's profile, bypassing the cache,
// and caches the answer.
func (c *Client) FetchProfile(ctx context.Context, who jid.JID) (Profile, error) {
	who = who.Bare()
	sess, err := c.session()
	if err != nil {
		if p, ok := c.cachedProfile(who); ok {
			return p, nil // offline: the cached one is better than nothing
		}
		return Profile{}, err
	}
	var v wireVCard
	iq := stanza.IQ{Type: stanza.GetIQ, To: who}
	if who.Equal(c.account) {
		iq.To = jid.JID{} // one's own vCard is asked for without a to
	}
	err = sess.UnmarshalIQElement(ctx, xmlPayload(wireVCard{}), iq, &v)
	if err != nil {
		err = stanzaErr(err)
		if se, ok := err.(*StanzaError); ok && (se.Condition == string(stanza.ItemNotFound) || se.Condition == string(stanza.ServiceUnavailable)) {
			v = wireVCard{} // no vCard at all
		} else {
			return Profile{}, fmt.Errorf("xmpp: profile of %s: %w", who, err)
		}
	}
	p := v.profile(who)
	p.Fetched = time.Now()
	c.cacheProfile(p)
	return p, nil
}

// SetProfile publishes the own profile (with a photo when p.Photo is set).
func (c *Client) SetProfile(ctx context.Context, p Profile) error {
	sess, err := c.session()
	if err != nil {
		return err
	}
	v := wireVCard{FN: p.FullName, Nickname: p.Nickname, Title: p.Title}
	if p.Org != "" || p.Unit != "" {
		v.Org = &struct {
			Name string `xml:"ORGNAME"`
			Unit string `xml:"ORGUNIT,omitempty"`
		}{p.Org, p.Unit}
	}
	if p.Phone != "" {
		v.Tel = []struct {
			Number string `xml:"NUMBER"`
		}{{p.Phone}}
	}
	if p.Email != "" {
		v.Email = []struct {
			UserID string `xml:"USERID"`
		}{{p.Email}}
	}
	if len(p.Photo) > 0 {
		v.Photo = &struct {
			Type   string `xml:"TYPE,omitempty"`
			BinVal string `xml:"BINVAL"`
		}{p.PhotoType, base64.StdEncoding.EncodeToString(p.Photo)}
	}
	if err := sess.UnmarshalIQElement(ctx, xmlPayload(v), stanza.IQ{Type: stanza.SetIQ}, nil); err != nil {
		return fmt.Errorf("xmpp: publish profile: %w", stanzaErr(err))
	}
	p.JID = c.account
	if len(p.Photo) > 0 {
		p.PhotoHash = photoHash(p.Photo)
	}
	p.Fetched = time.Now()
	c.cacheProfile(p)
	// Presence carries the photo's hash (XEP-0153; the server adds it):
	// send it again so contacts learn of the new photo.
	if err := c.announcePresence(ctx, sess); err != nil {
		return fmt.Errorf("xmpp: announce the new profile: %w", err)
	}
	return nil
}

// cachedProfile reads a profile, with its photo, from the store.
func (c *Client) cachedProfile(who jid.JID) (Profile, bool) {
	db := c.opts.store
	if db == nil {
		return Profile{}, false
	}
	data, fetched, hash, found, err := db.Profile(who.String())
	if err != nil || !found {
		return Profile{}, false
	}
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return Profile{}, false
	}
	p.JID, p.Fetched, p.PhotoHash = who, fetched, hash
	if hash != "" {
		if photo, ok, err := db.Avatar(hash); err == nil && ok {
			p.Photo = photo
		}
	}
	return p, true
}

// cacheProfile writes a profile to the store, its photo under its hash.
func (c *Client) cacheProfile(p Profile) {
	db := c.opts.store
	if db == nil {
		return
	}
	if len(p.Photo) > 0 {
		if err := db.SaveAvatar(p.PhotoHash, p.Photo); err != nil {
			c.log.Error("cache photo", "err", err)
		}
	}
	data, err := json.Marshal(p)
	if err != nil {
		return
	}
	if err := db.SaveProfile(p.JID.String(), p.Fetched, data, p.PhotoHash); err != nil {
		c.log.Error("cache profile", "err", err)
	}
}
