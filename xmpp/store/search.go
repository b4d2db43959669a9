package store

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Hit is a message found by Search.
type Hit struct {
	Message
	// Matches are the byte ranges [start, end) of the matches of the query
	// in Body, in order and not overlapping. Empty when only Subject
	// matched.
	Matches [][2]int
}

// scanWindow bounds the fallback search (queries of one character, and of
// two characters that are not CJK): it looks at the newest scanWindow
// messages of the peer, or of the whole store when peer is "". See the
// package documentation. Within one peer the rows are read through the
// (peer, ts) index, which costs about three times as much per row as the
// global scan in rowid order, hence the smaller window.
const (
	scanWindow     = 100_000
	scanWindowPeer = 30_000
)

// Search finds messages whose body or subject contains query, newest first
// (by Time, then Seq), in conversation peer or in all when peer is "".
// Matching is by substring, case-insensitive, with no word splitting, so
// Chinese text is found as typed. Leading and trailing spaces of query are
// ignored; an empty query finds nothing. limit <= 0 means 50.
//
// Queries of three or more characters use the trigram index and two-character
// CJK queries the bigram index; both find every match within the first
// indexedChars characters of each message in the store. Shorter queries, and
// two-character queries without a CJK character ("ok", "HR"), are answered
// by scanning the newest messages (see scanWindow), so old matches of those
// may be missed. A query with a NUL character finds nothing: FTS5 reads
// its query string only up to a NUL (and failed on the rest), and no
// message that came over XML can hold one. Other control characters are
// searched for as they are.
func (db *DB) Search(query, peer string, limit int) ([]Hit, error) {
	q := strings.TrimSpace(query)
	if q == "" || strings.ContainsRune(q, 0) {
		return nil, nil
	}
	limit = pageLimit(limit)
	var (
		where []string
		args  []any
		sqlq  string
		from  = `messages_fts`
	)
	n := utf8.RuneCountInString(q)
	switch {
	case n >= 3:
		where = append(where, `f.messages_fts MATCH ?`)
		args = append(args, ftsPhrase(q))
	case n == 2 && bigramQuery(q):
		from = `messages_bigram`
		where = append(where, `f.messages_bigram MATCH ?`)
		args = append(args, ftsPhrase(strings.ToLower(q)))
	}
	if where != nil {
		if peer != "" {
			where = append(where, `m.peer = ?`)
			args = append(args, peer)
		}
		args = append(args, limit)
		// The index is walked newest Seq first and stops at limit: Seq
		// follows Time, so this is newest first without sorting all hits.
		sqlq = `SELECT ` + prefixed("m.", msgCols) + ` FROM ` + from + ` f JOIN messages m ON m.seq = f.rowid WHERE ` +
			strings.Join(where, " AND ") + ` ORDER BY f.rowid DESC LIMIT ?`
	} else {
		// Fallback: scan the newest scanWindow rows (of the peer) with
		// instr(); lower() folds ASCII letters only.
		lq := asciiLower(q)
		inner := `SELECT ` + msgCols + ` FROM messages ORDER BY seq DESC LIMIT ?`
		args = append(args, scanWindow)
		if peer != "" {
			inner = `SELECT ` + msgCols + ` FROM messages WHERE peer = ? ORDER BY ts DESC, seq DESC LIMIT ?`
			args = []any{peer, scanWindowPeer}
		}
		args = append(args, lq, lq, limit)
		sqlq = `SELECT ` + msgCols + ` FROM (` + inner + `)
			WHERE instr(lower(body), ?) > 0 OR instr(lower(subject), ?) > 0 LIMIT ?`
	}
	ms, err := scanMessages(db.r.Query(sqlq, args...))
	if err != nil {
		return nil, fmt.Errorf("store: search: %w", err)
	}
	slices.SortStableFunc(ms, func(a, b Message) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return int(b.Seq - a.Seq)
	})
	hits := make([]Hit, len(ms))
	for i, m := range ms {
		hits[i] = Hit{Message: m, Matches: matchRanges(m.Body, q)}
	}
	return hits, nil
}

// ftsPhrase quotes s as one FTS5 string (phrase): nothing in it is syntax.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// matchRanges returns the byte ranges of the non-overlapping matches of q in
// s, comparing runes case-insensitively (simple lower-casing, as the trigram
// index does).
func matchRanges(s, q string) [][2]int {
	qr := []rune(q)
	for i, r := range qr {
		qr[i] = unicode.ToLower(r)
	}
	if len(qr) == 0 {
		return nil
	}
	var out [][2]int
	for i := 0; i < len(s); {
		j, k := i, 0
		for ; k < len(qr) && j < len(s); k++ {
			r, size := utf8.DecodeRuneInString(s[j:])
			if unicode.ToLower(r) != qr[k] {
				break
			}
			j += size
		}
		if k == len(qr) {
			out = append(out, [2]int{i, j})
			i = j
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return out
}

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

func bigramRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// bigramPair reports whether the adjacent runes a, b are indexed in the
// bigram table: both letters or digits, at least one of them CJK.
func bigramPair(a, b rune) bool {
	return bigramRune(a) && bigramRune(b) && (isCJK(a) || isCJK(b))
}

// bigramQuery reports whether the two-rune query q can be answered from the
// bigram table.
func bigramQuery(q string) bool {
	a, n := utf8.DecodeRuneInString(q)
	b, _ := utf8.DecodeRuneInString(q[n:])
	return bigramPair(a, b)
}

// indexedChars is how much of a message's body, and of its subject, the
// search indexes take: the first 16,384 characters (runes; SQLite's substr
// counts the same). Search finds any text within them; text beyond them is
// found only by the scan of the newest messages (one- and two-character
// queries without a CJK pair). It bounds what one message costs to index,
// whatever its size: a 250 KB Chinese message is about 85,000 characters,
// and indexing them all took 0.3 s of the store's writer even once the
// bigrams were de-duplicated in linear time. 16,384 characters are about
// five pages of Chinese, 16 KB of English: more than a person types into
// a chat, and enough of a pasted document to find it by.
const indexedChars = 16 << 10

// indexedPrefix returns the part of s the indexes take: its first
// indexedChars runes.
func indexedPrefix(s string) string {
	n := 0
	for i := range s {
		if n == indexedChars {
			return s[:i]
		}
		n++
	}
	return s
}

// appendBigrams appends to dst the distinct indexed bigrams of body and
// subject (lower-cased; of their first indexedChars characters), separated
// by spaces, in order of first occurrence: the text stored in the bigram
// table. It takes time linear in the length of the text: the pairs seen
// are kept in a set.
func appendBigrams(dst []byte, body, subject string) []byte {
	body, subject = indexedPrefix(body), indexedPrefix(subject)
	var seen map[uint64]struct{}
	for _, s := range [2]string{body, subject} {
		prev := rune(-1)
		for _, r := range s {
			r = unicode.ToLower(r)
			if prev >= 0 && bigramPair(prev, r) {
				key := uint64(prev)<<32 | uint64(uint32(r))
				if _, dup := seen[key]; !dup {
					if seen == nil {
						// At most one pair per CJK character (3 bytes).
						seen = make(map[uint64]struct{}, (len(body)+len(subject))/3)
					}
					seen[key] = struct{}{}
					if len(dst) > 0 {
						dst = append(dst, ' ')
					}
					dst = utf8.AppendRune(dst, prev)
					dst = utf8.AppendRune(dst, r)
				}
			}
			prev = r
		}
	}
	return dst
}
