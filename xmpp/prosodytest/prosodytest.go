// Package prosodytest starts a private Prosody server on loopback for integration tests.
package prosodytest

import (
	"bytes"
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
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// defaultModules are enabled on every server in addition to Options.Modules.
// presence, message, iq, c2s and posix are loaded automatically by Prosody 0.12.
var defaultModules = []string{
	"roster", "saslauth", "tls", "disco", "carbons", "mam", "ping", "version",
	"private", "vcard_legacy", "pep", "blocklist", "time", "uptime", "smacks", "offline",
}

// errPortInUse means Prosody could not bind one of its ports.
var errPortInUse = errors.New("port in use")

// iterationCount is the SCRAM iteration count used for accounts created by AddUser.
// 4096 is the RFC 5802 minimum; Prosody warns below it.
const iterationCount = 4096

// Server is a running (or stopped) private Prosody instance.
type Server struct {
	Domain        string // XMPP domain, e.g. "magpie.test".
	C2SAddr       string // "127.0.0.1:PORT" for STARTTLS client connections.
	DirectTLSAddr string // "127.0.0.1:PORT" for direct TLS (XEP-0368) client connections.
	CertPEM       []byte // The self-signed certificate (PEM) the server presents.
	CertFile      string // Path of that PEM file.
	Fingerprint   string // Lowercase hex SHA-256 of the certificate DER, no colons.
	Dir           string // The temporary directory with config, data and logs.

	opts     Options
	logFile  string
	logStart int64 // log offset where the current run's output begins
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd has exited
}

// Options configures Start. The zero value is valid.
type Options struct {
	Domain      string   // XMPP domain; defaults to "magpie.test".
	Modules     []string // Extra modules to enable besides the defaults.
	ExtraConfig string   // Extra Lua appended to the global section.
	// LogLevel is the lowest level Prosody logs: "debug" when empty.
	// Benchmarks with thousands of contacts use "info": at debug level
	// Prosody spends much of its time writing the log.
	LogLevel string
	// Components are services on domains of their own (e.g. a user
	// directory on search.DOMAIN), listed in the domain's disco#items.
	Components []Component
	// Hosts are further user domains served alongside Domain (each a
	// VirtualHost with the same modules and certificate), for accounts
	// of "another server" without server-to-server links: see RegisterOn.
	Hosts []string
}

// Component is an internal Prosody component: `Component DOMAIN MODULE`
// followed by Config, the Lua lines of its section.
type Component struct {
	Domain string // e.g. "search.magpie.test"
	Module string // e.g. "vjud"
	Config string // e.g. `vjud_mode = "all"`
}

// Start starts Prosody and waits until it accepts clients. It registers a
// t.Cleanup that stops the server and removes its directory. If prosody is not
// installed the test is skipped, unless the CI environment variable is "true",
// in which case it fails.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := exec.LookPath("prosody"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("prosodytest: prosody is not installed: %v", err)
		}
		t.Skipf("prosodytest: prosody is not installed (%v); skipping integration test", err)
	}
	s, err := Launch(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Launch is Start for programs (the demo): it returns an error instead of
// failing a test, and the caller must Close the server.
func Launch(opts Options) (*Server, error) {
	if opts.Domain == "" {
		opts.Domain = "magpie.test"
	}
	s := &Server{Domain: opts.Domain, opts: opts}
	dir, err := os.MkdirTemp("", "prosodytest-")
	if err != nil {
		return nil, err
	}
	s.Dir = dir
	s.logFile = filepath.Join(dir, "prosody.log")
	setUp := func() error {
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
		for _, d := range []string{"certs", "data"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				return err
			}
		}
		return s.writeCert()
	}
	if err := setUp(); err != nil {
		s.Close()
		return nil, fmt.Errorf("prosodytest: %w", err)
	}
	// Ports are picked by binding and closing, so another process may grab one
	// before Prosody binds it; retry with fresh ports in that case.
	for attempt := 1; ; attempt++ {
		if s.C2SAddr, err = freeAddr(); err == nil {
			s.DirectTLSAddr, err = freeAddr()
		}
		if err == nil {
			err = s.writeConfig()
		}
		if err == nil {
			err = s.launch()
		}
		if err == nil {
			return s, nil
		}
		s.stop()
		if attempt == 3 || !errors.Is(err, errPortInUse) {
			log := tail(s.Log(), 60)
			s.Close()
			return nil, fmt.Errorf("prosodytest: %v\n--- prosody log tail ---\n%s", err, log)
		}
	}
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	s.stop()
	os.RemoveAll(s.Dir)
}

