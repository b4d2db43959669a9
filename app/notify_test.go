package app

import (
	"bytes"
	"image/png"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"magpie/assets"
)

func TestNotificationText(t *testing.T) {
	long := strings.Repeat("审批", 100)
	for i, tc := range []struct {
		in, want string
	}{
		0: {"hello", "hello"},
		1: {"a <b> & c", "a &lt;b&gt; &amp; c"},
		2: {"line one\n\nline two\t end", "line one line two end"},
		3: {long, string([]rune(long)[:notificationBodyMax-1]) + "…"},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			got := notificationText(tc.in)
			if got != tc.want {
				t.Fatalf("notificationText(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Fatal("cut inside a character")
			}
		})
	}
}

func TestBadgedIcon(t *testing.T) {
	out := badged(assets.Icon)
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	r := b.Dx() / 5
	cx, cy := b.Max.X-r-r/4, b.Min.Y+r+r/4
	red, g, bl, _ := img.At(cx, cy).RGBA()
	if red>>8 != 0xe5 || g>>8 != 0x39 || bl>>8 != 0x35 {
		t.Fatalf("no red dot at the corner: %x %x %x", red>>8, g>>8, bl>>8)
	}
	if bytes.Equal(out, assets.Icon) {
		t.Fatal("icon unchanged")
	}
}
