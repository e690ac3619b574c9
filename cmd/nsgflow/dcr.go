package main

import (
	"fmt"
	"io"
	"os"

	"github.com/nsgflow/nsgflow/deploy"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

func init() {
	register(command{
		name:    "dcr",
		summary: "print the ARM template for the Log Analytics table, DCR and role (Logs Ingestion)",
		run:     runDCR,
	})
}

// runDCR prints the ARM template that creates the custom table <NAME>_CL, a
// data collection rule with stream Custom-<NAME>, an optional data collection
// endpoint and the Monitoring Metrics Publisher role assignment, rendered
// from a flowparse schema. For the asim schema the rule writes the standard
// table ASimNetworkSessionLogs and no table is created. docs/deploy.md shows
// how to deploy it.
func runDCR(args []string, stdout, stderr io.Writer) int {
	fs := commandFlags("dcr", "[--schema default|seed|asim] [--table NAME] [--format arm|bicep] [-o FILE]", stderr)
	schemaName := fs.String("schema", "default", "row layout: default, seed or asim (the standard table ASimNetworkSessionLogs, no custom table)")
	table := fs.String("table", "", "custom table name without _CL (default NsgFlow, or NsgFlowSeed for the seed schema); the stream is Custom-NAME; not with --schema asim")
	format := fs.String("format", "arm", "template language: arm (JSON) or bicep")
	out := fs.String("o", "", "write to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return exitStatus(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nsgflow dcr: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	s, err := flowparse.SchemaByName(*schemaName)
	if err != nil {
		fmt.Fprintf(stderr, "nsgflow dcr: %v\n", err)
		return 2
	}
	render := deploy.ARM
	switch *format {
	case "arm":
	case "bicep":
		render = deploy.Bicep
	default:
		fmt.Fprintf(stderr, "nsgflow dcr: unknown --format %q (want arm or bicep)\n", *format)
		return 2
	}
	b, err := render(deploy.Options{Schema: s, Table: *table})
	if err != nil {
		fmt.Fprintf(stderr, "nsgflow dcr: %v\n", err)
		return 2
	}
	if *out == "" {
		if _, err := stdout.Write(b); err != nil {
			fmt.Fprintf(stderr, "nsgflow dcr: write: %v\n", err)
			return 1
		}
		return 0
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintf(stderr, "nsgflow dcr: %v\n", err)
		return 1
	}
	return 0
}
