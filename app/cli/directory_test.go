package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
)

// TestDirectory searches Prosody's user directory (mod_vjud on
// search.DOMAIN) from the command line: as text and as JSON (flags after
// the query), a query too short for the server, and a server without a
// directory.
func TestDirectory(t *testing.T) {
	prosodytest.RequireModule(t, "vjud")
	srv := prosodytest.Start(t, prosodytest.DirectoryModules(prosodytest.Options{}))
	for user, card := range map[string]prosodytest.VCard{
		"zhangsan": {FullName: "张三", Family: "张", Given: "三", Email: "zhangsan@oa.example", Unit: "研发部"},
		"zhangwei": {FullName: "张伟", Family: "张", Given: "伟", Email: "zhangwei@oa.example", Unit: "财务部"},
		"wangwei":  {FullName: "Wei Wang", Family: "Wang", Given: "Wei", Email: "wei.wang@oa.example", Unit: "Sales"},
	} {
		srv.AddUser(t, user, user+"-pw")
		if err := srv.SetVCard(user, card); err != nil {
			t.Fatal(err)
		}
	}
	alice := srv.AddUser(t, "alice", "alice-pw")
	h := newHarness(t)
	conn := []string{"--server", srv.C2SAddr, "--trust-fingerprint", xmpp.FormatFingerprint(srv.Fingerprint)}
	h.run("alice-pw\n", append([]string{"login", "--jid", alice, "--password-stdin"}, conn...)...).expect(t, ExitOK, "")

	r := h.run("", "directory", "--jid", alice, "张")
	r.expect(t, ExitOK, "")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "zhangsan@"+srv.Domain+" 张三 研发部 zhangsan@oa.example" ||
		!strings.HasPrefix(lines[1], "zhangwei@"+srv.Domain) {
		t.Fatalf("directory 张:\n%s", r.stdout)
	}

	r = h.run("", "directory", "--jid", alice, "wang", "wei", "--json")
	r.expect(t, ExitOK, "")
	var entry map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &entry); err != nil {
		t.Fatalf("directory --json printed %q: %v", r.stdout, err)
	}
	if entry["jid"] != "wangwei@"+srv.Domain || entry["name"] != "Wei Wang" || entry["email"] != "wei.wang@oa.example" {
		t.Fatalf("directory --json = %v", entry)
	}

	r = h.run("", "directory", "--jid", alice, "nobody here")
	r.expect(t, ExitOK, "")
	if !strings.Contains(r.stdout, `No colleagues match "nobody here"`) {
		t.Fatalf("no match printed %q", r.stdout)
	}
	h.run("", "directory", "--jid", alice, "x").expect(t, ExitError, "the directory refused the search")
	h.run("", "directory", "--jid", alice).expect(t, ExitUsage, "needs something to search for")

	plain := prosodytest.Start(t, prosodytest.Options{})
	bob := plain.AddUser(t, "bob", "bob-pw")
	h.run("bob-pw\n", "directory", "--jid", bob, "--password-stdin", "--server", plain.C2SAddr,
		"--trust-fingerprint", plain.Fingerprint, "wang").expect(t, ExitError, "this server has no company directory")
}
