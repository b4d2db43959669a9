package xmpp

import (
	"context"
	"crypto/sha1"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
)

// Integration tests: each starts its own Prosody on loopback (see package
// prosodytest) and signs in with the real client.

func TestSignInSTARTTLS(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	c, r := online(t, srv, "alice")
	waitFor(t, r, time.Second, func(e StateChanged) bool { return e.State == Online })
	if got := c.LocalAddr(); got.Bare().String() != "alice@"+srv.Domain || got.Resourcepart() == "" {
		t.Fatalf("bound JID = %v", got)
	}
	if err := c.Ping(ctxT(t), jid.JID{}); err != nil {
		t.Fatalf("ping server: %v", err)
	}
}

func TestSignInDirectTLS(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	account := srv.AddUser(t, "bob", "bob-pw")
	c, err := New(account, append(testOptions(srv, "bob-pw"), WithServer(srv.DirectTLSAddr), WithDirectTLS(true))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatalf("direct TLS sign-in: %v\n%s", err, srv.Log())
	}
}

func TestSignInWithCAFile(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	account := srv.AddUser(t, "carol", "carol-pw")
	c, err := New(account,
		WithServer(srv.C2SAddr), WithCAFile(srv.CertFile),
		WithPassword(func(context.Context) (string, error) { return "carol-pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatalf("sign-in with CA file: %v", err)
	}
}

func TestSignInFailures(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	account := srv.AddUser(t, "dave", "dave-pw")
	pw := func(p string) Option {
		return WithPassword(func(context.Context) (string, error) { return p, nil })
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().String()
	closed.Close()
	otherPin := strings.Repeat("ab", 32)

	for i, tc := range []struct {
		name string
		opts []Option
		want error
	}{
		0: {"wrong password", []Option{WithServer(srv.C2SAddr), WithTrustedFingerprints(srv.Fingerprint), pw("nope")}, ErrAuth},
		1: {"nothing listening", []Option{WithServer(deadAddr), pw("dave-pw")}, ErrUnreachable},
		2: {"self-signed, not pinned", []Option{WithServer(srv.C2SAddr), pw("dave-pw")}, ErrCertificate},
		3: {"self-signed, other pin", []Option{WithServer(srv.C2SAddr), WithTrustedFingerprints(otherPin), pw("dave-pw")}, ErrCertificate},
		4: {"direct TLS, not pinned", []Option{WithServer(srv.DirectTLSAddr), WithDirectTLS(true), pw("dave-pw")}, ErrCertificate},
		5: {"unknown user", []Option{WithServer(srv.C2SAddr), WithTrustedFingerprints(srv.Fingerprint), pw("x")}, ErrAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acct := account
			if i == 5 {
				acct = "nobody@" + srv.Domain
			}
			c, err := New(acct, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Connect(ctxT(t))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Connect: %v, want %v", err, tc.want)
			}
			var ce *CertificateError
			if errors.As(err, &ce) && ce.Fingerprint != srv.Fingerprint {
				t.Fatalf("certificate error fingerprint %s, want %s", ce.Fingerprint, srv.Fingerprint)
			}
			if c.State() != Offline {
				t.Fatalf("state after failure = %v", c.State())
			}
		})
	}
}

func TestChatRoundTrip(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	alice, aliceEvents := online(t, srv, "alice")
	bob, bobEvents := online(t, srv, "bob")

	long := strings.Repeat("数据0123456789", 1024)[:10*1024] // 10 KB, mixed scripts
	bodies := []string{"hello Bob", "你好，张三！今天下午三点开会 🙂", long}
	for _, body := range bodies {
		id, err := alice.SendMessage(ctxT(t), bob.Account(), body)
		if err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, bobEvents, 5*time.Second, func(e MessageReceived) bool { return e.ID == id })
		if got.Body != body || got.OriginID != id || got.Type != "chat" || !got.From.Bare().Equal(alice.Account()) {
			t.Fatalf("received %+v (body %d bytes), want body %d bytes from alice with origin-id %s",
				got.Message, len(got.Body), len(body), id)
		}
	}
	// A reply in a thread, to alice's full JID.
	id, err := bob.Send(ctxT(t), OutgoingMessage{To: alice.LocalAddr(), Body: "threaded", Thread: "t-1"})
	if err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, aliceEvents, 5*time.Second, func(e MessageReceived) bool { return e.ID == id })
	if got.Thread != "t-1" || got.Body != "threaded" || got.Delayed {
		t.Fatalf("alice received %+v", got.Message)
	}
}

