package xmpp

import (
	"context"
	"encoding/xml"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"

	"mellium.im/xmlstream"
	mxmpp "mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
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

// BenchmarkReceiveBurst measures a burst of 10,000 chat messages pushed by
// a server as fast as it can write them, through the whole client (TLS,
// XML decoding, the stanza handler, deduplication and the SQLite store with
// its full-text indexes) until the last one is reported as stored. The
// server is the in-process fake (mellium's server side), so the CPU figure
// includes the server's encoding too; Prosody is left out so that its own
// speed does not hide the client's.
func BenchmarkReceiveBurst(b *testing.B) {
	const burst = 10000
	start := make(chan *mxmpp.Session, 1)
	srv := startFakeServerWith(b, "pw", nil, func(sess *mxmpp.Session) { start <- sess })
	var total time.Duration
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		db, err := store.Open(filepath.Join(b.TempDir(), "history.db"))
		if err != nil {
			b.Fatal(err)
		}
		c, err := New("bench@fake.test", WithServer(srv.addr), WithTrustedFingerprints(srv.fingerprint),
			WithPassword(func(context.Context) (string, error) { return "pw", nil }), WithStore(db))
		if err != nil {
			b.Fatal(err)
		}
		stored := make(chan struct{})
		go func() {
			n := 0
			for e := range c.Events() {
				if m, ok := e.(MessageReceived); ok && m.Seq != 0 {
					if n++; n == burst {
						close(stored)
					}
				}
			}
		}()
		if err := c.Connect(context.Background()); err != nil {
			b.Fatal(err)
		}
		sess := <-start
		b.StartTimer()
		began, cpuBegan := time.Now(), cpuTime()
		go func() {
			for i := range burst {
				id := "burst-" + strconv.Itoa(i)
				msg := stanza.Message{ID: id, To: c.LocalAddr(), From: jid.MustParse("peer@fake.test/desk"), Type: stanza.ChatMessage}
				body := xmlstream.Wrap(xmlstream.Token(xml.CharData("消息 message number "+strconv.Itoa(i))), xml.StartElement{Name: xml.Name{Local: "body"}})
				if err := sess.Send(context.Background(), msg.Wrap(body)); err != nil {
					return
				}
			}
		}()
		select {
		case <-stored:
		case <-time.After(2 * time.Minute):
			b.Fatal("the burst was not stored within 2 minutes")
		}
		total += time.Since(began)
		cpu += cpuTime() - cpuBegan
		b.StopTimer()
		c.Close()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(burst*b.N)/total.Seconds(), "msgs/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/burst")
}

// hasLuaDBI reports whether the Debian package lua-dbi-sqlite3 is installed.
func hasLuaDBI() bool {
	return exec.Command("dpkg-query", "-W", "-f", "${Status}", "lua-dbi-sqlite3").Run() == nil
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkArchiveCatchUp measures the catch-up of 10,000 messages that
// arrived in the account's archive while it was offline: from Connect to
// HistorySynced, every message stored. The client signs in with a negative
// priority so that Prosody's offline storage does not deliver the same
// messages again (that path is the burst above). Prosody caps an archive
// page at max_archive_query_results (50 by default). Its file storage
// ("internal") reads the whole archive for every page, so the server's time
// dominates there; SQL storage (SQLite, needs lua-dbi-sqlite3) is what a
// company server runs.
func BenchmarkArchiveCatchUp(b *testing.B) {
	// Accounts stay in files (the test harness writes them); the archive
	// goes to SQLite.
	const sqlStorage = `default_storage = "internal"; storage = { archive = "sql" }; sql = { driver = "SQLite3", database = "prosody.sqlite" }`
	for _, tc := range []struct{ name, config string }{
		{"internal/page=50", ""},
		{"internal/page=250", "max_archive_query_results = 250"},
		{"sql/page=50", sqlStorage},
		{"sql/page=250", sqlStorage + "\nmax_archive_query_results = 250"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if strings.HasPrefix(tc.name, "sql") {
				if !hasLuaDBI() {
					b.Skip("Prosody's SQL storage needs lua-dbi-sqlite3")
				}
			}
			srv := prosodytest.Start(b, prosodytest.Options{ExtraConfig: tc.config})
			account := srv.AddUser(b, "reader", "reader-pw")
			peerAccount := srv.AddUser(b, "writer", "writer-pw")
			peer, err := New(peerAccount, WithServer(srv.C2SAddr), WithTrustedFingerprints(srv.Fingerprint),
				WithPassword(func(context.Context) (string, error) { return "writer-pw", nil }))
			if err != nil {
				b.Fatal(err)
			}
			go func() {
				for range peer.Events() {
				}
			}()
			ctx := context.Background()
			if err := peer.Connect(ctx); err != nil {
				b.Fatal(err)
			}
			defer peer.Close()
			since := time.Now().Add(-time.Minute)
			const total = 10000
			for i := range total {
				if _, err := peer.SendMessage(ctx, jid.MustParse(account), "archived 消息 "+strconv.Itoa(i)); err != nil {
					b.Fatal(err)
				}
			}
			if err := peer.Ping(ctx, jid.JID{}); err != nil { // the server has taken (and archived) them all
				b.Fatal(err)
			}
			var took, cpu time.Duration
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				db, err := store.Open(filepath.Join(b.TempDir(), "history.db"))
				if err != nil {
					b.Fatal(err)
				}
				if err := db.SetArchiveCursor("", since); err != nil { // synced once, before the burst
					b.Fatal(err)
				}
				c, err := New(account, WithServer(srv.C2SAddr), WithTrustedFingerprints(srv.Fingerprint),
					WithPassword(func(context.Context) (string, error) { return "reader-pw", nil }),
					WithStore(db), WithPresence(ShowAvailable, "", -1))
				if err != nil {
					b.Fatal(err)
				}
				synced := make(chan HistorySynced, 1)
				go func() {
					for e := range c.Events() {
						if s, ok := e.(HistorySynced); ok {
							synced <- s
						}
					}
				}()
				b.StartTimer()
				began, cpuBegan := time.Now(), cpuTime()
				if err := c.Connect(ctx); err != nil {
					b.Fatal(err)
				}
				s := <-synced
				took += time.Since(began)
				cpu += cpuTime() - cpuBegan
				b.StopTimer()
				if s.Err != nil || s.Added != total {
					b.Fatalf("caught up %d of %d messages: %v", s.Added, total, s.Err)
				}
				c.Close()
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(took.Seconds()/float64(b.N), "s/catch-up")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/catch-up")
		})
	}
}
