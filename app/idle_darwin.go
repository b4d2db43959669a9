//go:build darwin

package app

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// macIdleSource reads the HID system's idle time from ioreg, the way
// CGEventSourceSecondsSinceLastEventType would, without cgo (Magpie's
// builds for macOS need no Objective-C bridge for it). One ioreg run every
// few seconds costs a few milliseconds.
type macIdleSource struct{}

func systemIdleSource() (idleSource, error) {
	src := macIdleSource{}
	if _, err := src.Idle(); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoIdleSource, err)
	}
	return src, nil
}

func (macIdleSource) Idle() (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-c", "IOHIDSystem", "-d", "4").Output()
	if err != nil {
		return 0, fmt.Errorf("ioreg: %w", err)
	}
	return parseHIDIdleTime(out)
}

func (macIdleSource) Close() {}

// parseHIDIdleTime finds `"HIDIdleTime" = 123456789` (nanoseconds).
func parseHIDIdleTime(out []byte) (time.Duration, error) {
	scanner := bufio.NewScanner(bytes.NewReader(out))
	for scanner.Scan() {
		line := scanner.Text()
		i := strings.Index(line, `"HIDIdleTime" = `)
		if i < 0 {
			continue
		}
		ns, err := strconv.ParseUint(strings.TrimSpace(line[i+len(`"HIDIdleTime" = `):]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("ioreg HIDIdleTime: %w", err)
		}
		return time.Duration(ns), nil
	}
	return 0, fmt.Errorf("ioreg printed no HIDIdleTime")
}
