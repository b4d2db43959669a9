package xmpp

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ParseFingerprint accepts a SHA-256 fingerprint as hex, with or without
// colons or spaces, in either case, and with openssl's "sha256
// Fingerprint=" label (`openssl x509 -noout -fingerprint -sha256` output can
// be pasted whole), and returns it as 64 lowercase hex digits.
func ParseFingerprint(s string) (string, error) {
	clean := s
	if i := strings.LastIndexByte(clean, '='); i >= 0 { // "sha256 Fingerprint=AB:CD:..." as openssl prints it
		clean = clean[i+1:]
	}
	clean = strings.ToLower(strings.NewReplacer(":", "", " ", "", "-", "", "\n", "", "\t", "").Replace(strings.TrimSpace(clean)))
	b, err := hex.DecodeString(clean)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("not a SHA-256 fingerprint (64 hex digits): %q", s)
	}
	return clean, nil
}

// FormatFingerprint formats 64 hex digits as colon-separated upper-case pairs,
// the way certificate viewers and openssl show them.
func FormatFingerprint(fp string) string {
	fp = strings.ToUpper(fp)
	var b strings.Builder
	for i := 0; i < len(fp); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(fp[i:min(i+2, len(fp))])
	}
	return b.String()
}

// Fingerprint returns the lowercase hex SHA-256 of a certificate's DER bytes.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// loadCAFile reads PEM certificates to trust in addition to the system roots.
func loadCAFile(path string) (*x509.CertPool, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// tlsConfig builds the client TLS configuration. Verification is never
// switched off: the check runs in VerifyConnection (Go's built-in check has
// to be bypassed only so that a pinned certificate can be accepted and a
// failure can report the certificate's fingerprint). With pinned
// fingerprints, a certificate passes only if its SHA-256 is one of them:
// a pin is exclusive, so a certificate that a CA vouches for (an
// interception proxy's, a mis-issued one) is refused all the same. Without
// pins, it passes if it chains to the roots (system, or CA file) and names
// the XMPP domain.
func tlsConfig(domain string, roots *x509.CertPool, pins []string, alpn bool) *tls.Config {
	cfg := &tls.Config{
		ServerName: domain,
		MinVersion: tls.VersionTLS12,
		// #nosec G402 -- verification is done in VerifyConnection below.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(cs, domain, roots, pins)
		},
	}
	if alpn {
		cfg.NextProtos = []string{"xmpp-client"} // XEP-0368
	}
	return cfg
}

func verifyServer(cs tls.ConnectionState, domain string, roots *x509.CertPool, pins []string) error {
	if len(cs.PeerCertificates) == 0 {
		return &CertificateError{Domain: domain, Reason: errors.New("the server sent no certificate")}
	}
	leaf := cs.PeerCertificates[0]
	fp := Fingerprint(leaf)
	for _, pin := range pins {
		if pin == fp {
			return nil
		}
	}
	intermediates := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		DNSName:       domain,
		Roots:         roots, // nil means the system roots
		Intermediates: intermediates,
	})
	ce := &CertificateError{Domain: domain, Fingerprint: fp, Subject: leaf.Subject.String(), Reason: err}
	switch {
	case len(pins) > 0 && err == nil:
		ce.Reason = fmt.Errorf("%w, although %s vouches for it", ErrNotPinned, leaf.Issuer)
	case len(pins) > 0:
		ce.Reason = fmt.Errorf("%w (%w)", ErrNotPinned, err)
	case err == nil:
		return nil
	}
	return ce
}
