package xmpp

import (
	"errors"
	"fmt"
	"strings"

	"magpie/xmpp/keyring"
)

// Errors a caller can branch on with errors.Is. The errors the client returns
// wrap one of these and add the detail (the server's text, the address tried).
var (
	// ErrAuth means the server refused the user name or password.
	ErrAuth = errors.New("authentication failed")
	// ErrUnreachable means no connection to the server could be made: the name
	// did not resolve, nothing listened, or the connection timed out.
	ErrUnreachable = errors.New("server unreachable")
	// ErrCertificate means the server's certificate is not trusted. The error
	// is a *CertificateError carrying the certificate's fingerprint.
	ErrCertificate = errors.New("certificate not trusted")
	// ErrNotPinned is the Reason of a CertificateError for an account with
	// pinned fingerprints whose server presented another certificate. It
	// is refused even when a CA vouches for it: that is what an
	// interception proxy or a mis-issued certificate looks like.
	ErrNotPinned = errors.New("the certificate is not the one pinned for this account")
	// ErrUnsafeSignIn means the server asked for a sign-in that Magpie
	// refuses for the account's safety: a *DowngradeError or a
	// *SCRAMIterationsError. Nothing secret was sent.
	ErrUnsafeSignIn = errors.New("unsafe sign-in refused")
	// ErrNotConnected means a command needed the session while there was none.
	ErrNotConnected = errors.New("not connected")
	// ErrKeyringUnavailable means the OS keyring could not be used (none
	// running, locked, or timed out). It is distinct from "no password saved".
	ErrKeyringUnavailable = keyring.ErrUnavailable
)

// AuthError is the server's refusal of the credentials.
type AuthError struct {
	// Condition is the SASL failure condition (e.g. "not-authorized"), or the
	// server's text when it sent one.
	Condition string
}

func (e *AuthError) Error() string {
	if e.Condition == "" {
		return ErrAuth.Error()
	}
	return ErrAuth.Error() + ": " + e.Condition
}

// Is reports whether target is ErrAuth.
func (e *AuthError) Is(target error) bool { return target == ErrAuth }

// CertificateError is returned when the server presents a certificate that is
// not pinned for the account (when fingerprints are pinned), or not valid for
// the domain under the trusted roots (when none are).
type CertificateError struct {
	// Domain is the XMPP domain the certificate was checked against.
	Domain string
	// Fingerprint is the lowercase hex SHA-256 of the leaf certificate (DER),
	// the value to pin with WithTrustedFingerprints.
	Fingerprint string
	// Subject is the certificate's subject, for display.
	Subject string
	// Reason is why the usual verification failed.
	Reason error
}

func (e *CertificateError) Error() string {
	return fmt.Sprintf("%s: the certificate of %s is not trusted (%v); SHA-256 fingerprint %s",
		ErrCertificate, e.Domain, e.Reason, FormatFingerprint(e.Fingerprint))
}

// Is reports whether target is ErrCertificate.
func (e *CertificateError) Is(target error) bool { return target == ErrCertificate }

// Unwrap returns the verification failure.
func (e *CertificateError) Unwrap() error { return e.Reason }

// DowngradeError is a sign-in refused because the server offers only SASL
// mechanisms weaker than one it offered the account before (or, for a -PLUS
// floor, than channel binding that worked before): what a man in the
// middle stripping the strong mechanisms, to get the password with PLAIN
// or to relay SCRAM without channel binding, looks like.
type DowngradeError struct {
	// Floor is the weakest mechanism accepted for the account.
	Floor string
	// Offered is the strongest mechanism of Magpie's the server allowed
	// this time.
	Offered string
}

func (e *DowngradeError) Error() string {
	return fmt.Sprintf("%s: the server allows only %s, weaker than %s, which this account has had from it before; someone may be tampering with the connection",
		ErrUnsafeSignIn, e.Offered, e.Floor)
}

// Is reports whether target is ErrUnsafeSignIn.
func (e *DowngradeError) Is(target error) bool { return target == ErrUnsafeSignIn }

// SCRAMIterationsError is a sign-in refused because the server asked for
// more SCRAM iterations than Magpie computes (each costs the client work
// before it can answer).
type SCRAMIterationsError struct {
	Count int64 // what the server asked for
	Max   int   // the most Magpie computes
}

func (e *SCRAMIterationsError) Error() string {
	return fmt.Sprintf("%s: the server asked for %d SCRAM iterations, more than the %d allowed", ErrUnsafeSignIn, e.Count, e.Max)
}

// Is reports whether target is ErrUnsafeSignIn.
func (e *SCRAMIterationsError) Is(target error) bool { return target == ErrUnsafeSignIn }

// StanzaError is an error the server or the peer returned for a request or a
// message (an IQ of type error, a message of type error).
type StanzaError struct {
	// Condition is the defined condition, e.g. "item-not-found" or
	// "not-acceptable".
	Condition string
	// Type is the error type: cancel, continue, modify, auth or wait.
	Type string
	// Text is the human-readable text, if the server sent one.
	Text string
}

func (e *StanzaError) Error() string {
	var b strings.Builder
	b.WriteString(e.Condition)
	if e.Text != "" {
		b.WriteString(": ")
		b.WriteString(e.Text)
	}
	return b.String()
}
