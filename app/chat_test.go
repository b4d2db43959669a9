package app

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"
)

// chatFixture is a chat view in a 500x600 window, recording what it sends.
type chatFixture struct {
	v       *chatView
	w       fyne.Window
	sent    []string
	retried []string
	opened  []string
}

func newChatFixture(t *testing.T) *chatFixture {
	t.Helper()
	test.NewTempApp(t)
	f := &chatFixture{}
	f.v = newChatView(jid.MustParse("zhangsan@company.example"),
		func(body string) { f.sent = append(f.sent, body) },
		func(id string) { f.retried = append(f.retried, id) })
	f.v.openURL = func(u *url.URL) error { f.opened = append(f.opened, u.String()); return nil }
	f.w = test.NewTempWindow(t, f.v.Object())
	f.w.Resize(fyne.NewSize(500, 600))
	f.w.Canvas().Focus(f.v.Entry())
	return f
}

// typeText types into whatever has the keyboard focus.
func (f *chatFixture) typeText(s string) {
	focused := f.w.Canvas().Focused()
	if focused == nil {
		panic("nothing has the focus")
	}
	for _, r := range s {
		focused.TypedRune(r)
	}
}

// key delivers a key press to the focused object the way the desktop
// driver does: KeyDown, TypedKey, KeyUp.
func (f *chatFixture) key(name fyne.KeyName) {
	focused := f.w.Canvas().Focused()
	ev := &fyne.KeyEvent{Name: name}
	focused.(desktop.Keyable).KeyDown(ev)
	focused.TypedKey(ev)
	focused.(desktop.Keyable).KeyUp(ev)
}

// shiftKey presses name with Shift held.
func (f *chatFixture) shiftKey(name fyne.KeyName) {
	focused := f.w.Canvas().Focused().(desktop.Keyable)
	shift := &fyne.KeyEvent{Name: desktop.KeyShiftLeft}
	focused.KeyDown(shift)
	f.key(name)
	focused.KeyUp(shift)
}

// walkVisible calls fn for o and every visible object drawn inside it.
func walkVisible(o fyne.CanvasObject, fn func(fyne.CanvasObject)) {
	if !o.Visible() {
		return
	}
	fn(o)
	switch o := o.(type) {
	case fyne.Widget:
		for _, child := range test.WidgetRenderer(o).Objects() {
			walkVisible(child, fn)
		}
	case *fyne.Container:
		for _, child := range o.Objects {
			walkVisible(child, fn)
		}
	}
}

// texts is every text drawn in the window.
func (f *chatFixture) texts() []string {
	var texts []string
	walkVisible(f.w.Canvas().Content(), func(o fyne.CanvasObject) {
		if t, ok := o.(*canvas.Text); ok && t.Text != "" {
			texts = append(texts, t.Text)
		}
	})
	return texts
}

func (f *chatFixture) shows(s string) bool {
	return strings.Contains(strings.Join(f.texts(), "\n"), s)
}

// row is the row drawing message i, if it is in sight.
func (f *chatFixture) row(i int) *messageRow {
	var found *messageRow
	walkVisible(f.w.Canvas().Content(), func(o fyne.CanvasObject) {
		if r, ok := o.(*messageRow); ok && r.index == i {
			found = r
		}
	})
	return found
}

func (f *chatFixture) button(text string) *widget.Button {
	var found *widget.Button
	walkVisible(f.w.Canvas().Content(), func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == text {
			found = b
		}
	})
	return found
}

func TestChatEnterSendsAndClears(t *testing.T) {
	f := newChatFixture(t)
	f.typeText("你好 Bob 👋  ")
	f.key(fyne.KeyReturn)
	if want := []string{"你好 Bob 👋"}; !slices.Equal(f.sent, want) {
		t.Fatalf("sent %q, want %q (trailing blanks trimmed)", f.sent, want)
	}
	if f.v.entry.Text != "" {
		t.Errorf("entry holds %q after sending, want it empty", f.v.entry.Text)
	}
	if f.w.Canvas().Focused() != f.v.Entry() {
		t.Errorf("focus moved to %v after sending", f.w.Canvas().Focused())
	}
	f.typeText("second")
	f.key(fyne.KeyEnter) // the keypad's Enter
	if len(f.sent) != 2 || f.sent[1] != "second" {
		t.Errorf("keypad Enter: sent %q", f.sent)
	}
}

