package logsink

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func repairFile(t *testing.T, content string) (path string, cut int64, after string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	cut, err := Repair(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, cut, string(b)
}

func TestRepair(t *testing.T) {
	var hdr bytes.Buffer
	w, err := NewTSVWriter(&hdr, connSchema(), time.Unix(0, 0).UTC())
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	header := hdr.String()
	big := strings.Repeat(strings.Repeat("y", 99)+"\n", 2000) // 200 kB: tail scan crosses chunks
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"clean tsv", header + "1\n2\n", header + "1\n2\n"},
		{"clean header only", header, header},
		{"torn tsv", header + "1\n2\n3\tpart", header + "1\n2\n"},
		{"torn zeroes", header + "1\n\x00\x00\x00", header + "1\n"},
		{"torn header", header[:len(header)-10], ""},
		{"header lines missing", "#separator \\x09\n#set_separator\t,\n", ""},
		{"header only first line torn", "#separa", ""},
		{"clean json", "{\"a\":1}\n{\"a\":2}\n", "{\"a\":1}\n{\"a\":2}\n"},
		{"torn json", "{\"a\":1}\n{\"a\":", "{\"a\":1}\n"},
		{"torn only line", "{\"a\":", ""},
		{"big torn", big + "zzz", big},
		{"big one torn line", strings.Repeat("z", 150000), ""},
	} {
		_, cut, got := repairFile(t, tc.in)
		if got != tc.want || cut != int64(len(tc.in)-len(tc.want)) {
			t.Errorf("%s: cut %d, left %d bytes; want cut %d, left %d", tc.name, cut, len(got), len(tc.in)-len(tc.want), len(tc.want))
		}
	}
}

func TestRepairUntouchedWhenClean(t *testing.T) {
	path, _, _ := repairFile(t, "{\"a\":1}\n")
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if cut, err := Repair(path); err != nil || cut != 0 {
		t.Fatalf("Repair = %d, %v", cut, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(old) {
		t.Errorf("clean file was written: mtime %v", fi.ModTime())
	}
}

func TestRepairMissing(t *testing.T) {
	if _, err := Repair(filepath.Join(t.TempDir(), "missing.log")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Repair(missing) = %v", err)
	}
}

// FuzzRepair checks Repair's invariants: it keeps a prefix of the file that
// is empty or ends in '\n', reports the bytes it cut, and a second Repair
// cuts nothing.
func FuzzRepair(f *testing.F) {
	f.Add([]byte("#separator \\x09\n#set_separator\t,\n"))
	f.Add([]byte("{\"a\":1}\n{\"a\""))
	f.Add([]byte("a\nb\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in []byte) {
		path := filepath.Join(dir, "fuzz.log")
		if err := os.WriteFile(path, in, 0o644); err != nil {
			t.Fatal(err)
		}
		cut, err := Repair(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(in, got) || int64(len(in)-len(got)) != cut {
			t.Fatalf("kept %q of %q, cut %d", got, in, cut)
		}
		if len(got) > 0 && got[len(got)-1] != '\n' {
			t.Fatalf("kept %q: no final newline", got)
		}
		if cut2, err := Repair(path); err != nil || cut2 != 0 {
			t.Fatalf("second Repair = %d, %v", cut2, err)
		}
	})
}
