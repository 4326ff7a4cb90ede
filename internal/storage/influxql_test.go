package storage

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// A fake /query that answers as InfluxDB 2.x does (DBRP), to check what
// the client sends and how it reads chunks and errors.
func TestInfluxQLRequestAndChunks(t *testing.T) {
	var got url.Values
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/query", r.URL.Path)
		require.Equal(t, http.MethodPost, r.Method)
		body, _ := io.ReadAll(r.Body)
		got, _ = url.ParseQuery(string(body))
		auth = r.Header.Get("Authorization")
		// Two statements; the first series split across two chunks.
		_, _ = io.WriteString(w, `{"results":[{"statement_id":0,"series":[{"name":"door","tags":{"device":"door-1"},"columns":["time","seq"],"values":[[1000000000,1],[2000000000,2]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":0,"series":[{"name":"door","tags":{"device":"door-1"},"columns":["time","seq"],"values":[[3000000000,3]]},{"name":"door","tags":{"device":"door-2"},"columns":["time","seq"],"values":[[1500000000,7]]}]}]}
{"results":[{"statement_id":1,"series":[{"name":"door","columns":["time","last"],"values":[[3000000000,3]]}]}]}
`)
	}))
	defer srv.Close()
	c := NewInfluxQL(InfluxOptions{URL: srv.URL + "/", Bucket: "facmon/autogen", Token: "s3cr3t-token"})
	res, err := c.Query(context.Background(), "SELECT seq FROM door GROUP BY device; SELECT last(seq) FROM door")
	require.NoError(t, err)
	assert.Equal(t, "facmon", got.Get("db"))
	assert.Equal(t, "autogen", got.Get("rp"))
	assert.Equal(t, "ns", got.Get("epoch"))
	assert.Equal(t, "true", got.Get("chunked"))
	assert.Equal(t, "Token s3cr3t-token", auth)

	require.Len(t, res, 2)
	require.Len(t, res[0].Series, 2, "the continued series is joined")
	s := res[0].Series[0]
	assert.Len(t, s.Values, 3)
	assert.Equal(t, time.Unix(3, 0), s.Time(2))
	assert.False(t, s.Partial)
	v, ok := Int(res[1].Series[0].Values[0][1])
	assert.True(t, ok)
	assert.EqualValues(t, 3, v)
	assert.Equal(t, 1, s.Column("seq"))
}

func TestInfluxQLErrors(t *testing.T) {
	answer := ""
	status := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	c := NewInfluxQL(InfluxOptions{URL: srv.URL, Bucket: "facmon", Token: "tok-123"})

	status, answer = 401, `{"code":"unauthorized","message":"unauthorized access tok-123"}`
	_, err := c.Query(context.Background(), "SELECT 1")
	var qe *QueryError
	require.True(t, errors.As(err, &qe))
	assert.Equal(t, 401, qe.Status)
	assert.Equal(t, "influxql: status 401: unauthorized access [redacted]", err.Error(), "2.x error, token never shown")

	status, answer = 200, `{"results":[{"statement_id":0,"series":[]},{"statement_id":1,"error":"measurement not found"}]}`
	_, err = c.Query(context.Background(), "SELECT 1; SELECT 2")
	assert.EqualError(t, err, "influxql: statement 1: measurement not found")

	status, answer = 400, `{"error":"error parsing query: found EOF"}`
	_, err = c.Query(context.Background(), "SELECT")
	assert.EqualError(t, err, "influxql: status 400: error parsing query: found EOF")

	_, err = NewInfluxQL(InfluxOptions{URL: "http://127.0.0.1:1"}).Query(context.Background(), "SELECT 1")
	assert.Error(t, err)
}

func TestQuoting(t *testing.T) {
	assert.Equal(t, `"door \"x\""`, QuoteIdent(`door "x"`))
	assert.Equal(t, `'it\'s'`, QuoteString(`it's`))
	assert.Equal(t, "1000000000", TimeLiteral(time.Unix(1, 0)))
}

// Against the real InfluxDB 1.8.3: statements, chunks beyond one chunk,
// and an unknown measurement.
func TestInfluxQLAgainstInfluxDB(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	db.Exec(t, "CREATE DATABASE q")
	var lines []byte
	for i := range 25000 {
		lines = append(lines, []byte("door,device=door-1 seq="+strconv.Itoa(i)+"i "+strconv.Itoa(1_000_000_000+i)+"000000000\n")...)
	}
	db.Write(t, "q", string(lines))
	c := NewInfluxQL(InfluxOptions{URL: db.URL, Bucket: "q"})
	res, err := c.Query(context.Background(), "SELECT seq FROM door; SELECT last(seq) FROM door; SELECT * FROM nothere")
	require.NoError(t, err)
	require.Len(t, res, 3)
	require.Len(t, res[0].Series, 1)
	assert.Len(t, res[0].Series[0].Values, 25000, "three chunks of 10000 joined")
	n, _ := Int(res[1].Series[0].Values[0][1])
	assert.EqualValues(t, 24999, n)
	assert.Empty(t, res[2].Series)
}

// A database not created yet (a new installation before its first write)
// is told apart from a failing InfluxDB, against the real one.
func TestIsDatabaseNotFound(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	_, err := NewInfluxQL(InfluxOptions{URL: db.URL, Bucket: "not_created", Timeout: 10 * time.Second}).Query(context.Background(), "SELECT last(x) FROM m")
	require.Error(t, err)
	assert.True(t, IsDatabaseNotFound(err), "%v", err)
	_, err = NewInfluxQL(InfluxOptions{URL: "http://127.0.0.1:1", Bucket: "x", Timeout: time.Second}).Query(context.Background(), "SELECT last(x) FROM m")
	require.Error(t, err)
	assert.False(t, IsDatabaseNotFound(err), "%v", err)
	assert.False(t, IsDatabaseNotFound(nil))
}
