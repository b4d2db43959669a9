//go:build !windows

package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// autostartPath is the file that makes the desktop start Magpie:
// $XDG_CONFIG_HOME/autostart/im.magpie.Magpie.desktop, or on macOS
// ~/Library/LaunchAgents/im.magpie.Magpie.plist.
func autostartPath() (string, error) {
	if runtime.GOOS == "darwin" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the home folder: %w", err)
		}
		return filepath.Join(home, "Library", "LaunchAgents", autostartName+".plist"), nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration folder: %w", err)
	}
	return filepath.Join(dir, "autostart", autostartName+".desktop"), nil
}

// autostartEnabled reports whether Magpie starts at sign-in.
func autostartEnabled() (bool, error) {
	path, err := autostartPath()
	if err != nil {
		return false, err
	}
	_, err = os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// setAutostart installs (with the running binary's path) or removes the
// entry that starts Magpie at sign-in.
func setAutostart(on bool) error {
	path, err := autostartPath()
	if err != nil {
		return err
	}
	if !on {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	exe, err := currentExecutable()
	if err != nil {
		return err
	}
	content := xdgAutostartEntry(exe)
	if runtime.GOOS == "darwin" {
		content = launchAgentPlist(exe)
	}
	if err := writeFileAtomic(path, []byte(content)); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
