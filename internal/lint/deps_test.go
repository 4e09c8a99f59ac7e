package lint

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/weirio/weir"

// pkgImports lists, for every package of the module, its direct non-test
// imports (tests may use helpers such as goleak).
func pkgImports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	m := make(map[string][]string)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// within reports whether path is the package root or below it. Major-version
// suffixes are distinct modules: ".../pebble/v2" is not within ".../pebble"
// for this purpose.
func within(path, root string) bool {
	if path == root {
		return true
	}
	if !strings.HasPrefix(path, root+"/") {
		return false
	}
	rest := path[len(root)+1:]
	seg, _, _ := strings.Cut(rest, "/")
	return !(len(seg) >= 2 && seg[0] == 'v' && strings.Trim(seg[1:], "0123456789") == "")
}

var leaves = []string{"frame", "hrw", "router"}

// owners maps a third-party module to the single weir package allowed to
// import it; "" means no package may.
var owners = map[string]string{
	"github.com/panjf2000/gnet/v2":     module + "/netio",
	"github.com/cockroachdb/pebble/v2": module + "/kv",
	"github.com/cockroachdb/pebble":    "",
	"github.com/panjf2000/gnet":        "",
}

// violations returns every broken dependency rule, sorted.
func violations(imps map[string][]string) []string {
	var bad []string
	for _, leaf := range leaves {
		p := module + "/" + leaf
		for _, d := range imps[p] {
			if !isStd(d) && d != "github.com/cespare/xxhash/v2" {
				bad = append(bad, p+" imports "+d+" (leaves import only std and xxhash)")
			}
		}
	}
	for p, deps := range imps {
		for _, d := range deps {
			for dep, owner := range owners {
				if within(d, dep) && (owner == "" || !within(p, owner)) {
					bad = append(bad, p+" imports "+d+" (only "+owner+" may)")
				}
			}
		}
	}
	sort.Strings(bad)
	return bad
}

func TestDependencyDirection(t *testing.T) {
	imps := pkgImports(t)
	for _, leaf := range leaves {
		if _, ok := imps[module+"/"+leaf]; !ok {
			t.Errorf("package %s/%s not found", module, leaf)
		}
	}
	for _, v := range violations(imps) {
		t.Error(v)
	}
}

// TestRulesCatchViolations proves the rules above can fail.
func TestRulesCatchViolations(t *testing.T) {
	imps := map[string][]string{
		module + "/frame":  {"fmt", module + "/router"},
		module + "/router": {"github.com/cespare/xxhash/v2", "sync/atomic"},
		module + "/node":   {"github.com/panjf2000/gnet/v2"},
		module + "/netio":  {"github.com/panjf2000/gnet/v2/pkg/logging"},
		module + "/kv":     {"github.com/cockroachdb/pebble/v2/vfs", "github.com/cockroachdb/pebble"},
	}
	got := violations(imps)
	want := []string{
		module + "/frame imports " + module + "/router (leaves import only std and xxhash)",
		module + "/kv imports github.com/cockroachdb/pebble (only  may)",
		module + "/node imports github.com/panjf2000/gnet/v2 (only " + module + "/netio may)",
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
