package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The 1M-message fixture is built once per test binary run, in a temp dir
// removed by TestMain.
const (
	fixtureMessages = 1_000_000
	fixturePeers    = 50
)

var (
	fixtureOnce sync.Once
	fixtureDB   *DB
	fixtureErr  error
	fixtureDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDB != nil {
		fixtureDB.Close()
	}
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

var (
	zhWords = strings.Fields(`你好 审批 会议 报销 合同 项目 明天 下午 开会 客户 文件 已经 发送 请查收 谢谢 收到 好的 没问题 进度 确认
		我们 今天 需要 一下 这个 那个 老板 同事 周报 上线 测试 版本 服务器 部署 数据 方案 预算 采购 发票 出差 请假 审核 通过
		晚上 吃饭 一起 周末 加班 辛苦了 麻烦 帮忙 看看 附件 邮件 电话 时间 地点 北京 上海 深圳 下周一 计划 安排 负责 跟进 问题`)
	enWords = strings.Fields(`the a to and of is in it for on please check meeting report deploy server budget review tomorrow
		today thanks ok sure send file draft release build test fix bug issue ticket customer contract invoice call later lunch
		update status plan schedule approve approved pending urgent asap next week monday friday team manager docs link`)
	zhPunct = []string{"，", "。", "！", "？", "：", " "}
)

// fixtureBody makes a realistic 5–60 character body: Chinese, English or
// mixed.
func fixtureBody(r *rand.Rand) string {
	target := 5 + r.IntN(56)
	mode := r.IntN(10) // 0-4 Chinese, 5-7 English, 8-9 mixed
	var b strings.Builder
	n := 0
	for n < target {
		zh := mode < 5 || (mode >= 8 && r.IntN(2) == 0)
		var w string
		if zh {
			w = zhWords[r.IntN(len(zhWords))]
			if r.IntN(4) == 0 {
				w += zhPunct[r.IntN(len(zhPunct))]
			}
		} else {
			w = enWords[r.IntN(len(enWords))]
			if n > 0 {
				w = " " + w
			}
			if r.IntN(8) == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
		}
		b.WriteString(w)
		n += len([]rune(w))
	}
	return b.String()
}

func fixturePeer(i int) string { return fmt.Sprintf("peer%02d@example.com", i) }

var fixtureStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func openFixture(b *testing.B) *DB {
	b.Helper()
	if testing.Short() {
		b.Skip("1M-message fixture skipped in -short mode")
	}
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "magpie-store-bench-")
		if fixtureErr != nil {
			return
		}
		path := filepath.Join(fixtureDir, "history.db")
		var db *DB
		db, fixtureErr = Open(path)
		if fixtureErr != nil {
			return
		}
		start := time.Now()
		r := rand.New(rand.NewPCG(1, 2))
		t := fixtureStart
		const batch = 20_000
		msgs := make([]Message, 0, batch)
		for i := 0; i < fixtureMessages; i++ {
			t = t.Add(time.Duration(1+r.IntN(60)) * time.Second)
			// Skewed: peer00 has about 14% of the messages.
			p := int(fixturePeers * r.Float64() * r.Float64())
			dir := Direction(r.IntN(2))
			st := Received
			if dir == Outgoing {
				st = Delivered
			}
			msgs = append(msgs, Message{
				Peer: fixturePeer(p), Dir: dir, Type: "chat",
				ID:       fmt.Sprintf("id-%d", i),
				OriginID: fmt.Sprintf("origin-%d", i),
				StanzaID: fmt.Sprintf("archive-%d", i),
				Body:     fixtureBody(r), Time: t, State: st,
			})
			if len(msgs) == batch || i == fixtureMessages-1 {
				if fixtureErr = bulkLoad(db, msgs); fixtureErr != nil {
					return
				}
				msgs = msgs[:0]
			}
		}
		fi, _ := os.Stat(path)
		var wal int64
		if w, err := os.Stat(path + "-wal"); err == nil {
			wal = w.Size()
		}
		fmt.Fprintf(os.Stderr, "fixture: %d messages, %d peers built in %v (%.0f msg/s); file %.1f MB (+%.1f MB WAL)\n",
			fixtureMessages, fixturePeers, time.Since(start).Round(time.Millisecond),
			fixtureMessages/time.Since(start).Seconds(), float64(fi.Size())/1e6, float64(wal)/1e6)
		fmt.Fprintf(os.Stderr, "fixture: of which trigram index %v, bigram index %v\n",
			fixtureTrigramTime.Round(time.Millisecond), fixtureBigramTime.Round(time.Millisecond))
		if rows, err := db.r.Query(`SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC`); err == nil {
			for rows.Next() {
				var name string
				var size int64
				rows.Scan(&name, &size)
				if size > 1<<20 {
					fmt.Fprintf(os.Stderr, "fixture: %-24s %6.1f MB\n", name, float64(size)/1e6)
				}
			}
			rows.Close()
		}
		fixtureDB = db
	})
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	return fixtureDB
}

// bulkLoad inserts msgs (known to be new) in one transaction with one
// statement for the rows and one per search index: the fast path for the
// fixture. AddMessages checks for duplicates row by row and is slower.
var fixtureTrigramTime, fixtureBigramTime time.Duration

