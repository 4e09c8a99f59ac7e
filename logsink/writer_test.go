package logsink

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

var writerUpdate = flag.Bool("update", false, "rewrite the golden files in testdata/")

func connSchema() Schema {
	return Schema{Path: "conn", Columns: []Column{
		{Name: "ts", Type: frame.TypeTimestamp},
		{Name: "uid", Type: frame.TypeString},
		{Name: "id.orig_h", Type: frame.TypeAddress},
		{Name: "id.orig_p", Type: frame.TypePort},
		{Name: "id.resp_h", Type: frame.TypeAddress},
		{Name: "id.resp_p", Type: frame.TypePort},
		{Name: "proto", Type: frame.TypeEnum},
		{Name: "service", Type: frame.TypeString},
		{Name: "duration", Type: frame.TypeTimespan},
		{Name: "orig_bytes", Type: frame.TypeCount},
		{Name: "delta", Type: frame.TypeInteger},
		{Name: "ratio", Type: frame.TypeReal},
		{Name: "local_orig", Type: frame.TypeBool},
		{Name: "net", Type: frame.TypeSubnet},
		{Name: "tags", Type: frame.TypeSet, Elem: frame.TypeString},
		{Name: "hops", Type: frame.TypeVector, Elem: frame.TypeAddress},
		{Name: "counts", Type: frame.TypeVector, Elem: frame.TypeCount},
	}}
}

func addr(s string) frame.Value { return frame.NewAddr(netip.MustParseAddr(s)) }
func port(n uint16, p frame.Protocol) frame.Value {
	return frame.NewPort(frame.Port{Number: n, Proto: p})
}
func str(s string) frame.Value { return frame.NewString(s) }

// connRecords covers every type, unset fields, empty containers and the
// escaping rules.
func connRecords() [][]frame.Value {
	ts := time.Unix(1700000000, 123456789) // rounds to .123457
	return [][]frame.Value{
		{
			frame.NewTimestamp(ts), str("CHhAvVGS1DHFjwGM9"),
			addr("192.168.1.10"), port(52344, frame.ProtoTCP),
			addr("2001:db8::1"), port(443, frame.ProtoTCP),
			frame.NewEnum("tcp"), str("ssl"),
			frame.NewTimespan(3780125 * time.Microsecond), frame.NewCount(18446744073709551615),
			frame.NewInt(-42), frame.NewReal(0.5), frame.NewBool(true),
			frame.NewSubnet(netip.MustParsePrefix("10.1.2.3/8")),
			frame.NewSet(str("b,c"), str("a")),
			frame.NewVector(addr("10.0.0.1"), addr("::ffff:10.0.0.2")),
			frame.NewVector(frame.NewCount(1), frame.NewCount(2), frame.NewCount(3)),
		},
		{
			frame.NewTimestamp(time.Unix(1700000001, 0)), str("-"),
			addr("10.0.0.1"), port(53, frame.ProtoUDP),
			addr("10.0.0.2"), port(53, frame.ProtoUDP),
			frame.NewEnum("udp"), str(""),
			frame.None, frame.None, frame.None, frame.None, frame.NewBool(false), frame.None,
			frame.NewSet(), frame.NewVector(), frame.None,
		},
		{
			frame.NewTimestamp(time.Unix(1700000002, 999999999)), str("(empty)"),
			frame.None, frame.None, frame.None, frame.None,
			frame.None, str("a\tb\nc\\d\x01e\xfff\u00e9g\x7f"),
			frame.NewTimespan(-1500 * time.Millisecond), frame.NewCount(0),
			frame.NewInt(7), frame.NewReal(math.NaN()), frame.None,
			frame.NewSubnet(netip.MustParsePrefix("2001:db8::/32")),
			frame.NewSet(str("-"), str(""), str("x\ty")),
			frame.NewVector(frame.None, addr("::1")),
			frame.NewVector(frame.NewCount(5)),
		},
		{
			frame.NewTimestamp(time.Unix(0, 0)), str(`"quoted"`),
			frame.None, frame.None, frame.None, frame.None, frame.None, str("\u2028"),
			frame.NewTimespan(1), frame.None, frame.None, frame.NewReal(-12345.678901234), frame.None, frame.None,
			frame.None, frame.None, frame.None,
		},
	}
}

func writerGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *writerUpdate {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestWriterTSVGolden(t *testing.T) {
	var buf bytes.Buffer
	opened := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	w, err := NewTSVWriter(&buf, connSchema(), opened)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range connRecords() {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.CloseAt(opened.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if w.Size() != int64(buf.Len()) {
		t.Errorf("Size %d, wrote %d", w.Size(), buf.Len())
	}
	writerGolden(t, "conn.tsv.golden", buf.Bytes())
	// The first record, written out by hand from Zeek's rules, so that the
	// golden file is not only checked against itself.
	want := "1700000000.123457\tCHhAvVGS1DHFjwGM9\t192.168.1.10\t52344\t2001:db8::1\t443\ttcp\tssl\t" +
		"3.780125\t18446744073709551615\t-42\t0.500000\tT\t10.0.0.0/8\ta,b\\x2cc\t10.0.0.1,10.0.0.2\t1,2,3\n"
	if lines := strings.SplitAfter(buf.String(), "\n"); len(lines) < 9 {
		t.Errorf("%d lines", len(lines))
	} else if lines[8] != want {
		t.Errorf("first record:\n got %q\nwant %q", lines[8], want)
	}
	if err := w.Write(connRecords()[0]); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

func TestWriterJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewJSONWriter(&buf, connSchema())
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range connRecords() {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Size() != int64(buf.Len()) {
		t.Errorf("Size %d, wrote %d", w.Size(), buf.Len())
	}
	writerGolden(t, "conn.json.golden", buf.Bytes())
}

func TestWriterTSVStringEscaping(t *testing.T) {
	for _, tc := range []struct {
		in          string
		inContainer bool
		want        string
	}{
		{"", false, "(empty)"},
		{"-", false, `\x2d`},
		{"(empty)", false, `\x28empty)`},
		{"--", false, "--"},
		{"a,b", false, "a,b"},
		{"a,b", true, `a\x2cb`},
		{"-", true, `\x2d`},
		{"tab\there", false, `tab\x09here`},
		{`back\slash`, false, `back\\slash`},
		{"\x00\x1f\x7f", false, `\x00\x1f\x7f`},
		{"caf\u00e9", false, "caf\u00e9"},
		{"bad\xc3", false, `bad\xc3`},
	} {
		if got := string(appendTSVString(nil, tc.in, tc.inContainer)); got != tc.want {
			t.Errorf("appendTSVString(%q, %v) = %q, want %q", tc.in, tc.inContainer, got, tc.want)
		}
	}
}

func TestWriterEpochNanos(t *testing.T) {
	for _, tc := range []struct {
		ns   int64
		want string
	}{
		{0, "0.000000"},
		{1, "0.000000"},
		{500, "0.000001"},
		{1700000000123456789, "1700000000.123457"},
		{1700000000999999999, "1700000001.000000"},
		{-1500000000, "-1.500000"},
		{math.MinInt64, "-9223372036.854776"},
	} {
		if got := string(appendEpochNanos(nil, tc.ns)); got != tc.want {
			t.Errorf("appendEpochNanos(%d) = %q, want %q", tc.ns, got, tc.want)
		}
	}
}

func TestWriterRecordMismatch(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewTSVWriter(&buf, connSchema(), time.Unix(0, 0).UTC())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	good := connRecords()[0]
	bad := append([]frame.Value(nil), good...)
	bad[9] = frame.NewInt(1) // count column
	badElem := append([]frame.Value(nil), good...)
	badElem[14] = frame.NewSet(frame.NewCount(1)) // set[string]
	for _, rec := range [][]frame.Value{good[:3], bad, badElem, nil} {
		if err := w.Write(rec); !errors.Is(err, ErrRecordMismatch) {
			t.Errorf("Write(%v) = %v, want ErrRecordMismatch", rec, err)
		}
	}
	j, _ := NewJSONWriter(&buf, connSchema())
	if err := j.Write(bad); !errors.Is(err, ErrRecordMismatch) {
		t.Errorf("JSON Write(bad) = %v", err)
	}
	_ = w.Flush()
	_ = j.Flush()
	if buf.Len() != n {
		t.Errorf("refused records wrote %d bytes", buf.Len()-n)
	}
}

func TestWriterBadSchema(t *testing.T) {
	ok := Column{Name: "a", Type: frame.TypeCount}
	for name, s := range map[string]Schema{
		"empty path":     {Path: "", Columns: []Column{ok}},
		"slash":          {Path: "a/b", Columns: []Column{ok}},
		"dotdot":         {Path: "..", Columns: []Column{ok}},
		"dotdot inside":  {Path: "a..b", Columns: []Column{ok}},
		"tab in path":    {Path: "a\tb", Columns: []Column{ok}},
		"no columns":     {Path: "x"},
		"empty name":     {Path: "x", Columns: []Column{{Type: frame.TypeCount}}},
		"tab in name":    {Path: "x", Columns: []Column{{Name: "a\tb", Type: frame.TypeCount}}},
		"duplicate":      {Path: "x", Columns: []Column{ok, ok}},
		"table":          {Path: "x", Columns: []Column{{Name: "t", Type: frame.TypeTable}}},
		"none type":      {Path: "x", Columns: []Column{{Name: "n", Type: frame.TypeNone}}},
		"unknown type":   {Path: "x", Columns: []Column{{Name: "n", Type: frame.Type(99)}}},
		"set of set":     {Path: "x", Columns: []Column{{Name: "s", Type: frame.TypeSet, Elem: frame.TypeSet}}},
		"set no elem":    {Path: "x", Columns: []Column{{Name: "s", Type: frame.TypeSet}}},
		"vector table":   {Path: "x", Columns: []Column{{Name: "s", Type: frame.TypeVector, Elem: frame.TypeTable}}},
		"elem on scalar": {Path: "x", Columns: []Column{{Name: "s", Type: frame.TypeCount, Elem: frame.TypeCount}}},
		"long path":      {Path: strings.Repeat("p", 256), Columns: []Column{ok}},
		"long name":      {Path: "x", Columns: []Column{{Name: strings.Repeat("n", 256), Type: frame.TypeCount}}},
	} {
		if err := s.Validate(); !errors.Is(err, ErrBadSchema) {
			t.Errorf("%s: Validate = %v, want ErrBadSchema", name, err)
		}
		if _, err := NewTSVWriter(&bytes.Buffer{}, s, time.Time{}); !errors.Is(err, ErrBadSchema) {
			t.Errorf("%s: NewTSVWriter = %v", name, err)
		}
		if _, err := NewJSONWriter(&bytes.Buffer{}, s); !errors.Is(err, ErrBadSchema) {
			t.Errorf("%s: NewJSONWriter = %v", name, err)
		}
		if _, err := NewRotatingFile(s, RotateOptions{Dir: t.TempDir()}); !errors.Is(err, ErrBadSchema) {
			t.Errorf("%s: NewRotatingFile = %v", name, err)
		}
	}
	s := connSchema()
	if err := s.Validate(); err != nil {
		t.Errorf("conn schema: %v", err)
	}
	wide := Schema{Path: "x"}
	for i := range maxColumns + 1 {
		wide.Columns = append(wide.Columns, Column{Name: fmt.Sprint("c", i), Type: frame.TypeCount})
	}
	if err := wide.Validate(); !errors.Is(err, ErrBadSchema) {
		t.Errorf("%d columns: %v", len(wide.Columns), err)
	}
}

// TestWriterSync checks that Sync reaches an *os.File.
func TestWriterSync(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "x.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewJSONWriter(f, connSchema())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(connRecords()[1]); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"ts":1700000001.000000,`) {
		t.Errorf("file after Sync: %q", b)
	}
}

// recordViews returns rec as views of its encoding, as a logger gets them.
func recordViews(t testing.TB, rec []frame.Value) []frame.View {
	t.Helper()
	var vb viewBuf
	views, err := vb.of(rec)
	if err != nil {
		t.Fatal(err)
	}
	return views
}

// TestWriteViewsIdentical: WriteViews of a record's views writes the same
// bytes as Write of its values, for both formats, on the golden records
// and on random ones of every type; views also come from a parsed payload.
func TestWriteViewsIdentical(t *testing.T) {
	s := connSchema()
	recs := connRecords()
	r := newRand(11)
	for range 300 {
		rec := make([]frame.Value, len(s.Columns))
		for j, c := range s.Columns {
			rec[j] = randValue(r, c)
		}
		recs = append(recs, rec)
	}
	opened := time.Unix(1700000000, 0).UTC()
	newWriters := func(buf *bytes.Buffer) []Writer {
		tw, err := NewTSVWriter(buf, s, opened)
		if err != nil {
			t.Fatal(err)
		}
		jw, err := NewJSONWriter(buf, s)
		if err != nil {
			t.Fatal(err)
		}
		return []Writer{tw, jw}
	}
	var byValue, byView, byPayload bytes.Buffer
	wv, ww, wp := newWriters(&byValue), newWriters(&byView), newWriters(&byPayload)
	for i := range 2 {
		for _, rec := range recs {
			if err := wv[i].Write(rec); err != nil {
				t.Fatal(err)
			}
			if err := ww[i].WriteViews(recordViews(t, rec)); err != nil {
				t.Fatal(err)
			}
		}
		p, err := ParsePayload(testPayload(t, s, recs), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Each(wp[i].WriteViews); err != nil {
			t.Fatal(err)
		}
		for _, w := range []Writer{wv[i], ww[i], wp[i]} {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(byValue.Bytes(), byView.Bytes()) || !bytes.Equal(byValue.Bytes(), byPayload.Bytes()) {
			t.Fatalf("%T: outputs differ:\nvalues:\n%s\nviews:\n%s\npayload:\n%s", wv[i], byValue.Bytes(), byView.Bytes(), byPayload.Bytes())
		}
	}
	if byValue.Len() < 300*50 {
		t.Fatalf("wrote only %d bytes", byValue.Len())
	}
}

func TestWriteViewsMismatch(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewTSVWriter(&buf, connSchema(), time.Unix(0, 0).UTC())
	j, _ := NewJSONWriter(&buf, connSchema())
	_ = w.Flush()
	n := buf.Len()
	good := connRecords()[0]
	bad := append([]frame.Value(nil), good...)
	bad[9] = frame.NewInt(1)
	badElem := append([]frame.Value(nil), good...)
	badElem[14] = frame.NewSet(frame.NewCount(1))
	for _, rec := range [][]frame.Value{good[:3], bad, badElem, nil} {
		for _, wr := range []Writer{w, j} {
			if err := wr.WriteViews(recordViews(t, rec)); !errors.Is(err, ErrRecordMismatch) {
				t.Errorf("%T.WriteViews: %v, want ErrRecordMismatch", wr, err)
			}
		}
	}
	_ = w.Flush()
	_ = j.Flush()
	if buf.Len() != n {
		t.Errorf("refused records wrote %d bytes", buf.Len()-n)
	}
}
