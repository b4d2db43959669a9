//go:build linux || freebsd || openbsd || netbsd || dragonfly

package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/screensaver"
	"github.com/jezek/xgb/xproto"
)

// systemIdleSource reads the input idle time from the desktop. On X11 it
// asks the X server (the MIT-SCREEN-SAVER extension, in pure Go: no cgo).
// On Wayland X11 would see only input to X programs, so it asks the
// compositor over D-Bus: GNOME's org.gnome.Mutter.IdleMonitor, or
// org.freedesktop.ScreenSaver's GetSessionIdleTime (KDE and others).
// Other compositors (sway, …) offer neither; then the caller falls back to
// Magpie's own windows.
func systemIdleSource() (idleSource, error) {
	var errs []error
	tryX11 := func() idleSource {
		if os.Getenv("DISPLAY") == "" {
			return nil
		}
		src, err := newX11IdleSource(os.Getenv("DISPLAY"))
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		return src
	}
	if os.Getenv("WAYLAND_DISPLAY") == "" {
		if src := tryX11(); src != nil {
			return src, nil
		}
	}
	src, err := newDBusIdleSource()
	if err == nil {
		return src, nil
	}
	errs = append(errs, err)
	return nil, fmt.Errorf("%w: %w", errNoIdleSource, errors.Join(errs...))
}

// x11IdleSource asks the X server how long ago the last input was.
type x11IdleSource struct {
	conn *xgb.Conn
	root xproto.Window
}

// quietXGB keeps xgb from logging to standard error (it reports, for
// instance, a missing ~/.Xauthority before it connects without one); the
// errors that matter are returned.
var quietXGB sync.Once

func newX11IdleSource(display string) (*x11IdleSource, error) {
	quietXGB.Do(func() { xgb.Logger = log.New(io.Discard, "", 0) })
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("connect to X display %s: %w", display, err)
	}
	if err := screensaver.Init(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("screen saver extension of X display %s: %w", display, err)
	}
	src := &x11IdleSource{conn: conn, root: xproto.Setup(conn).DefaultScreen(conn).Root}
	if _, err := src.Idle(); err != nil {
		conn.Close()
		return nil, err
	}
	return src, nil
}

func (s *x11IdleSource) Idle() (time.Duration, error) {
	reply, err := screensaver.QueryInfo(s.conn, xproto.Drawable(s.root)).Reply()
	if err != nil {
		return 0, fmt.Errorf("query the X screen saver: %w", err)
	}
	if reply == nil {
		return 0, errors.New("query the X screen saver: the X server closed the connection")
	}
	return time.Duration(reply.MsSinceUserInput) * time.Millisecond, nil
}

func (s *x11IdleSource) Close() { s.conn.Close() }

// dbusIdleSource asks the compositor over the session bus.
type dbusIdleSource struct {
	conn *dbus.Conn
	// call returns the idle time in milliseconds.
	call func(ctx context.Context) (uint64, error)
}

func newDBusIdleSource() (*dbusIdleSource, error) {
	// Without a running session bus godbus would launch one of its own
	// (dbus-launch) and leave it behind: only use one that is there.
	conn, err := dbus.SessionBusPrivateNoAutoStartup()
	if err != nil {
		return nil, fmt.Errorf("session bus: %w", err)
	}
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("session bus: %w", err)
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("session bus: %w", err)
	}
	candidates := []func(ctx context.Context) (uint64, error){
		func(ctx context.Context) (uint64, error) {
			var ms uint64
			err := conn.Object("org.gnome.Mutter.IdleMonitor", "/org/gnome/Mutter/IdleMonitor/Core").
				CallWithContext(ctx, "org.gnome.Mutter.IdleMonitor.GetIdletime", 0).Store(&ms)
			return ms, err
		},
		func(ctx context.Context) (uint64, error) {
			var ms uint32
			err := conn.Object("org.freedesktop.ScreenSaver", "/ScreenSaver").
				CallWithContext(ctx, "org.freedesktop.ScreenSaver.GetSessionIdleTime", 0).Store(&ms)
			return uint64(ms), err
		},
	}
	var errs []error
	for _, call := range candidates {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := call(ctx)
		cancel()
		if err == nil {
			return &dbusIdleSource{conn: conn, call: call}, nil
		}
		errs = append(errs, err)
	}
	conn.Close()
	return nil, fmt.Errorf("no idle monitor on the session bus: %w", errors.Join(errs...))
}

func (s *dbusIdleSource) Idle() (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ms, err := s.call(ctx)
	if err != nil {
		return 0, fmt.Errorf("idle monitor: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func (s *dbusIdleSource) Close() { s.conn.Close() }
