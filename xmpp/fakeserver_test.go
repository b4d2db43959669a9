package xmpp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
// what a real Prosody cannot be made to do: a hostile or broken server
// (a -PLUS mechanism whose channel binding always fails, a downgraded
// mechanism list, an absurd SCRAM iteration count, raw malformed stanzas).
type fakeServer struct {
	addr        string
	fingerprint string
	mu          sync.Mutex
	attempts    []string // SASL mechanisms the client chose, in order
	current     net.Conn // the connection being served (one client at a time)
	accepted    int      // connections accepted
	mechs       []string // what the next connection offers (fakeOptions.mechanisms)
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

// connections returns how many connections the server has accepted.
func (f *fakeServer) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted
}

// offer changes the mechanisms offered from the next connection on.
func (f *fakeServer) offer(mechs ...string) {
	f.mu.Lock()
	f.mechs = mechs
	f.mu.Unlock()
}

// fakeOptions configure startFake. The zero value (with a password) is a
// server offering PLAIN.
type fakeOptions struct {
	password string
	// mechanisms are the SASL mechanisms offered, in order: PLAIN,
	// SCRAM-SHA-1, SCRAM-SHA-256 (working, with iterations), and
	// SCRAM-SHA-1-PLUS, SCRAM-SHA-256-PLUS (always failing with
	// plusFailure). Default: PLAIN.
	mechanisms []string
	// plusFailure is the SASL condition the -PLUS mechanisms fail with
	// (default not-authorized), plusText its text.
	plusFailure, plusText string
	// iterations is the SCRAM iteration count the server asks for
	// (default 4096).
	iterations int
	// onPlain, when set, runs on the client's PLAIN exchange with the raw
	// socket (e.g. to drop it).
	onPlain func(net.Conn)
	// onSession, when set, gets each negotiated session (in its own
	// goroutine) to send stanzas on.
	onSession func(*mxmpp.Session)
	// handlers (e.g. mux.IQFunc) answer what the client asks, besides
	// pings.
	handlers []mux.Option
	// certificate is what the server presents; nil means a self-signed
	// one for fake.test.
	certificate *tls.Certificate
}

// startFakeServerHook is startFakeServer where onPlain, when set, runs on
// the client's PLAIN exchange with the raw socket (e.g. to drop it).
func startFakeServerHook(t testing.TB, password string, onPlain func(net.Conn)) *fakeServer {
	return startFake(t, fakeOptions{password: password, onPlain: onPlain})
}

// startFakeServerWith is startFakeServerHook where onSession, when set, gets
// each negotiated session (in its own goroutine) to send stanzas on.
func startFakeServerWith(t testing.TB, password string, onPlain func(net.Conn), onSession func(*mxmpp.Session)) *fakeServer {
	t.Helper()
	return startFake(t, fakeOptions{password: password, onPlain: onPlain, onSession: onSession})
}

// startFakeServerMux is startFakeServerWith where handlers (e.g.
// mux.IQFunc) answer what the client asks, besides pings.
func startFakeServerMux(t testing.TB, password string, onPlain func(net.Conn), onSession func(*mxmpp.Session), handlers ...mux.Option) *fakeServer {
	t.Helper()
	return startFake(t, fakeOptions{password: password, onPlain: onPlain, onSession: onSession, handlers: handlers})
}

