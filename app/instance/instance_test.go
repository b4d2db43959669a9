package instance

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// transports are the ways tested here: the Unix socket (Linux, the BSDs,
// macOS) and loopback TCP with a token (Windows), which runs anywhere.
var transports = map[string]transport{"unix": transportUnix, "tcp": transportTCP}

// serve runs in.Serve and returns the hand-overs it receives.
func serve(t *testing.T, in *Instance) <-chan []string {
	t.Helper()
	got := make(chan []string, 8)
	done := make(chan error, 1)
	go func() { done <- in.Serve(func(args []string) { got <- args }) }()
	t.Cleanup(func() {
		in.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return got
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// handsOver hands args over to the instance serving dir, and checks that
// it receives them.
func handsOver(t *testing.T, dir string, tr transport, got <-chan []string, args []string) {
	t.Helper()
	if err := handOver(ctxFor(t, 5*time.Second), dir, args, tr); err != nil {
		t.Fatalf("handOver(%q): %v", args, err)
	}
	received(t, got, args)
}

// handsOverBeforeAcquire starts handing args over to dir before anyone
// serves there, acquires dir 200 ms later, and checks that the hand-over
// kept trying and arrived.
func handsOverBeforeAcquire(t *testing.T, dir string, tr transport, args []string) {
	t.Helper()
	result := make(chan error, 1)
	go func() { result <- handOver(ctxFor(t, 5*time.Second), dir, args, tr) }()
	time.Sleep(200 * time.Millisecond)
	in, err := acquire(dir, tr)
	if err != nil {
		t.Fatal(err)
	}
	got := serve(t, in)
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	received(t, got, args)
}

// received checks that the next hand-over got is want.
func received(t *testing.T, got <-chan []string, want []string) {
	t.Helper()
	select {
	case a := <-got:
		if !reflect.DeepEqual(a, want) {
			t.Fatalf("received %q, want %q", a, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first instance received nothing")
	}
}

// TestSecondHandsOver: the second claim in the same directory learns that
// Magpie runs, and its arguments reach the first.
func TestSecondHandsOver(t *testing.T) {
	for name, tr := range transports {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := acquire(dir, tr)
			if err != nil {
				t.Fatal(err)
			}
			got := serve(t, first)
			if _, err := acquire(dir, tr); !errors.Is(err, ErrRunning) {
				t.Fatalf("second Acquire: %v, want ErrRunning", err)
			}
			for _, args := range [][]string{
				{"xmpp:zhangsan@oa.example?message;body=%E4%BD%A0%E5%A5%BD"},
				{}, // a plain second start: come forward
				{"xmpp:a@b", "xmpp:张三@oa.example?message;body=你好\n第二行"},
			} {
				handsOver(t, dir, tr, got, args)
			}
		})
	}
}

// TestCloseReleases: once the first instance quits, the next start runs.
func TestCloseReleases(t *testing.T) {
	for name, tr := range transports {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := acquire(dir, tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			second, err := acquire(dir, tr)
			if err != nil {
				t.Fatalf("Acquire after Close: %v", err)
			}
			handsOver(t, dir, tr, serve(t, second), []string{"x"})
		})
	}
}

// TestStaleSocketTakenOver: a socket left by a crashed app (nothing
// listens, nobody holds the lock) is removed and replaced.
func TestStaleSocketTakenOver(t *testing.T) {
	dir := t.TempDir()
	if err := privateDir(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, socketName)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // as a crash leaves it: the file, and no one listening
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket is gone already: %v", err)
	}
	in, err := acquire(dir, transportUnix)
	if err != nil {
		t.Fatalf("Acquire over a stale socket: %v", err)
	}
	handsOver(t, dir, transportUnix, serve(t, in), []string{"xmpp:a@b"})
}

// TestStaleFileTakenOver: a plain file where the socket goes (a crash in
// the middle of anything) is no obstacle either.
func TestStaleFileTakenOver(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, socketName), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := acquire(dir, transportUnix)
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
}

// TestStalePortFileTakenOver: on the TCP transport (Windows) a port file
// left by a crash is replaced, and a hand-over that reads the old one
// before the new instance writes its own keeps trying.
func TestStalePortFileTakenOver(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stale := ln.Addr().String()
	ln.Close()
	if err := os.WriteFile(filepath.Join(dir, portName), []byte(stale+" "+strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	handsOverBeforeAcquire(t, dir, transportTCP, []string{"after crash"})
}

// TestLiveSocketWithoutLock: a socket that answers although nobody holds
// the lock (an older Magpie) counts as running.
func TestLiveSocketWithoutLock(t *testing.T) {
	dir := t.TempDir()
	if err := privateDir(dir); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, socketName))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := acquire(dir, transportUnix); !errors.Is(err, ErrRunning) {
		t.Fatalf("Acquire: %v, want ErrRunning", err)
	}
	// The lock was given back.
	l, err := lockFile(filepath.Join(dir, lockName))
	if err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	l.Close()
}