// AddUser creates the account user@Domain with the given password and returns
// its bare JID (see Register).
func (s *Server) AddUser(t testing.TB, user, password string) string {
	t.Helper()
	account, err := s.Register(user, password)
	must(t, err)
	return account
}

// Register creates (or replaces) the account user@Domain and returns its
// bare JID. It writes the internal_hashed account file directly (SCRAM-SHA-1
// keys), so it is fast and works while the server is running. The user name
// is lowercased; user and password should be plain ASCII.
func (s *Server) Register(user, password string) (string, error) {
	return s.RegisterOn(s.Domain, user, password)
}

// RegisterOn is Register on host: Domain or one of Options.Hosts.
func (s *Server) RegisterOn(host, user, password string) (string, error) {
	user = strings.ToLower(user)
	salt := make([]byte, 16)
	rand.Read(salt)
	saltStr := hex.EncodeToString(salt)
	salted, err := pbkdf2.Key(sha1.New, password, []byte(saltStr), iterationCount, sha1.Size)
	if err != nil {
		return "", err
	}
	clientKey := hmacSHA1(salted, "Client Key")
	storedKey := sha1.Sum(clientKey)
	account := fmt.Sprintf("return {\n\t[\"iteration_count\"] = %d;\n\t[\"salt\"] = %q;\n"+
		"\t[\"stored_key\"] = %q;\n\t[\"server_key\"] = %q;\n};\n",
		iterationCount, saltStr, hex.EncodeToString(storedKey[:]), hex.EncodeToString(hmacSHA1(salted, "Server Key")))

	if err := s.writeHostData(host, "accounts", user, account); err != nil {
		return "", err
	}
	return user + "@" + host, nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s) and keeps its data.
// Stopping a stopped server does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.stop() {
		t.Logf("prosodytest: prosody did not exit 5 s after SIGTERM; killed it")
	}
}

// stop is Stop; it reports whether Prosody had to be killed.
func (s *Server) stop() (killed bool) {
	s.mu.Lock()
	cmd, done, logStart := s.cmd, s.done, s.logStart
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return false
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	// After logging "Shutdown complete" Prosody has flushed everything but
	// idles up to a second in its event loop before exiting; skip that wait.
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case <-done:
			return false
		case <-time.After(20 * time.Millisecond):
		}
		complete := strings.Contains(s.logSince(logStart), "Shutdown complete")
		if complete || time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			return !complete
		}
	}
}

// Restart stops the server and starts it again on the same ports with the same
// data, and waits until it is ready.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	if err := s.launch(); err != nil {
		s.Stop(t)
		t.Fatalf("prosodytest: restart: %v\n--- prosody log tail ---\n%s", err, tail(s.Log(), 60))
	}
}

// Relaunch starts a stopped server again on the same ports with the same
// data, and waits until it is ready.
func (s *Server) Relaunch(t testing.TB) {
	t.Helper()
	if err := s.launch(); err != nil {
		s.Stop(t)
		t.Fatalf("prosodytest: relaunch: %v\n--- prosody log tail ---\n%s", err, tail(s.Log(), 60))
	}
}

// Log returns the contents of the Prosody log file, including anything Prosody
// printed to stdout or stderr.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logFile)
	return string(b)
}

// logSince returns the log written after byte offset start.
func (s *Server) logSince(start int64) string {
	log := s.Log()
	if int64(len(log)) < start {
		return log
	}
	return log[start:]
}

// launch starts the prosody process and waits until it is ready.
func (s *Server) launch() error {
	logf, err := os.OpenFile(s.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	start, _ := logf.Seek(0, io.SeekEnd)

	cmd := exec.Command("prosody", "--config", filepath.Join(s.Dir, "prosody.cfg.lua"), "-F")
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group so the whole tree can be killed; Pdeathsig stops
	// Prosody if the test binary dies without running its cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "HOME="+s.Dir)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting prosody: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done, s.logStart = cmd, done, start
	s.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("prosody exited during startup: %v", cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		err := s.ready(start)
		if err == nil || errors.Is(err, errPortInUse) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prosody not ready after 10 s: %w", err)
		}
	}
}