func startFake(t testing.TB, o fakeOptions) *fakeServer {
	t.Helper()
	if len(o.mechanisms) == 0 {
		o.mechanisms = []string{"PLAIN"}
	}
	if o.plusFailure == "" {
		o.plusFailure = "not-authorized"
	}
	if o.iterations == 0 {
		o.iterations = 4096
	}
	if o.certificate == nil {
		o.certificate = testCertificate(t, nil, "fake.test")
	}
	cert, err := x509.ParseCertificate(o.certificate.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{*o.certificate}}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &fakeServer{addr: ln.Addr().String(), fingerprint: Fingerprint(cert), mechs: o.mechanisms}

	plain := sasl.Plain
	plainNext := plain.Next
	plain.Next = func(n *sasl.Negotiator, challenge []byte, data interface{}) (bool, []byte, interface{}, error) {
		f.record("PLAIN")
		if o.onPlain != nil {
			f.mu.Lock()
			c := f.current
			f.mu.Unlock()
			o.onPlain(c)
		}
		return plainNext(n, challenge, data)
	}
	allow := func(n *sasl.Negotiator) bool {
		_, pw, _ := n.Credentials()
		return string(pw) == o.password
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
				f.accepted++
				offered := f.mechs
				f.mu.Unlock()
				// The TLS connection, for the -PLUS mechanisms to write
				// their failure on.
				var secured io.Writer
				startTLS := mxmpp.StartTLS(serverTLS)
				negotiateTLS := startTLS.Negotiate
				startTLS.Negotiate = func(ctx context.Context, s *mxmpp.Session, data interface{}) (mxmpp.SessionState, io.ReadWriter, error) {
					mask, rw, err := negotiateTLS(ctx, s, data)
					secured = rw
					return mask, rw, err
				}
				var mechs []sasl.Mechanism
				for _, name := range offered {
					switch {
					case name == "PLAIN":
						mechs = append(mechs, plain)
					case strings.HasSuffix(name, "-PLUS"):
						mechs = append(mechs, brokenPlus(f, name, o.plusFailure, o.plusText, func() io.Writer { return secured }))
					default:
						mechs = append(mechs, fakeScram(f, name, o.password, o.iterations))
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				sess, err := mxmpp.ReceiveSession(ctx, conn, 0, mxmpp.NewNegotiator(func(*mxmpp.Session, *mxmpp.StreamConfig) mxmpp.StreamConfig {
					return mxmpp.StreamConfig{Features: []mxmpp.StreamFeature{
						startTLS,
						mxmpp.SASLServer(allow, mechs...),
						mxmpp.BindResource(),
					}}
				}))
				if err != nil {
					return
				}
				if o.onSession != nil {
					go o.onSession(sess)
				}
				_ = sess.Serve(mux.New(stanza.NSClient, append([]mux.Option{ping.Handle()}, o.handlers...)...))
			}()
		}
	}()
	return f
}

