//go:build !unix

package instance

import (
	"fmt"
	"os"
	"path/filepath"
)

// defaultDir is the user's instance directory: %LOCALAPPDATA%\Magpie on
// Windows, whose permissions admit only the user.
func defaultDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "Magpie")
	}
	return filepath.Join(os.TempDir(), "Magpie")
}

// privateDir creates dir. Windows gives it the permissions of its parent,
// the user's profile.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	return nil
}
