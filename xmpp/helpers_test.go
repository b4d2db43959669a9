package xmpp

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"
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
	srv.AddUser(t, user, user+"-pw")
	return onlineAs(t, srv, user, extra...)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ctxLong is ctxT for a test that runs many steps on one context (sign-ins,
// a server restart, several waits): ten seconds for all of them is too
// tight on a loaded machine.
func ctxLong(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// netProxy forwards TCP to a server and plays a failing network: after
// Freeze it keeps the connections open but passes nothing, like a path that
// died without a reset (the case only a keep-alive detects); after Down it
// cuts every connection and refuses new ones, like a client whose network
// is gone.
type netProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	frozen map[net.Conn]bool // connections Freeze stopped
	held   bool              // Hold: what the server sends waits
	down   bool
	conns  []net.Conn
	// servers are the proxy's connections to the server.
	servers map[net.Conn]bool
}

func newNetProxy(t *testing.T, target string) *netProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &netProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.Down() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			if p.servers == nil {
				p.servers = map[net.Conn]bool{}
			}
			p.servers[out] = true
			p.mu.Unlock()
			go p.pipe(in, out)
			go p.pipe(out, in)
		}
	}()
	return p
}

func (p *netProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.waitHeld(src)
			p.mu.Lock()
			frozen := p.frozen[src] || p.frozen[dst]
			p.mu.Unlock()
			if !frozen {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *netProxy) Addr() string { return p.ln.Addr().String() }

// Freeze stops all forwarding on the connections that exist now, dropping
// what they carry, like a link that died without a reset; new connections
// (the client's reconnect) work.
func (p *netProxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = map[net.Conn]bool{}
	for _, c := range p.conns {
		p.frozen[c] = true
	}
}

// Hold keeps what the server sends from the client, in order and without
// loss, until Release: the client hears nothing meanwhile, while what it
// sends goes through.
func (p *netProxy) Hold() { p.mu.Lock(); p.held = true; p.mu.Unlock() }

// Release delivers what Hold kept, and carries on.
func (p *netProxy) Release() { p.mu.Lock(); p.held = false; p.mu.Unlock() }

// waitHeld waits while src is a server connection and the proxy holds.
func (p *netProxy) waitHeld(src net.Conn) {
	for {
		p.mu.Lock()
		held := p.held && p.servers[src]
		p.mu.Unlock()
		if !held {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Thaw lets the frozen connections carry data again.
func (p *netProxy) Thaw() { p.mu.Lock(); p.frozen = nil; p.mu.Unlock() }

// Down cuts every connection and refuses new ones until Up.
func (p *netProxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *netProxy) Up() { p.mu.Lock(); p.down = false; p.mu.Unlock() }

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

// aliceSeesBob starts Prosody and signs alice and bob in, with alice
// subscribed to bob's presence and already seeing him online.
func aliceSeesBob(t *testing.T) (alice *Client, aliceEv *recorder, bob *Client, bobEv *recorder) {
	t.Helper()
	srv := startProsody(t)
	alice, aliceEv = online(t, srv, "alice")
	bob, bobEv = online(t, srv, "bob")
	follow(t, alice, bob, bobEv)
	waitFor(t, aliceEv, 5*time.Second, func(e PresenceChanged) bool { return e.From.Bare().Equal(bob.Account()) && e.Available() })
	return alice, aliceEv, bob, bobEv
}

// Cut closes every connection through the proxy at once, like a network
// that dropped (the client sees a reset or EOF).
func (p *netProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// openStore opens a fresh store in the test's temp dir.
func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// bodies returns the bodies of a conversation in the store, oldest first,
// each prefixed with > for outgoing and < for incoming.
func bodies(t *testing.T, db *store.DB, peer string) []string {
	t.Helper()
	msgs, err := db.History(peer, store.Cursor{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		dir := "<"
		if m.Dir == store.Outgoing {
			dir = ">"
		}
		out = append(out, dir+m.Body)
	}
	return out
}

// onlineAs connects a client for an account that exists (online created it).
func onlineAs(t *testing.T, srv *prosodytest.Server, user string, extra ...Option) (*Client, *recorder) {
	t.Helper()
	c, err := New(user+"@"+srv.Domain, append(testOptions(srv, user+"-pw"), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	r := record(c)
	// Generous: some tests sign in with thousands of contacts, under -race
	// (how fast is measured by the benchmarks, not here).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v\nserver log:\n%s", user, err, srv.Log())
	}
	t.Cleanup(func() { c.Close() })
	return c, r
}

// sendRaw writes a stanza given as XML text (for forged or odd stanzas).
func (c *Client) sendRaw(ctx context.Context, stanzaXML string) error {
	sess, err := c.session()
	if err != nil {
		return err
	}
	return sess.Send(ctx, xml.NewDecoder(strings.NewReader(stanzaXML)))
}

// currentLink returns the live session's link, or nil.
func (c *Client) currentLink() *link {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.link
}

// linkResumed reports whether the current session is a resumed one.
func (c *Client) linkResumed() bool {
	l := c.currentLink()
	return l != nil && l.resumed
}
