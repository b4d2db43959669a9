package keyring

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	gokeyring "github.com/zalando/go-keyring"

	"magpie/xmpp/bustest"
)

// mapKeyring is an in-memory Keyring that answers like go-keyring.
type mapKeyring map[string]string

func (m mapKeyring) Get(service, user string) (string, error) {
	if p, ok := m[service+"/"+user]; ok {
		return p, nil
	}
	return "", gokeyring.ErrNotFound
}

func (m mapKeyring) Set(service, user, password string) error {
	m[service+"/"+user] = password
	return nil
}

func (m mapKeyring) Delete(service, user string) error {
	if _, ok := m[service+"/"+user]; !ok {
		return gokeyring.ErrNotFound
	}
	delete(m, service+"/"+user)
	return nil
}

// errKeyring fails every call with err.
type errKeyring struct{ err error }

func (k errKeyring) Get(string, string) (string, error) { return "", k.err }
func (k errKeyring) Set(string, string, string) error   { return k.err }
func (k errKeyring) Delete(string, string) error        { return k.err }

// blockKeyring blocks like a keyring waiting for an unlock prompt, until the
// channel is closed.
type blockKeyring chan struct{}

func (k blockKeyring) Get(string, string) (string, error) { <-k; return "late", nil }
func (k blockKeyring) Set(string, string, string) error   { <-k; return nil }
func (k blockKeyring) Delete(string, string) error        { <-k; return nil }

func TestStore(t *testing.T) {
	block := make(blockKeyring)
	t.Cleanup(func() { close(block) })
	get := func(s *Store) (string, error) { return s.Password(context.Background(), "a@example.org") }
	getFunc := func(s *Store) (string, error) { return s.PasswordFunc("a@example.org")(context.Background()) }
	save := func(pw string) func(*Store) (string, error) {
		return func(s *Store) (string, error) { return "", s.Save(context.Background(), "a@example.org", pw) }
	}
	del := func(s *Store) (string, error) { return "", s.Delete(context.Background(), "a@example.org") }
	deadline := func(s *Store) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		s.Timeout = time.Hour // the context's deadline must win
		return s.Password(ctx, "a@example.org")
	}
	saved := func() Keyring { return mapKeyring{Service + "/a@example.org": "s3cret"} }
	noService := dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown", Body: []any{"not provided by any .service files"}}
	for i, tt := range []struct {
		k       Keyring
		op      func(*Store) (string, error)
		want    string
		wantErr error  // nil, ErrNotFound or ErrUnavailable
		text    string // in the error text
	}{
		{k: saved(), op: get, want: "s3cret"},
		{k: saved(), op: getFunc, want: "s3cret"},
		{k: mapKeyring{}, op: get, wantErr: ErrNotFound},
		{k: mapKeyring{}, op: del, wantErr: ErrNotFound},
		{k: saved(), op: del},
		{k: mapKeyring{}, op: save("x")},
		{k: errKeyring{noService}, op: get, wantErr: ErrUnavailable, text: "no Secret Service"},
		{k: errKeyring{&noService}, op: del, wantErr: ErrUnavailable, text: "no Secret Service"},
		{k: errKeyring{errors.New("failed to unlock correct collection '/x'")}, op: get, wantErr: ErrUnavailable, text: "locked"},
		{k: errKeyring{errors.New("boom")}, op: get, wantErr: ErrUnavailable, text: "boom"},
		{k: errKeyring{errors.New("echo hunter2")}, op: save("hunter2"), wantErr: ErrUnavailable, text: "echo [password]"},
		{k: errKeyring{gokeyring.ErrSetDataTooBig}, op: save("x"), wantErr: ErrUnavailable, text: "too long"},
		{k: errKeyring{fmt.Errorf("wrapped: %w", gokeyring.ErrNotFound)}, op: get, wantErr: ErrNotFound},
		{k: block, op: get, wantErr: ErrUnavailable, text: "timed out"},
		{k: block, op: deadline, wantErr: ErrUnavailable, text: "timed out"},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			s := NewStore(tt.k)
			s.Timeout = 50 * time.Millisecond
			got, err := tt.op(s)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			if errors.Is(err, ErrUnavailable) && errors.Is(err, ErrNotFound) {
				t.Errorf("error %v is both ErrUnavailable and ErrNotFound", err)
			}
			if err != nil && (!strings.Contains(err.Error(), tt.text) || strings.Contains(err.Error(), "hunter2")) {
				t.Errorf("error %q: want it to contain %q and no password", err, tt.text)
			}
		})
	}
}

// TestSecretService runs go-keyring against a real gnome-keyring on a private
// session bus.
func TestSecretService(t *testing.T) {
	if !bustest.InPrivateSession(t, true) {
		return
	}
	s := NewStore(System())
	s.Timeout = 5 * time.Second
	const account = "alice@example.org"
	if _, err := s.Password(t.Context(), account); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Password before Save: %v, want ErrNotFound", err)
	}
	for _, pw := range []string{"first", "密码🔑pass"} { // the second Save replaces the first
		if err := s.Save(t.Context(), account, pw); err != nil {
			t.Fatalf("Save: %v", err)
		}
		if got, err := s.Password(t.Context(), account); got != pw || err != nil {
			t.Fatalf("Password = %q, %v; want %q", got, err, pw)
		}
	}
	if err := s.Delete(t.Context(), account); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Password(t.Context(), account); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Password after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), account); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}
}

// TestNoSecretService checks what a user without a keyring meets: a session
// bus but no Secret Service on it.
func TestNoSecretService(t *testing.T) {
	if !bustest.InPrivateSession(t, false) {
		return
	}
	_, err := NewStore(System()).Password(t.Context(), "alice@example.org")
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no Secret Service") {
		t.Fatalf("Password = %v, want ErrUnavailable for no Secret Service", err)
	}
	t.Log(err)
}
