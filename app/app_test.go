package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

func TestPlaceholderNamesVersionAndHelp(t *testing.T) {
	w := test.NewTempWindow(t, newPlaceholder("1.2.3"))
	var texts []string
	for _, o := range test.LaidOutObjects(w.Content()) {
		if l, ok := o.(*widget.Label); ok {
			texts = append(texts, l.Text)
		}
	}
	all := strings.Join(texts, "\n")
	if !strings.Contains(all, "Magpie 1.2.3") || !strings.Contains(all, "magpie help") {
		t.Fatalf("placeholder shows %q", all)
	}
}