// ready reports whether the process started at log offset start has bound
// both ports and serves the domain with our certificate.
func (s *Server) ready(start int64) error {
	log := s.logSince(start)
	if i := strings.Index(log, "Failed to open server port"); i >= 0 {
		return fmt.Errorf("%w: %s", errPortInUse, strings.SplitN(log[i:], "\n", 2)[0])
	}
	for _, svc := range []string{"c2s' on [127.0.0.1]:" + port(s.C2SAddr), "c2s_direct_tls' on [127.0.0.1]:" + port(s.DirectTLSAddr)} {
		if !strings.Contains(log, "Activated service '"+svc) {
			return errors.New("service not yet activated: " + svc)
		}
	}
	conn, err := net.DialTimeout("tcp", s.C2SAddr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(conn, "<?xml version='1.0'?><stream:stream to='%s' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", s.Domain)
	var buf bytes.Buffer
	b := make([]byte, 4096)
	for !strings.Contains(buf.String(), "</stream:features>") {
		n, err := conn.Read(b)
		buf.Write(b[:n])
		if err != nil {
			return fmt.Errorf("reading stream features: %w (got %q)", err, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "urn:ietf:params:xml:ns:xmpp-tls") {
		return fmt.Errorf("c2s does not offer STARTTLS: %q", buf.String())
	}
	d := &net.Dialer{Timeout: time.Second}
	tc, err := tls.DialWithDialer(d, "tcp", s.DirectTLSAddr, &tls.Config{ServerName: s.Domain, InsecureSkipVerify: true})
	if err != nil {
		return err
	}
	defer tc.Close()
	if fp := sha256.Sum256(tc.ConnectionState().PeerCertificates[0].Raw); hex.EncodeToString(fp[:]) != s.Fingerprint {
		return errors.New("direct TLS port presents a foreign certificate")
	}
	return nil
}

// writeCert creates a self-signed ECDSA certificate for Domain and *.Domain,
// stored as certs/DOMAIN.crt and certs/DOMAIN.key.
func (s *Server) writeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: s.Domain},
		DNSNames:     []string{s.Domain, "*." + s.Domain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	fp := sha256.Sum256(der)
	s.Fingerprint = hex.EncodeToString(fp[:])
	s.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s.CertFile = filepath.Join(s.Dir, "certs", s.Domain+".crt")
	keyFile := filepath.Join(s.Dir, "certs", s.Domain+".key")
	if err := os.WriteFile(s.CertFile, s.CertPEM, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return nil
}

// writeConfig writes prosody.cfg.lua for the current ports.
func (s *Server) writeConfig() error {
	logLevel := s.opts.LogLevel
	if logLevel == "" {
		logLevel = "debug"
	}
	q := func(p string) string { return strconv.Quote(filepath.Join(s.Dir, p)) }
	mods := append(append([]string{}, defaultModules...), s.opts.Modules...)
	ssl := fmt.Sprintf("{ certificate = %s; key = %s; }", q("certs/"+s.Domain+".crt"), q("certs/"+s.Domain+".key"))
	cfg := fmt.Sprintf(`-- Generated by magpie/xmpp/prosodytest.
daemonize = false
-- Prosody refuses root unless told; CI runs as root. Running it as root
-- (instead of switching to the prosody user) also works where the prosody
-- user cannot reach the temp dir (a chroot whose / is 0700).
run_as_root = true
pidfile = %s
data_path = %s
log = { %s = %s }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { %s }
c2s_direct_tls_ports = { %s }
s2s_ports = { }
s2s_direct_tls_ports = { }
legacy_ssl_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
certificates = %s
ssl = %s
c2s_require_encryption = true
s2s_require_encryption = true
authentication = "internal_hashed"
storage = "internal"
allow_registration = false
modules_enabled = { %s }
modules_disabled = { "http", "bosh", "websocket" }
%s
VirtualHost %q
	ssl = %s
`, q("prosody.pid"), q("data"), logLevel, q("prosody.log"), port(s.C2SAddr), port(s.DirectTLSAddr),
		q("certs"), ssl, luaList(mods), s.opts.ExtraConfig, s.Domain, ssl)
	for _, h := range s.opts.Hosts {
		cfg += fmt.Sprintf("\nVirtualHost %q\n\tssl = %s\n", h, ssl)
	}
	for _, c := range s.opts.Components {
		cfg += fmt.Sprintf("\nComponent %q %q\n%s\n", c.Domain, c.Module, c.Config)
	}
	file := filepath.Join(s.Dir, "prosody.cfg.lua")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		return err
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

func luaList(items []string) string {
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = strconv.Quote(it)
	}
	return strings.Join(q, ", ")
}

// encode mirrors Prosody's datamanager encoding: every byte that is not an
// ASCII letter or digit becomes %xx.
func encode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

func hmacSHA1(key []byte, msg string) []byte {
	m := hmac.New(sha1.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("prosodytest: %v", err)
	}
}
