package xmpp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"
)

// fakeServer is a minimal XMPP server built from mellium's server side, for
// what a real Prosody cannot be made to do: offer a -PLUS mechanism whose
// channel binding always fails.
type fakeServer struct {
	addr        string
	fingerprint string
	mu          sync.Mutex
	attempts    []string // SASL mechanisms the client chose, in order
	current     net.Conn // the connection being served (one client at a time)
}

func (f *fakeServer) record(name string) {
	f.mu.Lock()
	f.attempts = append(f.attempts, name)
	f.mu.Unlock()
}

func (f *fakeServer) tried() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.attempts...)
}

func startFakeServer(t *testing.T, password string) *fakeServer {
	return startFakeServerHook(t, password, nil)
}

// startFakeServerHook is startFakeServer where onPlain, when set, runs on
// the client's PLAIN exchange with the raw socket (e.g. to drop it).
func startFakeServerHook(t testing.TB, password string, onPlain func(net.Conn)) *fakeServer {
	return startFakeServerWith(t, password, onPlain, nil)
}

// startFakeServerWith is startFakeServerHook where onSession, when set, gets
// each negotiated session (in its own goroutine) to send stanzas on.
func startFakeServerWith(t testing.TB, password string, onPlain func(net.Conn), onSession func(*mxmpp.Session)) *fakeServer {
	t.Helper()
	return startFakeServerMux(t, password, onPlain, onSession)
}

// startFakeServerMux is startFakeServerWith where handlers (e.g.
// mux.IQFunc) answer what the client asks, besides pings.
func startFakeServerMux(t testing.TB, password string, onPlain func(net.Conn), onSession func(*mxmpp.Session), handlers ...mux.Option) *fakeServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake.test"},
		DNSNames: []string{"fake.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &fakeServer{addr: ln.Addr().String(), fingerprint: Fingerprint(cert)}

	// The -PLUS mechanism refuses every exchange, as a server does whose
	// channel binding type does not match the client's.
	brokenPlus := sasl.Mechanism{
		Name: "SCRAM-SHA-256-PLUS",
		Next: func(*sasl.Negotiator, []byte, interface{}) (bool, []byte, interface{}, error) {
			f.record("SCRAM-SHA-256-PLUS")
			return false, nil, nil, sasl.ErrAuthn
		},
	}
	brokenPlus.Start = func(n *sasl.Negotiator) (bool, []byte, interface{}, error) {
		return brokenPlus.Next(n, nil, nil)
	}
	plain := sasl.Plain
	plainNext := plain.Next
	plain.Next = func(n *sasl.Negotiator, challenge []byte, data interface{}) (bool, []byte, interface{}, error) {
		f.record("PLAIN")
		if onPlain != nil {
			f.mu.Lock()
			c := f.current
			f.mu.Unlock()
			onPlain(c)
		}
		return plainNext(n, challenge, data)
	}
	allow := func(n *sasl.Negotiator) bool {
		_, pw, _ := n.Credentials()
		return string(pw) == password
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				f.mu.Lock()
				f.current = conn
				f.mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				sess, err := mxmpp.ReceiveSession(ctx, conn, 0, mxmpp.NewNegotiator(func(*mxmpp.Session, *mxmpp.StreamConfig) mxmpp.StreamConfig {
					return mxmpp.StreamConfig{Features: []mxmpp.StreamFeature{
						mxmpp.StartTLS(serverTLS),
						mxmpp.SASLServer(allow, brokenPlus, plain),
						mxmpp.BindResource(),
					}}
				}))
				if err != nil {
					return
				}
				if onSession != nil {
					go onSession(sess)
				}
				_ = sess.Serve(mux.New(stanza.NSClient, append([]mux.Option{ping.Handle()}, handlers...)...))
			}()
		}
	}()
	return f
}

func TestChannelBindingFallback(t *testing.T) {
	t.Parallel()
	srv := startFakeServer(t, "secret")
	for i, tc := range []struct {
		password string
		want     error
		tried    []string
	}{
		0: {"secret", nil, []string{"SCRAM-SHA-256-PLUS", "PLAIN"}},
		1: {"wrong", ErrAuth, []string{"SCRAM-SHA-256-PLUS", "PLAIN"}},
	} {
		t.Run(string(rune('0'+i)), func(t *testing.T) {
			before := len(srv.tried())
			c, err := New("alice@fake.test", WithServer(srv.addr), WithTrustedFingerprints(srv.fingerprint),
				WithPassword(func(context.Context) (string, error) { return tc.password, nil }), WithoutPresence())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Connect(ctxT(t))
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("Connect = %v, want %v", err, tc.want)
			}
			got := srv.tried()[before:]
			if len(got) != len(tc.tried) || got[0] != tc.tried[0] || got[1] != tc.tried[1] {
				t.Fatalf("mechanisms tried: %v, want %v (-PLUS once, then without)", got, tc.tried)
			}
			if err == nil && c.Mechanism() != "PLAIN" {
				t.Fatalf("signed in with %q", c.Mechanism())
			}
		})
	}
}

