package xmpp

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestSASLDowngrade plays hostile and broken servers in the SASL step: the
// client never goes below the strongest mechanism the server has offered
// the account (this time or before), retries without channel binding only
// when the server says it cannot do it, and refuses an absurd SCRAM
// iteration count before doing the work.
func TestSASLDowngrade(t *testing.T) {
	t.Parallel()
	const unsupported = "Proposed channel binding type isn't supported."
	for i, tc := range []struct {
		name       string
		server     fakeOptions
		floor      string // the account's saved floor (WithSASLFloor)
		password   string
		want       error // nil: signed in
		tried      []string
		mechanism  string // signed in with
		savedFloor string // SASLFloor afterwards
	}{
		0: {name: "channel binding unsupported: SCRAM without it",
			server:   fakeOptions{mechanisms: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN"}, plusFailure: "malformed-request", plusText: unsupported},
			password: "secret", tried: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, mechanism: "SCRAM-SHA-256", savedFloor: "SCRAM-SHA-256"},
		1: {name: "channel binding unsupported, wrong password",
			server:   fakeOptions{mechanisms: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN"}, plusFailure: "malformed-request", plusText: unsupported},
			password: "typo", want: ErrAuth, tried: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, savedFloor: "SCRAM-SHA-256"},
		2: {name: "-PLUS refused (generic failure): no second try, never PLAIN",
			server:   fakeOptions{mechanisms: []string{"SCRAM-SHA-256-PLUS", "PLAIN"}},
			password: "secret", want: ErrAuth, tried: []string{"SCRAM-SHA-256-PLUS"}, savedFloor: "SCRAM-SHA-256"},
		3: {name: "-PLUS unsupported and only PLAIN besides: downgrade",
			server:   fakeOptions{mechanisms: []string{"SCRAM-SHA-256-PLUS", "PLAIN"}, plusFailure: "malformed-request", plusText: unsupported},
			password: "secret", want: ErrUnsafeSignIn, tried: []string{"SCRAM-SHA-256-PLUS"}, savedFloor: "SCRAM-SHA-256"},
		4: {name: "only PLAIN after the account has seen SCRAM-SHA-256",
			server: fakeOptions{mechanisms: []string{"PLAIN"}}, floor: "SCRAM-SHA-256",
			password: "secret", want: ErrUnsafeSignIn, savedFloor: "SCRAM-SHA-256"},
		5: {name: "SCRAM-SHA-1 after the account has seen SCRAM-SHA-256",
			server: fakeOptions{mechanisms: []string{"SCRAM-SHA-1", "PLAIN"}}, floor: "SCRAM-SHA-256",
			password: "secret", want: ErrUnsafeSignIn, savedFloor: "SCRAM-SHA-256"},
		6: {name: "no channel binding after it has worked",
			server: fakeOptions{mechanisms: []string{"SCRAM-SHA-256", "PLAIN"}}, floor: "SCRAM-SHA-1-PLUS",
			password: "secret", want: ErrUnsafeSignIn, savedFloor: "SCRAM-SHA-1-PLUS"},
		7: {name: "2,000,000,000 iterations",
			server:   fakeOptions{mechanisms: []string{"SCRAM-SHA-256"}, iterations: 2_000_000_000},
			password: "secret", want: ErrUnsafeSignIn, tried: []string{"SCRAM-SHA-256"}, savedFloor: "SCRAM-SHA-256"},
		8: {name: "an ordinary SCRAM server",
			server:   fakeOptions{mechanisms: []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"}},
			password: "secret", tried: []string{"SCRAM-SHA-256"}, mechanism: "SCRAM-SHA-256", savedFloor: "SCRAM-SHA-256"},
		9: {name: "PLAIN only, as it always was",
			server: fakeOptions{mechanisms: []string{"PLAIN"}}, floor: "PLAIN",
			password: "secret", tried: []string{"PLAIN"}, mechanism: "PLAIN", savedFloor: "PLAIN"},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			tc.server.password = "secret"
			srv := startFake(t, tc.server)
			c, err := New("alice@fake.test", WithServer(srv.addr), WithTrustedFingerprints(srv.fingerprint), WithSASLFloor(tc.floor),
				WithPassword(func(context.Context) (string, error) { return tc.password, nil }), WithoutPresence())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Connect(ctxT(t))
			if (tc.want == nil && err != nil) || !errors.Is(err, tc.want) {
				t.Fatalf("%s: Connect = %v, want %v", tc.name, err, tc.want)
			}
			if got := srv.tried(); !slices.Equal(got, tc.tried) {
				t.Fatalf("%s: mechanisms tried %v, want %v", tc.name, got, tc.tried)
			}
			if got := c.Mechanism(); got != tc.mechanism {
				t.Fatalf("%s: signed in with %q, want %q", tc.name, got, tc.mechanism)
			}
			if got := c.SASLFloor(); got != tc.savedFloor {
				t.Fatalf("%s: floor %q, want %q", tc.name, got, tc.savedFloor)
			}
			var de *DowngradeError
			if errors.As(err, &de) && (de.Floor != tc.savedFloor || de.Offered == "") {
				t.Fatalf("%s: %+v does not name the floor %s and what was offered", tc.name, de, tc.savedFloor)
			}
			var ie *SCRAMIterationsError
			if errors.As(err, &ie) && ie.Count != 2_000_000_000 {
				t.Fatalf("%s: %+v", tc.name, ie)
			}
		})
	}
}

// TestDowngradeOnReconnect: a server that offered SCRAM-SHA-256 at sign-in
// offers only PLAIN when the client reconnects (a man in the middle on a
// new network): the reconnect is refused, the client stops and reports
// the downgrade, and no password went out with PLAIN.
func TestDowngradeOnReconnect(t *testing.T) {
	t.Parallel()
	var cut func()
	srv := startFake(t, fakeOptions{password: "secret", mechanisms: []string{"SCRAM-SHA-256", "PLAIN"}})
	proxy := newNetProxy(t, srv.addr)
	cut = proxy.Cut
	c, err := New("alice@fake.test", WithServer(proxy.Addr()), WithTrustedFingerprints(srv.fingerprint), WithoutPresence(),
		WithBackoff(10*time.Millisecond, 50*time.Millisecond),
		WithPassword(func(context.Context) (string, error) { return "secret", nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ev := record(c)
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if c.Mechanism() != "SCRAM-SHA-256" || c.SASLFloor() != "SCRAM-SHA-256" {
		t.Fatalf("signed in with %q, floor %q", c.Mechanism(), c.SASLFloor())
	}
	srv.offer("PLAIN")
	cut()
	e := waitFor(t, ev, 10*time.Second, func(e StateChanged) bool { return e.State == Offline && e.Err != nil })
	var de *DowngradeError
	if !errors.As(e.Err, &de) || de.Floor != "SCRAM-SHA-256" || de.Offered != "PLAIN" {
		t.Fatalf("offline with %v, want the downgrade from SCRAM-SHA-256 to PLAIN", e.Err)
	}
	if slices.Contains(srv.tried(), "PLAIN") {
		t.Fatalf("mechanisms tried: %v; the password went out with PLAIN", srv.tried())
	}
}
