// Command demo runs Magpie against a private, local Prosody with a small
// company of demo colleagues, some online, and an assistant that answers.
// `make demo` runs it; it needs prosody installed and a display.
//
//	go run ./xmpp/prosodytest/demo -magpie ./magpie
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/prosodytest"
)

const password = "demo"

type colleague struct {
	user, name, group string
	show              xmpp.Show
	status            string
	online            bool
}

var colleagues = []colleague{
	{"lisi", "李四 Li Si", "研发部 R&D", xmpp.ShowAvailable, "在写周报 Writing the weekly report", true},
	{"wangwu", "王五 Wang Wu", "研发部 R&D", xmpp.ShowAway, "午饭 Lunch", true},
	{"zhaoliu", "赵六 Zhao Liu", "市场部 Marketing", xmpp.ShowDND, "开会中 In a meeting", true},
	{"sunqi", "孙七 Sun Qi", "市场部 Marketing", "", "", false},
	{"zhouba", "周八 Zhou Ba", "管理层 Management", "", "", false},
	{"xiaozhu", "小助手 Assistant", "管理层 Management", xmpp.ShowChat, "问我任何事 Ask me anything", true},
}

func main() {
	bin := flag.String("magpie", "./magpie", "the magpie binary to open")
	flag.Parse()
	if err := run(*bin); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(bin string) error {
	if _, err := exec.LookPath("prosody"); err != nil {
		return errors.New("prosody is not installed; run 'make deps' first")
	}
	srv, err := prosodytest.Launch(prosodytest.Options{Domain: "demo.magpie.test"})
	if err != nil {
		return err
	}
	defer srv.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	me, err := srv.Register("zhangsan", password)
	if err != nil {
		return err
	}
	connect := func(account string, opts ...xmpp.Option) (*xmpp.Client, error) {
		c, err := xmpp.New(account, append([]xmpp.Option{xmpp.WithServer(srv.C2SAddr),
			xmpp.WithTrustedFingerprints(srv.Fingerprint),
			xmpp.WithPassword(func(context.Context) (string, error) { return password, nil })}, opts...)...)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		return c, c.Connect(cctx)
	}

	// Everyone approves everyone; the online colleagues stay connected.
	var online, offline []*xmpp.Client
	for _, col := range colleagues {
		account, err := srv.Register(col.user, password)
		if err != nil {
			return err
		}
		c, err := connect(account, xmpp.WithPresence(col.show, col.status, 0), xmpp.WithResource("desk"))
		if err != nil {
			return fmt.Errorf("sign in %s: %w", col.user, err)
		}
		defer c.Close()
		go serve(ctx, c, col)
		if col.online {
			online = append(online, c)
		} else {
			offline = append(offline, c)
		}
	}
	// With presence: subscription requests reach only available sessions.
	setup, err := connect(me, xmpp.WithResource("setup"))
	if err != nil {
		return err
	}
	mutual := make(chan struct{})
	var states sync.Map // contact -> subscription, for the error message
	go func() {
		both := map[string]bool{}
		for e := range setup.Events() {
			switch e := e.(type) {
			case xmpp.SubscriptionRequest:
				_ = setup.ApproveSubscription(ctx, e.From)
			case xmpp.RosterUpdated:
				for _, ct := range e.Contacts {
					both[ct.JID.String()] = ct.Subscription == "both"
					states.Store(ct.JID.String(), fmt.Sprintf("%s pending=%v", ct.Subscription, ct.Pending))
				}
				n := 0
				for _, ok := range both {
					if ok {
						n++
					}
				}
				if n == len(colleagues) {
					close(mutual)
					for range setup.Events() {
					}
					return
				}
			}
		}
	}()
	for _, col := range colleagues {
		j := jid.MustParse(col.user + "@" + srv.Domain)
		if err := setup.AddContact(ctx, j, col.name, []string{col.group}); err != nil {
			return err
		}
	}
	select { // every colleague sees zhangsan and the other way round
	case <-mutual:
	case <-time.After(15 * time.Second):
		var got []string
		states.Range(func(k, v any) bool { got = append(got, fmt.Sprint(k, ": ", v)); return true })
		return fmt.Errorf("the demo contacts did not become mutual contacts: %s", strings.Join(got, "; "))
	}
	setup.Close()
	for _, c := range offline { // they were only needed for the handshake
		c.Close()
	}

	// The account, as `magpie login` would leave it, in a throw-away config
	// folder (and the history in a throw-away data folder) so the user's
	// own Magpie settings and history are not touched.
	config, err := os.MkdirTemp("", "magpie-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(config)
	store := xmpp.NewAccountStore(filepath.Join(config, "magpie", "accounts.json"))
	if err := store.Save(xmpp.AccountConfig{JID: me, Server: srv.C2SAddr, Fingerprints: []string{srv.Fingerprint}}); err != nil {
		return err
	}
	secrets := keyring.NewStore(keyring.System())
	kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = secrets.Save(kctx, me, password)
	cancel()
	if err != nil {
		fmt.Printf("The keyring is not available (%v):\nsign in as %s with the password %q.\n", err, me, password)
	} else {
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = secrets.Delete(dctx, me)
		}()
	}

	fmt.Printf("Demo server %s on %s. You are %s (password %q).\n", srv.Domain, srv.C2SAddr, me, password)
	fmt.Println("Colleagues: 李四, 王五, 赵六 and 小助手 are online; 小助手 answers every message. Quit Magpie to end the demo.")
	app := exec.CommandContext(ctx, bin)
	app.Env = append(os.Environ(), "XDG_CONFIG_HOME="+config, "XDG_DATA_HOME="+filepath.Join(config, "data"))
	app.Stdout, app.Stderr = os.Stdout, os.Stderr
	if err := app.Start(); err != nil {
		return err
	}
	// 李四 greets once Magpie is online.
	go func() {
		for _, c := range online {
			if strings.HasPrefix(c.Account().String(), "lisi@") {
				greet(ctx, c, jid.MustParse(me))
			}
		}
	}()
	return app.Wait()
}

// serve approves subscriptions, and the assistant answers messages.
func serve(ctx context.Context, c *xmpp.Client, col colleague) {
	for e := range c.Events() {
		switch e := e.(type) {
		case xmpp.SubscriptionRequest:
			// Approve, and ask back, so both see each other's presence.
			_ = c.ApproveSubscription(ctx, e.From)
			_ = c.Subscribe(ctx, e.From)
		case xmpp.MessageReceived:
			if col.user != "xiaozhu" {
				continue
			}
			reply := fmt.Sprintf("收到：“%s”。我是演示助手，会回复每一条消息。\nGot it: “%s”. I am the demo assistant and answer every message.", e.Body, e.Body)
			time.Sleep(700 * time.Millisecond) // a human-ish pause
			_, _ = c.SendMessage(ctx, e.From.Bare(), reply)
		}
	}
}

// greet waits until Magpie's session is online, then says hello.
func greet(ctx context.Context, c *xmpp.Client, me jid.JID) {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if p, ok := c.BestPresence(me); ok && p.From.Resourcepart() != "setup" {
			time.Sleep(1500 * time.Millisecond)
			_, _ = c.SendMessage(ctx, me, "早上好！周会改到下午三点，议程见 https://oa.example.com/meetings/42\nMorning! The weekly meeting moved to 3 pm, agenda at the link.")
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
}