func TestChatShiftEnterMakesNewline(t *testing.T) {
	f := newChatFixture(t)
	f.typeText("line one")
	f.shiftKey(fyne.KeyReturn)
	f.typeText("line two")
	if len(f.sent) != 0 {
		t.Fatalf("Shift+Enter sent %q", f.sent)
	}
	if want := "line one\nline two"; f.v.entry.Text != want {
		t.Fatalf("entry holds %q, want %q", f.v.entry.Text, want)
	}
	// Shift was released: Enter sends again, both lines.
	f.key(fyne.KeyReturn)
	if want := []string{"line one\nline two"}; !slices.Equal(f.sent, want) {
		t.Errorf("sent %q, want %q", f.sent, want)
	}
}

func TestChatShiftEnterShortcutMakesNewline(t *testing.T) {
	f := newChatFixture(t)
	f.typeText("a")
	f.v.entry.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShift})
	f.typeText("b")
	if len(f.sent) != 0 || f.v.entry.Text != "a\nb" {
		t.Errorf("sent %q, entry %q; want nothing sent and %q", f.sent, f.v.entry.Text, "a\nb")
	}
}

func TestChatBlankIsNotSent(t *testing.T) {
	for i, typed := range []string{"", "   ", "\t"} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			f := newChatFixture(t)
			f.typeText(typed)
			f.key(fyne.KeyReturn)
			f.shiftKey(fyne.KeyReturn)
			f.key(fyne.KeyReturn)
			test.Tap(f.v.send)
			if len(f.sent) != 0 {
				t.Errorf("sent %q", f.sent)
			}
			if !f.v.send.Disabled() {
				t.Error("Send is enabled with nothing to send")
			}
		})
	}
}

func TestChatSendButton(t *testing.T) {
	f := newChatFixture(t)
	f.typeText("via the button")
	if f.v.send.Disabled() {
		t.Fatal("Send is disabled with text typed")
	}
	test.Tap(f.v.send)
	if want := []string{"via the button"}; !slices.Equal(f.sent, want) {
		t.Errorf("sent %q, want %q", f.sent, want)
	}
	if f.v.entry.Text != "" || f.w.Canvas().Focused() != f.v.Entry() {
		t.Errorf("entry %q focused=%v; want empty and focused", f.v.entry.Text, f.w.Canvas().Focused() == f.v.Entry())
	}
}

func TestChatDraft(t *testing.T) {
	f := newChatFixture(t)
	f.typeText("half a thought")
	f.shiftKey(fyne.KeyReturn)
	f.typeText("和一半")
	if want := "half a thought\n和一半"; f.v.Draft() != want {
		t.Errorf("Draft() = %q, want %q", f.v.Draft(), want)
	}
}

func TestChatAppendShowsMessage(t *testing.T) {
	f := newChatFixture(t)
	now := time.Date(2026, 3, 5, 16, 0, 0, 0, time.Local)
	f.v.now = func() time.Time { return now }
	f.v.SetHeader("张三", "away", "开会中")
	f.v.Append(chatMessage{ID: "r1", Sender: "张三", Time: now.Add(-24 * time.Hour), Body: "明天的会改到下午三点", State: stateReceived})
	f.v.Append(chatMessage{ID: "o1", Outgoing: true, Sender: "Me", Time: now.Add(-time.Minute), Body: "OK, see you then", State: stateSent})
	for _, want := range []string{"张三", "away — 开会中", "明天的会改到下午三点", "2026-03-04 16:00", "Me", "OK, see you then", "15:59 · Sent"} {
		if !f.shows(want) {
			t.Errorf("%q is not shown; shown: %q", want, f.texts())
		}
	}
}

