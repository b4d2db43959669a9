package xmpp

import (
	"encoding/xml"
	"strconv"
	"testing"
	"time"
)

// TestIdlePresenceSeenByPeer: an idle presence reaches a contact with the
// XEP-0319 time, and a later plain presence clears it.
func TestIdlePresenceSeenByPeer(t *testing.T) {
	t.Parallel()
	_, aliceEv, bob, _ := aliceSeesBob(t)
	ctx := ctxT(t)

	since := time.Now().Add(-12 * time.Minute).Truncate(time.Second)
	mark := aliceEv.mark()
	if err := bob.SetIdlePresence(ctx, ShowAway, "at lunch", since); err != nil {
		t.Fatal(err)
	}
	got := waitFrom(t, aliceEv, mark, 5*time.Second, func(e PresenceChanged) bool {
		return e.From.Bare().Equal(bob.Account()) && e.Show == ShowAway
	})
	if !got.IdleSince.Equal(since) || got.Status != "at lunch" {
		t.Fatalf("alice sees %+v, want away since %v", got.Presence, since)
	}
	if show, status, idle, hidden := bob.OwnPresence(); show != ShowAway || status != "at lunch" || !idle.Equal(since) || hidden {
		t.Fatalf("OwnPresence = %v %q %v %v", show, status, idle, hidden)
	}

	mark = aliceEv.mark()
	if err := bob.SetPresence(ctx, ShowAvailable, "at lunch"); err != nil {
		t.Fatal(err)
	}
	got = waitFrom(t, aliceEv, mark, 5*time.Second, func(e PresenceChanged) bool {
		return e.From.Bare().Equal(bob.Account()) && e.Show == ShowAvailable
	})
	if !got.IdleSince.IsZero() {
		t.Fatalf("back from idle, alice still sees idle since %v", got.IdleSince)
	}
}

func TestIdleSinceParsed(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, tc := range []struct {
		xml  string
		want time.Time
	}{
		0: {`<presence/>`, time.Time{}},
		1: {`<presence><idle xmlns='urn:xmpp:idle:1' since='2025-03-01T09:48:00Z'/></presence>`, now.Add(-12 * time.Minute)},
		2: {`<presence><idle xmlns='urn:xmpp:idle:1' since='2025-03-01T17:48:00.250+08:00'/></presence>`, now.Add(-12*time.Minute + 250*time.Millisecond)},
		3: {`<presence><idle xmlns='urn:xmpp:idle:1' since='yesterday'/></presence>`, time.Time{}},
		4: {`<presence><idle xmlns='urn:xmpp:idle:1' since='2025-03-01T11:00:00Z'/></presence>`, now}, // a clock ahead
		5: {`<presence><query xmlns='jabber:iq:last' seconds='600'/></presence>`, now.Add(-10 * time.Minute)},
		6: {`<presence><query xmlns='jabber:iq:last' seconds='0'/></presence>`, time.Time{}},
		7: {`<presence><idle xmlns='urn:other' since='2025-03-01T09:48:00Z'/></presence>`, time.Time{}},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			var p wirePresence
			if err := xml.Unmarshal([]byte(tc.xml), &p); err != nil {
				t.Fatal(err)
			}
			if got := p.idleSince(now); !got.Equal(tc.want) {
				t.Fatalf("idleSince = %v, want %v", got, tc.want)
			}
		})
	}
}
