// Command nsgflow runs the nsgflow pipeline without Fluent Bit: parse and
// generate flow logs, send them to Log Analytics, emulate Log Analytics, and
// poll flow-log blobs.
//
// Each subcommand lives in its own file and registers itself from an init
// function with register(command{...}); docs/cli.md documents every flag.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand. Each lives in its own file and registers itself.
type command struct {
	name    string
	summary string
	// run executes the command with the arguments after its name and
	// returns the exit status: 0 success, 1 failure, 2 usage error.
	run func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// stdin is the command's standard input; tests replace it.
var stdin io.Reader = os.Stdin

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		// "nsgflow help CMD" shows the command's flags.
		if len(args) == 2 && args[0] == "help" {
			if c, ok := commands[args[1]]; ok {
				c.run([]string{"-h"}, stdout, stderr)
				return 0
			}
		}
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "nsgflow: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: nsgflow COMMAND [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'nsgflow COMMAND -h' for a command's flags; docs/cli.md has them all.")
}

// commandFlags returns a flag set for command name whose usage message reads
// "usage: nsgflow NAME SYNOPSIS", followed by the flags. Errors go to stderr.
func commandFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: nsgflow %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments (flag.Parse alone stops at the first positional), and
// returns the positionals. A lone "-" is a positional; after "--" everything is.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// exitStatus maps a flag-parsing error to the exit status: 0 for -h, else 2.
func exitStatus(err error) int {
	if err == flag.ErrHelp {
		return 0
	}
	return 2
}