func TestChatSetState(t *testing.T) {
	f := newChatFixture(t)
	f.v.Append(chatMessage{ID: "m1", Outgoing: true, Sender: "Me", Time: time.Now(), Body: "hello", State: stateSending})
	if !f.shows("Sending…") {
		t.Fatalf("no Sending…; shown: %q", f.texts())
	}
	for _, step := range []struct {
		state messageState
		want  string
	}{{stateSent, "Sent"}, {stateDelivered, "Delivered"}} {
		f.v.SetState("m1", step.state, "")
		if !f.shows(step.want) || f.shows("Sending…") {
			t.Errorf("state %d: shown %q, want %q", step.state, f.texts(), step.want)
		}
	}
	f.v.SetState("unknown", stateFailed, "ignored") // must not panic
}

func TestChatFailedRetry(t *testing.T) {
	f := newChatFixture(t)
	f.v.Append(chatMessage{ID: "m1", Outgoing: true, Sender: "Me", Time: time.Now(), Body: "hello", State: stateSending})
	if f.button("Retry") != nil {
		t.Fatal("Retry shown while sending")
	}
	before := f.row(0).Size().Height
	f.v.SetState("m1", stateFailed, "timed out")
	if !f.shows("Not sent: timed out") {
		t.Errorf("no error shown; shown: %q", f.texts())
	}
	if after := f.row(0).Size().Height; after <= before {
		t.Errorf("row height %v after failing, was %v: the error and Retry need room", after, before)
	}
	retry := f.button("Retry")
	if retry == nil {
		t.Fatal("no Retry button")
	}
	test.Tap(retry)
	if want := []string{"m1"}; !slices.Equal(f.retried, want) {
		t.Errorf("retried %q, want %q", f.retried, want)
	}
	f.v.SetState("m1", stateSending, "")
	if f.button("Retry") != nil || f.shows("Not sent") {
		t.Error("Retry or error still shown after retrying")
	}
}

func TestChatLinksOpenAndCopy(t *testing.T) {
	f := newChatFixture(t)
	body := "文档在https://a.example/doc?id=1。请看"
	f.v.Append(chatMessage{ID: "r1", Sender: "张三", Time: time.Now(), Body: body})
	row := f.row(0)
	g := f.v.layoutFor(0, row.Size().Width)
	var link *placedText
	for i := range g.body {
		if g.body[i].link != nil {
			link = &g.body[i]
		}
	}
	if link == nil || link.text != "https://a.example/doc?id=1" {
		t.Fatalf("link piece %+v", link)
	}
	test.TapAt(row, link.pos.AddXY(2, 2))
	if want := []string{"https://a.example/doc?id=1"}; !slices.Equal(f.opened, want) {
		t.Errorf("opened %q, want %q", f.opened, want)
	}
	test.TapAt(row, g.body[0].pos.AddXY(2, 2)) // the plain text before it
	if len(f.opened) != 1 {
		t.Errorf("tapping plain text opened %q", f.opened[1:])
	}

	menu := row.contextMenu(link.pos.AddXY(2, 2))
	if len(menu.Items) != 3 {
		t.Fatalf("menu over a link has %d items, want Copy, Select text and Copy Link", len(menu.Items))
	}
	clip := fyne.CurrentApp().Clipboard()
	menu.Items[0].Action()
	if clip.Content() != body {
		t.Errorf("Copy put %q on the clipboard, want %q", clip.Content(), body)
	}
	menu.Items[2].Action()
	if clip.Content() != "https://a.example/doc?id=1" {
		t.Errorf("Copy Link put %q on the clipboard", clip.Content())
	}
	if menu := row.contextMenu(fyne.NewPos(1, 1)); len(menu.Items) != 2 {
		t.Errorf("menu away from links has %d items, want Copy and Select text", len(menu.Items))
	}
	// Select text shows the message in a selectable label.
	menu.Items[1].Action()
	var selectable *widget.Label
	if top := f.w.Canvas().Overlays().Top(); top != nil {
		for _, o := range test.LaidOutObjects(top) {
			if l, ok := o.(*widget.Label); ok && l.Selectable && l.Text == body {
				selectable = l
			}
		}
	}
	if selectable == nil {
		t.Fatal("Select text did not show the message in a selectable label")
	}
}

