package app

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"runtime"
	"strconv"
	"testing"
)

// zeroPNG writes a complete PNG of w x h black pixels, compressed as far
// as zlib goes, without holding the pixels: depth 16 and colour type 6
// make 8 bytes a pixel, which the file does not show (6,000 x 6,000 is
// about 280 KB on disk, 288 MB decoded).
func zeroPNG(t testing.TB, w, h int, depth, colorType byte, interlaced bool) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(kind string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		out.Write(n[:])
		crc := crc32.NewIEEE()
		crc.Write([]byte(kind))
		crc.Write(data)
		out.WriteString(kind)
		out.Write(data)
		binary.BigEndian.PutUint32(n[:], crc.Sum32())
		out.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = depth, colorType
	if interlaced {
		ihdr[12] = 1
	}
	chunk("IHDR", ihdr)
	channels := map[byte]int{0: 1, 2: 3, 4: 2, 6: 4}[colorType]
	var idat bytes.Buffer
	z, err := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	// Rows of filter 0 and black pixels: the whole image, or each of
	// Adam7's seven passes (x, y offset and step).
	passes := [][4]int{{0, 0, 1, 1}}
	if interlaced {
		passes = [][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	}
	for _, p := range passes {
		pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
		if pw <= 0 || ph <= 0 {
			continue
		}
		row := make([]byte, 1+pw*channels*int(depth)/8)
		for range ph {
			z.Write(row)
		}
	}
	z.Close()
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}

// TestHostilePhotoRefusedBeforeDecoding: a photo whose header promises
// more pixels than a photo needs, at a depth that makes each costly, is
// refused from its header, with next to no memory spent; photos of the
// sizes avatars have still decode.
func TestHostilePhotoRefusedBeforeDecoding(t *testing.T) {
	bomb := zeroPNG(t, 6000, 6000, 16, 6, false)
	t.Logf("hostile PNG: %d KB for %d MB of pixels", len(bomb)>>10, 6000*6000*8>>20)
	if len(bomb) > 400<<10 {
		t.Fatalf("the hostile PNG is %d KB: not the small file the attack needs", len(bomb)>>10)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decodeAvatar(bomb, avatarThumbPx, true)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a 6,000 x 6,000 photo of 16-bit pixels was decoded")
	}
	if spent := after.TotalAlloc - before.TotalAlloc; spent > 4<<20 {
		t.Errorf("refusing it allocated %d MB", spent>>20)
	}
	if _, _, ok := photoThumbs(bomb); ok {
		t.Error("the profile card decoded it")
	}

	progressive := func(data []byte) []byte {
		// Go writes baseline JPEGs: turn the frame marker into SOF2. The
		// header still reads; the cost is what a progressive one takes.
		out := bytes.Clone(data)
		i := bytes.Index(out, []byte{0xff, 0xc0})
		if i < 0 {
			t.Fatal("no SOF0 in Go's JPEG")
		}
		out[i+1] = 0xc2
		return out
	}
	for i, tc := range []struct {
		name   string
		data   []byte
		budget int64
		ok     bool
	}{
		{"16-bit RGBA 6000 square", bomb, maxPhotoDecode, false},
		{"16-bit RGBA 2048 square", zeroPNG(t, 2048, 2048, 16, 6, false), maxPhotoDecode, true},
		{"16-bit RGBA 2100 square", zeroPNG(t, 2100, 2100, 16, 6, false), maxPhotoDecode, false},
		{"16-bit RGBA 1400 square interlaced", zeroPNG(t, 1400, 1400, 16, 6, true), maxPhotoDecode, true},
		{"16-bit RGBA 2048 square interlaced", zeroPNG(t, 2048, 2048, 16, 6, true), maxPhotoDecode, false},
		{"8-bit RGBA 2800 square", zeroPNG(t, 2800, 2800, 8, 6, false), maxPhotoDecode, true},
		{"8-bit grey 5000 square", zeroPNG(t, 5000, 5000, 8, 0, false), maxPhotoDecode, true},
		{"8-bit grey 6000 square", zeroPNG(t, 6000, 6000, 8, 0, false), maxPhotoDecode, false},
		{"16-bit RGBA 6000 square, own photo", bomb, maxOwnPhotoDecode, false},
		{"16-bit RGBA 4000 square, own photo", zeroPNG(t, 4000, 4000, 16, 6, false), maxOwnPhotoDecode, true},
		{"JPEG 3000x2000", grayJPEG(t, 3000, 2000), maxPhotoDecode, true},
		{"progressive JPEG 3000x2000", progressive(grayJPEG(t, 3000, 2000)), maxPhotoDecode, false},
		{"progressive JPEG 3000x2000, own photo", progressive(grayJPEG(t, 3000, 2000)), maxOwnPhotoDecode, true},
	} {
		t.Run(strconv.Itoa(i)+" "+tc.name, func(t *testing.T) {
			cfg, format, err := image.DecodeConfig(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			cost := decodeCost(tc.data, cfg, format)
			if ok := cost <= tc.budget; ok != tc.ok {
				t.Fatalf("%d x %d %s costs %d MB: accepted %v, want %v", cfg.Width, cfg.Height, format, cost>>20, ok, tc.ok)
			}
			if format == "jpeg" && bytes.Contains(tc.data, []byte{0xff, 0xc2}) {
				return // the patched frame does not decode
			}
			if tc.ok {
				if _, err := decodePhoto(tc.data, tc.budget); err != nil {
					t.Fatalf("refused: %v", err)
				}
			}
		})
	}
}

// grayJPEG is a baseline JPEG (YCbCr) of w x h.
func grayJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 50}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecodeCostMatchesDecoders checks decodeCost against what Go's
// decoders really allocate, so that the budget means what it says.
func TestDecodeCostMatchesDecoders(t *testing.T) {
	for i, tc := range []struct {
		name string
		data []byte
	}{
		{"16-bit RGBA", zeroPNG(t, 1000, 1000, 16, 6, false)},
		{"16-bit RGBA interlaced", zeroPNG(t, 1000, 1000, 16, 6, true)},
		{"8-bit RGB", zeroPNG(t, 1000, 1000, 8, 2, false)},
		{"8-bit grey", zeroPNG(t, 1000, 1000, 8, 0, false)},
		{"16-bit grey", zeroPNG(t, 1000, 1000, 16, 0, false)},
		{"JPEG", grayJPEG(t, 1000, 1000)},
		{"paletted", palettedPNG(t, 1000, 1000)},
	} {
		t.Run(strconv.Itoa(i)+" "+tc.name, func(t *testing.T) {
			cfg, format, err := image.DecodeConfig(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, _, err := image.Decode(bytes.NewReader(tc.data)); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			spent := int64(after.TotalAlloc - before.TotalAlloc)
			cost := decodeCost(tc.data, cfg, format)
			// The pixels dominate; row buffers and the inflater add a
			// little (about 100 KB here).
			if spent > cost+cost/10+256<<10 {
				t.Errorf("decoding allocated %d KB, decodeCost says %d KB", spent>>10, cost>>10)
			}
		})
	}
}

func palettedPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