// testCertificate makes a certificate for host, signed by ca (a CA made
// with testCA), or self-signed when ca is nil.
func testCertificate(t testing.TB, ca *tls.Certificate, host string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	parent, signer := tmpl, any(key)
	if ca != nil {
		parent, _ = x509.ParseCertificate(ca.Certificate[0])
		signer = ca.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// testCA makes a certificate authority and writes its certificate to a PEM
// file, for WithCAFile.
func testCA(t testing.TB, name string) (*tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// brokenPlus is a -PLUS mechanism that refuses every exchange, as a server
// does whose channel binding type does not match the client's. With the
// condition not-authorized it lets mellium send the failure; any other is
// written on the TLS connection by hand (mellium's server side knows only
// not-authorized), and the stream then ends.
func brokenPlus(f *fakeServer, name, condition, text string, secured func() io.Writer) sasl.Mechanism {
	m := sasl.Mechanism{Name: name}
	m.Next = func(*sasl.Negotiator, []byte, interface{}) (bool, []byte, interface{}, error) {
		f.record(name)
		if condition == "not-authorized" && text == "" {
			return false, nil, nil, sasl.ErrAuthn
		}
		failure := "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><" + condition + "/>"
		if text != "" {
			failure += "<text>" + text + "</text>"
		}
		failure += "</failure>"
		if w := secured(); w != nil {
			_, _ = io.WriteString(w, failure)
		}
		return false, nil, nil, errors.New("fake server: " + condition)
	}
	m.Start = func(n *sasl.Negotiator) (bool, []byte, interface{}, error) { return m.Next(n, nil, nil) }
	return m
}

// fakeScram is the server side of SCRAM-SHA-1 or SCRAM-SHA-256 (RFC 5802),
// which mellium's server cannot run without a store of salted passwords. It
// asks for iterations, and accepts password.
func fakeScram(f *fakeServer, name, password string, iterations int) sasl.Mechanism {
	hash := sha256.New
	if name == "SCRAM-SHA-1" {
		hash = sha1.New
	}
	type first struct{ bare, serverFirst, nonce string }
	m := sasl.Mechanism{Name: name}
	m.Next = func(n *sasl.Negotiator, msg []byte, data interface{}) (bool, []byte, interface{}, error) {
		if n.State()&sasl.StepMask == sasl.AuthTextSent {
			f.record(name)
			// client-first-message: gs2 header, then n=user,r=nonce.
			parts := strings.SplitN(string(msg), ",", 3)
			if len(parts) != 3 || parts[0] != "n" {
				return false, nil, nil, sasl.ErrAuthn
			}
			bare := parts[2]
			var clientNonce string
			for _, kv := range strings.Split(bare, ",") {
				if strings.HasPrefix(kv, "r=") {
					clientNonce = kv[2:]
				}
			}
			nonce := clientNonce + "fakeservernonce"
			serverFirst := "r=" + nonce + ",s=" + base64.StdEncoding.EncodeToString([]byte("fake salt")) + ",i=" + strconv.Itoa(iterations)
			return true, []byte(serverFirst), first{bare, serverFirst, nonce}, nil
		}
		st, ok := data.(first)
		if !ok {
			return false, nil, nil, sasl.ErrAuthn
		}
		final := string(msg)
		i := strings.LastIndex(final, ",p=")
		if i < 0 {
			return false, nil, nil, sasl.ErrAuthn
		}
		withoutProof, proof := final[:i], final[i+3:]
		salted, err := pbkdf2.Key(hash, password, []byte("fake salt"), iterations, hash().Size())
		if err != nil {
			return false, nil, nil, err
		}
		mac := func(key []byte, s string) []byte {
			h := hmac.New(hash, key)
			h.Write([]byte(s))
			return h.Sum(nil)
		}
		authMessage := st.bare + "," + st.serverFirst + "," + withoutProof
		clientKey := mac(salted, "Client Key")
		stored := hash()
		stored.Write(clientKey)
		signature := mac(stored.Sum(nil), authMessage)
		want := make([]byte, len(clientKey))
		for j := range want {
			want[j] = clientKey[j] ^ signature[j]
		}
		if base64.StdEncoding.EncodeToString(want) != proof {
			return false, nil, nil, sasl.ErrAuthn
		}
		serverSignature := mac(mac(salted, "Server Key"), authMessage)
		return false, []byte("v=" + base64.StdEncoding.EncodeToString(serverSignature)), nil, nil
	}
	m.Start = func(*sasl.Negotiator) (bool, []byte, interface{}, error) {
		return false, nil, nil, errors.New("fake server: SCRAM is server side only")
	}
	return m
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

// TestPinIsExclusive plays an interception proxy (or a mis-issued
// certificate): the server presents a certificate that a CA the client
// trusts vouches for, but the account pins another fingerprint. The
// sign-in is refused with the presented certificate's fingerprint, before
// any password is sent; without the pin the same server is trusted.
func TestPinIsExclusive(t *testing.T) {
	t.Parallel()
	ca, caFile := testCA(t, "Interception Proxy CA")
	leaf := testCertificate(t, ca, "fake.test")
	srv := startFake(t, fakeOptions{password: "secret", certificate: leaf})
	pinned := strings.Repeat("ab", 32) // the certificate the account knows
	connect := func(opts ...Option) error {
		c, err := New("alice@fake.test", append([]Option{WithServer(srv.addr), WithCAFile(caFile), WithoutPresence(),
			WithPassword(func(context.Context) (string, error) { return "secret", nil })}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.Connect(ctxT(t))
	}
	if err := connect(); err != nil {
		t.Fatalf("without a pin the CA-signed certificate is refused: %v", err)
	}
	before := len(srv.tried())
	err := connect(WithTrustedFingerprints(pinned))
	var ce *CertificateError
	if !errors.As(err, &ce) {
		t.Fatalf("with another pin: Connect = %v, want a CertificateError", err)
	}
	if ce.Fingerprint != srv.fingerprint || !errors.Is(ce.Reason, ErrNotPinned) || !strings.Contains(ce.Error(), "Interception Proxy CA") {
		t.Fatalf("certificate error %v (fingerprint %s), want the presented %s, not pinned, naming the CA", ce, ce.Fingerprint, srv.fingerprint)
	}
	if got := srv.tried()[before:]; len(got) != 0 {
		t.Fatalf("the client went on to sign in (%v) with a certificate it refused", got)
	}
	if err := connect(WithTrustedFingerprints(pinned, srv.fingerprint)); err != nil {
		t.Fatalf("the pinned certificate among others is refused: %v", err)
	}
}
