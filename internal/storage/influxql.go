package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// InfluxQL runs read queries against the /query endpoint, which InfluxDB
// 1.8 serves natively and 2.x serves for databases mapped to buckets
// (DBRP). The reports and the dashboards use it: InfluxQL works on 1.8,
// 2.x and 3.x, where Flux does not.
//
// The bucket of InfluxOptions names the database: "db" or "db/rp" on 1.8,
// the mapped database (and retention policy) on 2.x. The token is sent as
// "Authorization: Token …": a 2.x token, or "user:password" on 1.8 with
// authentication on; empty sends no header.
type InfluxQL struct {
	base  string // URL without trailing slash
	db    string
	rp    string
	token string
	http  *http.Client
}

// NewInfluxQL builds a query client; it does not contact InfluxDB.
func NewInfluxQL(opts InfluxOptions) *InfluxQL {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	db, rp, _ := strings.Cut(opts.Bucket, "/")
	return &InfluxQL{
		base:  strings.TrimRight(opts.URL, "/"),
		db:    db,
		rp:    rp,
		token: opts.Token,
		http:  &http.Client{Timeout: timeout},
	}
}

// Database is the database queries run against.
func (c *InfluxQL) Database() string { return c.db }

// Series is one series of a result: rows of Values in the order of
// Columns. The first column is "time", in nanoseconds since the epoch;
// numbers are json.Number (use Int and Float).
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
	Partial bool              `json:"partial"`
}

// Column returns the index of the named column, or -1.
func (s *Series) Column(name string) int {
	for i, c := range s.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// Time returns the time of a row.
func (s *Series) Time(row int) time.Time {
	if row < 0 || row >= len(s.Values) || len(s.Values[row]) == 0 {
		return time.Time{}
	}
	ns, ok := Int(s.Values[row][0])
	if !ok {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Int reads a number of a result as an int64.
func Int(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		f, err := n.Float64()
		return int64(f), err == nil
	case float64:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

// Float reads a number of a result as a float64.
func Float(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// Result is the outcome of one statement.
type Result struct {
	Series []Series
}

// QueryError is an error InfluxDB reported for a query or one statement.
type QueryError struct {
	Status    int // HTTP status; 200 when a single statement failed
	Statement int // index of the failed statement, -1 for the whole request
	Msg       string
}

// IsDatabaseNotFound reports whether err says the database (bucket) does
// not exist yet: before the first write of a new installation, where a
// reader has nothing to read rather than a failure.
func IsDatabaseNotFound(err error) bool {
	var qe *QueryError
	return errors.As(err, &qe) && strings.HasPrefix(qe.Msg, "database not found")
}

func (e *QueryError) Error() string {
	if e.Statement >= 0 {
		return fmt.Sprintf("influxql: statement %d: %s", e.Statement, e.Msg)
	}
	return fmt.Sprintf("influxql: status %d: %s", e.Status, e.Msg)
}

type queryChunk struct {
	Results []struct {
		StatementID int      `json:"statement_id"`
		Series      []Series `json:"series"`
		Error       string   `json:"error"`
		Partial     bool     `json:"partial"`
	} `json:"results"`
	Error string `json:"error"`
	// InfluxDB 2.x answers errors as {"code": "...", "message": "..."}.
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Query runs one or more statements separated by ";" and returns one
// Result per statement. It streams the answer in chunks, so a large raw
// result is not limited by the server's max-row-limit, and joins a series
// split across chunks. Any statement error fails the whole call.
func (c *InfluxQL) Query(ctx context.Context, q string) ([]Result, error) {
	v := url.Values{"q": {q}, "epoch": {"ns"}, "chunked": {"true"}, "chunk_size": {"10000"}}
	if c.db != "" {
		v.Set("db", c.db)
	}
	if c.rp != "" {
		v.Set("rp", c.rp)
	}
	// POST keeps long queries out of URLs and logs; read-only SELECTs are
	// accepted by POST as well.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/query", strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Token "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, errors.New(c.clean(err.Error()))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg := strings.TrimSpace(string(body))
		var ch queryChunk
		if json.Unmarshal(body, &ch) == nil {
			switch {
			case ch.Error != "":
				msg = ch.Error
			case ch.Message != "":
				msg = ch.Message
			}
		}
		return nil, &QueryError{Status: resp.StatusCode, Statement: -1, Msg: c.clean(msg)}
	}
	return decodeChunks(resp.Body)
}

// decodeChunks reads the stream of JSON objects of a chunked answer.
func decodeChunks(r io.Reader) ([]Result, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber() // nanosecond timestamps do not survive float64
	var out []Result
	// last series per statement, to join a series continued in the next chunk
	open := map[int]*Series{}
	for {
		var ch queryChunk
		err := dec.Decode(&ch)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("influxql: reading the answer: %w", err)
		}
		if ch.Error != "" {
			return nil, &QueryError{Status: http.StatusOK, Statement: -1, Msg: ch.Error}
		}
		for _, res := range ch.Results {
			if res.Error != "" {
				return nil, &QueryError{Status: http.StatusOK, Statement: res.StatementID, Msg: res.Error}
			}
			for len(out) <= res.StatementID {
				out = append(out, Result{})
			}
			st := &out[res.StatementID]
			for _, s := range res.Series {
				if prev := open[res.StatementID]; prev != nil && prev.Partial && prev.Name == s.Name && sameTags(prev.Tags, s.Tags) {
					prev.Values = append(prev.Values, s.Values...)
					prev.Partial = s.Partial
					continue
				}
				st.Series = append(st.Series, s)
				open[res.StatementID] = &st.Series[len(st.Series)-1]
			}
		}
	}
	for i := range out {
		for j := range out[i].Series {
			out[i].Series[j].Partial = false
		}
	}
	return out, nil
}

func sameTags(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// clean removes the token from a message, which some transports echo.
func (c *InfluxQL) clean(s string) string {
	if c.token != "" {
		s = strings.ReplaceAll(s, c.token, "[redacted]")
	}
	return s
}

// QuoteIdent quotes an identifier (measurement, tag or field key).
func QuoteIdent(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// QuoteString quotes a string literal, e.g. a tag value in WHERE.
func QuoteString(s string) string {
	return `'` + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + `'`
}

// TimeLiteral writes t as an InfluxQL time: integer nanoseconds.
func TimeLiteral(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }
