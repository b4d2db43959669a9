//go:build unix

package instance

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// defaultDir is the user's instance directory: $XDG_RUNTIME_DIR/magpie, or
// a magpie-UID directory under the temporary directory.
func defaultDir() string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "magpie")
	}
	return filepath.Join(os.TempDir(), "magpie-"+strconv.Itoa(os.Getuid()))
}

// privateDir creates dir (0700) or checks the one there: a directory, not a
// link, owned by the user; group and other permissions are taken away.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrInsecureDir, dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%w: %s belongs to uid %d", ErrInsecureDir, dir, st.Uid)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("instance: %w", err)
		}
	}
	return nil
}
