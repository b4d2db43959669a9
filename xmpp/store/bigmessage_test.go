package store

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// Markers outside the range hugeChinese draws from (U+4E00..U+5BAB), so
// that they occur only where a test puts them.
const (
	markInside  = "鹊桥仙" // ends at the last indexed character
	markOutside = "龙舟赛" // starts at the first character past the cap
)

// hugeChinese returns a Chinese message of at least size bytes: random
// characters of the 3,500 from U+4E00 with a comma now and then (almost
// every pair of neighbours differs, the case that made the old
// de-duplication quadratic), markInside at the very end of the indexed
// part and markOutside just past it.
func hugeChinese(size int) string {
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	n := 0
	add := func(s string) {
		b.WriteString(s)
		n += utf8.RuneCountInString(s)
	}
	for n < indexedChars-utf8.RuneCountInString(markInside) {
		if r.IntN(20) == 0 {
			add("，")
			continue
		}
		add(string(rune(0x4e00 + r.IntN(3500))))
	}
	add(markInside)
	add(markOutside)
	for b.Len() < size {
		if r.IntN(20) == 0 {
			b.WriteString("，")
			continue
		}
		b.WriteRune(rune(0x4e00 + r.IntN(3500)))
	}
	return b.String()
}

// TestBigramsOfHugeMessage indexes a 250 KB Chinese message: the bigram
// text holds each indexed pair of its first indexedChars characters once,
// and nothing from past them.
func TestBigramsOfHugeMessage(t *testing.T) {
	body := hugeChinese(250 << 10)
	got := strings.Fields(string(appendBigrams(nil, body, "")))

	// The expected set, by another way: every pair, sorted, duplicates
	// removed.
	runes := []rune(body)[:indexedChars]
	var want []string
	for i := 1; i < len(runes); i++ {
		if bigramPair(runes[i-1], runes[i]) {
			want = append(want, string(runes[i-1:i+1]))
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)

	sorted := slices.Sorted(slices.Values(got))
	if n := len(slices.Compact(slices.Clone(sorted))); n != len(got) {
		t.Fatalf("%d bigrams of which %d distinct: a pair was written twice", len(got), n)
	}
	if !slices.Equal(sorted, want) {
		t.Fatalf("%d bigrams, want %d (first difference near %q)", len(sorted), len(want), firstDiff(sorted, want))
	}
	if len(want) < 10_000 {
		t.Fatalf("only %d distinct pairs: the message does not test the de-duplication", len(want))
	}
	inside, outside := []rune(markInside), []rune(markOutside)
	if !slices.Contains(got, string(inside[1:])) {
		t.Errorf("the last indexed pair %q is missing", string(inside[1:]))
	}
	for _, p := range []string{string(inside[2]) + string(outside[0]), string(outside[:2]), string(outside[1:])} {
		if slices.Contains(got, p) {
			t.Errorf("%q, past the first %d characters, is indexed", p, indexedChars)
		}
	}
	// The subject has its own allowance.
	if g := string(appendBigrams(nil, body, "审批")); !strings.HasSuffix(g, " 审批") {
		t.Errorf("the subject's pair is missing: ...%q", g[max(0, len(g)-20):])
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " / " + b[i]
		}
	}
	return "the end"
}

// TestSearchHugeMessage stores the 250 KB message: search finds what is
// within the indexed characters, through both indexes, and the message is
// not indexed past them.
func TestSearchHugeMessage(t *testing.T) {
	db := newDB(t)
	body := hugeChinese(250 << 10)
	mustAdd(t, db, Message{Peer: "bob@x", Body: body, Time: at(1)},
		Message{Peer: "bob@x", Body: "鹊桥仙，龙舟赛", Time: at(2)})
	tests := []struct {
		query string
		want  int // hits
	}{
		{markInside, 2},
		{markInside[3:], 2},           // 桥仙: the bigram index
		{markOutside, 1},              // only the short message: the huge one is not indexed there
		{markOutside[:6], 1},          // 龙舟
		{string([]rune(body)[:3]), 1}, // the first characters
		{string([]rune(body)[100:120]), 1},
	}
	for i, tc := range tests {
		hits, err := db.Search(tc.query, "", 10)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if len(hits) != tc.want {
			t.Errorf("%d: Search(%q) found %d, want %d", i, tc.query, len(hits), tc.want)
		}
	}
}

