// Command facmon monitors the equipment and service applications of the
// one-stop citizen-service offices: see `facmon --help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// Exit codes scripts rely on.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// usageError marks bad usage or configuration: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run the service: collectors, storage, web (--demo for a zero-setup demo)", cmdRun},
		{"simulate", "publish simulated telemetry of the ward offices to a broker", cmdSimulate},
		{"config", "check a configuration file (config check --config FILE)", cmdConfig},
		{"quarantine", "list or replay the points InfluxDB refused for good", cmdQuarantine},
		{"alerts", "list, history and acknowledge alerts of a running facmon; show the rules", cmdAlerts},
		{"report", "uptime report of a period (report uptime --from DATE --to DATE)", cmdReport},
		{"dashboards", "export the Grafana dashboards as JSON or push them to a Grafana", cmdDashboards},
		{"version", "print the version", cmdVersion},
	}
}

// defaultMemoryLimit is the Go heap's soft limit unless GOMEMLIMIT says
// otherwise: facmon's working set (batches, the spool's tail segment,
// alert state) stays well below it, and the limit keeps the garbage
// collector from letting the heap double past it between cycles, which
// is what an operator sizing a small box cares about.
const defaultMemoryLimit = 48 << 20

// defaultGCPercent is GOGC unless the environment sets it. Ingest makes
// garbage at a steady rate (paho allocates several objects per message),
// so collecting half as often saves CPU, and the memory limit above still
// caps the heap that buys (figures: bench/README.md, "Tuning").
const defaultGCPercent = 200

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "facmon %s: %v\n", c.name, err)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "facmon %s: %v\n", c.name, err)
			return exitRuntime
		}
	}
	fmt.Fprintf(stderr, "facmon: unknown command %q\n\n", args[0])
	printUsage(stderr)
	return exitUsage
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "facmon: operations monitoring of the one-stop citizen-service offices")
	fmt.Fprintln(w, "\nUsage: facmon COMMAND [flags]   (facmon COMMAND --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nExit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration.")
}

// newFlagSet returns a flag set whose parse errors are usage errors and
// whose --help goes to stdout.
func newFlagSet(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: facmon %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

var version = "dev"

func cmdVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("version", "version", stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "facmon", version)
	return nil
}
