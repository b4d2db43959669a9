//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package instance

import "os"

// lockFile has no lock to take on this system: the socket probe in listen
// is all that keeps a second instance away.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