// TestSearchControlCharacters: a query with NUL or another control
// character finds what it finds, never an SQL error.
func TestSearchControlCharacters(t *testing.T) {
	db := newDB(t)
	mustAdd(t, db, Message{Peer: "bob@x", Body: "tab\there 审批 done", Time: at(1)})
	tests := []struct {
		query string
		want  int
	}{
		{"\x00", 0},
		{"a\x00b", 0},
		{"\x00\x00\x00", 0},
		{"tab\x00", 0},
		{"审批\x00", 0},
		{"\x00审批", 0},
		{"审\x00", 0},
		{`"\x00"`, 0},
		{"\x01", 0},
		{"\x1b[31m", 0},
		{"\x7f\x7f\x7f", 0},
		{"b\th", 1},
		{"tab\there", 1},
	}
	for i, tc := range tests {
		for _, peer := range []string{"", "bob@x"} {
			hits, err := db.Search(tc.query, peer, 10)
			if err != nil {
				t.Errorf("%d: Search(%q, %q): %v", i, tc.query, peer, err)
			} else if len(hits) != tc.want {
				t.Errorf("%d: Search(%q, %q) found %d, want %d", i, tc.query, peer, len(hits), tc.want)
			}
		}
	}
}

// TestMigrationCutsTrigramIndex opens a version 4 file whose trigram index
// holds a huge message in full: the migration indexes it again cut, and a
// deletion afterwards leaves the index consistent (an external-content
// FTS5 table must be given the text it indexed to delete it).
func TestMigrationCutsTrigramIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:4] {
		if _, err := raw.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	body := hugeChinese(100 << 10)
	for _, q := range []string{
		`INSERT INTO messages (seq, peer, dir, body, ts, state) VALUES (1, 'bob@x', 0, ?, 1, 0)`,
		`INSERT INTO messages (seq, peer, dir, body, ts, state) VALUES (2, 'bob@x', 0, 'short 龙舟赛', 2, 0)`,
		`INSERT INTO messages_fts (rowid, body, subject) SELECT seq, body, subject FROM messages`,
		`PRAGMA user_version = 4`,
	} {
		var args []any
		if strings.Contains(q, "?") {
			args = append(args, body)
		}
		if _, err := raw.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if hits, err := rawSearch(raw, markOutside); err != nil || hits != 2 {
		t.Fatalf("before the migration: %d hits, %v", hits, err)
	}
	raw.Close()

	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		query string
		want  int
	}{{markOutside, 1}, {markInside, 1}} {
		if hits, err := db.Search(tc.query, "", 10); err != nil || len(hits) != tc.want {
			t.Errorf("Search(%q) after the migration: %d hits, %v; want %d", tc.query, len(hits), err, tc.want)
		}
	}
	// A new huge message is indexed cut too, and deleting both leaves
	// nothing behind.
	mustAdd(t, db, Message{Peer: "carol@x", Body: body, Time: at(5)})
	if _, err := db.w.Exec(`DELETE FROM messages WHERE peer <> 'nobody'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec(`INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 0)`); err != nil {
		t.Fatalf("trigram index after the deletions: %v", err)
	}
	for _, q := range []string{markInside, markOutside, string([]rune(body)[:3])} {
		if n, err := rawSearch(db.r, q); err != nil || n != 0 {
			t.Errorf("%q still in the index after the deletions: %d, %v", q, n, err)
		}
	}
}

func rawSearch(db *sql.DB, q string) (n int, err error) {
	err = db.QueryRow(`SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?`, ftsPhrase(q)).Scan(&n)
	return n, err
}

// BenchmarkBigrams measures appendBigrams on Chinese text where nearly
// every pair is new: the time per character stays flat as the text grows
// (linear), up to the indexed characters; past them it does not grow.
func BenchmarkBigrams(b *testing.B) {
	body := hugeChinese(250 << 10)
	runes := []rune(body)
	for _, n := range []int{2 << 10, 4 << 10, 8 << 10, 16 << 10} {
		text := string(runes[:n])
		b.Run(fmt.Sprintf("%dk-chars", n>>10), func(b *testing.B) {
			for b.Loop() {
				appendBigrams(nil, text, "")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/char")
		})
	}
	b.Run("250KB", func(b *testing.B) {
		for b.Loop() {
			appendBigrams(nil, body, "")
		}
	})
}

// BenchmarkAddHugeMessage stores one 250 KB Chinese message (both indexes).
func BenchmarkAddHugeMessage(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "history.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	body := hugeChinese(250 << 10)
	i := 0
	for b.Loop() {
		i++
		if _, err := db.AddMessages([]Message{{Peer: "bob@x", Dir: Incoming, Type: "chat", Body: body, Time: at(i)}}); err != nil {
			b.Fatal(err)
		}
	}
}
