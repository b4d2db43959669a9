package app

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
)

// TestGUIHandsOverLinks runs the real binary under Xvfb, signed in with an
// account from `magpie login`, and starts it again the way a browser does
// for an xmpp: link: the second process hands the link to the first and
// exits 0 at once, and the first opens the chat with the text in the entry.
// The app's debug log (MAGPIE_DEBUG=1) says what it did, read back from the
// widgets; xdotool checks the windows. MAGPIE_SCREENSHOTS=DIR keeps the
// screenshots.
func TestGUIHandsOverLinks(t *testing.T) {
	g, ok := newGUITest(t, "links-gui.log")
	if !ok {
		return
	}
	if _, err := exec.LookPath("xdotool"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("xdotool is needed in CI: %v", err)
		}
		t.Skipf("xdotool not installed: %v", err)
	}
	srv := prosodytest.Start(t, prosodytest.Options{})
	alice := srv.AddUser(t, "alice", "alice-pw")
	bob := srv.AddUser(t, "bob", "bob-pw")
	carol := srv.AddUser(t, "carol", "carol-pw")

	// bob is in alice's roster, named, so his chat tab shows the name.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	setup := signIn(t, ctx, srv, alice, "alice-pw", xmpp.WithResource("setup"))
	if err := setup.AddContact(ctx, jid.MustParse(bob), "Bob 鲍勃", []string{"研发部"}); err != nil {
		t.Fatal(err)
	}
	setup.Close()
	g.login(t, srv, alice, "alice-pw")

	// Every process gets the private bus's XDG_RUNTIME_DIR, so the hand-over
	// stays inside this test.
	g.env = append(g.env, debugEnv+"=1")

	// waitLog waits for the app's log to hold want (count times).
	waitLog := func(want string, count int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			log, _ := os.ReadFile(g.log)
			if strings.Count(string(log), want) >= count {
				return
			}
			if time.Now().After(deadline) {
				g.fail(t, "links-failed.png", "the app's log does not say %q (%d times)", want, count)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// again starts magpie the way the desktop does for a link, and checks
	// that it hands over and exits 0 (how fast is logged, not judged: a
	// timed test fails on a loaded machine).
	again := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, g.bin, args...)
		cmd.Env = g.env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("magpie %q: %v\n%s", args, err, out)
		}
		t.Logf("magpie %q handed over in %v", args, time.Since(start).Round(time.Millisecond))
		if len(out) > 0 {
			t.Errorf("magpie %q printed %q", args, out)
		}
	}
	windows := func(name string) int {
		cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", name)
		cmd.Env = g.env
		out, _ := cmd.Output()
		return len(strings.Fields(string(out)))
	}

	// A link given to the first start waits for the automatic sign-in.
	first := g.start(t, "xmpp:"+carol+"?message;body=%E7%99%BB%E5%BD%95%E5%89%8D%20before%20sign-in")
	waitLog(`msg="xmpp link opened chat" to=`+carol+` action=message draft="登录前 before sign-in"`, 1)

	// The browser's hand-over, in Chinese.
	again("xmpp:" + bob + "?message;body=%E4%BD%A0%E5%A5%BD%EF%BC%8C%E4%B8%8B%E5%8D%88%E5%BC%80%E4%BC%9A%E5%90%97%EF%BC%9F")
	waitLog(`msg="xmpp link opened chat" to=`+bob+` action=message draft=你好，下午开会吗？`, 1)
	for deadline := time.Now().Add(10 * time.Second); windows("^聊天$") != 1; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("%d chat windows shown, want 1", windows("^聊天$"))
			break
		}
	}
	time.Sleep(500 * time.Millisecond) // drawn
	screenshot(t, g.display, filepath.Join(g.shots, "links-handover.png"))
	if n := windows("^Magpie$"); n != 1 {
		t.Errorf("%d contacts windows shown, want 1 (did a second app start?)", n)
	}

	// ?roster offers the add-contact form, filled in; ?join the join
	// dialog, filled in.
	again("xmpp:" + carol + "?roster;name=Carol%20%E5%8D%A1%E7%BD%97;group=%E7%A0%94%E5%8F%91%E9%83%A8")
	waitLog(`msg="xmpp link offers to add a contact" to=`+carol+` name="Carol 卡罗" group=研发部`, 1)
	time.Sleep(500 * time.Millisecond)
	screenshot(t, g.display, filepath.Join(g.shots, "links-roster.png"))
	again("xmpp:dev@conference.magpie.test?join")
	waitLog(`msg="xmpp link offers to join" room=dev@conference.magpie.test`, 1)
	time.Sleep(500 * time.Millisecond)
	screenshot(t, g.display, filepath.Join(g.shots, "links-join.png"))

	// A plain second start brings Magpie forward; a command never goes
	// through the hand-over; a broken link is explained by the running app.
	again()
	waitLog(`msg="arguments handed over" args=[]`, 1)
	version := exec.Command(g.bin, "version")
	version.Env = g.env
	if out, err := version.Output(); err != nil || !strings.HasPrefix(string(out), "magpie ") {
		t.Fatalf("magpie version beside the app: %v %q", err, out)
	}
	again("xmpp:" + bob + "?message;body")
	waitLog(`msg="xmpp link refused"`, 1)
	if n := strings.Count(readFile(t, g.log), `msg="arguments handed over"`); n != 5 {
		t.Errorf("%d hand-overs logged, want 5", n)
	}

	// After a crash the socket is stale: the next start takes over.
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if _, err := os.Stat(filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "magpie", "instance.sock")); err != nil {
		t.Fatalf("no socket left by the killed app: %v", err)
	}
	g.start(t, "xmpp:"+bob+"?message;body=%E9%87%8D%E5%90%AF%E5%90%8E")
	waitLog(`msg="xmpp link opened chat" to=`+bob+` action=message draft=重启后`, 1)
	again("xmpp:" + carol + "?message;body=%E5%8F%88%E6%9D%A5%E4%BA%86")
	waitLog(`msg="xmpp link opened chat" to=`+carol+` action=message draft=又来了`, 1)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
