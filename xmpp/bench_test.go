package xmpp

import (
	"context"
	"strconv"
	"testing"
	"time"

	"magpie/xmpp/prosodytest"
)

// BenchmarkSignIn measures a full sign-in against a local Prosody: TCP,
// STARTTLS, SCRAM, bind, roster fetch, initial presence and the ping that
// confirms the server processed it, then a clean sign-out.
func BenchmarkSignIn(b *testing.B) {
	srv := prosodytest.Start(b, prosodytest.Options{})
	account := srv.AddUser(b, "bench", "bench-pw")
	opts := []Option{WithServer(srv.C2SAddr), WithTrustedFingerprints(srv.Fingerprint),
		WithPassword(func(context.Context) (string, error) { return "bench-pw", nil })}
	var connect time.Duration
	b.ResetTimer()
	for b.Loop() {
		c, err := New(account, opts...)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for range c.Events() {
			}
		}()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.Connect(ctx); err != nil {
			b.Fatal(err)
		}
		connect += time.Since(start)
		cancel()
		c.Close()
	}
	b.ReportMetric(float64(connect.Microseconds())/float64(b.N)/1000, "ms/connect")
}

// BenchmarkChatRoundTrip measures one message from one account to another
// through the server, until the receiver's event arrives.
func BenchmarkChatRoundTrip(b *testing.B) {
	srv := prosodytest.Start(b, prosodytest.Options{})
	mk := func(user string) (*Client, <-chan Event) {
		account := srv.AddUser(b, user, user+"-pw")
		c, err := New(account, WithServer(srv.C2SAddr), WithTrustedFingerprints(srv.Fingerprint),
			WithPassword(func(context.Context) (string, error) { return user + "-pw", nil }))
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Connect(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c, c.Events()
	}
	alice, _ := mk("alice")
	bob, bobEvents := mk("bob")
	ctx := context.Background()
	i := 0
	b.ResetTimer()
	for b.Loop() {
		i++
		body := "message " + strconv.Itoa(i)
		if _, err := alice.SendMessage(ctx, bob.Account(), body); err != nil {
			b.Fatal(err)
		}
		for e := range bobEvents {
			if m, ok := e.(MessageReceived); ok && m.Body == body {
				break
			}
		}
	}
}
