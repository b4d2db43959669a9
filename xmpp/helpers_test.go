package xmpp

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"magpie/xmpp/prosodytest"
)

// recorder collects a client's events so a test can wait for one.
type recorder struct {
	mu     sync.Mutex
	events []Event
	wake   chan struct{}
}

func record(c *Client) *recorder {
	r := &recorder{wake: make(chan struct{}, 1)}
	go func() {
		for e := range c.Events() {
			r.mu.Lock()
			r.events = append(r.events, e)
			r.mu.Unlock()
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	}()
	return r
}

// waitFor returns the first event (from the start of the recording) that
// matches, or fails the test after timeout.
func waitFor[T Event](t *testing.T, r *recorder, timeout time.Duration, match func(T) bool) T {
	t.Helper()
	return waitFrom(t, r, 0, timeout, match)
}

// mark returns the position of the next event, for waitFrom.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// waitFrom is waitFor over the events recorded since mark.
func waitFrom[T Event](t *testing.T, r *recorder, mark int, timeout time.Duration, match func(T) bool) T {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		for _, e := range r.events[mark:] {
			if ev, ok := e.(T); ok && match(ev) {
				r.mu.Unlock()
				return ev
			}
		}
		seen := fmt.Sprintf("%+v", r.events)
		r.mu.Unlock()
		select {
		case <-r.wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			var zero T
			t.Fatalf("no %T event matched within %v; events: %s", zero, timeout, seen)
		}
	}
}

func startProsody(t *testing.T) *prosodytest.Server {
	t.Helper()
	return prosodytest.Start(t, prosodytest.Options{})
}

func startProsodyWith(t *testing.T, extraConfig string) *prosodytest.Server {
	t.Helper()
	return prosodytest.Start(t, prosodytest.Options{ExtraConfig: extraConfig})
}

// testOptions connects to the test server by address and trusts its
// certificate by fingerprint, as a company deployment would.
func testOptions(srv *prosodytest.Server, password string) []Option {
	return []Option{
		WithServer(srv.C2SAddr),
		WithTrustedFingerprints(srv.Fingerprint),
		WithPassword(func(context.Context) (string, error) { return password, nil }),
		WithBackoff(100*time.Millisecond, time.Second),
	}
}

// online creates a user and a connected client for it.
func online(t *testing.T, srv *prosodytest.Server, user string, extra ...Option) (*Client, *recorder) {
	t.Helper()
	account := srv.AddUser(t, user, user+"-pw")
	c, err := New(account, append(testOptions(srv, user+"-pw"), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	r := record(c)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v\nserver log:\n%s", account, err, srv.Log())
	}
	t.Cleanup(func() { c.Close() })
	return c, r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// freezeProxy forwards TCP to target until frozen; after Freeze it keeps the
// connections open but passes nothing, like a network path that died without
// a reset (the case only a keep-alive detects).
type freezeProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	frozen bool
	conns  []net.Conn
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go p.pipe(in, out)
			go p.pipe(out, in)
		}
	}()
	return p
}

func (p *freezeProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			frozen := p.frozen
			p.mu.Unlock()
			if !frozen {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			if err != io.EOF && !strings.Contains(err.Error(), "closed") {
				return
			}
			return
		}
	}
}

func (p *freezeProxy) Addr() string { return p.ln.Addr().String() }

// Freeze stops all forwarding on existing connections and refuses nothing
// new (new connections work again after Thaw).
func (p *freezeProxy) Freeze() { p.mu.Lock(); p.frozen = true; p.mu.Unlock() }
func (p *freezeProxy) Thaw()   { p.mu.Lock(); p.frozen = false; p.mu.Unlock() }

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// follow makes watcher see target's presence: watcher adds target, and
// target approves the request.
func follow(t *testing.T, watcher, target *Client, targetEvents *recorder) {
	t.Helper()
	ctx := ctxT(t)
	if err := watcher.AddContact(ctx, target.Account(), "", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, targetEvents, 5*time.Second, func(e SubscriptionRequest) bool { return e.From.Equal(watcher.Account()) })
	if err := target.ApproveSubscription(ctx, watcher.Account()); err != nil {
		t.Fatal(err)
	}
}
