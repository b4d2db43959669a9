// Package bustest runs a test inside a private D-Bus session, optionally with
// a real, unlocked Secret Service (gnome-keyring), so tests of the keyring,
// desktop notifications and the GUI never touch the developer's session.
package bustest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

const childEnv = "MAGPIE_TEST_SECRET_SERVICE"

// busConf has no service directories, so the bus activates nothing: no
// Secret Service exists unless the test starts one.
const busConf = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>`

// InPrivateSession reports whether the test runs on its private bus. If not, it
// re-runs the test in a child under dbus-run-session with fresh HOME and XDG
// directories (starting gnome-keyring-daemon first if withKeyring), so the
// developer's session bus and keyring are never touched; it then reports the
// child's result, checks no process of the child is left, and returns false.
func InPrivateSession(t *testing.T, withKeyring bool) bool {
	if os.Getenv(childEnv) == "1" {
		if withKeyring {
			waitForSecretService(t)
		}
		return true
	}
	tools := []string{"dbus-run-session", "dbus-daemon"}
	script := `exec "$@"`
	if withKeyring {
		tools = append(tools, "gnome-keyring-daemon")
		// --unlock reads the new login keyring's password from stdin (it must
		// not be empty). In the foreground the daemon stays the shell's child,
		// which stops it when the test ends; a daemonized one may outlive the bus.
		script = `printf %s magpie-test | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null &
"$@"; rc=$?; kill $! 2>/dev/null; wait $!; exit $rc`
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed in CI: %v", tool, err)
			}
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	dir := t.TempDir()
	env := []string{childEnv + "=1", "MAGPIE_TEST_BUS_DIR=" + dir}
	for _, v := range []string{"HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"} {
		d := filepath.Join(dir, v)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		env = append(env, v+"="+d)
	}
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConf, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dbus-run-session", "--config-file="+conf, "--", "sh", "-c", script, "sh",
		os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=50s")
	for _, v := range os.Environ() { // drop what could lead to the real session or display
		if !strings.HasPrefix(v, "DBUS_") && !strings.HasPrefix(v, "XDG_") && !strings.HasPrefix(v, "DISPLAY=") &&
			!strings.HasPrefix(v, "WAYLAND_") && !strings.HasPrefix(v, "GNOME_KEYRING") && !strings.HasPrefix(v, "SSH_AUTH_SOCK=") {
			cmd.Env = append(cmd.Env, v)
		}
	}
	// The race detector otherwise sleeps a second as the child exits.
	cmd.Env = append(cmd.Env, append(env, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")...)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() { killLeftovers(t, "MAGPIE_TEST_BUS_DIR="+dir) })
	switch {
	case err != nil:
		t.Fatalf("child on private bus: %v\n%s", err, out)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()):
		t.Skipf("child skipped:\n%s", out)
	case !strings.Contains(string(out), "--- PASS: "+t.Name()):
		t.Fatalf("child did not run %s:\n%s", t.Name(), out)
	}
	t.Logf("child on private bus (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	return false
}

// waitForSecretService waits for gnome-keyring-daemon to own its bus name;
// started in the background it may not have yet when the test begins.
func waitForSecretService(t *testing.T) {
	conn, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var ok bool
		err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.secrets").Store(&ok)
		if ok || err != nil || time.Now().After(deadline) {
			if !ok {
				t.Fatalf("gnome-keyring-daemon did not appear on the bus: %v", err)
			}
			return
		}
	}
}

// killLeftovers fails the test if a process carrying marker in its
// environment outlives the child by more than a few seconds, and kills it: a
// killed dbus-run-session leaves its children behind. It needs /proc;
// elsewhere it checks nothing.
func killLeftovers(t *testing.T, marker string) {
	var pids []int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		pids = pids[:0]
		procs, _ := filepath.Glob("/proc/[0-9]*/environ")
		for _, p := range procs {
			b, _ := os.ReadFile(p) // zombies and others' processes read as empty
			if strings.Contains("\x00"+string(b), "\x00"+marker+"\x00") {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				pids = append(pids, pid)
			}
		}
		if len(pids) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, pid := range pids {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		t.Errorf("stray process %d %q left running; killing it", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
}
