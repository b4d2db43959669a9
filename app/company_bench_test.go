package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/store"
)

// companyNames are the parts of the generated colleagues' names: Chinese
// names, as an OA roster in China has them, so that the pinyin keys are
// worked out for every contact as in real use.
var (
	companySurnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
	companyGiven    = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰文斌宇浩凯鹏飞")
	companyDepts    = []string{"研发", "销售", "财务", "人事", "行政", "市场", "法务", "采购", "客服", "质量"}
)

// companyRoster is n colleagues in 50 departments (groups), with Chinese
// names; every one is a mutual contact.
func companyRoster(n int, domain string) []prosodytest.RosterItem {
	items := make([]prosodytest.RosterItem, n)
	for i := range items {
		name := string(companySurnames[i%len(companySurnames)]) +
			string(companyGiven[(i/len(companySurnames))%len(companyGiven)]) +
			string(companyGiven[(i*7)%len(companyGiven)])
		dept := fmt.Sprintf("%s%d部", companyDepts[i%len(companyDepts)], i%50/len(companyDepts)+1)
		items[i] = prosodytest.RosterItem{
			JID:    fmt.Sprintf("u%05d@%s", i, domain),
			Name:   name,
			Groups: []string{dept},
		}
	}
	return items
}

// companyServer starts a Prosody where zhangsan has n colleagues (and the
// extra contacts), each of whom has zhangsan in their own roster as well,
// as a company's shared roster has it: their answers to zhangsan's presence
// probes are then "unavailable", not "unsubscribed" (which would make the
// server change zhangsan's roster at every sign-in).
func companyServer(b *testing.B, n int, password string, extra ...prosodytest.RosterItem) (*prosodytest.Server, string) {
	srv := prosodytest.Start(b, prosodytest.Options{LogLevel: "info"})
	account := srv.AddUser(b, "zhangsan", password)
	roster := append(companyRoster(n-len(extra), srv.Domain), extra...)
	if err := srv.SetRoster("zhangsan", 1, roster); err != nil {
		b.Fatal(err)
	}
	me := []prosodytest.RosterItem{{JID: account, Name: "张三", Groups: []string{"研发1部"}}}
	for _, it := range roster {
		if err := srv.SetRoster(strings.Split(it.JID, "@")[0], 1, me); err != nil {
			b.Fatal(err)
		}
	}
	return srv, account
}

// BenchmarkCompanyRoster measures the issue-5 targets with 5,000 and 20,000
// contacts against a real Prosody, through the app's own path (core client
// with its store, event pump, contacts window on Fyne's test driver):
//
//   - Cold: from Connect to the whole roster shown, on a machine that has
//     never seen the account (empty store; the server sends the roster).
//   - Cached: the same with the roster in the store (XEP-0237: the server
//     confirms the version and sends nothing; the cached roster is shown
//     before the sign-in even finishes).
//   - Keystroke: one filter keystroke over the whole roster (pinyin too).
//
// ns/op is the time to the roster shown; ms-online is the time until
// Connect returned (signed in, presence sent and confirmed by the server,
// which with a company roster is busy sending probes for a while). The
// memory of the real app is measured by BenchmarkAppMemory.
func BenchmarkCompanyRoster(b *testing.B) {
	for _, n := range []int{5000, 20000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			const password = "company-bench"
			srv, account := companyServer(b, n, password)
			a := test.NewTempApp(b)
			var online time.Duration // Connect returned: signed in, presence sent and confirmed
			signIn := func(b *testing.B, dir string) {
				db, err := store.Open(filepath.Join(dir, "history.db"))
				if err != nil {
					b.Fatal(err)
				}
				client, err := xmpp.New(account, xmpp.WithServer(srv.C2SAddr),
					xmpp.WithTrustedFingerprints(srv.Fingerprint), xmpp.WithStore(db),
					xmpp.WithPassword(func(context.Context) (string, error) { return password, nil }))
				if err != nil {
					b.Fatal(err)
				}
				c := newController(a, "bench", xmpp.NewAccountStore(filepath.Join(dir, "accounts.json")), keyring.NewStore(nil))
				// The UI's work runs here, in order, as on Fyne's goroutine.
				ui := make(chan func(), 16)
				c.toUI = func(f func()) { ui <- f }
				cfg := xmpp.AccountConfig{JID: account}
				start := time.Now()
				c.signedIn(client, db, cfg, nil)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				connected := make(chan error, 1)
				go func() { connected <- client.Connect(ctx) }()
				for shown := false; !shown; {
					select {
					case f := <-ui:
						f()
						v := c.main.roster
						shown = len(v.contacts) == n && len(v.rows) >= n && v.held == 0
					case <-ctx.Done():
						b.Fatalf("the roster was not shown: %v", ctx.Err())
					}
				}
				b.StopTimer()
				for waiting := true; waiting; {
					select {
					case f := <-ui:
						f()
					case err := <-connected:
						if err != nil {
							b.Fatal(err)
						}
						waiting = false
					}
				}
				online += time.Since(start)
				c.client = nil // the pump hands over nothing more
				go func() {
					for range ui {
					}
				}()
				client.Close()
				c.chats.close()
				c.main.close()
				db.Close()
				b.StartTimer()
			}
			b.Run("Cold", func(b *testing.B) {
				online = 0
				for b.Loop() {
					signIn(b, b.TempDir())
				}
				b.ReportMetric(float64(online.Milliseconds())/float64(b.N), "ms-online")
			})
			b.Run("Cached", func(b *testing.B) {
				dir := b.TempDir()
				b.StopTimer()
				signIn(b, dir) // fills the store
				online = 0
				b.StartTimer()
				for b.Loop() {
					signIn(b, dir)
				}
				b.ReportMetric(float64(online.Milliseconds())/float64(b.N), "ms-online")
			})
			b.Run("Keystroke", func(b *testing.B) {
				f := newRosterFixture(b)
				contacts := make([]xmpp.Contact, n)
				for i, it := range companyRoster(n, srv.Domain) {
					contacts[i] = testContact(it.JID, it.Name, it.Groups...)
				}
				f.view.SetContacts(contacts)
				typed := []string{"z", "zh", "zha", "zhang", "zhangw", "zw", "张", "张伟", "u0", "u012"}
				i := 0
				for b.Loop() {
					f.view.SetFilter(typed[i%len(typed)])
					i++
				}
			})
		})
	}
}