// TestSignInChannelBinding signs in to Prosody limited to TLS 1.2, where it
// offers SCRAM-SHA-1-PLUS with tls-unique: the client must prefer it.
func TestSignInChannelBinding(t *testing.T) {
	t.Parallel()
	srv := startProsodyWith(t, `c2s_ssl = { protocol = "tlsv1_2" }`)
	c, _ := online(t, srv, "alice")
	if got := c.Mechanism(); got != "SCRAM-SHA-1-PLUS" {
		t.Fatalf("mechanism = %q, want SCRAM-SHA-1-PLUS", got)
	}
}

// TestDroppedDuringSignIn: a connection lost in the middle of SASL is
// "unreachable" (retrying helps), never "wrong password".
func TestDroppedDuringSignIn(t *testing.T) {
	t.Parallel()
	srv := startFakeServerHook(t, "secret", func(c net.Conn) { c.Close() })
	c, err := New("alice@fake.test", WithServer(srv.addr), WithTrustedFingerprints(srv.fingerprint),
		WithPassword(func(context.Context) (string, error) { return "secret", nil }), WithoutPresence())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Connect(ctxT(t))
	if errors.Is(err, ErrAuth) || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Connect = %v, want ErrUnreachable and not ErrAuth", err)
	}
}

// TestSilentServerDeadline: a server that accepts and never speaks must not
// hold Connect past its context.
func TestSilentServerDeadline(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // held open, silent, until the test ends
		}
	}()
	c, err := New("alice@fake.test", WithServer(ln.Addr().String()),
		WithPassword(func(context.Context) (string, error) { return "x", nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = c.Connect(ctx)
	if took := time.Since(start); err == nil || took > 3*time.Second {
		t.Fatalf("Connect = %v after %v; want an error soon after the 0.5 s deadline", err, took)
	}
	if errors.Is(err, ErrAuth) {
		t.Fatalf("a silent server reported as wrong password: %v", err)
	}
}

// TestCloseDuringConnect: Close while signing in stops the sign-in and
// leaves the client offline.
func TestCloseDuringConnect(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	account := srv.AddUser(t, "alice", "alice-pw")
	var c *Client
	closed := make(chan struct{})
	c, err := New(account, WithServer(srv.C2SAddr), WithTrustedFingerprints(srv.Fingerprint),
		WithPassword(func(context.Context) (string, error) {
			go func() { c.Close(); close(closed) }()
			<-closed // the user quit while the password was being fetched
			return "alice-pw", nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctxT(t)); err == nil {
		t.Fatal("Connect succeeded after Close")
	}
	if c.State() != Offline {
		t.Fatalf("state = %v after Close during Connect", c.State())
	}
	if _, err := c.SendMessage(ctxT(t), c.Account(), "x"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("SendMessage = %v, want ErrNotConnected", err)
	}
}

// TestWrongPasswordKeepsChannelBinding: a mistyped password on a server with
// channel binding must not switch -PLUS off for the next attempt.
func TestWrongPasswordKeepsChannelBinding(t *testing.T) {
	t.Parallel()
	srv := startProsodyWith(t, `c2s_ssl = { protocol = "tlsv1_2" }`)
	account := srv.AddUser(t, "alice", "alice-pw")
	password := "typo"
	c, err := New(account, WithServer(srv.C2SAddr), WithTrustedFingerprints(srv.Fingerprint),
		WithPassword(func(context.Context) (string, error) { return password, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Connect(ctxT(t)); !errors.Is(err, ErrAuth) {
		t.Fatalf("Connect with a typo = %v, want ErrAuth", err)
	}
	password = "alice-pw"
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := c.Mechanism(); got != "SCRAM-SHA-1-PLUS" {
		t.Fatalf("after a typo the client signed in with %q, want SCRAM-SHA-1-PLUS", got)
	}
}
