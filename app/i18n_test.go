package app

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"magpie/assets"
)

// translatable returns the keys the app's code passes to lang.L (the English
// text) and lang.X (an explicit key), read from the source.
func translatable(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "lang" || !slices.Contains([]string{"L", "X", "N", "XN"}, sel.Sel.Name) {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: lang.%s with a non-constant key", fset.Position(call.Pos()), sel.Sel.Name)
				return true
			}
			key, _ := strconv.Unquote(lit.Value)
			seen[key] = true
			return true
		})
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestChineseTranslationComplete fails when a user-visible string has no
// Simplified Chinese translation, or a translation is left over.
func TestChineseTranslationComplete(t *testing.T) {
	data, err := assets.Translations.ReadFile("translations/zh-Hans.json")
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("zh-Hans.json: %v", err)
	}
	zh := map[string]string{}
	for k, v := range raw {
		var text string
		if err := json.Unmarshal(v, &text); err == nil {
			zh[k] = text
			continue
		}
		// Plural forms (lang.XN): Chinese has only "other".
		var forms map[string]string
		if err := json.Unmarshal(v, &forms); err != nil || forms["other"] == "" {
			t.Errorf("zh-Hans.json: %q is neither a string nor plural forms with \"other\": %s", k, v)
			continue
		}
		zh[k] = forms["other"]
	}
	keys := translatable(t)
	if len(keys) < 20 {
		t.Fatalf("found only %d strings; is the source scan broken?", len(keys))
	}
	for _, k := range keys {
		if strings.TrimSpace(zh[k]) == "" {
			t.Errorf("no zh-Hans translation for %q", k)
		}
		// Template fields must survive translation.
		for _, field := range []string{"{{.Error}}", "{{.Server}}", "{{.Reason}}", "{{.Detail}}", "{{.Seconds}}", "{{.Who}}", "{{.Account}}", "{{.Count}}", "{{.Name}}", "{{.Online}}", "{{.Total}}", "{{.Path}}", "{{.Link}}", "{{.Current}}", "{{.Room}}", "{{.Address}}"} {
			if strings.Contains(k, field) && zh[k] != "" && !strings.Contains(zh[k], field) {
				t.Errorf("zh-Hans for %q loses %s: %q", k, field, zh[k])
			}
		}
	}
	used := map[string]bool{}
	for _, k := range keys {
		used[k] = true
	}
	for k := range zh {
		if !used[k] && k != "app.name" {
			t.Errorf("zh-Hans.json has %q, which the code no longer uses", k)
		}
	}
}
