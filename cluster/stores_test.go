package cluster

import (
	"reflect"
	"testing"
)

func TestParseStores(t *testing.T) {
	l, err := Parse([]byte(mgr + `  - name: w1
    role: worker
    host: 127.0.0.1
    port: 27761
    stores: [hosts, "counts:memory", "seen:pebble-nosync"]
    clones: [other]
  - {name: w2, role: worker, host: 127.0.0.1, port: 27762, clones: hosts}
`))
	if err != nil {
		t.Fatal(err)
	}
	w1, _ := l.Node("w1")
	want := []StoreSpec{{"hosts", BackendPebble}, {"counts", BackendMemory}, {"seen", BackendPebbleNoSync}}
	if !reflect.DeepEqual(w1.Stores, want) || !reflect.DeepEqual(w1.Clones, []StoreSpec{{Name: "other"}}) {
		t.Fatalf("w1 stores %v clones %v", w1.Stores, w1.Clones)
	}
	if w2, _ := l.Node("w2"); !reflect.DeepEqual(w2.Clones, []StoreSpec{{Name: "hosts"}}) {
		t.Fatalf("w2 clones %v", w2.Clones)
	}
}

func TestParseStoresErrors(t *testing.T) {
	_, err := Parse([]byte(mgr + `  - {name: w1, role: worker, host: 127.0.0.1, port: 27761, stores: ["a:disk", "b/c"]}
  - {name: w2, role: worker, host: 127.0.0.1, port: 27762, stores: [x, x], clones: ["y:memory"]}
  - {name: w3, role: worker, host: 127.0.0.1, port: 27763, stores: [x]}
`))
	checkErrors(t, err, []wantErr{
		{3, "w1", `unknown backend "disk"`},
		{3, "w1", `stores: store "b/c": only letters`},
		{4, "w2", `clone "y:memory": a clone keeps its copy in memory`},
		{4, "w2", `store "x" listed twice`},
		{4, "w2", `store "x" already has its master on w2`},
		{5, "w3", `store "x" already has its master on w2`},
	})
}

func TestParseStoreSpec(t *testing.T) {
	for _, c := range []struct {
		in    string
		clone bool
		want  StoreSpec
		bad   bool
	}{
		{in: "hosts", want: StoreSpec{"hosts", BackendPebble}},
		{in: "hosts:memory", want: StoreSpec{"hosts", BackendMemory}},
		{in: "hosts", clone: true, want: StoreSpec{Name: "hosts"}},
		{in: "", bad: true},
		{in: ":memory", bad: true},
		{in: "a:", bad: true},
		{in: "a:memory", clone: true, bad: true},
	} {
		got, err := ParseStoreSpec(c.in, c.clone)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("ParseStoreSpec(%q, %v) = %v, %v", c.in, c.clone, got, err)
		}
		if err == nil && got.String() != c.in && got.String() != c.in+":pebble" {
			t.Errorf("String() = %q for %q", got.String(), c.in)
		}
	}
}
