package logsink

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/weirio/weir/frame"
)

// Sentinel errors of the writers and the rotating file.
var (
	// ErrBadSchema reports a schema that cannot be written as a Zeek log.
	ErrBadSchema = errors.New("logsink: bad schema")
	// ErrRecordMismatch reports a record that does not match its schema.
	ErrRecordMismatch = errors.New("logsink: record does not match schema")
	// ErrWriterClosed reports use of a closed Writer or RotatingFile.
	ErrWriterClosed = errors.New("logsink: writer closed")
)

// Column is one column of a log stream.
type Column struct {
	Name string     // Zeek field name, e.g. "id.orig_h"
	Type frame.Type // the column's type
	Elem frame.Type // element type for TypeSet and TypeVector; TypeNone otherwise
}

// Schema is a log stream: its path (the file's base name, "conn") and
// columns in order.
type Schema struct {
	Path    string
	Columns []Column
}

// Validate reports whether s can be written: a non-empty path without '/',
// '\\', ".." or control characters; unique non-empty column names without
// tabs, commas or control characters (they would break the header); and
// column types Zeek can log. Tables are not loggable, and container
// elements must be scalars. The path and names are at most
// frame.MaxNameLen bytes, as stream names on the wire.
func (s *Schema) Validate() error {
	if len(s.Path) > frame.MaxNameLen {
		return fmt.Errorf("%w: path of %d bytes", ErrBadSchema, len(s.Path))
	}
	if len(s.Columns) > maxColumns {
		return fmt.Errorf("%w: %d columns (at most %d)", ErrBadSchema, len(s.Columns), maxColumns)
	}
	if s.Path == "" || s.Path == "." || strings.ContainsAny(s.Path, `/\`) ||
		strings.Contains(s.Path, "..") || hasControlByte(s.Path) || strings.ContainsRune(s.Path, ' ') {
		return fmt.Errorf("%w: invalid path %q", ErrBadSchema, s.Path)
	}
	if len(s.Columns) == 0 {
		return fmt.Errorf("%w: no columns", ErrBadSchema)
	}
	seen := make(map[string]bool, len(s.Columns))
	for i, c := range s.Columns {
		if c.Name == "" || len(c.Name) > frame.MaxNameLen || hasControlByte(c.Name) || strings.ContainsAny(c.Name, ", ") {
			return fmt.Errorf("%w: column %d: invalid name %q", ErrBadSchema, i, c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("%w: duplicate column %q", ErrBadSchema, c.Name)
		}
		seen[c.Name] = true
		if _, err := zeekType(c); err != nil {
			return fmt.Errorf("%w: column %q: %v", ErrBadSchema, c.Name, err)
		}
	}
	return nil
}

// zeekScalar maps the loggable scalar types to their Zeek names.
var zeekScalar = map[frame.Type]string{
	frame.TypeBool:      "bool",
	frame.TypeCount:     "count",
	frame.TypeInteger:   "int",
	frame.TypeReal:      "double",
	frame.TypeString:    "string",
	frame.TypeAddress:   "addr",
	frame.TypeSubnet:    "subnet",
	frame.TypePort:      "port",
	frame.TypeTimestamp: "time",
	frame.TypeTimespan:  "interval",
	frame.TypeEnum:      "enum",
}

// zeekType returns the column's type as written in the #types header.
func zeekType(c Column) (string, error) {
	switch c.Type {
	case frame.TypeSet, frame.TypeVector:
		el, ok := zeekScalar[c.Elem]
		if !ok {
			return "", fmt.Errorf("unsupported element type %v", c.Elem)
		}
		if c.Type == frame.TypeSet {
			return "set[" + el + "]", nil
		}
		return "vector[" + el + "]", nil
	case frame.TypeTable:
		return "", errors.New("tables cannot be log columns")
	}
	name, ok := zeekScalar[c.Type]
	if !ok {
		return "", fmt.Errorf("unsupported type %v", c.Type)
	}
	if c.Elem != frame.TypeNone {
		return "", fmt.Errorf("element type %v on a scalar column", c.Elem)
	}
	return name, nil
}

func hasControlByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// checkRecordSchema reports whether rec fits s: one value per column, each none
// or of the column's type; container elements none or of the element type.
//
// Hot path (Batcher.Append, Write): values are read in place (a Value is
// some 80 bytes; ranging by value would copy each) and only containers are
// walked.
func checkRecordSchema(s *Schema, rec []frame.Value) error {
	if len(rec) != len(s.Columns) {
		return fmt.Errorf("%w: %d values for %d columns", ErrRecordMismatch, len(rec), len(s.Columns))
	}
	for i := range rec {
		v, c := &rec[i], &s.Columns[i]
		t := v.Type()
		if t == frame.TypeNone {
			continue
		}
		if t != c.Type {
			return fmt.Errorf("%w: column %q: got %v, want %v", ErrRecordMismatch, c.Name, t, c.Type)
		}
		if t != frame.TypeSet && t != frame.TypeVector {
			continue
		}
		for _, e := range v.Elems() {
			if e.Type() != frame.TypeNone && e.Type() != c.Elem {
				return fmt.Errorf("%w: column %q: element %v, want %v", ErrRecordMismatch, c.Name, e.Type(), c.Elem)
			}
		}
	}
	return nil
}

// checkViewsSchema is checkRecordSchema for views.
func checkViewsSchema(s *Schema, rec []frame.View) error {
	if len(rec) != len(s.Columns) {
		return fmt.Errorf("%w: %d values for %d columns", ErrRecordMismatch, len(rec), len(s.Columns))
	}
	for i, v := range rec {
		c := &s.Columns[i]
		t := v.Type()
		if t == frame.TypeNone {
			continue
		}
		if t != c.Type {
			return fmt.Errorf("%w: column %q: got %v, want %v", ErrRecordMismatch, c.Name, t, c.Type)
		}
		if t != frame.TypeSet && t != frame.TypeVector {
			continue
		}
		for it := v.Iter(); ; {
			e, ok := it.Next()
			if !ok {
				break
			}
			if et := e.Type(); et != frame.TypeNone && et != c.Elem {
				return fmt.Errorf("%w: column %q: element %v, want %v", ErrRecordMismatch, c.Name, et, c.Elem)
			}
		}
	}
	return nil
}

// Equal reports whether s and o are the same schema: path and columns.
func (s *Schema) Equal(o *Schema) bool {
	return s.Path == o.Path && slices.Equal(s.Columns, o.Columns)
}
