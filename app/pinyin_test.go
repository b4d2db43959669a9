package app

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"magpie/xmpp"
)

func TestPinyinKeys(t *testing.T) {
	for i, tc := range []struct{ name, want string }{
		{"张三", "zhangsan\nzs"},
		{"李四 Li", "lisili\nlsl"},
		{"欧阳娜娜", "ouyangnana\noynn"},
		{"Bob", ""},
		{"", ""},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			if got := pinyinKeys(tc.name); got != tc.want {
				t.Fatalf("pinyinKeys(%q) = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}

// TestRosterFilterPinyin: a Chinese name is found by its full pinyin and by
// its initials, as typed on a Latin keyboard.
func TestRosterFilterPinyin(t *testing.T) {
	f := newRosterFixture(t)
	f.view.SetContacts([]xmpp.Contact{
		testContact("e1001@oa.example", "王小明", "市场部"),
		testContact("e1002@oa.example", "李四", "研发部"),
		testContact("e1003@oa.example", "Alice", "研发部"),
	})
	for i, tc := range []struct {
		typed string
		want  []string
	}{
		0: {"wangxiaoming", []string{"# 市场部 0/1", "  王小明"}},
		1: {"wxm", []string{"# 市场部 0/1", "  王小明"}},
		2: {"LS", []string{"# 研发部 0/2", "  李四"}},
		3: {"xiao", []string{"# 市场部 0/1", "  王小明"}},
		4: {"e1003", []string{"# 研发部 0/2", "  Alice"}},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			f.view.SetFilter("")
			test.Type(f.view.search, tc.typed)
			if got := rowsOf(f.view); !slices.Equal(got, tc.want) {
				t.Errorf("%q found:\n%s\nwant:\n%s", tc.typed, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
