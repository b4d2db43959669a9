package app

import (
	"strings"
	"unicode"

	"github.com/mozillazg/go-pinyin"
)

// pinyinArgs gives plain syllables without tones ("zhang", "san").
var pinyinArgs = pinyin.NewArgs()

// pinyinKeys returns what a Chinese name can also be found by when typed
// on a Latin keyboard: its full pinyin ("zhangsan") and its initials
// ("zs"), separated by a newline; "" for a name without Han characters.
// Characters with several readings take the most common one (单 as dan), so
// a rare reading of a surname is not found by pinyin; the name itself and
// the JID still are.
func pinyinKeys(name string) string {
	hasHan := false
	for _, r := range name {
		if unicode.Is(unicode.Han, r) {
			hasHan = true
			break
		}
	}
	if !hasHan {
		return ""
	}
	var full, initials strings.Builder
	inWord := false // inside a word of Latin letters or digits
	for _, r := range name {
		if !unicode.Is(unicode.Han, r) {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				full.WriteRune(unicode.ToLower(r))
				if !inWord {
					initials.WriteRune(unicode.ToLower(r))
				}
				inWord = true
			} else {
				inWord = false
			}
			continue
		}
		inWord = false
		syllables := pinyin.SinglePinyin(r, pinyinArgs)
		if len(syllables) == 0 {
			continue
		}
		full.WriteString(syllables[0])
		initials.WriteByte(syllables[0][0])
	}
	return full.String() + "\n" + initials.String()
}

// nameSortKey is what names sort by: the lower-case name, after its full
// pinyin when it is Chinese (keys, from pinyinKeys), so that 李四 sorts as
// "lisi", between Lena and Lucy, as Chinese messengers sort names.
func nameSortKey(name, keys string) string {
	fold := strings.ToLower(name)
	if full, _, ok := strings.Cut(keys, "\n"); ok {
		return full + "\x00" + fold
	}
	return fold
}
