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
	"mellium.im/xmpp/stanza"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/prosodytest"
)

const password = "demo"

// company and shared are the sizes set by the -company and -shared flags.
var company, shared int

// Parts of the generated colleagues' names and departments.
var (
	surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
	given    = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华建国志红玉文斌宇浩凯鹏飞")
	depts    = []string{"研发", "销售", "财务", "人事", "行政", "市场", "法务", "采购", "客服", "质量"}
	titles   = []string{"工程师", "经理", "主管", "专员", "总监"}
)

// generated is the i-th generated colleague: user name, Chinese name
// (family name first), family and given name, department and title.
func generated(i int) (user, name, family, givenName, dept, title string) {
	family = string(surnames[i%len(surnames)])
	givenName = string(given[(i/len(surnames))%len(given)]) + string(given[(i*7)%len(given)])
	dept = fmt.Sprintf("%s%d部", depts[i%len(depts)], i%50/len(depts)+1)
	return fmt.Sprintf("u%05d", i), family + givenName, family, givenName, dept, titles[i%len(titles)]
}

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
	flag.IntVar(&company, "company", 300, "colleagues in the company directory; the first -shared of them are also in the roster, as a shared group would put them")
	flag.IntVar(&shared, "shared", 0, "colleagues put in zhangsan's roster, in 50 departments (e.g. 10000 to try a company-sized roster)")
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
	// With prosody-modules (make deps installs it) the server has a company
	// directory: Find colleagues (Ctrl+K) searches it.
	opts := prosodytest.Options{Domain: "demo.magpie.test", LogLevel: "info"}
	// Group chat: a conference service where 李四 keeps the R&D room.
	opts.Components = append(opts.Components, prosodytest.Component{Domain: "conference." + opts.Domain, Module: "muc",
		Config: "\tmodules_enabled = { \"muc_mam\" }\n\tmuc_room_default_persistent = true\n\tmuc_room_default_public = true"})
	directory := prosodytest.HasModule("vjud")
	if directory {
		opts = prosodytest.DirectoryModules(opts)
	}
	// An administrator who has the server send notices, as an OA system
	// wired into the server would (see prosodytest.NoticeOptions).
	plugins, err := os.MkdirTemp("", "magpie-demo-plugins-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(plugins)
	if opts, err = prosodytest.NoticeOptions(opts, "admin", plugins); err != nil {
		return err
	}
	srv, err := prosodytest.Launch(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	if directory {
		for i := range company {
			user, name, family, givenName, dept, title := generated(i)
			if err := srv.SetVCard(user, prosodytest.VCard{FullName: name, Family: family, Given: givenName, Unit: dept,
				Title: title, Org: "示例公司", Email: user + "@demo.magpie.test"}); err != nil {
				return err
			}
			if _, err := srv.Register(user, password); err != nil {
				return err
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	me, err := srv.Register("zhangsan", password)
	if err != nil {
		return err
	}
	if directory { // the own profile: rooms joined from an invitation take 张三 as the nick
		if err := srv.SetVCard("zhangsan", prosodytest.VCard{FullName: "张三 Zhang San", Family: "张", Given: "三", Nickname: "张三",
			Unit: "研发部 R&D", Org: "示例公司", Title: "工程师 Engineer", Email: "zhangsan@demo.magpie.test"}); err != nil {
			return err
		}
	}
	adminJID, err := srv.Register("admin", password)
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
		if directory { // a profile card, and findable in the directory
			han := []rune(strings.Fields(col.name)[0])
			if err := srv.SetVCard(col.user, prosodytest.VCard{FullName: col.name, Family: string(han[:1]), Given: string(han[1:]),
				Unit: col.group, Org: "示例公司", Title: "同事 Colleague", Email: col.user + "@demo.magpie.test"}); err != nil {
				return err
			}
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
	if err := bookmarkRooms(ctx, setup, srv.Domain); err != nil {
		return err
	}
	setup.Close()
	if shared > 0 {
		if err := addShared(srv, setup.Roster()); err != nil {
			return err
		}
	}
	for _, c := range offline { // they were only needed for the handshake
		c.Close()
	}
	admin, err := connect(adminJID, xmpp.WithoutPresence())
	if err != nil {
		return fmt.Errorf("sign in admin: %w", err)
	}
	defer admin.Close()
	go func() {
		for range admin.Events() {
		}
	}()
	if err := offlineNotices(ctx, admin, srv.Domain); err != nil {
		return err
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

	lisi, wangwu := byUser(online, "lisi"), byUser(online, "wangwu")
	if err := openRooms(ctx, lisi, wangwu, srv.Domain); err != nil {
		return err
	}

	fmt.Printf("Demo server %s on %s. You are %s (password %q).\n", srv.Domain, srv.C2SAddr, me, password)
	fmt.Println("Colleagues: 李四, 王五, 赵六 and 小助手 are online; 小助手 answers every message. Quit Magpie to end the demo.")
	fmt.Println("The OA system left 3 notices while you were away, and the server announces maintenance after sign-in: see Notices.")
	fmt.Println("Group chats: you join 研发部 and 全体员工 by their bookmarks; 王五 mentions you in 研发部 and 李四 invites you to 项目 Magpie. Ctrl+Shift+J lists the rooms.")
	app := exec.CommandContext(ctx, bin)
	// Its own instance directory: the demo's Magpie runs beside the user's.
	app.Env = append(os.Environ(), "XDG_CONFIG_HOME="+config, "XDG_DATA_HOME="+filepath.Join(config, "data"),
		"MAGPIE_INSTANCE_DIR="+filepath.Join(config, "instance"))
	app.Stdout, app.Stderr = os.Stdout, os.Stderr
	if err := app.Start(); err != nil {
		return err
	}
	// 李四 greets once Magpie is online, and the server announces a
	// maintenance window.
	go func() {
		greet(ctx, lisi, jid.MustParse(me))
		roomTalk(ctx, lisi, wangwu, jid.MustParse(me), srv.Domain)
		announce(ctx, admin, srv.Domain)
	}()
	return app.Wait()
}

// addShared puts -shared generated colleagues in zhangsan's roster besides
// the demo colleagues (roster), and zhangsan in each of theirs, as a
// company's shared group does. zhangsan has no session now, so Prosody
// reads the roster afresh at the next sign-in.
func addShared(srv *prosodytest.Server, roster []xmpp.Contact) error {
	var items []prosodytest.RosterItem
	for _, ct := range roster {
		items = append(items, prosodytest.RosterItem{JID: ct.JID.String(), Name: ct.Name, Groups: ct.Groups, Subscription: ct.Subscription})
	}
	me := []prosodytest.RosterItem{{JID: "zhangsan@" + srv.Domain, Name: "张三 Zhang San", Groups: []string{"研发1部"}}}
	for i := range shared {
		user, name, _, _, dept, _ := generated(i)
		items = append(items, prosodytest.RosterItem{JID: user + "@" + srv.Domain, Name: name, Groups: []string{dept}})
		if err := srv.SetRoster(user, 1, me); err != nil {
			return err
		}
	}
	return srv.SetRoster("zhangsan", 2, items)
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

// offlineNotices has the server send zhangsan, who is not signed in yet,
// approval reminders from the OA system: offline storage keeps them, and
// Magpie summarises them at sign-in.
func offlineNotices(ctx context.Context, admin *xmpp.Client, domain string) error {
	for i, n := range []struct{ subject, body string }{
		{"审批提醒", "您有 1 张报销单待审批：差旅费 2,380 元（李四）。\n请在今天 17:00 前处理：https://oa.example.com/approve/1024\nExpense claim from Li Si waiting for your approval."},
		{"审批提醒", "您有 1 个请假申请待审批：王五，11 月 27 日至 28 日年假。\n审批入口：https://oa.example.com/approve/1025"},
		{"会议变更 Meeting moved", "周会改到下午三点，地点 3 号会议室。\nThe weekly meeting moved to 3 pm, room 3. Agenda: https://oa.example.com/meetings/42"},
	} {
		if _, err := admin.Send(ctx, xmpp.OutgoingMessage{To: jid.MustParse("zhangsan@notify." + domain), Type: stanza.NormalMessage,
			Subject: n.subject, Body: n.body}); err != nil {
			return fmt.Errorf("notice %d: %w", i+1, err)
		}
	}
	return admin.Ping(ctx, jid.MustParse(domain))
}

// announce sends everyone online an announcement from the server (Prosody's
// mod_announce), a little after 李四's greeting.
func announce(ctx context.Context, admin *xmpp.Client, domain string) {
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return
	}
	_, _ = admin.Send(ctx, xmpp.OutgoingMessage{To: jid.MustParse(domain + "/announce/online"), Type: stanza.HeadlineMessage,
		Subject: "系统维护通知", Body: "今晚 22:00–23:00 邮件和 OA 系统维护，期间无法登录，请提前保存工作。\nMail and OA maintenance tonight 22:00–23:00."})
}

// The demo's group chats: 李四 keeps the R&D room and the all-staff room,
// which zhangsan has bookmarked (joined at sign-in), and after sign-in opens
// a project room and invites zhangsan to it.
var demoRooms = []struct{ local, name, description string }{
	{"rd", "研发部 R&D", "研发部日常沟通 R&D day to day"},
	{"all", "全体员工 All staff", "公司通知与闲聊 Company news and chat"},
}

const projectRoom = "proj-magpie"

// bookmarkRooms bookmarks the demo rooms for zhangsan, joined at sign-in
// with the nick 张三.
func bookmarkRooms(ctx context.Context, c *xmpp.Client, domain string) error {
	for _, r := range demoRooms {
		b := xmpp.Bookmark{Room: jid.MustParse(r.local + "@conference." + domain), Name: r.name, Autojoin: true, Nick: "张三"}
		if err := c.SetBookmark(ctx, b); err != nil {
			return fmt.Errorf("bookmark %s: %w", r.local, err)
		}
	}
	return nil
}

// openRooms has 李四 create the demo rooms, 王五 join the R&D one, and both
// say something, so that joining shows history.
func openRooms(ctx context.Context, lisi, wangwu *xmpp.Client, domain string) error {
	for _, r := range demoRooms {
		room := jid.MustParse(r.local + "@conference." + domain)
		cfg := &xmpp.RoomConfig{Name: r.name, Description: r.description, Persistent: true, Public: true, Archive: true,
			AllowInvites: true, HistoryLength: 50}
		if err := lisi.CreateRoom(ctx, room, "李四", cfg); err != nil {
			return fmt.Errorf("create %s: %w", r.local, err)
		}
	}
	rd := jid.MustParse("rd@conference." + domain)
	if err := wangwu.JoinRoom(ctx, rd, "王五"); err != nil {
		return fmt.Errorf("王五 joins %s: %w", rd, err)
	}
	_, _ = lisi.SendRoomMessage(ctx, rd, "欢迎来到研发部群聊！周报请周五前交。Welcome to the R&D room; weekly reports by Friday.")
	time.Sleep(500 * time.Millisecond) // two connections: the room takes them in the order they arrive
	_, _ = wangwu.SendRoomMessage(ctx, rd, "测试环境今天下午升级，大约 30 分钟。The test environment is upgraded this afternoon, about 30 minutes.")
	_, _ = lisi.SendRoomMessage(ctx, jid.MustParse("all@conference."+domain), "下周五下午团建，请在 OA 报名。Team outing next Friday afternoon: sign up in the OA.")
	return nil
}

// roomTalk, once zhangsan is in the R&D room: 王五 mentions him there, and
// 李四 opens a members-only project room and invites him to it.
func roomTalk(ctx context.Context, lisi, wangwu *xmpp.Client, me jid.JID, domain string) {
	rd := jid.MustParse("rd@conference." + domain)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if _, in := occupant(lisi, rd, "张三"); in {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return
		}
	}
	time.Sleep(2 * time.Second)
	_, _ = wangwu.SendRoomMessage(ctx, rd, "@张三 接口文档更新了，帮忙看一下？ The API document is updated, could you have a look?")
	time.Sleep(3 * time.Second)
	proj := jid.MustParse(projectRoom + "@conference." + domain)
	cfg := &xmpp.RoomConfig{Name: "项目 Magpie", Description: "Magpie 发布 Release", Persistent: true, MembersOnly: true,
		Archive: true, AllowInvites: true, HistoryLength: 50}
	if err := lisi.CreateRoom(ctx, proj, "李四", cfg); err != nil {
		fmt.Println("demo: the project room could not be created:", err)
		return
	}
	_, _ = lisi.SendRoomMessage(ctx, proj, "下周发布，这里跟进进度。Release next week; progress goes here.")
	if err := lisi.Invite(ctx, proj, me, "拉你进项目群 Join the project room"); err != nil {
		fmt.Println("demo: the invitation could not be sent:", err)
	}
}

// occupant reports whether nick is in room, as c sees it.
func occupant(c *xmpp.Client, room jid.JID, nick string) (xmpp.Occupant, bool) {
	for _, o := range c.Occupants(room) {
		if o.Nick == nick {
			return o, true
		}
	}
	return xmpp.Occupant{}, false
}

// byUser is the client of the demo colleague user.
func byUser(clients []*xmpp.Client, user string) *xmpp.Client {
	for _, c := range clients {
		if c.Account().Localpart() == user {
			return c
		}
	}
	panic("demo: no colleague " + user)
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