func TestChatRowHeightsFollowWrapping(t *testing.T) {
	f := newChatFixture(t)
	long := strings.Repeat("wrapping words ", 30)
	f.v.Append(chatMessage{ID: "short", Sender: "A", Time: time.Now(), Body: "short"})
	f.v.Append(chatMessage{ID: "long", Sender: "A", Time: time.Now(), Body: long})
	f.v.Append(chatMessage{ID: "cjk", Sender: "A", Time: time.Now(), Body: strings.Repeat("中文没有空格也要换行", 10)})
	short, wide := f.row(0).Size().Height, f.row(1).Size().Height
	if wide < 3*f.v.layoutFor(1, f.v.width).sender.size.Height {
		t.Errorf("long message row is %v high, short %v: not wrapped", wide, short)
	}
	for i := range 3 {
		g := f.v.layoutFor(i, f.v.width)
		if r := f.row(i); r != nil && r.Size().Height != g.height {
			t.Errorf("row %d is %v high, measured %v", i, r.Size().Height, g.height)
		}
		for _, p := range g.body {
			if p.pos.X+p.size.Width > g.bubblePos.X+g.bubbleSize.Width {
				t.Errorf("row %d: %q sticks out of its bubble", i, p.text)
			}
		}
	}

	f.w.Resize(fyne.NewSize(300, 600))
	if f.v.width >= 300 {
		t.Fatalf("list width %v after the window shrank to 300", f.v.width)
	}
	g := f.v.layoutFor(1, f.v.width)
	if g.height <= wide {
		t.Errorf("narrower window: long message %v high, was %v", g.height, wide)
	}
}

func TestChatFollowsNewMessages(t *testing.T) {
	f := newChatFixture(t)
	for i := range 40 {
		f.v.Append(chatMessage{ID: strconv.Itoa(i), Sender: "A", Time: time.Now(), Body: "message " + strconv.Itoa(i)})
	}
	if f.row(39) == nil {
		t.Fatal("the newest message is not in sight")
	}
	f.v.list.ScrollToTop() // reading history
	f.v.Append(chatMessage{ID: "in", Sender: "A", Time: time.Now(), Body: "incoming"})
	if f.row(0) == nil {
		t.Error("an incoming message scrolled away the history being read")
	}
	f.v.Append(chatMessage{ID: "own", Outgoing: true, Sender: "Me", Time: time.Now(), Body: "mine", State: stateSending})
	if f.row(41) == nil {
		t.Error("an own message is not brought into sight")
	}
}

