package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
)

// appScript signs the account in with `magpie login` on a private D-Bus
// session with a real Secret Service, then starts the app, which signs in
// by itself with the remembered password. $1 is the binary, $2 the file the
// app's pid goes to; the rest are login's flags.
const appScript = `bin=$1; pidfile=$2; shift 2
printf %s magpie-bench | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
kr=$!
ok=
for i in $(seq 50); do
	if "$bin" login --password-stdin "$@" <"$MAGPIE_BENCH_PW" >/dev/null 2>&1; then ok=1; break; fi
	sleep 0.2
done
[ -n "$ok" ] || { echo "magpie login failed"; kill $kr; exit 1; }
"$bin" & echo $! >"$pidfile"
wait $!; rc=$?; kill $kr 2>/dev/null; exit $rc`

// BenchmarkAppMemory runs the real app (the built binary, under Xvfb, with
// a real keyring and Prosody) signed in to an account whose roster holds
// 5,000 or 20,000 colleagues, and reports the app process's peak resident
// memory (VmHWM, peak-MB), its anonymous part (anon-MB: the Go and C heaps,
// without the binary and libraries mapped from disk) and the time from starting the process until a
// colleague sees it online (ms-online: X and GL start-up, keyring, TLS,
// SASL, the roster download, presence). Target: under 150 MB with 20,000.
// fyne-window is the floor: a Fyne window with a few labels and nothing of
// Magpie, under the same X server and locale.
func BenchmarkAppMemory(b *testing.B) {
	for _, tool := range []string{"Xvfb", "dbus-run-session", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s not installed", tool)
		}
	}
	bin := filepath.Join(b.TempDir(), "magpie")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	display := startXvfb(b)
	b.Run("fyne-window", func(b *testing.B) {
		baseline := filepath.Join(b.TempDir(), "fynewindow")
		if out, err := exec.Command("go", "build", "-o", baseline, "./testdata/fynewindow").CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
		var peak, anon float64
		for b.Loop() {
			p, a := runBaseline(b, baseline, display)
			peak, anon = max(peak, p), max(anon, a)
		}
		b.ReportMetric(peak, "peak-MB")
		b.ReportMetric(anon, "anon-MB")
	})
	for _, n := range []int{10, 5000, 20000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			const password = "memory-bench"
			srv, account := companyServer(b, n, password, prosodytest.RosterItem{JID: "watcher@magpie.test", Name: "监视", Groups: []string{"测试"}})
			watcher := srv.AddUser(b, "watcher", password)
			pw := filepath.Join(b.TempDir(), "pw")
			if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
				b.Fatal(err)
			}
			var peak, anon, online float64
			for b.Loop() {
				p, a, o := runApp(b, bin, display, srv, account, watcher, password, pw)
				peak, anon, online = max(peak, p), max(anon, a), online+o
			}
			b.ReportMetric(peak, "peak-MB")
			b.ReportMetric(anon, "anon-MB")
			b.ReportMetric(online/float64(b.N), "ms-online")
		})
	}
}

// runApp starts the app once and returns its peak resident memory and its
// anonymous resident memory (heaps, not mapped files) in MB, read 15 s after
// it came online, and the milliseconds until it did.
func runApp(b *testing.B, bin, display string, srv *prosodytest.Server, account, watcher, password, pwFile string) (peakMB, anonMB, onlineMS float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	w, err := xmpp.New(watcher, xmpp.WithServer(srv.C2SAddr), xmpp.WithTrustedFingerprints(srv.Fingerprint),
		xmpp.WithPassword(func(context.Context) (string, error) { return password, nil }))
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	seen := make(chan struct{})
	go func() {
		for e := range w.Events() {
			if p, ok := e.(xmpp.PresenceChanged); ok && p.From.Bare().String() == account && p.Available() {
				close(seen)
				for range w.Events() {
				}
				return
			}
		}
	}()

	dir := b.TempDir()
	pidFile := filepath.Join(dir, "pid")
	out, stop := startInSession(b, display, dir, []string{"MAGPIE_BENCH_PW=" + pwFile},
		"sh", "-c", appScript, "sh", bin, pidFile, "--jid", account, "--server", srv.C2SAddr, "--trust-fingerprint", srv.Fingerprint)
	defer stop()
	var pid int
	for pid == 0 {
		if data, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(data), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		} else if ctx.Err() != nil {
			b.Fatalf("the app did not start:\n%s", out.String())
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
	start := time.Now()
	select {
	case <-seen:
	case <-ctx.Done():
		b.Fatalf("the app did not come online:\n%s", out.String())
	}
	onlineMS = float64(time.Since(start).Milliseconds())
	// The roster is drawn and the presences settle. Long enough to see
	// growth after sign-in: before the UI queue coalesced the probes'
	// answers, the app grew for ten seconds after coming online.
	time.Sleep(15 * time.Second)
	peakMB, anonMB = residentMB(b, pid, out)
	return peakMB, anonMB, onlineMS
}

// residentMB reads a process's peak resident memory (VmHWM) and its
// anonymous resident memory (RssAnon) in MB.
func residentMB(b *testing.B, pid int, out *strings.Builder) (peak, anon float64) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("the process is gone: %v\n%s", err, out.String())
	}
	field := func(name string) float64 {
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, name+":"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
				return float64(kb) / 1024
			}
		}
		return 0
	}
	return field("VmHWM"), field("RssAnon")
}

// runBaseline runs the Fyne-only window under the same X server, D-Bus and
// locale as the app and reads its memory after 5 s.
func runBaseline(b *testing.B, bin, display string) (peakMB, anonMB float64) {
	dir := b.TempDir()
	out, stop := startInSession(b, display, dir, nil, "sh", "-c", `"$1" & echo $! >"$2"; wait`, "sh", bin, filepath.Join(dir, "pid"))
	defer stop()
	time.Sleep(5 * time.Second)
	data, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		b.Fatalf("the baseline did not start: %v\n%s", err, out.String())
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return residentMB(b, pid, out)
}

// startInSession runs args on a private D-Bus session (dbus-run-session)
// on display, with HOME and the XDG directories in dir, a Chinese locale and
// env, in a process group of its own; stop ends the group.
func startInSession(b *testing.B, display, dir string, env []string, args ...string) (out *strings.Builder, stop func()) {
	cmd := exec.Command("dbus-run-session", append([]string{"--"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "DISPLAY=" + display, "LANG=zh_CN.UTF-8",
		"HOME=" + dir, "XDG_CONFIG_HOME=" + dir + "/config", "XDG_DATA_HOME=" + dir + "/data",
		"XDG_CACHE_HOME=" + dir + "/cache", "XDG_RUNTIME_DIR=" + dir}, env...)
	for _, v := range []string{"GOGC", "GOMEMLIMIT", "GODEBUG"} { // for experiments
		if val, ok := os.LookupEnv(v); ok {
			cmd.Env = append(cmd.Env, v+"="+val)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out = &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return out, func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}
