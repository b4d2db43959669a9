//go:build !windows && !darwin

package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"magpie/xmpp"
)

// TestAutostartEntry: the setting writes an XDG autostart entry that starts
// this very binary, and removes it again.
func TestAutostartEntry(t *testing.T) {
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	path := filepath.Join(config, "autostart", "im.magpie.Magpie.desktop")
	if on, err := autostartEnabled(); on || err != nil {
		t.Fatalf("enabled before: %v, %v", on, err)
	}
	if err := setAutostart(true); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := currentExecutable()
	for _, want := range []string{"[Desktop Entry]\n", "Type=Application\n", "Exec=" + desktopEntryQuote(exe) + "\n", "Icon=im.magpie.Magpie\n"} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("entry lacks %q:\n%s", want, data)
		}
	}
	if on, err := autostartEnabled(); !on || err != nil {
		t.Fatalf("enabled after writing: %v, %v", on, err)
	}
	if err := setAutostart(false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("entry still there: %v", err)
	}
	if err := setAutostart(false); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
}

// TestSettingsDialog: the settings dialog turns start at sign-in on and off
// and sets the idle minutes.
func TestSettingsDialog(t *testing.T) {
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	c := testController(t)
	c.account = xmpp.AccountConfig{JID: "zhangsan@oa.example"}
	m := newMainWindow(c)
	defer m.win.Close()
	save := func(change func(*settingsForm)) {
		t.Helper()
		m.showSettings()
		f := m.settingsForm
		if f == nil {
			t.Fatal("no settings dialog")
		}
		change(f)
		test.Tap(findButton(m.win.Canvas().Overlays().Top(), "Save"))
	}
	save(func(f *settingsForm) {
		if f.startAtLogin.Checked || f.idle.Text != "10" {
			t.Fatalf("defaults: start at login %v, idle %q", f.startAtLogin.Checked, f.idle.Text)
		}
		f.startAtLogin.SetChecked(true)
		f.idle.SetText("25")
	})
	entry := filepath.Join(config, "autostart", "im.magpie.Magpie.desktop")
	if _, err := os.Stat(entry); err != nil {
		t.Fatalf("no autostart entry: %v", err)
	}
	if got := c.app.Preferences().Int(prefIdleMinutes); got != 25 {
		t.Fatalf("idle minutes %d", got)
	}
	save(func(f *settingsForm) {
		if !f.startAtLogin.Checked || f.idle.Text != "25" {
			t.Fatalf("the dialog shows start at login %v, idle %q", f.startAtLogin.Checked, f.idle.Text)
		}
		f.startAtLogin.SetChecked(false)
		f.idle.SetText("0")
	})
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Fatalf("autostart entry left: %v", err)
	}
	if got := c.app.Preferences().Int(prefIdleMinutes); got != 0 {
		t.Fatalf("idle minutes %d, want 0 (never)", got)
	}
	// Not a number: Save stays disabled.
	m.showSettings()
	test.Type(m.settingsForm.idle, "x")
	if b := findButton(m.win.Canvas().Overlays().Top(), "Save"); b == nil || !b.Disabled() {
		t.Fatal("Save is enabled with minutes that are not a number")
	}
}

func TestDesktopEntryQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/magpie":        "/usr/bin/magpie",
		"/home/张三/bin/magpie":    "/home/张三/bin/magpie",
		"/opt/My Apps/magpie":    `"/opt/My Apps/magpie"`,
		`/opt/a"b$c/magpie`:      `"/opt/a\\"b\\$c/magpie"`,
		`/opt/back\slash/magpie`: `"/opt/back\\\\slash/magpie"`,
		"/opt/100%/magpie":       `"/opt/100%%/magpie"`,
	} {
		if got := desktopEntryQuote(in); got != want {
			t.Errorf("desktopEntryQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