func bulkLoad(db *DB, msgs []Message) error {
	type row struct {
		Peer, Resource, ID, OriginID, StanzaID, Type, Body, Subject, Thread, Error string
		Dir                                                                        Direction
		State                                                                      State
		TS, Seq                                                                    int64
	}
	rows := make([]row, len(msgs))
	for i, m := range msgs {
		rows[i] = row{m.Peer, m.Resource, m.ID, m.OriginID, m.StanzaID, m.Type, m.Body, m.Subject, m.Thread, m.Error, m.Dir, m.State, toMicro(m.Time), toMicro(m.Time)}
		msgs[i].Seq = rows[i].Seq // the fixture's times are unique
	}
	js, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	ctx := context.Background()
	tx, err := db.w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO messages (seq, peer, dir, resource, id, origin_id, stanza_id, type, body, subject, thread, ts, state, error)
		SELECT value->>'Seq', value->>'Peer', value->>'Dir', value->>'Resource', value->>'ID', value->>'OriginID', value->>'StanzaID', value->>'Type',
			value->>'Body', value->>'Subject', value->>'Thread', value->>'TS', value->>'State', value->>'Error'
		FROM json_each(?) ORDER BY key`, string(js)); err != nil {
		return err
	}
	t0 := time.Now()
	if err := db.indexTrigram(ctx, tx, msgs); err != nil {
		return err
	}
	t1 := time.Now()
	if err := db.indexBigram(ctx, tx, msgs); err != nil {
		return err
	}
	fixtureTrigramTime += t1.Sub(t0)
	fixtureBigramTime += time.Since(t1)
	return tx.Commit()
}

func BenchmarkAddMessages(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "history.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const batch = 500
	r := rand.New(rand.NewPCG(3, 4))
	t := fixtureStart
	seq := 0
	msgs := make([]Message, batch)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for i := range msgs {
			seq++
			t = t.Add(time.Second)
			msgs[i] = Message{
				Peer: fixturePeer(r.IntN(fixturePeers)), Dir: Incoming, Type: "chat",
				ID: fmt.Sprintf("id-%d", seq), OriginID: fmt.Sprintf("origin-%d", seq), StanzaID: fmt.Sprintf("archive-%d", seq),
				Body: fixtureBody(r), Time: t,
			}
		}
		b.StartTimer()
		added, err := db.AddMessages(msgs)
		if err != nil {
			b.Fatal(err)
		}
		if len(added) != batch {
			b.Fatalf("added %d of %d", len(added), batch)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
}

const heavyPeer = "peer00@example.com" // the peer with the most messages
const lightPeer = "peer37@example.com"

func BenchmarkHistoryLastPage(b *testing.B) {
	db := openFixture(b)
	for _, peer := range []string{heavyPeer, lightPeer} {
		b.Run(peer[:6], func(b *testing.B) {
			for b.Loop() {
				ms, err := db.History(peer, Cursor{}, 50)
				if err != nil || len(ms) != 50 {
					b.Fatal(len(ms), err)
				}
			}
		})
	}
}

func BenchmarkHistoryOlderPage(b *testing.B) {
	db := openFixture(b)
	for _, peer := range []string{heavyPeer, lightPeer} {
		b.Run(peer[:6], func(b *testing.B) {
			// A cursor about 90% of the way back in time.
			c := Cursor{Time: fixtureStart.Add(30 * 24 * time.Hour), Seq: 1 << 62}
			for b.Loop() {
				ms, err := db.History(peer, c, 50)
				if err != nil || len(ms) != 50 {
					b.Fatal(len(ms), err)
				}
			}
		})
	}
}

func BenchmarkAround(b *testing.B) {
	db := openFixture(b)
	mid, err := db.History(heavyPeer, Cursor{Time: fixtureStart.Add(100 * 24 * time.Hour), Seq: 1 << 62}, 1)
	if err != nil || len(mid) != 1 {
		b.Fatal(mid, err)
	}
	for b.Loop() {
		ms, err := db.Around(mid[0].Seq, 25)
		if err != nil || len(ms) != 51 {
			b.Fatal(len(ms), err)
		}
	}
}

func BenchmarkConversations(b *testing.B) {
	db := openFixture(b)
	for b.Loop() {
		cs, err := db.Conversations(0)
		if err != nil || len(cs) != fixturePeers {
			b.Fatal(len(cs), err)
		}
	}
}

func benchSearch(b *testing.B, queries ...string) {
	db := openFixture(b)
	for _, q := range queries {
		for _, peer := range []string{"", heavyPeer, lightPeer} {
			name := q + "/global"
			switch peer {
			case heavyPeer:
				name = q + "/bigpeer"
			case lightPeer:
				name = q + "/smallpeer"
			}
			b.Run(name, func(b *testing.B) {
				var n int
				for b.Loop() {
					hits, err := db.Search(q, peer, 50)
					if err != nil {
						b.Fatal(err)
					}
					n = len(hits)
				}
				b.ReportMetric(float64(n), "hits")
			})
		}
	}
}

func BenchmarkSearchEnglish(b *testing.B) { benchSearch(b, "deploy", "Meeting tomorrow", "zzyzx") }

func BenchmarkSearchChinese(b *testing.B) {
	benchSearch(b, "请查收", "辛苦了", "服务器部署")
}

func BenchmarkSearchChineseTwoChars(b *testing.B) { benchSearch(b, "审批", "你好") }

func BenchmarkSearchShort(b *testing.B) { benchSearch(b, "ok", "好", "qz") } // "qz": no hit, scans the whole window