func TestMessageKinds(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	alice, _ := online(t, srv, "alice")
	bob, ev := online(t, srv, "bob")
	ctx := ctxT(t)
	if _, err := alice.Send(ctx, OutgoingMessage{To: bob.Account(), Body: "审批提醒", Type: "headline"}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, OutgoingMessage{To: bob.Account(), Body: "a normal one", Type: "normal"}); err != nil {
		t.Fatal(err)
	}
	// A colleague's headline and normal message are chats from him: only
	// the server and notifier accounts send notices (many clients send
	// chats as normal).
	for _, kind := range []string{"headline", "normal"} {
		body := map[string]string{"headline": "审批提醒", "normal": "a normal one"}[kind]
		got := waitFor(t, ev, 5*time.Second, func(e MessageReceived) bool { return e.Body == body })
		if string(got.Type) != kind || !got.From.Bare().Equal(alice.Account()) {
			t.Fatalf("the %s message arrived as %+v", kind, got.Message)
		}
	}
	if n := countNotices(ev); n != 0 {
		t.Fatalf("%d notices from a colleague", n)
	}
}

func TestBounceToUnknownUser(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	alice, ev := online(t, srv, "alice")
	nobody := jid.MustParse("nobody@" + srv.Domain)
	id, err := alice.SendMessage(ctxT(t), nobody, "anyone there?")
	if err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, ev, 5*time.Second, func(e MessageFailed) bool { return e.ID == id })
	if got.Err == nil || got.Err.Condition == "" {
		t.Fatalf("bounce without condition: %+v", got)
	}
}

