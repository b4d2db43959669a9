//go:build windows

package app

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32           = windows.NewLazySystemDLL("user32.dll")
	kernel32         = windows.NewLazySystemDLL("kernel32.dll")
	getLastInputInfo = user32.NewProc("GetLastInputInfo")
	getTickCount     = kernel32.NewProc("GetTickCount")
)

// lastInputInfo is LASTINPUTINFO.
type lastInputInfo struct {
	size uint32
	time uint32 // tick count of the last input event
}

// winIdleSource reads the session's last input time (GetLastInputInfo),
// without cgo.
type winIdleSource struct{}

func systemIdleSource() (idleSource, error) {
	if err := getLastInputInfo.Find(); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoIdleSource, err)
	}
	return winIdleSource{}, nil
}

func (winIdleSource) Idle() (time.Duration, error) {
	info := lastInputInfo{size: uint32(unsafe.Sizeof(lastInputInfo{}))}
	if ok, _, err := getLastInputInfo.Call(uintptr(unsafe.Pointer(&info))); ok == 0 {
		return 0, fmt.Errorf("GetLastInputInfo: %w", err)
	}
	now, _, _ := getTickCount.Call()
	// Both are milliseconds since boot in 32 bits: the difference is right
	// across the wrap-around after 49.7 days.
	return time.Duration(uint32(now)-info.time) * time.Millisecond, nil
}

func (winIdleSource) Close() {}
