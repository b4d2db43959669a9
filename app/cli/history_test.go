package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"magpie/xmpp/store"
)

// TestHistory prints a stored history without any network: one
// conversation, all of them, a search (English and two Chinese characters),
// as text and as JSON; and a damaged store is reported, not reset.
func TestHistory(t *testing.T) {
	h := newHarness(t) // with its own XDG_DATA_HOME
	const me, lisi, wang = "zhangsan@oa.test", "lisi@oa.test", "wangwu@oa.test"
	db, path := h.openStore(me)
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	msgs := []store.Message{
		{Peer: lisi, Dir: store.Incoming, ID: "1", Type: "chat", Body: "请审批报销单", Time: at},
		{Peer: lisi, Dir: store.Outgoing, ID: "2", OriginID: "2", Type: "chat", Body: "Approved, thanks", Time: at.Add(time.Minute), State: store.Delivered},
		{Peer: wang, Dir: store.Outgoing, ID: "3", OriginID: "3", Type: "chat", Body: "meeting at 3", Time: at.Add(2 * time.Minute), State: store.Pending},
	}
	if _, err := db.AddMessages(msgs); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r := h.run("", "history", "--jid", me, "--with", lisi)
	r.expect(t, ExitOK, "")
	if !strings.Contains(r.stdout, "<"+lisi+"> 请审批报销单") || !strings.Contains(r.stdout, "<me> Approved, thanks") ||
		strings.Index(r.stdout, "请审批") > strings.Index(r.stdout, "Approved") || strings.Contains(r.stdout, "meeting") {
		t.Fatalf("history --with:\n%s", r.stdout)
	}
	r = h.run("", "history", "--jid", me)
	r.expect(t, ExitOK, "")
	if !strings.Contains(r.stdout, "== "+wang) || !strings.Contains(r.stdout, "meeting at 3  [pending]") {
		t.Fatalf("history of all chats:\n%s", r.stdout)
	}
	for _, q := range []string{"审批", "APPROVED"} {
		r = h.run("", "history", "--jid", me, "--search", q, "--json")
		r.expect(t, ExitOK, "")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		var m map[string]any
		if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &m) != nil || m["peer"] != lisi {
			t.Fatalf("search %q: %s", q, r.stdout)
		}
	}
	r = h.run("", "history", "--jid", me, "--with", lisi, "--json")
	var first map[string]any
	if err := json.Unmarshal([]byte(strings.Split(r.stdout, "\n")[1]), &first); err != nil {
		t.Fatal(err)
	}
	if first["direction"] != "out" || first["from"] != me || first["to"] != lisi || first["state"] != "delivered" || first["origin_id"] != "2" {
		t.Fatalf("JSON of an outgoing message: %v", first)
	}

	// A damaged file: a clear error, and the file is left as it was.
	junk := []byte(strings.Repeat("not a database ", 600))
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	r = h.run("", "history", "--jid", me)
	r.expect(t, ExitError, filepath.Base(path))
	if got, _ := os.ReadFile(path); string(got) != string(junk) {
		t.Fatal("the damaged history file was changed")
	}
}
