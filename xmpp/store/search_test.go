package store

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestSearch(t *testing.T) {
	db := newDB(t)
	mustAdd(t, db,
		Message{Peer: "bob@x", Body: "Meeting at 10, the MEETING room", Time: at(1)},             // 1
		Message{Peer: "bob@x", Body: "请帮忙审批一下这个合同，审批后发我", Time: at(2)},                           // 2
		Message{Peer: "carol@x", Body: "你好，明天开会吗？", Time: at(3)},                                 // 3
		Message{Peer: "bob@x", Body: "你好你好", Time: at(4)},                                        // 4
		Message{Peer: "carol@x", Body: "deploy the server 服务器部署完成", Time: at(5)},                 // 5
		Message{Peer: "bob@x", Body: "no match here", Subject: "Quarterly meeting", Time: at(6)}, // 6: subject only
		Message{Peer: "carol@x", Body: `he said "hi" * AND OR NOT NEAR(a b) col:x 'q'`, Time: at(7)},
		Message{Peer: "dave@x", Body: "Ok, ok! OK", Time: at(8)},
		Message{Peer: "dave@x", Body: "审批", Time: at(9)}, // two characters only: no trigram at all
		Message{Peer: "dave@x", Body: "好", Time: at(10)},
		Message{Peer: "dave@x", Body: "Ünïcode ÉTÉ été", Time: at(11)},
	)
	type hit struct {
		body    string
		matches string // the matched substrings, joined with |
	}
	tests := []struct {
		name, query, peer string
		want              []hit // newest first
	}{
		{"english case-insensitive", "meeting", "", []hit{{"no match here", ""}, {"Meeting at 10, the MEETING room", "Meeting|MEETING"}}},
		{"english upper query", "MEETING ROOM", "", []hit{{"Meeting at 10, the MEETING room", "MEETING room"}}},
		{"per peer", "meeting", "carol@x", nil},
		{"chinese 3 chars", "服务器", "", []hit{{"deploy the server 服务器部署完成", "服务器"}}},
		{"chinese 5 chars", "服务器部署", "carol@x", []hit{{"deploy the server 服务器部署完成", "服务器部署"}}},
		{"chinese 2 chars 审批", "审批", "", []hit{{"审批", "审批"}, {"请帮忙审批一下这个合同，审批后发我", "审批|审批"}}},
		{"chinese 2 chars per peer", "审批", "bob@x", []hit{{"请帮忙审批一下这个合同，审批后发我", "审批|审批"}}},
		{"chinese 2 chars 你好", "你好", "", []hit{{"你好你好", "你好|你好"}, {"你好，明天开会吗？", "你好"}}},
		{"chinese 2 chars with spaces around", "  你好 ", "carol@x", []hit{{"你好，明天开会吗？", "你好"}}},
		{"chinese 1 char", "好", "", []hit{{"好", "好"}, {"你好你好", "好|好"}, {"你好，明天开会吗？", "好"}}},
		{"chinese 1 char per peer", "好", "dave@x", []hit{{"好", "好"}}},
		{"latin 2 chars", "ok", "", []hit{{"Ok, ok! OK", "Ok|ok|OK"}}},
		{"latin 1 char", "j", "", nil},
		{"mixed", "r 服务", "", []hit{{"deploy the server 服务器部署完成", "r 服务"}}},
		{"non-ascii case", "été", "", []hit{{"Ünïcode ÉTÉ été", "ÉTÉ|été"}}},
		{"quote", `"hi"`, "", []hit{{`he said "hi" * AND OR NOT NEAR(a b) col:x 'q'`, `"hi"`}}},
		{"lone quote", `"`, "", []hit{{`he said "hi" * AND OR NOT NEAR(a b) col:x 'q'`, `"|"`}}},
		{"star", "* AND", "", []hit{{`he said "hi" * AND OR NOT NEAR(a b) col:x 'q'`, "* AND"}}},
		{"fts operators", "AND OR NOT", "", []hit{{`he said "hi" * AND OR NOT NEAR(a b) col:x 'q'`, "AND OR NOT"}}},
		{"near", "NEAR(a b)", "", []hit{{`he said "hi" * AND OR NOT NEAR(a b) col:x 'q'`, "NEAR(a b)"}}},
		{"column filter", "col:x", "", []hit{{`he said "hi" * AND OR NOT NEAR(a b) col:x 'q'`, "col:x"}}},
		{"sql quote", "'q'", "", []hit{{`he said "hi" * AND OR NOT NEAR(a b) col:x 'q'`, "'q'"}}},
		{"sql injection", "'; DROP TABLE messages; --", "", nil},
		{"like wildcards", "%_%", "", nil},
		{"star alone", "*", "", []hit{{`he said "hi" * AND OR NOT NEAR(a b) col:x 'q'`, "*"}}},
		{"no match", "zzyzx", "", nil},
		{"empty", "   ", "", nil},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%02d %s", i, tc.name), func(t *testing.T) {
			hits, err := db.Search(tc.query, tc.peer, 10)
			if err != nil {
				t.Fatal(err)
			}
			var got []hit
			for _, h := range hits {
				var ms []string
				for _, r := range h.Matches {
					ms = append(ms, h.Body[r[0]:r[1]])
				}
				got = append(got, hit{h.Body, strings.Join(ms, "|")})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Search(%q, %q)\n got  %q\n want %q", tc.query, tc.peer, got, tc.want)
			}
		})
	}
	// The table survived the injection attempt.
	if hits, err := db.Search("meeting", "", 10); err != nil || len(hits) != 2 {
		t.Fatalf("after injection: %d %v", len(hits), err)
	}
	if hits, _ := db.Search("你好", "", 1); len(hits) != 1 || hits[0].Body != "你好你好" {
		t.Fatalf("limit 1: %v", hits)
	}
}

func TestMatchRanges(t *testing.T) {
	tests := []struct {
		s, q string
		want [][2]int
	}{
		{"审批审批", "审批", [][2]int{{0, 6}, {6, 12}}},
		{"a审批b", "审批", [][2]int{{1, 7}}},
		{"aaaa", "aa", [][2]int{{0, 2}, {2, 4}}},
		{"ÉTÉ été", "été", [][2]int{{0, 5}, {6, 11}}},
		{"abc", "abcd", nil},
		{"", "a", nil},
	}
	for i, tc := range tests {
		if got := matchRanges(tc.s, tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%d: matchRanges(%q, %q) = %v, want %v", i, tc.s, tc.q, got, tc.want)
		}
	}
}

func TestBigrams(t *testing.T) {
	tests := []struct{ body, subject, want string }{
		{"你好你好", "", "你好 好你"},
		{"审批, ok 合同A", "Re: 合同", "审批 合同 同a"},
		{"hello world", "", ""},
		{"你，好", "", ""},
	}
	for i, tc := range tests {
		if got := string(appendBigrams(nil, tc.body, tc.subject)); got != tc.want {
			t.Errorf("%d: %q", i, got)
		}
	}
}
