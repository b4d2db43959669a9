package xmpp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Compile-time checks that every event type is an Event.
var (
	_ Event = StateChanged{}
	_ Event = RosterUpdated{}
	_ Event = PresenceChanged{}
	_ Event = MessageReceived{}
	_ Event = NoticeReceived{}
	_ Event = MessageFailed{}
	_ Event = SubscriptionRequest{}
	_ Event = SubscriptionChanged{}
	_ Event = ErrorOccurred{}
)

func TestParseFingerprint(t *testing.T) {
	const hex = "3fa2c0d1e2f30415263748596a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f7"
	for i, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		0: {hex, hex, true},
		1: {strings.ToUpper(hex), hex, true},
		2: {FormatFingerprint(hex), hex, true},
		3: {"sha256 Fingerprint=" + FormatFingerprint(hex), hex, true},
		4: {"SHA256=" + FormatFingerprint(hex), hex, true},
		5: {" " + hex + "\n", hex, true},
		6: {hex[:62], "", false},
		7: {"zz" + hex[2:], "", false},
		8: {"", "", false},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			got, err := ParseFingerprint(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseFingerprint(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
	if got := FormatFingerprint("0a1b"); got != "0A:1B" {
		t.Fatalf("FormatFingerprint = %q", got)
	}
}

func TestBackoff(t *testing.T) {
	first, longest := time.Second, time.Minute
	for i, tc := range []struct {
		attempt  int
		min, max time.Duration
	}{
		0: {0, 500 * time.Millisecond, time.Second},
		1: {1, time.Second, 2 * time.Second},
		2: {3, 4 * time.Second, 8 * time.Second},
		3: {6, 30 * time.Second, time.Minute},
		4: {60, 30 * time.Second, time.Minute}, // capped, no overflow
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 50 {
				d := backoff(tc.attempt, first, longest)
				if d < tc.min || d > tc.max {
					t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tc.attempt, d, tc.min, tc.max)
				}
				seen[d] = true
			}
			if len(seen) < 2 {
				t.Fatalf("backoff(%d) has no jitter: %v", tc.attempt, seen)
			}
		})
	}
}

func TestParseShow(t *testing.T) {
	for i, tc := range []struct {
		in   string
		want Show
		ok   bool
	}{
		0: {"available", ShowAvailable, true},
		1: {"", ShowAvailable, true},
		2: {"away", ShowAway, true},
		3: {"busy", ShowDND, true},
		4: {"xa", ShowXA, true},
		5: {"sleeping", "", false},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			got, err := ParseShow(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseShow(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
}

// TestEventQueueKeepsOrderWithoutReader: handlers push while nobody reads;
// nothing blocks, nothing is lost, order holds, close ends the channel after
// the last event.
func TestEventQueueKeepsOrderWithoutReader(t *testing.T) {
	q := newEventQueue()
	const n = 10000
	done := make(chan struct{})
	go func() {
		for i := range n {
			q.push(ErrorOccurred{Err: errors.New(strconv.Itoa(i))})
		}
		q.close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("push blocked without a reader")
	}
	i := 0
	for e := range q.out {
		if got := e.(ErrorOccurred).Err.Error(); got != strconv.Itoa(i) {
			t.Fatalf("event %d is %s", i, got)
		}
		i++
	}
	if i != n {
		t.Fatalf("got %d events, want %d", i, n)
	}
	q.push(ErrorOccurred{}) // after close: ignored, no panic
}

func TestAccountStore(t *testing.T) {
	s := NewAccountStore(filepath.Join(t.TempDir(), "sub", "accounts.json"))
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Fatalf("empty store: %v, %v", list, err)
	}
	a := AccountConfig{JID: "zhangsan@oa.example", Server: "im.oa.example:5222", Fingerprints: []string{"ab"}}
	b := AccountConfig{JID: "lisi@oa.example", DirectTLS: true}
	for _, cfg := range []AccountConfig{a, b, {JID: a.JID, Server: "other:5222"}} {
		if err := s.Save(cfg); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].JID != b.JID {
		t.Fatalf("List = %+v, %v", list, err)
	}
	got, ok, err := s.Get(a.JID)
	if !ok || err != nil || got.Server != "other:5222" {
		t.Fatalf("Get = %+v, %v, %v (Save must replace)", got, ok, err)
	}
	if err := writeFile(s.Path(), "{broken"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged file: %v", err)
	}
}

// TestLinkLost: a write that failed on a closed or reset socket means the
// link is gone (ErrNotConnected for the caller) even before the receive
// loop has ended the link; the caller's own deadline does not.
func TestLinkLost(t *testing.T) {
	live, ended := &link{done: make(chan struct{})}, &link{done: make(chan struct{})}
	close(ended.done)
	a, b := net.Pipe()
	a.Close()
	_, pipeErr := b.Write([]byte("x"))
	for i, tc := range []struct {
		l    *link
		err  error
		want bool
	}{
		0: {live, &net.OpError{Op: "write", Net: "tcp", Err: net.ErrClosed}, true}, // "use of closed network connection"
		1: {live, fmt.Errorf("xmpp: %w", &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}), true},
		2: {live, pipeErr, true},
		3: {live, context.DeadlineExceeded, false},
		4: {live, context.Canceled, false},
		5: {live, &net.OpError{Op: "write", Net: "tcp", Err: os.ErrDeadlineExceeded}, false},
		6: {live, errors.New("xmpp: some stanza error"), false},
		7: {ended, context.DeadlineExceeded, true},
	} {
		if got := linkLost(tc.l, tc.err); got != tc.want {
			t.Errorf("%d: linkLost(%v) = %v, want %v", i, tc.err, got, tc.want)
		}
	}
}
