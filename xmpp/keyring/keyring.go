// Package keyring keeps account passwords in the operating system's keyring.
package keyring

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	gokeyring "github.com/zalando/go-keyring"
)

// Service is the keyring service name; the user is the account's bare JID.
const Service = "magpie"

// DefaultTimeout is how long a Store waits for the keyring when its Timeout is
// not set.
const DefaultTimeout = 10 * time.Second

var (
	// ErrNotFound means nothing is saved for that account.
	ErrNotFound = errors.New("keyring: no password saved")
	// ErrUnavailable means the keyring could not be used: no Secret Service,
	// a locked or missing collection, a timeout, or any other failure.
	ErrUnavailable = errors.New("keyring: keyring unavailable")
)

// Keyring is the three-method store, in go-keyring's shape.
type Keyring interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// System returns the OS keyring: the Secret Service on Linux and the BSDs, the
// Keychain on macOS, the Credential Manager on Windows.
func System() Keyring { return system{} }

type system struct{}

var errNoBus = errors.New("no D-Bus session bus")

// busMissing reports whether there is no session bus to reach. Without this
// check godbus would run dbus-launch, leaving a stray bus daemon behind that
// has no Secret Service on it anyway.
func busMissing() bool {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return false
	}
	conn, err := dbus.SessionBusPrivateNoAutoStartup()
	if err != nil {
		return true
	}
	conn.Close()
	return false
}

func (system) Get(service, user string) (string, error) {
	if busMissing() {
		return "", errNoBus
	}
	return gokeyring.Get(service, user)
}

func (system) Set(service, user, password string) error {
	if busMissing() {
		return errNoBus
	}
	return gokeyring.Set(service, user, password)
}

func (system) Delete(service, user string) error {
	if busMissing() {
		return errNoBus
	}
	return gokeyring.Delete(service, user)
}

// Store wraps a Keyring with the package's sentinel errors, a timeout and a
// context. Its methods are safe for concurrent use. Make it with NewStore: a
// Store literal works but does not serialize keyring calls.
type Store struct {
	// Keyring is the store asked; NewStore(nil) uses System().
	Keyring Keyring
	// Timeout bounds each call in addition to the context; zero means
	// DefaultTimeout.
	Timeout time.Duration

	// sem lets one keyring call run at a time, so that a call stuck on an
	// unlock prompt holds back later ones instead of piling up goroutines and
	// prompts (the client asks again on every reconnect).
	sem chan struct{}
}

// NewStore returns a Store over k, or over the OS keyring when k is nil.
func NewStore(k Keyring) *Store {
	if k == nil {
		k = System()
	}
	return &Store{Keyring: k, sem: make(chan struct{}, 1)}
}

// Password returns the password saved for account. The error is ErrNotFound
// when none is saved, or wraps ErrUnavailable (and, on a timeout or a canceled
// ctx, the context's error).
func (s *Store) Password(ctx context.Context, account string) (string, error) {
	return s.do(ctx, "get", "", func() (string, error) { return s.Keyring.Get(Service, account) })
}

// Save stores password for account, replacing any earlier one. A failure
// wraps ErrUnavailable.
func (s *Store) Save(ctx context.Context, account, password string) error {
	_, err := s.do(ctx, "save", password, func() (string, error) {
		return "", s.Keyring.Set(Service, account, password)
	})
	return err
}

// Delete removes the password saved for account. It returns ErrNotFound when
// none was saved, otherwise nil or an error wrapping ErrUnavailable.
func (s *Store) Delete(ctx context.Context, account string) error {
	_, err := s.do(ctx, "delete", "", func() (string, error) { return "", s.Keyring.Delete(Service, account) })
	return err
}

// PasswordFunc returns a function that asks the keyring for account's password
// each time it is called, so a password changed or removed meanwhile is seen.
func (s *Store) PasswordFunc(account string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) { return s.Password(ctx, account) }
}

// do runs f in a goroutine because go-keyring can block forever waiting for an
// unlock prompt; it gives up at ctx's deadline or the Store's timeout. The
// abandoned goroutine ends whenever the keyring answers.
func (s *Store) do(ctx context.Context, op, secret string, f func() (string, error)) (string, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if s.sem != nil {
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return "", ctxErr(op, ctx.Err())
		}
	}
	type result struct {
		v   string
		err error
	}
	ch := make(chan result, 1) // buffered: the goroutine must not block once we stop listening
	go func() {
		if s.sem != nil {
			defer func() { <-s.sem }()
		}
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, mapErr(op, secret, r.err)
	case <-ctx.Done():
		return "", ctxErr(op, ctx.Err())
	}
}

func ctxErr(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: timed out (locked keyring waiting for an unlock prompt?): %w", ErrUnavailable, op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// mapErr turns go-keyring's errors into this package's. Only go-keyring's
// ErrNotFound means "no password saved"; everything else is "unavailable".
func mapErr(op, secret string, err error) error {
	var why string
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gokeyring.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, gokeyring.ErrSetDataTooBig):
		return fmt.Errorf("%w: %s: password too long for this keyring", ErrUnavailable, op)
	case err == errNoBus:
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
	case dbusName(err) == "org.freedesktop.DBus.Error.ServiceUnknown":
		why = "no Secret Service running (is gnome-keyring or KeePassXC installed?): "
	case strings.Contains(err.Error(), "failed to unlock correct collection"):
		why = "keyring locked or without a default collection: "
	}
	msg := err.Error()
	if secret != "" {
		// No keyring is known to echo the secret, but error text ends up in logs.
		msg = strings.ReplaceAll(msg, secret, "[password]")
	}
	return fmt.Errorf("%w: %s: %s%v", ErrUnavailable, op, why, msg)
}

// dbusName returns the D-Bus error name in err's chain, if any; godbus returns
// both Error values and pointers.
func dbusName(err error) string {
	var v dbus.Error
	if errors.As(err, &v) {
		return v.Name
	}
	var p *dbus.Error
	if errors.As(err, &p) && p != nil {
		return p.Name
	}
	return ""
}
