package xmpp

import (
	"crypto/sha1"
	"testing"

	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/info"
)

// TestCapsHashExample checks the hash helper against the worked example of
// XEP-0115 §5.2, so the ver we advertise is what peers will compute.
func TestCapsHashExample(t *testing.T) {
	in := disco.Info{
		Identity: []info.Identity{{Category: "client", Type: "pc", Name: "Exodus 0.9.1"}},
		Features: []info.Feature{
			{Var: "http://jabber.org/protocol/caps"},
			{Var: "http://jabber.org/protocol/disco#info"},
			{Var: "http://jabber.org/protocol/disco#items"},
			{Var: "http://jabber.org/protocol/muc"},
		},
	}
	if got, want := in.Hash(sha1.New()), "QgayPKawpkPSDYmwT/WM94uAlu0="; got != want {
		t.Fatalf("ver = %q, want %q", got, want)
	}
	if capsVer == "" || len(capsVer) != 28 {
		t.Fatalf("capsVer = %q, want a base64 SHA-1", capsVer)
	}
}
