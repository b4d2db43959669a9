// Package instance keeps Magpie to one running app per user: the first
// process takes a lock and listens where only its user can connect; a later
// one hands its arguments (an xmpp: link, or nothing: "come forward") to it
// and exits.
//
// # Where
//
// Everything lives in one directory per user, [DefaultDir]: on Linux and
// the BSDs $XDG_RUNTIME_DIR/magpie, or, without XDG_RUNTIME_DIR (and on
// macOS, where $TMPDIR is already per user), a private magpie-UID directory
// under [os.TempDir]. The directory is made 0700 and must belong to the
// user; one that belongs to someone else, or is a symbolic link, is refused
// (another user could otherwise pre-create it in /tmp and listen there).
// MAGPIE_INSTANCE_DIR ([DirEnv]) names another directory, for a Magpie that
// is to run beside the user's own (the demo does so).
//
//   - instance.lock: held (flock, or an exclusive open on Windows) for the
//     life of the running app; the kernel drops it when the process dies, so
//     a crash never leaves a lock behind.
//   - instance.sock: a Unix socket, mode 0600, on Linux, the BSDs and macOS.
//     On Linux the server also checks the peer's uid (SO_PEERCRED).
//   - instance.port (Windows): "127.0.0.1:PORT TOKEN" for a loopback TCP
//     listener. The directory is %LOCALAPPDATA%\Magpie, which only the user
//     can read; a client must send the token, so other users on the machine,
//     who can reach the port but not the file, are refused.
//
// # Stale files
//
// Whoever holds the lock is the running app. A process that gets the lock
// treats any socket left in the directory as stale (its owner crashed),
// after making sure nothing answers on it (an older Magpie without the lock
// might), removes it and listens.
//
// # Protocol
//
// One request and one answer per connection, each a line of JSON:
//
//	→ {"args":["xmpp:zhangsan@oa.example?message;body=Hello"],"token":"..."}
//	← {"ok":true}
//	← {"ok":false,"error":"..."}
//
// The answer means the running app has the arguments, not that it has acted
// on them. A request is at most [MaxRequest] bytes; the server gives each
// connection [ConnTimeout].
package instance

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrRunning is returned by Acquire when another process is the running
// instance: hand the arguments over to it with HandOver.
var ErrRunning = errors.New("instance: Magpie is already running")

// errLocked is returned by lockFile when another process holds the lock.
var errLocked = errors.New("instance: locked")

// ErrInsecureDir is returned when the instance directory could be reached
// by other users.
var ErrInsecureDir = errors.New("instance: directory is not private")

const (
	// MaxRequest bounds a hand-over request (a long prefilled message fits).
	MaxRequest = 1 << 20
	// ConnTimeout bounds one connection on the server's side.
	ConnTimeout = 5 * time.Second

	lockName   = "instance.lock"
	socketName = "instance.sock"
	portName   = "instance.port"
)

// transport is how the instances talk: a Unix socket, or (Windows)
// loopback TCP with a token. Both are built on every system, so the tests
// on Linux cover the Windows one too.
type transport int

const (
	transportUnix transport = iota
	transportTCP
)

type request struct {
	Args  []string `json:"args"`
	Token string   `json:"token,omitempty"`
}

type reply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// DirEnv names a variable that overrides DefaultDir, so that a Magpie
// started for something else (the demo, with its own configuration) runs
// beside the user's own instead of handing over to it.
const DirEnv = "MAGPIE_INSTANCE_DIR"

// DefaultDir is the user's instance directory (see the package doc), or
// $MAGPIE_INSTANCE_DIR when set.
func DefaultDir() string {
	if dir := os.Getenv(DirEnv); dir != "" {
		return dir
	}
	return defaultDir()
}

// Instance is the running app's claim: the lock and the listener. Its
// methods are safe for concurrent use.
type Instance struct {
	dir       string
	transport transport
	lock      interface{ Close() error }
	ln        net.Listener
	token     string

	closeOnce sync.Once
	closed    chan struct{}
	conns     sync.WaitGroup
}

// Acquire makes this process the running instance for dir, or returns
// ErrRunning when another process is.
func Acquire(dir string) (*Instance, error) { return acquire(dir, defaultTransport) }

func acquire(dir string, tr transport) (*Instance, error) {
	if err := privateDir(dir); err != nil {
		return nil, err
	}
	lock, err := lockFile(filepath.Join(dir, lockName))
	if errors.Is(err, errLocked) {
		return nil, ErrRunning
	}
	if err != nil {
		return nil, fmt.Errorf("instance: lock: %w", err)
	}
	in := &Instance{dir: dir, transport: tr, lock: lock, closed: make(chan struct{})}
	if err := in.listen(); err != nil {
		lock.Close()
		return nil, err
	}
	return in, nil
}