func TestRosterEditing(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	alice, ev := online(t, srv, "alice")
	carol := jid.MustParse("carol@" + srv.Domain)
	ctx := ctxT(t)

	if err := alice.SetContact(ctx, carol, "Carol", []string{"研发部"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ev, 5*time.Second, func(e RosterUpdated) bool {
		return !e.Full && len(e.Contacts) == 1 && e.Contacts[0].Name == "Carol"
	})
	if err := alice.RenameContact(ctx, carol, "卡罗尔"); err != nil {
		t.Fatal(err)
	}
	if err := alice.SetGroups(ctx, carol, []string{"Sales", "Friends"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ev, 5*time.Second, func(e RosterUpdated) bool {
		return len(e.Contacts) == 1 && e.Contacts[0].Name == "卡罗尔" && len(e.Contacts[0].Groups) == 2
	})
	ct, ok := alice.Contact(carol)
	if !ok || ct.Name != "卡罗尔" || strings.Join(ct.Groups, ",") != "Sales,Friends" && strings.Join(ct.Groups, ",") != "Friends,Sales" {
		t.Fatalf("contact = %+v, %v", ct, ok)
	}
	if err := alice.RemoveContact(ctx, carol); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ev, 5*time.Second, func(e RosterUpdated) bool { return len(e.Contacts) == 1 && e.Contacts[0].Removed })
	if _, ok := alice.Contact(carol); ok {
		t.Fatal("contact still in roster after removal")
	}

	// A second sign-in fetches the same (now empty) roster from the server.
	if n := len(alice.Roster()); n != 0 {
		t.Fatalf("roster has %d items", n)
	}
}

func TestSubscriptionHandshakeAndPresence(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	alice, aliceEv := online(t, srv, "alice")
	bob, bobEv := online(t, srv, "bob")
	ctx := ctxLong(t)

	if err := alice.AddContact(ctx, bob.Account(), "Bob", []string{"Team"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 5*time.Second, func(e RosterUpdated) bool {
		return len(e.Contacts) == 1 && e.Contacts[0].Pending
	})
	req := waitFor(t, bobEv, 5*time.Second, func(e SubscriptionRequest) bool { return e.From.Equal(alice.Account()) })
	if err := bob.ApproveSubscription(ctx, req.From); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 5*time.Second, func(e SubscriptionChanged) bool { return e.Type == "subscribed" })
	waitFor(t, aliceEv, 5*time.Second, func(e RosterUpdated) bool {
		return len(e.Contacts) == 1 && e.Contacts[0].Subscription == "to" && !e.Contacts[0].Pending
	})
	// Once subscribed, alice sees bob's presence, and his changes.
	waitFor(t, aliceEv, 5*time.Second, func(e PresenceChanged) bool { return e.From.Bare().Equal(bob.Account()) && e.Available() })
	if err := bob.SetPresence(ctx, ShowDND, "开会中 in a meeting"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 5*time.Second, func(e PresenceChanged) bool {
		return e.From.Bare().Equal(bob.Account()) && e.Show == ShowDND && e.Status == "开会中 in a meeting"
	})
	if p, ok := alice.BestPresence(bob.Account()); !ok || p.Show != ShowDND {
		t.Fatalf("BestPresence = %+v, %v", p, ok)
	}

	// bob's other resource signing off is seen per resource.
	bob2, err := New(bob.Account().String(), append(testOptions(srv, "bob-pw"), WithResource("phone"), WithPresence(ShowAway, "", 0))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := bob2.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 5*time.Second, func(e PresenceChanged) bool { return e.From.Resourcepart() == "phone" && e.Show == ShowAway })
	if n := len(alice.Presences(bob.Account())); n != 2 {
		t.Fatalf("alice sees %d resources of bob, want 2", n)
	}
	bob2.Close()
	waitFor(t, aliceEv, 5*time.Second, func(e PresenceChanged) bool { return e.From.Resourcepart() == "phone" && !e.Available() })

	// Denying: bob revokes alice's subscription; alice is told.
	if err := bob.DenySubscription(ctx, alice.Account()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 5*time.Second, func(e SubscriptionChanged) bool { return e.Type == "unsubscribed" })
	if err := alice.Unsubscribe(ctx, bob.Account()); err != nil {
		t.Fatal(err)
	}
}

func TestVersionAndPingAnswered(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	alice, _ := online(t, srv, "alice", WithVersion("1.2.3"))
	bob, _ := online(t, srv, "bob")
	ctx := ctxT(t)
	name, ver, goos, err := bob.SoftwareVersion(ctx, alice.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	// A colleague (or a stranger) learns the program and its version,
	// not the operating system.
	if name != "Magpie" || ver != "1.2.3" || goos != "" {
		t.Fatalf("version = %q %q %q", name, ver, goos)
	}
	if err := bob.Ping(ctx, alice.LocalAddr()); err != nil {
		t.Fatalf("ping alice's client: %v", err)
	}

	// disco#info answers for the caps node too, with exactly what the
	// advertised ver was computed from (mellium's default answers nothing).
	sess, err := bob.session()
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"", capsNode + "#" + capsVer} {
		in, err := disco.GetInfo(ctx, node, alice.LocalAddr(), sess)
		if err != nil {
			t.Fatalf("disco#info node %q: %v", node, err)
		}
		if got := in.Hash(sha1.New()); got != capsVer {
			t.Fatalf("disco#info node %q hashes to %s, advertised %s", node, got, capsVer)
		}
		if len(in.Identity) != 1 || in.Identity[0].Name != "Magpie" || in.Identity[0].Category != "client" {
			t.Fatalf("identity = %+v", in.Identity)
		}
	}
	if _, err := disco.GetInfo(ctx, capsNode+"#stale", alice.LocalAddr(), sess); err == nil {
		t.Fatal("disco#info for an unknown node answered")
	}
}

func TestReconnectAfterServerRestart(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	alice, aliceEv := online(t, srv, "alice")
	bob, bobEv := online(t, srv, "bob")
	ctx := ctxT(t)
	follow(t, alice, bob, bobEv)
	if err := bob.SetPresence(ctx, ShowAway, "午饭"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 5*time.Second, func(e PresenceChanged) bool { return e.Status == "午饭" })
	restartAt := time.Now()
	mark := aliceEv.mark()

	srv.Restart(t)
	waitFrom(t, aliceEv, mark, 10*time.Second, func(e StateChanged) bool { return e.State == Reconnecting && e.Err != nil })
	waitFrom(t, aliceEv, mark, 20*time.Second, func(e StateChanged) bool { return e.State == Online && alice.State() == Online })
	// bob reconnects too; the two can talk again and the presence went out.
	deadline := time.Now().Add(20 * time.Second)
	for bob.State() != Online && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	id, err := bob.SendMessage(ctxT(t), alice.Account(), "after restart")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, aliceEv, 5*time.Second, func(e MessageReceived) bool { return e.ID == id })
	// bob's presence (show and status as he last set them) went out again.
	waitFrom(t, aliceEv, mark, 5*time.Second, func(e PresenceChanged) bool { return e.From.Bare().Equal(bob.Account()) && !e.Available() })
	waitFrom(t, aliceEv, mark, 5*time.Second, func(e PresenceChanged) bool {
		return e.From.Bare().Equal(bob.Account()) && e.Show == ShowAway && e.Status == "午饭"
	})
	if p, ok := alice.BestPresence(bob.Account()); !ok || p.Status != "午饭" {
		t.Fatalf("after reconnect alice sees bob as %+v, %v", p, ok)
	}
	t.Logf("both back online %v after the restart", time.Since(restartAt).Round(10*time.Millisecond))
}