// TestHandOverWaitsForListener: a second start that comes while the first
// holds the lock but does not listen yet waits for it.
func TestHandOverWaitsForListener(t *testing.T) {
	for name, tr := range transports {
		t.Run(name, func(t *testing.T) {
			handsOverBeforeAcquire(t, t.TempDir(), tr, []string{"late"})
		})
	}
}

// TestHandOverNobody: with nothing running, HandOver gives up at the
// deadline and says so.
func TestHandOverNobody(t *testing.T) {
	start := time.Now()
	err := HandOver(ctxFor(t, 300*time.Millisecond), t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("HandOver: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("HandOver took %v", d)
	}
}

// TestPrivate: the directory is the user's alone, the socket 0600.
func TestPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no mode bits; see the package doc")
	}
	dir := filepath.Join(t.TempDir(), "magpie")
	if err := os.Mkdir(dir, 0o755); err != nil { // as someone may have made it
		t.Fatal(err)
	}
	in, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, socketName): 0o600, filepath.Join(dir, lockName): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}

// TestRefusesForeignDir: a directory that belongs to another user (made
// in /tmp to catch the hand-overs) or a link is not used.
func TestRefusesForeignDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix ownership")
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(link); !errors.Is(err, ErrInsecureDir) {
		t.Errorf("Acquire on a symlink: %v, want ErrInsecureDir", err)
	}
	if os.Getuid() != 0 {
		t.Skip("changing a directory's owner needs root")
	}
	foreign := filepath.Join(t.TempDir(), "foreign")
	if err := os.Mkdir(foreign, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(foreign); !errors.Is(err, ErrInsecureDir) {
		t.Errorf("Acquire on another user's directory: %v, want ErrInsecureDir", err)
	}
}

// TestTokenRequired: on the TCP transport a client without the token
// (another user, who can reach the port but not the file) is refused.
func TestTokenRequired(t *testing.T) {
	dir := t.TempDir()
	in, err := acquire(dir, transportTCP)
	if err != nil {
		t.Fatal(err)
	}
	got := serve(t, in)
	for _, token := range []string{"", "0000", strings.Repeat("0", 64)} {
		r := rawRequest(t, "tcp", in.Addr(), request{Args: []string{"xmpp:evil@x"}, Token: token})
		if r.OK || !strings.Contains(r.Error, "wrong token") {
			t.Errorf("token %q: %+v", token, r)
		}
	}
	select {
	case a := <-got:
		t.Fatalf("handed over without the token: %q", a)
	default:
	}
}

// TestMalformedRequests: garbage, or a request too long, gets an error
// answer and is not handed to the app.
func TestMalformedRequests(t *testing.T) {
	dir := t.TempDir()
	in, err := acquire(dir, transportUnix)
	if err != nil {
		t.Fatal(err)
	}
	got := serve(t, in)
	for name, send := range map[string]string{
		"not json": "hello\n",
		"too long": `{"args":["` + strings.Repeat("a", MaxRequest+10) + `"]}` + "\n",
	} {
		conn, err := net.Dial("unix", in.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the server may answer before it has read it all
			defer wg.Done()
			_, _ = conn.Write([]byte(send))
		}()
		var r reply
		if err := json.NewDecoder(conn).Decode(&r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		conn.Close()
		wg.Wait()
		if r.OK || r.Error == "" {
			t.Errorf("%s: %+v", name, r)
		}
	}
	// An argument list as long as HandOver allows still goes through.
	long := strings.Repeat("长", (MaxRequest-200)/3)
	if err := handOver(ctxFor(t, 5*time.Second), dir, []string{long}, transportUnix); err != nil {
		t.Fatal(err)
	}
	if a := <-got; a[0] != long {
		t.Fatal("the long argument changed on the way")
	}
	// One longer is refused before it is sent.
	if err := handOver(ctxFor(t, 5*time.Second), dir, []string{long + strings.Repeat("x", 200)}, transportUnix); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("an argument list over the limit: %v", err)
	}
	select {
	case a := <-got:
		t.Fatalf("a malformed request was handed over: %q", a)
	default:
	}
}

func rawRequest(t *testing.T, network, addr string, req request) reply {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	var r reply
	if err := json.NewDecoder(conn).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDefaultDir follows XDG_RUNTIME_DIR, and without it stays private.
func TestDefaultDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix locations")
	}
	t.Setenv(DirEnv, "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	if got := DefaultDir(); got != "/run/user/1000/magpie" {
		t.Errorf("DefaultDir() = %q", got)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if got := DefaultDir(); !strings.HasPrefix(got, os.TempDir()) || !strings.Contains(got, "magpie-") {
		t.Errorf("DefaultDir() without XDG_RUNTIME_DIR = %q", got)
	}
	t.Setenv(DirEnv, "/tmp/demo-instance")
	if got := DefaultDir(); got != "/tmp/demo-instance" {
		t.Errorf("DefaultDir() with %s = %q", DirEnv, got)
	}
}
