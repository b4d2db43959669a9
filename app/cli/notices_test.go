package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
	"magpie/xmpp/provision"
	"magpie/xmpp/store"
)

// TestNotices prints the stored inbox without any network: newest first,
// unread ones marked, each sender's address with why it may send notices
// (the server, the notifier account provisioning names, or unverified: a
// notice an older version took from an ordinary account), as text and
// JSON, only the unread, and limited.
func TestNotices(t *testing.T) {
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	writeNoticeSenders(t, config, "oa-notify@oa.test")
	h := newHarness(t)
	const me = "zhangsan@oa.test"
	r := h.run("", "notices", "--jid", me)
	r.expect(t, ExitOK, "")
	if r.stdout != "No notices.\n" {
		t.Fatalf("empty inbox: %q", r.stdout)
	}
	db, _ := h.openStore(me)
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for i, n := range []store.Notice{
		{From: "oa.test", ID: "n1", Subject: "审批提醒", Body: "您有 3 条报销单待审批\nhttps://oa.test/approve/42", Time: at},
		{From: "oa-notify@oa.test", ID: "n2", Subject: "会议变更", Body: "周会改到下午三点", Time: at.Add(time.Hour)},
		{From: "broadcast.oa.test", Body: "全员通知：明天放假", Time: at.Add(2 * time.Hour)},
	} {
		stored, _, err := db.AddNotice(n)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if err := db.MarkNoticeRead(stored.Seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	db.Close()

	r = h.run("", "notices", "--jid", me)
	r.expect(t, ExitOK, "")
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "* ") || !strings.HasSuffix(lines[0], " [server] broadcast.oa.test") ||
		lines[1] != "    全员通知：明天放假" || !strings.HasPrefix(lines[2], "  ") || !strings.HasSuffix(lines[2], " [notifier] oa-notify@oa.test  会议变更") ||
		!strings.HasSuffix(lines[4], " [server] oa.test  审批提醒") || lines[6] != "    https://oa.test/approve/42" {
		t.Fatalf("notices:\n%s", r.stdout)
	}

	r = h.run("", "notices", "--jid", me, "--json", "--unread")
	r.expect(t, ExitOK, "")
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		got = append(got, m)
	}
	if len(got) != 2 || got[0]["from"] != "broadcast.oa.test" || got[0]["sender"] != "server" || got[1]["subject"] != "审批提醒" || got[1]["read"] != false ||
		got[1]["id"] != "n1" || got[1]["type"] != "notice" || got[1]["time"] != "2026-11-24T09:00:00Z" ||
		got[1]["body"] != "您有 3 条报销单待审批\nhttps://oa.test/approve/42" {
		t.Fatalf("notices --json --unread: %v", got)
	}

	r = h.run("", "notices", "--jid", me, "--limit", "1", "--json")
	r.expect(t, ExitOK, "")
	if strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, "全员通知") {
		t.Fatalf("notices --limit 1: %q", r.stdout)
	}
	h.run("", "notices", "--jid", me, "extra").expect(t, ExitUsage, "no arguments")
	h.run("", "notices", "--jid", me, "--limit", "-1").expect(t, ExitUsage, "--limit")

	// An ordinary account's headline that an older version kept as a
	// notice is shown as unverified, in text and JSON.
	db, _ = h.openStore(me)
	if _, _, err := db.AddNotice(store.Notice{From: "mallory@oa.test/x", ID: "evil", Subject: "Approve payment",
		Body: "https://pay.evil.example", Time: at.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	r = h.run("", "notices", "--jid", me, "--limit", "1")
	r.expect(t, ExitOK, "")
	if first, _, _ := strings.Cut(r.stdout, "\n"); !strings.HasSuffix(first, " [UNVERIFIED] mallory@oa.test/x  Approve payment") {
		t.Fatalf("mallory's old notice: %q", r.stdout)
	}
	r = h.run("", "notices", "--jid", me, "--limit", "1", "--json")
	if !strings.Contains(r.stdout, `"sender":"unverified"`) || !strings.Contains(r.stdout, `"from":"mallory@oa.test/x"`) {
		t.Fatalf("mallory's old notice as JSON: %q", r.stdout)
	}
}

// writeNoticeSenders provisions notifier accounts in the user's
// provisioning file under config.
func writeNoticeSenders(t *testing.T, config string, senders ...string) {
	t.Helper()
	path := filepath.Join(config, "magpie", provision.FileName)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(senders))
	for i, s := range senders {
		quoted[i] = strconv.Quote(s)
	}
	if err := os.WriteFile(path, []byte("[notices]\nsenders = ["+strings.Join(quoted, ", ")+"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestListenReportsNotices, against Prosody: `listen --json` reports notices
// as type "notice" with from, subject, body, time and delayed: one the server
// kept while the user was offline (delayed) and one sent live by
// mod_announce. `notices` then lists both from the store listen filled.
func TestListenReportsNotices(t *testing.T) {
	opts, err := prosodytest.NoticeOptions(prosodytest.Options{}, "admin", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := prosodytest.Start(t, opts)
	adminJID := srv.AddUser(t, "admin", "admin-pw")
	bob := srv.AddUser(t, "bob", "bob-pw")
	h := newHarness(t)
	conn := []string{"--server", srv.C2SAddr, "--trust-fingerprint", srv.Fingerprint}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := xmpp.New(adminJID, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return "admin-pw", nil }))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range admin.Events() {
		}
	}()
	if err := admin.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// While bob is offline, the server sends him a notice (type normal:
	// Prosody keeps those offline).
	if _, err := admin.Send(ctx, xmpp.OutgoingMessage{To: jid.MustParse("bob@notify." + srv.Domain), Type: stanza.NormalMessage,
		Subject: "审批提醒", Body: "您有 1 条请假单待审批"}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Ping(ctx, jid.MustParse(srv.Domain)); err != nil {
		t.Fatal(err)
	}

	listen := h.listen("bob-pw\n", append([]string{"--jid", bob, "--password-stdin", "--json", "--count", "2"}, conn...)...)
	isNotice := func(m map[string]any) bool { return m["type"] == "notice" }
	delayed := listen.next("offline notice", isNotice)
	if delayed["from"] != srv.Domain || delayed["subject"] != "审批提醒" || delayed["body"] != "您有 1 条请假单待审批" ||
		delayed["delayed"] != true || delayed["time"] == "" {
		t.Fatalf("the offline notice: %v", delayed)
	}
	if _, err := admin.Send(ctx, xmpp.OutgoingMessage{To: jid.MustParse(srv.Domain + "/announce/online"), Type: stanza.HeadlineMessage,
		Subject: "系统维护", Body: "今晚 22:00 系统维护"}); err != nil {
		t.Fatal(err)
	}
	live := listen.next("announcement", isNotice)
	if live["from"] != srv.Domain || live["subject"] != "系统维护" || live["body"] != "今晚 22:00 系统维护" ||
		live["delayed"] != false || live["headline"] != true || live["sender"] != "server" {
		t.Fatalf("the announcement: %v", live)
	}
	listen.exited()

	r := h.run("", "notices", "--jid", bob, "--json")
	r.expect(t, ExitOK, "")
	if strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, "系统维护") || !strings.Contains(r.stdout, "请假单") {
		t.Fatalf("notices after listen: %s", r.stdout)
	}
}
