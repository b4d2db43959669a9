package app

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"mellium.im/xmpp/jid"

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

// TestRosterSortsChineseByPinyin: Chinese names sort by their pinyin among
// the Latin ones, as in Chinese messengers, not by code point (which would
// put 张 before 李 and every Chinese name after the Latin ones).
func TestRosterSortsChineseByPinyin(t *testing.T) {
	f := newRosterFixture(t)
	f.view.SetContacts([]xmpp.Contact{
		testContact("e1@oa.example", "张三", "研发部"),
		testContact("e2@oa.example", "Lucy", "研发部"),
		testContact("e3@oa.example", "李四", "研发部"),
		testContact("e4@oa.example", "王五", "研发部"),
		testContact("e5@oa.example", "Anna", "研发部"),
		testContact("e6@oa.example", "Lena", "研发部"),
	})
	want := []string{"# 研发部 0/6", "  Anna", "  Lena", "  李四", "  Lucy", "  王五", "  张三"}
	if got := rowsOf(f.view); !slices.Equal(got, want) {
		t.Fatalf("order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDirectorySortsByPinyin: directory results sort as the contacts list
// does.
func TestDirectorySortsByPinyin(t *testing.T) {
	w := test.NewTempWindow(t, nil)
	d := newDirectoryWindow(w, nil, nil)
	d.show([]xmpp.DirectoryEntry{
		{JID: jid.MustParse("e1@oa.example"), Name: "张三"},
		{JID: jid.MustParse("e2@oa.example"), Name: "Anna"},
		{JID: jid.MustParse("e3@oa.example"), Name: "李四"},
		{JID: jid.MustParse("e4@oa.example"), Name: "Mike"},
	}, nil)
	var got []string
	for _, e := range d.results {
		got = append(got, e.Name)
	}
	if want := []string{"Anna", "李四", "Mike", "张三"}; !slices.Equal(got, want) {
		t.Fatalf("order %q, want %q", got, want)
	}
}
