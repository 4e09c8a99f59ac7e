package repl

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports: kv/repl is protocol logic only. It imports the standard
// library and frame/, never kv/ (kv imports repl), netio/, node/, gnet or
// Pebble. (internal/lint's rules allow Pebble under kv/, hence this test.)
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && imp != "github.com/weirio/weir/frame" {
			t.Errorf("kv/repl imports %s", imp)
		}
	}
}
