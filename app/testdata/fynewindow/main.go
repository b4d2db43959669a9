// fynewindow is the baseline of BenchmarkAppMemory: a Fyne window with
// nothing of Magpie in it, only labels in the three text styles Magpie's
// contacts window uses, in Chinese and English, so that the toolkit loads
// the same fonts. What it uses is the floor under any Fyne app here.
package main

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

func main() {
	a := app.NewWithID("im.magpie.baseline")
	w := a.NewWindow("Magpie")
	w.SetContent(container.NewVBox(
		widget.NewLabel("联系人 Contacts"),
		widget.NewLabelWithStyle("研发部 R&D", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		widget.NewLabelWithStyle("张三 · 在线 online", fyne.TextAlignLeading, fyne.TextStyle{Italic: true}),
		widget.NewEntry(),
		widget.NewButton("登录 Sign in", nil),
	))
	w.Resize(fyne.NewSize(360, 640))
	w.ShowAndRun()
}