func TestSplitLinks(t *testing.T) {
	type run struct{ text, link string }
	for i, tc := range []struct {
		in   string
		want []run
	}{
		0:  {"", nil},
		1:  {"no links here", []run{{"no links here", ""}}},
		2:  {"see https://a.example/x for it", []run{{"see ", ""}, {"https://a.example/x", "https://a.example/x"}, {" for it", ""}}},
		3:  {"https://a.example/start", []run{{"https://a.example/start", "https://a.example/start"}}},
		4:  {"ends with http://a.example/end", []run{{"ends with ", ""}, {"http://a.example/end", "http://a.example/end"}}},
		5:  {"https://a.example/x.", []run{{"https://a.example/x", "https://a.example/x"}, {".", ""}}},
		6:  {"two: https://a.example/1, https://b.example/2!", []run{{"two: ", ""}, {"https://a.example/1", "https://a.example/1"}, {", ", ""}, {"https://b.example/2", "https://b.example/2"}, {"!", ""}}},
		7:  {"文档在https://a.example/doc。请看", []run{{"文档在", ""}, {"https://a.example/doc", "https://a.example/doc"}, {"。请看", ""}}},
		8:  {"（https://a.example/中文）", []run{{"（", ""}, {"https://a.example/", "https://a.example/"}, {"中文）", ""}}},
		9:  {"(see https://en.wikipedia.org/wiki/Go_(language))", []run{{"(see ", ""}, {"https://en.wikipedia.org/wiki/Go_(language)", "https://en.wikipedia.org/wiki/Go_(language)"}, {")", ""}}},
		10: {"https:// and https://", []run{{"https:// and https://", ""}}},
		11: {"xhttps://a.example", []run{{"xhttps://a.example", ""}}},
		12: {"HTTPS://A.example/Q?a=1&b=2", []run{{"HTTPS://A.example/Q?a=1&b=2", "https://A.example/Q?a=1&b=2"}}},
		13: {`"https://a.example/q"`, []run{{`"`, ""}, {"https://a.example/q", "https://a.example/q"}, {`"`, ""}}},
		14: {"看https://a.example/x👍", []run{{"看", ""}, {"https://a.example/x", "https://a.example/x"}, {"👍", ""}}},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			var got []run
			for _, r := range splitLinks(tc.in) {
				link := ""
				if r.url != nil {
					link = r.url.String()
				}
				got = append(got, run{r.text, link})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("splitLinks(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWrap(t *testing.T) {
	test.NewTempApp(t)
	for i, tc := range []struct {
		body  string
		width float32
		want  []string // the lines
	}{
		0: {"", 100, nil},
		1: {"one two three", 1000, []string{"one two three"}},
		2: {"one two three", textWidth("one two") + 1, []string{"one two", "three"}},
		3: {"first\n\nthird", 1000, []string{"first", "", "third"}},
		4: {"中文没有空格", textWidth("中文没") + 1, []string{"中文没", "有空格"}},
		5: {"一二三。四", textWidth("一二三") + 1, []string{"一二", "三。四"}},    // "。" never starts a line
		6: {"👍🏽👍🏽👍🏽", textWidth("👍🏽👍🏽") + 1, []string{"👍🏽👍🏽", "👍🏽"}}, // skin tones stay on their hand
		7: {"  indented", 1000, []string{"  indented"}},
		8: {"go https://a.example/averyveryverylongpath", textWidth("https://a.example/") + 1, []string{"go", "https://a.example/", "averyveryverylongpa", "th"}},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			p := prepareText(tc.body, 14, fyne.TextStyle{})
			lines, _ := p.wrap(tc.width)
			var got []string
			for _, l := range lines {
				var b strings.Builder
				for _, piece := range l.pieces {
					b.WriteString(piece.text)
				}
				got = append(got, b.String())
				if l.width > tc.width {
					t.Errorf("line %q is %v wide, more than %v", b.String(), l.width, tc.width)
				}
			}
			if i == 8 { // where a long URL breaks depends on the font: check it is whole
				if len(got) < 3 || got[0] != "go" || got[1] != "https://a.example/" || strings.Join(got[2:], "") != "averyveryverylongpath" {
					t.Errorf("got %q", got)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func textWidth(s string) float32 { return fyne.MeasureText(s, 14, fyne.TextStyle{}).Width }

func TestFormatStamp(t *testing.T) {
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, time.Local)
	for i, tc := range []struct {
		t    time.Time
		want string
	}{
		0: {time.Date(2026, 3, 5, 9, 7, 0, 0, time.Local), "09:07"},
		1: {time.Date(2026, 3, 4, 23, 59, 0, 0, time.Local), "2026-03-04 23:59"},
		2: {time.Time{}, ""},
	} {
		if got := formatStamp(tc.t, now); got != tc.want {
			t.Errorf("%d: got %q, want %q", i, got, tc.want)
		}
	}
}
