package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/config/options"
	"github.com/facmon/facmon/reports/i18n"
	"github.com/facmon/facmon/reports/loader"
	"github.com/facmon/facmon/reports/uptime"
)

const reportSynopsis = "report uptime --from DATE --to DATE [--ward ID] [--format html|csv|xlsx] [--lang vi|en] [--sla-24x7] [-o FILE] [--config FILE] [override flags]"

// cmdReport writes the uptime report of a period: availability per
// device, class, ward and district within office hours, incidents, MTTR,
// MTBF and the SLA, as HTML, CSV or XLSX, in Vietnamese or English.
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "uptime" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, "Usage: facmon "+reportSynopsis)
			fmt.Fprintln(stdout, "\n  uptime  availability of the devices within office hours (or 24/7), incidents, MTTR, MTBF and SLA per class, ward and district")
			return nil
		}
		return usagef("want: facmon %s", reportSynopsis)
	}
	fs := newFlagSet("report uptime", reportSynopsis, stdout)
	path := fs.String("config", "", "YAML configuration file (default: built-in defaults)")
	from := fs.String("from", "", "first day of the period, YYYY-MM-DD (or a month YYYY-MM, or an RFC 3339 time) (required)")
	to := fs.String("to", "", "last day of the period, inclusive, YYYY-MM-DD (or a month YYYY-MM, or an exclusive RFC 3339 time) (required)")
	ward := fs.String("ward", "", "only this ward (office id); default: every ward")
	format := fs.String("format", "", "html, csv or xlsx (default: from the -o file name, else html)")
	lang := fs.String("lang", "vi", "language of the report: vi or en")
	always := fs.Bool("sla-24x7", false, "count every hour of every day instead of office hours")
	out := fs.String("o", "", "output file (default: standard output)")
	var o config.Overrides
	addOverrideFlags(fs, &o)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usagef("--from DATE and --to DATE are required")
	}
	l, err := i18n.Parse(*lang)
	if err != nil {
		return usageError{err}
	}
	f := strings.ToLower(*format)
	if f == "" {
		f = "html"
		switch strings.ToLower(filepath.Ext(*out)) {
		case ".csv":
			f = "csv"
		case ".xlsx":
			f = "xlsx"
		}
	}
	if f == "xlsx" && *out == "" && isTerminal(stdout) {
		return usagef("an XLSX workbook is binary: give -o FILE.xlsx")
	}
	cfg, err := config.Load(*path, o)
	if err != nil {
		return usageError{err}
	}
	uo, err := options.Uptime(cfg)
	if err != nil {
		return usageError{err}
	}
	gen, err := uptime.New(uo)
	if err != nil {
		return usageError{err}
	}
	period, err := uptime.ParsePeriod(*from, *to, gen.Location())
	if err != nil {
		return usageError{err}
	}
	req := uptime.Request{Period: period, Ward: *ward, Format: f, Lang: l, AlwaysOpen: *always}
	if err := gen.Check(req); err != nil {
		return usageError{err}
	}

	var progress loader.Progress
	if isTerminal(stderr) {
		bar := &progressBar{w: stderr}
		progress = bar.update
		defer bar.clear()
	}
	if *out == "" {
		return reportErr(gen.Write(ctx, stdout, req, progress))
	}
	// Write next to the target and rename, so a failed report leaves no
	// half-written file behind.
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := reportErr(gen.Write(ctx, tmp, req, progress)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	st, _ := os.Stat(*out)
	size := int64(0)
	if st != nil {
		size = st.Size()
	}
	fmt.Fprintf(stdout, "%s: %s uptime report, %d bytes\n", *out, f, size)
	return nil
}

// reportErr makes a bad request a usage error (exit 2).
func reportErr(err error) error {
	var rerr *uptime.RequestError
	if errors.As(err, &rerr) {
		return usageError{err}
	}
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// progressBar draws "[██████░░░░░░]  45 %  12/27 queries" on one line.
type progressBar struct {
	w     io.Writer
	mu    sync.Mutex
	drawn bool
	last  int
}

func (p *progressBar) update(done, total int) {
	if total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pct := done * 100 / total
	if p.drawn && pct == p.last && done != total {
		return
	}
	p.last = pct
	const width = 30
	fill := done * width / total
	fmt.Fprintf(p.w, "\r[%s%s] %3d %%  %d/%d queries", strings.Repeat("█", fill), strings.Repeat("░", width-fill), pct, done, total)
	p.drawn = true
}

func (p *progressBar) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
