package flowparse

import (
	"fmt"
	"strconv"
)

// Log Analytics column types used by the schemas.
const (
	TypeDateTime = "datetime"
	TypeString   = "string"
	TypeInt      = "int"
	TypeLong     = "long"
)

// Column is one column an encoder can emit. The list in a Schema is the single
// source of truth for docs/schema.md, the DCR stream declaration and the table.
type Column struct {
	Name        string
	Type        string
	Description string
}

// Schema names a row layout.
type Schema struct {
	Name string
	// Title heads the layout's column table in docs/schema.md.
	Title string
	// TimeColumn holds the event time (the DCR's TimeGenerated source, the
	// Data Collector API's time-generated-field).
	TimeColumn string
	Columns    []Column
	// Table is the custom table (without _CL) the templates and the
	// emulator use for this layout unless told otherwise.
	Table string
	// StandardTable, when set, is the standard Log Analytics table the
	// layout's rows go to (DCR output stream Microsoft-<StandardTable>):
	// no custom table is created, and Table names only the DCR input
	// stream, Custom-<Table>.
	StandardTable string
	// Dropped lists columns the layout emits that StandardTable lacks; the
	// DCR transformation projects them away.
	Dropped []string

	// row appends one event as a JSON object; group, when set, returns the
	// JSON of the columns constant within a (record, rule, MAC) group,
	// which the Encoder caches (see Encoder.groupFragment).
	row   func(e *Encoder, dst []byte, ev *Event) []byte
	group func(dst []byte, ev *Event) []byte
}

// Schemas lists the known layouts in registration order. A layout lives in
// its own file (layout_<name>.go) that declares its Schema with register.
var Schemas []*Schema

// register adds a layout to Schemas; it panics (at init) on a duplicate name
// or a layout without a row encoder, which are programming errors.
func register(s *Schema) *Schema {
	if s.row == nil || s.Name == "" || s.TimeColumn == "" || s.Table == "" {
		panic("flowparse: layout " + s.Name + " is incomplete")
	}
	for _, o := range Schemas {
		if o.Name == s.Name {
			panic("flowparse: layout " + s.Name + " registered twice")
		}
	}
	Schemas = append(Schemas, s)
	return s
}

// SchemaNames returns the layout names, for flag help and config choices.
func SchemaNames() []string {
	names := make([]string, len(Schemas))
	for i, s := range Schemas {
		names[i] = s.Name
	}
	return names
}

// SchemaByName returns the layout called name; "" means DefaultSchema.
func SchemaByName(name string) (*Schema, error) {
	if name == "" {
		return DefaultSchema, nil
	}
	for _, s := range Schemas {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown schema %q (want one of %s)", name, quotedList(SchemaNames()))
}

func quotedList(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += strconv.Quote(n)
	}
	return out
}

// Column returns the column called name, or false.
func (s *Schema) Column(name string) (Column, bool) {
	for _, c := range s.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}
