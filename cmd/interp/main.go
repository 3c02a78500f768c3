// Command interp is the command-line face of the interp library: run a model with hooks,
// tokenize text, inspect a model's hook points (and, as the library grows, patch, discover,
// train, sae, transcoder). Every subcommand is flags, one library call and an exit code.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

type command struct {
	name, usage string
	run         func(args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands in usage order; files of later subcommands (patch, train, sae, ...)
// append theirs in an init function.
var commands = []command{
	{"run", "run a model and save logits and cached activations to safetensors", cmdRun},
	{"tokenize", "print the token ids of a text as a JSON array", cmdTokenize},
	{"info", "print a model's config and every hook point with its shape", cmdInfo},
	{"models", "list the built-in models", cmdModels},
}

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the CLI with args and returns the exit code (0 ok, 1 failure, 2 usage).
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			name := c.name
			var se subError
			if errors.As(err, &se) {
				name = se.name // interp sae train: ...
			}
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.As(err, new(usageError)):
				fmt.Fprintf(stderr, "interp %s: %v\n", name, oneLine(err))
				return 2
			default:
				fmt.Fprintf(stderr, "interp %s: %v\n", name, oneLine(err))
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "interp: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: interp <command> [flags]   (interp <command> -h for its flags)")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.usage)
	}
}

// subcommand is one verb of a command group (interp sae train, interp transcoder paths).
type subcommand struct {
	name, usage string
	run         func(args []string, stdout, stderr io.Writer) error
}

// dispatch runs the subcommand args[0] of group, or prints the group's usage.
func dispatch(group string, subs []subcommand, args []string, stdout, stderr io.Writer) error {
	names := make([]string, len(subs))
	width := 0
	for i, sc := range subs {
		names[i] = sc.name
		width = max(width, len(sc.name))
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stderr, "usage: interp %s %s [flags]\n", group, strings.Join(names, "|"))
		for _, sc := range subs {
			fmt.Fprintf(stderr, "  %-*s  %s\n", width, sc.name, sc.usage)
		}
		if len(args) == 0 {
			return usagef("give a subcommand: %s", strings.Join(names, ", "))
		}
		return nil
	}
	for _, sc := range subs {
		if sc.name == args[0] {
			if err := sc.run(args[1:], stdout, stderr); err != nil {
				return subError{group + " " + sc.name, err}
			}
			return nil
		}
	}
	return usagef("unknown subcommand %q (want %s)", args[0], strings.Join(names, ", "))
}

// subError carries the full name of the subcommand that failed ("sae train"), for the error prefix.
type subError struct {
	name string
	err  error
}

func (e subError) Error() string { return e.err.Error() }
func (e subError) Unwrap() error { return e.err }

// helpOut is where each flag set prints -h.
var helpOut = map[*flag.FlagSet]io.Writer{}

// usageError marks bad flags or arguments (exit code 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// oneLine keeps an error message on one line (GoMLX errors can carry newlines).
func oneLine(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.Index(s, "\n"); i >= 0 {
		s = s[:i]
	}
	return s
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("interp "+name, flag.ContinueOnError)
	// flag's own error printing is silenced: Main prints one line per error. -h prints the
	// flags to stderr.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	helpOut[fs] = stderr
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			w := helpOut[fs]
			fmt.Fprintf(w, "usage: %s [flags]\n", fs.Name())
			fs.SetOutput(w)
			fs.PrintDefaults()
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// positive checks that each named numeric flag of fs is > 0, naming the first that is not.
func positive(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			panic("positive: no flag " + n)
		}
		v, err := strconv.ParseFloat(f.Value.String(), 64)
		if err != nil || !(v > 0) {
			return usagef("--%s %s: must be positive", n, f.Value.String())
		}
	}
	return nil
}
