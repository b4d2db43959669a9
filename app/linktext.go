package app

import (
	"net/url"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// linkText is a long text to read, wrapped to its width as chat messages
// are (between Chinese characters as well as at spaces, never before a
// closing mark), with its http(s) links drawn as links that open when
// tapped. Fyne's own wrapping breaks only at spaces, which leaves ragged
// lines in Chinese with a few Latin words.
type linkText struct {
	widget.BaseWidget
	text    string
	openURL func(*url.URL) error

	prepared *preparedText // for the theme's text size
	width    float32       // the width the lines were wrapped at
	lines    []textLine
	hover    *textRun // the link under the pointer
}

var (
	_ fyne.Tappable      = (*linkText)(nil)
	_ desktop.Hoverable  = (*linkText)(nil)
	_ desktop.Cursorable = (*linkText)(nil)
)

func newLinkText(openURL func(*url.URL) error) *linkText {
	t := &linkText{openURL: openURL}
	t.ExtendBaseWidget(t)
	return t
}

// SetText shows text instead.
func (t *linkText) SetText(text string) {
	t.text, t.prepared, t.lines, t.width, t.hover = text, nil, nil, 0, nil
	t.Refresh()
}

// wrapped returns the lines at width w, wrapping again only when the width
// or the text size changed.
func (t *linkText) wrapped(w float32) ([]textLine, float32) {
	size := t.Theme().Size(theme.SizeNameText)
	if t.prepared == nil || t.prepared.size != size {
		t.prepared, t.lines = prepareText(t.text, size, fyne.TextStyle{}), nil
	}
	if t.lines == nil || w != t.width {
		t.lines, _ = t.prepared.wrap(max(w, 4*size))
		t.width = w
	}
	// A little more than chat bubbles' line height: this text is for reading.
	lineH := fyne.MeasureText("M", size, fyne.TextStyle{}).Height + t.Theme().Size(theme.SizeNameLineSpacing)
	return t.lines, lineH
}

// linkAt is the link drawn at pos, if any.
func (t *linkText) linkAt(pos fyne.Position) *textRun {
	if t.prepared == nil {
		return nil
	}
	lines, lineH := t.wrapped(t.Size().Width)
	i := int(pos.Y / lineH)
	if pos.Y < 0 || i >= len(lines) {
		return nil
	}
	for _, p := range lines[i].pieces {
		if pos.X >= p.x && pos.X < p.x+p.width {
			return t.prepared.link(p.run)
		}
	}
	return nil
}

// Tapped opens the link under the pointer.
func (t *linkText) Tapped(ev *fyne.PointEvent) {
	if link := t.linkAt(ev.Position); link != nil && t.openURL != nil {
		if err := t.openURL(link.url); err != nil {
			fyne.LogError("open link", err)
		}
	}
}

func (t *linkText) MouseIn(ev *desktop.MouseEvent) { t.MouseMoved(ev) }

func (t *linkText) MouseMoved(ev *desktop.MouseEvent) {
	if link := t.linkAt(ev.Position); link != t.hover {
		t.hover = link
		t.Refresh() // underline the link under the pointer
	}
}

func (t *linkText) MouseOut() {
	if t.hover != nil {
		t.hover = nil
		t.Refresh()
	}
}

func (t *linkText) Cursor() desktop.Cursor {
	if t.hover != nil {
		return desktop.PointerCursor
	}
	return desktop.DefaultCursor
}

func (t *linkText) CreateRenderer() fyne.WidgetRenderer { return &linkTextRenderer{text: t} }

type linkTextRenderer struct {
	text    *linkText
	texts   []*canvas.Text // reused across layouts
	objects []fyne.CanvasObject
	height  float32 // of the lines last laid out
}

func (r *linkTextRenderer) Destroy() {}

func (r *linkTextRenderer) Objects() []fyne.CanvasObject { return r.objects }

// MinSize is narrow (the text wraps to any width) and as tall as the lines
// at the width last given.
func (r *linkTextRenderer) MinSize() fyne.Size {
	lines, lineH := r.text.wrapped(r.text.Size().Width)
	return fyne.NewSize(4*r.text.Theme().Size(theme.SizeNameText), float32(len(lines))*lineH)
}

func (r *linkTextRenderer) Layout(size fyne.Size) {
	before := r.height
	r.apply(size.Width)
	if r.height != before {
		// Wrapped at a new width, the text needs another height: its
		// container (a scroll) lays out again for the new MinSize.
		defer r.text.Refresh()
	}
}

func (r *linkTextRenderer) Refresh() {
	r.apply(r.text.Size().Width)
	canvas.Refresh(r.text)
}

func (r *linkTextRenderer) apply(width float32) {
	t := r.text
	lines, lineH := t.wrapped(width)
	th := t.Theme()
	variant := fyne.CurrentApp().Settings().ThemeVariant()
	size := th.Size(theme.SizeNameText)
	r.objects = r.objects[:0]
	n := 0
	for i, line := range lines {
		for _, p := range line.pieces {
			if n == len(r.texts) {
				r.texts = append(r.texts, &canvas.Text{})
			}
			c := r.texts[n]
			n++
			link := t.prepared.link(p.run)
			c.Text, c.TextSize = p.text, size
			c.Color = th.Color(theme.ColorNameForeground, variant)
			c.TextStyle = fyne.TextStyle{Underline: link != nil && link == t.hover}
			if link != nil {
				c.Color = th.Color(theme.ColorNameHyperlink, variant)
			}
			c.Move(fyne.NewPos(p.x, float32(i)*lineH))
			c.Resize(fyne.NewSize(p.width, lineH))
			c.Refresh()
			r.objects = append(r.objects, c)
		}
	}
	r.height = float32(len(lines)) * lineH
}
