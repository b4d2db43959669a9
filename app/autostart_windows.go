//go:build windows

package app

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// runKey is where Windows keeps the programs to start at sign-in, per user.
const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

// autostartPath names the registry value, for messages.
func autostartPath() (string, error) { return `HKCU\` + runKey + `\` + autostartName, nil }

// autostartEnabled reports whether the Run key names Magpie.
func autostartEnabled() (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if err != nil {
		return false, fmt.Errorf("open HKCU\\%s: %w", runKey, err)
	}
	defer k.Close()
	_, _, err = k.GetStringValue(autostartName)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// setAutostart writes or deletes the Run value with the running binary.
func setAutostart(on bool) error {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("open HKCU\\%s: %w", runKey, err)
	}
	defer k.Close()
	if !on {
		if err := k.DeleteValue(autostartName); err != nil && !errors.Is(err, registry.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", autostartName, err)
		}
		return nil
	}
	exe, err := currentExecutable()
	if err != nil {
		return err
	}
	return k.SetStringValue(autostartName, `"`+exe+`"`)
}