func (in *Instance) listen() error {
	switch in.transport {
	case transportTCP:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("instance: listen: %w", err)
		}
		token := make([]byte, 32)
		_, _ = rand.Read(token)
		in.ln, in.token = ln, hex.EncodeToString(token)
		if err := writeFileAtomic(filepath.Join(in.dir, portName), ln.Addr().String()+" "+in.token+"\n"); err != nil {
			ln.Close()
			return fmt.Errorf("instance: %w", err)
		}
		return nil
	default:
		path := filepath.Join(in.dir, socketName)
		if _, err := os.Lstat(path); err == nil {
			// Left by a process that held the lock and died, unless an
			// older Magpie without the lock is answering on it.
			if conn, err := net.DialTimeout("unix", path, 500*time.Millisecond); err == nil {
				conn.Close()
				return ErrRunning
			}
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("instance: remove stale socket: %w", err)
			}
		}
		ln, err := net.Listen("unix", path)
		if err != nil {
			return fmt.Errorf("instance: listen: %w", err)
		}
		// The directory is private already; the mode keeps the socket so
		// if the directory is ever opened up.
		if err := os.Chmod(path, 0o600); err != nil {
			ln.Close()
			return fmt.Errorf("instance: %w", err)
		}
		in.ln = ln
		return nil
	}
}

// Addr is where the instance listens, for logs.
func (in *Instance) Addr() string { return in.ln.Addr().String() }

// Serve accepts hand-overs until Close, calling handle with each one's
// arguments (possibly none) from a connection's goroutine; handle must not
// block. It returns nil after Close.
func (in *Instance) Serve(handle func(args []string)) error {
	for {
		conn, err := in.ln.Accept()
		if err != nil {
			select {
			case <-in.closed:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("instance: accept: %w", err)
		}
		in.conns.Add(1)
		go func() {
			defer in.conns.Done()
			in.serveConn(conn, handle)
		}()
	}
}

func (in *Instance) serveConn(conn net.Conn, handle func([]string)) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(ConnTimeout))
	answer := func(r reply) {
		b, _ := json.Marshal(r)
		_, _ = conn.Write(append(b, '\n'))
	}
	if err := checkPeer(conn); err != nil {
		answer(reply{Error: err.Error()})
		return
	}
	line, err := readLine(conn)
	if err != nil {
		answer(reply{Error: err.Error()})
		return
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		answer(reply{Error: "malformed request: " + err.Error()})
		return
	}
	if in.token != "" && subtle.ConstantTimeCompare([]byte(req.Token), []byte(in.token)) != 1 {
		answer(reply{Error: "wrong token"})
		return
	}
	select {
	case <-in.closed:
		answer(reply{Error: "Magpie is quitting"})
		return
	default:
	}
	handle(req.Args)
	answer(reply{OK: true})
}

// readLine reads one line of at most MaxRequest bytes.
func readLine(conn net.Conn) ([]byte, error) {
	r := bufio.NewReaderSize(conn, 4096)
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxRequest {
			return nil, fmt.Errorf("request longer than %d bytes", MaxRequest)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, fmt.Errorf("read request: %w", err)
		}
	}
}

// Close stops listening, waits for hand-overs being answered, removes the
// socket or port file and releases the lock.
func (in *Instance) Close() error {
	var err error
	in.closeOnce.Do(func() {
		close(in.closed)
		err = in.ln.Close() // a Unix listener removes its socket
		in.conns.Wait()
		if in.transport == transportTCP {
			_ = os.Remove(filepath.Join(in.dir, portName))
		}
		if lerr := in.lock.Close(); err == nil {
			err = lerr
		}
	})
	return err
}

// HandOver gives args to the running instance in dir and waits for its
// answer. The instance may be starting (holding the lock, not listening
// yet), and on Windows a port file may be left from a crash: it keeps
// trying until ctx ends, and then reports the last failure.
func HandOver(ctx context.Context, dir string, args []string) error {
	return handOver(ctx, dir, args, defaultTransport)
}

func handOver(ctx context.Context, dir string, args []string, tr transport) error {
	if args == nil {
		args = []string{}
	}
	// As long as it will be with a token (64 hex digits), and its newline.
	b, err := json.Marshal(request{Args: args, Token: strings.Repeat("0", 64)})
	if err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	if len(b) >= MaxRequest {
		return fmt.Errorf("instance: arguments longer than %d bytes", MaxRequest)
	}
	for {
		err := handOverOnce(ctx, dir, args, tr)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("instance: the running Magpie does not answer: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func handOverOnce(ctx context.Context, dir string, args []string, tr transport) error {
	conn, token, err := dial(ctx, dir, tr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(ConnTimeout)
	}
	_ = conn.SetDeadline(deadline)
	b, err := json.Marshal(request{Args: args, Token: token})
	if err != nil {
		return err
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		return fmt.Errorf("malformed answer %q: %w", strings.TrimSpace(string(line)), err)
	}
	if !r.OK {
		return fmt.Errorf("refused: %s", r.Error)
	}
	return nil
}

func dial(ctx context.Context, dir string, tr transport) (net.Conn, string, error) {
	var d net.Dialer
	if tr == transportTCP {
		data, err := os.ReadFile(filepath.Join(dir, portName))
		if err != nil {
			return nil, "", err
		}
		addr, token, ok := strings.Cut(strings.TrimSpace(string(data)), " ")
		if !ok {
			return nil, "", fmt.Errorf("malformed %s", portName)
		}
		conn, err := d.DialContext(ctx, "tcp", addr)
		return conn, token, err
	}
	conn, err := d.DialContext(ctx, "unix", filepath.Join(dir, socketName))
	return conn, "", err
}

// writeFileAtomic writes a 0600 file under a temporary name and renames it,
// so a reader never sees half of it.
func writeFileAtomic(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
