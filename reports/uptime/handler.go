package uptime

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/facmon/facmon/reports/i18n"
	"github.com/facmon/facmon/reports/render"
)

// RequestTimeout bounds the making of one report over HTTP.
const RequestTimeout = 5 * time.Minute

// Handler serves
//
//	GET /reports/uptime?from=2026-03-01&to=2026-03-31&ward=ID&format=html|csv|xlsx&lang=vi|en&sla247=1
//
// the same report as `facmon report uptime`. Without from and to it is
// the current month up to now. HTML is shown inline; CSV and XLSX come as
// downloads. log may be nil.
func (g *Generator) Handler(log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		req, err := g.parseQuery(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
		defer cancel()
		var buf bytes.Buffer
		start := time.Now()
		err = g.Write(ctx, &buf, req, nil)
		var rerr *RequestError
		switch {
		case errors.As(err, &rerr):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
			return // the client went away
		case errors.Is(err, context.DeadlineExceeded):
			log.Warn("uptime report timed out", "from", req.Period.From, "to", req.Period.To, "ward", req.Ward)
			http.Error(w, "the report took too long; try a shorter period or one ward", http.StatusServiceUnavailable)
			return
		case err != nil:
			log.Error("uptime report failed", "err", err)
			http.Error(w, "the report could not be made: "+err.Error(), http.StatusBadGateway)
			return
		}
		log.Info("uptime report", "from", req.Period.From, "to", req.Period.To, "ward", req.Ward,
			"format", req.Format, "lang", req.Lang, "bytes", buf.Len(), "took", time.Since(start).Round(time.Millisecond))
		h := w.Header()
		h.Set("Content-Type", render.ContentType(req.Format))
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		disposition := "attachment"
		if req.Format == "html" {
			disposition = "inline"
		}
		h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": g.FileName(req)}))
		h.Set("Content-Length", strconv.Itoa(buf.Len()))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = buf.WriteTo(w)
	})
}

func (g *Generator) parseQuery(r *http.Request) (Request, error) {
	q := r.URL.Query()
	req := Request{Ward: strings.TrimSpace(q.Get("ward")), Format: strings.ToLower(strings.TrimSpace(q.Get("format")))}
	if req.Format == "" {
		req.Format = "html"
	}
	var err error
	if req.Lang, err = i18n.Parse(q.Get("lang")); err != nil {
		return req, err
	}
	for _, k := range []string{"sla247", "24x7", "sla-24x7"} {
		if v := q.Get(k); v != "" {
			if req.AlwaysOpen, err = strconv.ParseBool(v); err != nil {
				return req, badRequest("%s: want 1 or 0, got %q", k, v)
			}
		}
	}
	from, to := q.Get("from"), q.Get("to")
	switch {
	case from == "" && to == "":
		req.Period = g.ThisMonth()
	case from == "" || to == "":
		return req, badRequest("give both from and to (YYYY-MM-DD), or neither for this month")
	default:
		if req.Period, err = ParsePeriod(from, to, g.Location()); err != nil {
			return req, err
		}
	}
	return req, g.Check(req)
}