func TestKeepAliveNoticesDeadLink(t *testing.T) {
	t.Parallel()
	srv := startProsody(t)
	proxy := newNetProxy(t, srv.C2SAddr)
	account := srv.AddUser(t, "erin", "erin-pw")
	c, err := New(account, append(testOptions(srv, "erin-pw"),
		WithServer(proxy.Addr()), WithKeepAlive(500*time.Millisecond, 500*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	r := record(c)
	defer c.Close()
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	frozenAt := time.Now()
	proxy.Freeze()
	waitFor(t, r, 5*time.Second, func(e StateChanged) bool { return e.State == Reconnecting })
	t.Logf("dead link noticed after %v", time.Since(frozenAt).Round(10*time.Millisecond))
	proxy.Thaw()
	waitFor(t, r, 10*time.Second, func(e StateChanged) bool { return e.State == Online && c.State() == Online })
}

func TestCleanSignOut(t *testing.T) {
	t.Parallel()
	alice, aliceEv, bob, _ := aliceSeesBob(t) // so alice sees bob leave
	ctx := ctxT(t)
	start := time.Now()
	bob.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	waitFor(t, aliceEv, 5*time.Second, func(e PresenceChanged) bool { return e.From.Bare().Equal(bob.Account()) && !e.Available() })
	if bob.State() != Offline {
		t.Fatalf("state after Close = %v", bob.State())
	}
	if _, err := bob.SendMessage(ctx, alice.Account(), "after sign-out"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("SendMessage after Close = %v, want ErrNotConnected", err)
	}
}

func TestAppearOffline(t *testing.T) {
	t.Parallel()
	_, aliceEv, bob, _ := aliceSeesBob(t)
	ctx := ctxT(t)
	mark := aliceEv.mark()
	if err := bob.AppearOffline(ctx); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, aliceEv, mark, 5*time.Second, func(e PresenceChanged) bool { return e.From.Bare().Equal(bob.Account()) && !e.Available() })
	if bob.State() != Online {
		t.Fatalf("bob's session state = %v; appearing offline must keep the connection", bob.State())
	}
	mark = aliceEv.mark()
	if err := bob.SetPresence(ctx, ShowAway, "back soon"); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, aliceEv, mark, 5*time.Second, func(e PresenceChanged) bool {
		return e.From.Bare().Equal(bob.Account()) && e.Available() && e.Status == "back soon"
	})
}
