package uptime

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
	"github.com/facmon/facmon/reports/loader"
	"github.com/facmon/facmon/reports/render"
	"github.com/facmon/facmon/reports/reporttest"
)

// fixed serves the fixed March 2026 dataset.
type fixed struct {
	got []loader.Request
	err error
}

func (f *fixed) Load(_ context.Context, req loader.Request, progress loader.Progress) (*reports.Dataset, error) {
	f.got = append(f.got, req)
	if progress != nil {
		progress(1, 1)
	}
	if f.err != nil {
		return nil, f.err
	}
	return reporttest.March2026(), nil
}

func newFixed(t *testing.T) (*Generator, *fixed) {
	t.Helper()
	l := &fixed{}
	g := NewWith(l, reporttest.Settings())
	g.SetClock(func() time.Time { return reporttest.At("2026-04-02 08:00") })
	return g, l
}

func call(t *testing.T, h http.Handler, method, target string) (*http.Response, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

func TestHandlerFormatsAndLanguages(t *testing.T) {
	g, l := newFixed(t)
	h := g.Handler(nil)

	res, body := call(t, h, http.MethodGet, "/reports/uptime?from=2026-03-01&to=2026-03-31")
	require.Equal(t, 200, res.StatusCode, string(body))
	assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	assert.Equal(t, `inline; filename=facmon-uptime-2026-03-01_2026-03-31.html`, res.Header.Get("Content-Disposition"))
	assert.Contains(t, string(body), "Báo cáo thời gian hoạt động thiết bị")
	// The handler reads the period and the previous one.
	require.Len(t, l.got, 1)
	assert.Equal(t, reporttest.At("2026-02-01"), l.got[0].From, "March and February, its previous calendar month")
	assert.Equal(t, reporttest.At("2026-04-01"), l.got[0].To)

	// Same bytes as the renderer on the same report.
	r, err := reports.Build(reporttest.March2026(), reporttest.March, reporttest.Settings())
	require.NoError(t, err)
	var want bytes.Buffer
	require.NoError(t, render.HTML(&want, r, i18n.VI))
	assert.Equal(t, want.String(), string(body))

	res, body = call(t, h, http.MethodGet, "/reports/uptime?from=2026-03-01&to=2026-03-31&lang=en&format=csv")
	require.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "text/csv; charset=utf-8", res.Header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename=facmon-uptime-2026-03-01_2026-03-31.csv`, res.Header.Get("Content-Disposition"))
	assert.Contains(t, string(body), "Ward id,Ward,Device class,Device,Availability (%)")

	res, body = call(t, h, http.MethodGet, "/reports/uptime?from=2026-03&to=2026-03&format=xlsx&ward=thanh-binh&sla247=1")
	require.Equal(t, 200, res.StatusCode, string(body))
	assert.Equal(t, render.ContentType("xlsx"), res.Header.Get("Content-Type"))
	assert.Contains(t, res.Header.Get("Content-Disposition"), "facmon-uptime-2026-03-01_2026-03-31-thanh-binh-24x7.xlsx")
	f, err := excelize.OpenReader(bytes.NewReader(body))
	require.NoError(t, err)
	rows, err := f.GetRows("Theo thiết bị")
	require.NoError(t, err)
	assert.Len(t, rows, 11, "header and the 10 devices of Thanh Bình")
	assert.Equal(t, "thanh-binh", l.got[len(l.got)-1].Ward)
	cell, _ := f.GetCellValue("Tổng quan", "B6")
	assert.Equal(t, "24/7 (mọi giờ, mọi ngày)", cell)

	res, body = call(t, h, http.MethodHead, "/reports/uptime?from=2026-03-01&to=2026-03-31")
	assert.Equal(t, 200, res.StatusCode)
	assert.Empty(t, body)
	assert.NotEmpty(t, res.Header.Get("Content-Length"))
}

func TestHandlerErrors(t *testing.T) {
	g, l := newFixed(t)
	h := g.Handler(nil)
	for target, want := range map[string]string{
		"/?from=2026-03-01":                          "give both from and to",
		"/?from=2026-03-31&to=2026-03-01":            "the period ends (2026-03-01) before it starts (2026-03-31)",
		"/?from=01/03/2026&to=2026-03-31":            `from: "01/03/2026": want a date YYYY-MM-DD`,
		"/?from=2026-03-01&to=2026-03-31&ward=xyz":   `unknown ward "xyz"`,
		"/?from=2026-03-01&to=2026-03-31&format=pdf": `unknown format "pdf"`,
		"/?from=2026-03-01&to=2026-03-31&lang=fr":    `unknown language "fr"`,
		"/?from=2027-03-01&to=2027-03-31":            "the period starts in the future",
		"/?from=2020-01-01&to=2026-03-31":            "longer than 400 days",
		"/?from=2026-03-01&to=2026-03-31&sla247=x":   `sla247: want 1 or 0`,
	} {
		res, body := call(t, h, http.MethodGet, target)
		assert.Equal(t, 400, res.StatusCode, target)
		assert.Contains(t, string(body), want, target)
	}
	assert.Empty(t, l.got, "no query for a bad request")

	res, _ := call(t, h, http.MethodPost, "/?from=2026-03-01&to=2026-03-31")
	assert.Equal(t, 405, res.StatusCode)

	l.err = errors.New("influxql: status 401: unauthorized")
	res, body := call(t, h, http.MethodGet, "/?from=2026-03-01&to=2026-03-31")
	assert.Equal(t, 502, res.StatusCode)
	assert.Contains(t, string(body), "unauthorized")
}

func TestThisMonthByDefault(t *testing.T) {
	g, l := newFixed(t)
	g.SetClock(func() time.Time { return reporttest.At("2026-03-20 10:00") })
	res, body := call(t, g.Handler(nil), http.MethodGet, "/reports/uptime")
	require.Equal(t, 200, res.StatusCode, string(body))
	require.Len(t, l.got, 1)
	assert.Equal(t, reporttest.At("2026-02-01"), l.got[0].From, "March and February before it")
	assert.Equal(t, reporttest.At("2026-04-01"), l.got[0].To)
}

func TestParsePeriod(t *testing.T) {
	loc := reporttest.Location
	p, err := ParsePeriod("2026-03-01", "2026-03-31", loc)
	require.NoError(t, err)
	assert.Equal(t, reports.Period{From: reporttest.At("2026-03-01"), To: reporttest.At("2026-04-01")}, p, "to is inclusive")
	p, err = ParsePeriod("2026-02", "2026-02", loc)
	require.NoError(t, err)
	assert.Equal(t, reports.Period{From: reporttest.At("2026-02-01"), To: reporttest.At("2026-03-01")}, p)
	p, err = ParsePeriod("2026-03-02T08:00:00+07:00", "2026-03-02T10:00:00+07:00", loc)
	require.NoError(t, err)
	assert.Equal(t, 2*time.Hour, p.To.Sub(p.From), "RFC 3339 times are exact")
	_, err = ParsePeriod("", "2026-03-01", loc)
	var rerr *RequestError
	assert.ErrorAs(t, err, &rerr)
}
