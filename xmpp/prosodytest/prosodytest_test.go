package prosodytest

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServer(t *testing.T) {
	t0 := time.Now()
	s := Start(t, Options{})
	t.Logf("Start took %v", time.Since(t0))
	if s.Domain != "magpie.test" {
		t.Errorf("Domain = %q", s.Domain)
	}

	t0 = time.Now()
	jid := s.AddUser(t, "Alice", "s3cret pass")
	t.Logf("AddUser took %v", time.Since(t0))
	if jid != "alice@magpie.test" {
		t.Errorf("AddUser returned %q", jid)
	}

	features := streamFeatures(t, dial(t, s.C2SAddr), s.Domain)
	if !strings.Contains(features, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'") {
		t.Errorf("C2S does not offer STARTTLS: %s", features)
	}
	if strings.Contains(features, "<mechanisms") {
		t.Errorf("C2S offers SASL before TLS: %s", features)
	}

	checkDirectTLS(t, s)
	if err := login(t, s, "alice", "s3cret pass"); err != nil {
		t.Fatalf("login: %v\n%s", err, tail(s.Log(), 40))
	}
	if err := login(t, s, "alice", "wrong"); err == nil {
		t.Error("login with a wrong password succeeded")
	}

	c2s, direct := s.C2SAddr, s.DirectTLSAddr
	t0 = time.Now()
	s.Restart(t)
	t.Logf("Restart took %v", time.Since(t0))
	if s.C2SAddr != c2s || s.DirectTLSAddr != direct {
		t.Errorf("Restart changed ports: %s %s -> %s %s", c2s, direct, s.C2SAddr, s.DirectTLSAddr)
	}
	checkDirectTLS(t, s)
	s.AddUser(t, "bob", "hunter2")
	for user, pass := range map[string]string{"alice": "s3cret pass", "bob": "hunter2"} {
		if err := login(t, s, user, pass); err != nil {
			t.Errorf("login %s after restart: %v", user, err)
		}
	}

	t0 = time.Now()
	s.Stop(t)
	t.Logf("Stop took %v", time.Since(t0))
	if c, err := net.DialTimeout("tcp", s.C2SAddr, time.Second); err == nil {
		c.Close()
		t.Error("C2S port still accepts connections after Stop")
	}
	if !strings.Contains(s.Log(), "Activated service 'c2s_direct_tls'") {
		t.Errorf("log lacks startup messages:\n%s", tail(s.Log(), 20))
	}
	if testing.Verbose() {
		for _, l := range strings.Split(s.Log(), "\n") {
			if strings.Contains(l, "\twarn\t") || strings.Contains(l, "\terror\t") {
				t.Log(l)
			}
		}
	}
}

func TestParallelServers(t *testing.T) {
	for i := range 3 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{Domain: fmt.Sprintf("p%d.example", i), Modules: []string{"bookmarks"}})
			s.AddUser(t, "u", "p")
			checkDirectTLS(t, s)
			if err := login(t, s, "u", "p"); err != nil {
				t.Errorf("login: %v", err)
			}
		})
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

func dialTLS(t *testing.T, s *Server) *tls.Conn {
	t.Helper()
	c := tls.Client(dial(t, s.DirectTLSAddr), &tls.Config{ServerName: s.Domain, InsecureSkipVerify: true})
	if err := c.Handshake(); err != nil {
		t.Fatalf("direct TLS handshake: %v", err)
	}
	return c
}

func checkDirectTLS(t *testing.T, s *Server) {
	t.Helper()
	c := dialTLS(t, s)
	leaf := c.ConnectionState().PeerCertificates[0]
	if fp := sha256.Sum256(leaf.Raw); hex.EncodeToString(fp[:]) != s.Fingerprint {
		t.Errorf("direct TLS fingerprint %x, want %s", fp, s.Fingerprint)
	}
	if !bytes.Contains(s.CertPEM, []byte("BEGIN CERTIFICATE")) || leaf.VerifyHostname(s.Domain) != nil {
		t.Errorf("certificate does not match domain %s", s.Domain)
	}
}

// readUntil reads from c until the received data contains one of the markers.
func readUntil(t *testing.T, c io.Reader, markers ...string) string {
	t.Helper()
	var buf []byte
	b := make([]byte, 4096)
	for {
		for _, m := range markers {
			if bytes.Contains(buf, []byte(m)) {
				return string(buf)
			}
		}
		n, err := c.Read(b)
		buf = append(buf, b[:n]...)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, buf)
		}
	}
}

func streamFeatures(t *testing.T, c io.ReadWriter, domain string) string {
	t.Helper()
	fmt.Fprintf(c, "<?xml version='1.0'?><stream:stream to='%s' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", domain)
	return readUntil(t, c, "</stream:features>")
}

var challengeRE = regexp.MustCompile(`<(challenge|success|failure)[^>]*>([^<]*)`)

// login performs a SCRAM-SHA-1 authentication over direct TLS and returns nil
// if the server accepted the credentials and proved knowledge of them.
func login(t *testing.T, s *Server, user, password string) error {
	t.Helper()
	c := dialTLS(t, s)
	if f := streamFeatures(t, c, s.Domain); !strings.Contains(f, "<mechanism>SCRAM-SHA-1</mechanism>") {
		return fmt.Errorf("SCRAM-SHA-1 not offered: %s", f)
	}
	step := func(elem, payload string) (string, error) {
		fmt.Fprintf(c, "<%s xmlns='urn:ietf:params:xml:ns:xmpp-sasl'%s>%s</%[1]s>", elem,
			map[bool]string{true: " mechanism='SCRAM-SHA-1'"}[elem == "auth"], base64.StdEncoding.EncodeToString([]byte(payload)))
		m := challengeRE.FindStringSubmatch(readUntil(t, c, "</challenge>", "</success>", "</failure>", "<success", "<failure"))
		if m == nil || m[1] == "failure" {
			return "", fmt.Errorf("authentication failed: %v", m)
		}
		data, err := base64.StdEncoding.DecodeString(m[2])
		return string(data), err
	}
	nonce := rand.Text()
	clientFirstBare := "n=" + user + ",r=" + nonce
	serverFirst, err := step("auth", "n,,"+clientFirstBare)
	if err != nil {
		return err
	}
	attrs := map[string]string{}
	for _, kv := range strings.Split(serverFirst, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			attrs[k] = v
		}
	}
	salt, _ := base64.StdEncoding.DecodeString(attrs["s"])
	iters, _ := strconv.Atoi(attrs["i"])
	salted, _ := pbkdf2.Key(sha1.New, password, salt, iters, sha1.Size)
	clientFinalBare := "c=biws,r=" + attrs["r"]
	authMsg := clientFirstBare + "," + serverFirst + "," + clientFinalBare
	clientKey := hmacSHA1(salted, "Client Key")
	storedKey := sha1.Sum(clientKey)
	proof := hmacSHA1(storedKey[:], authMsg)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	serverFinal, err := step("response", clientFinalBare+",p="+base64.StdEncoding.EncodeToString(proof))
	if err != nil {
		return err
	}
	if want := "v=" + base64.StdEncoding.EncodeToString(hmacSHA1(hmacSHA1(salted, "Server Key"), authMsg)); serverFinal != want {
		return fmt.Errorf("bad server signature %q, want %q", serverFinal, want)
	}
	return nil
}
