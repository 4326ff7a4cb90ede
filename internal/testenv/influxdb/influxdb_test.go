package influxdb

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/internal/testenv"
)

func TestInfluxWriteQueryRestart(t *testing.T) {
	t.Parallel()
	in := Start(t)
	if want := "http://127.0.0.1:" + strconv.Itoa(in.Port); in.URL != want {
		t.Fatalf("URL = %q, want %q", in.URL, want)
	}
	in.Exec(t, "CREATE DATABASE facmon")
	in.Write(t, "facmon", fmt.Sprintf("door,ward=thanh-binh,class=door,device=d1 cycles=18231i,motor_current_a=1.4,state=\"open\" %d\n", testTS))

	check(t, in, "after write")

	// Errors are reported, not returned as empty results.
	if _, err := in.QueryErr(context.Background(), "nosuchdb", "SELECT * FROM door"); err == nil || !strings.Contains(err.Error(), "database not found") {
		t.Errorf("query of a missing database: err = %v", err)
	}

	// Flux is enabled (facmon's dashboards and the v2 client may use it).
	if code, body := fluxQuery(t, in, "facmon/autogen"); code != http.StatusOK || !strings.Contains(body, "18231") {
		t.Errorf("Flux query: %d: %s", code, body)
	}

	port := in.Port
	in.Stop()
	if in.Running() {
		t.Fatal("influxd running after Stop")
	}
	if c, err := net.DialTimeout("tcp", testenv.HostPort(port), time.Second); err == nil {
		c.Close()
		t.Fatal("HTTP port still accepts connections after Stop")
	}
	in.Start()
	if in.Port != port {
		t.Fatalf("restarted on port %d, want %d", in.Port, port)
	}
	check(t, in, "after Stop/Start")

	// No _internal database: [monitor] store-enabled = false.
	for _, sr := range in.Query(t, "", "SHOW DATABASES") {
		for _, v := range sr.Values {
			if v[0] == "_internal" {
				t.Errorf("_internal database exists: monitor store not disabled")
			}
		}
	}
}

func fluxQuery(t *testing.T, in *Server, bucket string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/api/v2/query",
		strings.NewReader(`from(bucket: "`+bucket+`") |> range(start: 2023-01-01T00:00:00Z) |> filter(fn: (r) => r._field == "cycles")`))
	req.Header.Set("Content-Type", "application/vnd.flux")
	req.Header.Set("Accept", "application/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestInfluxKillWithoutFlux(t *testing.T) {
	t.Parallel()
	in := Start(t, WithoutFlux())
	in.Exec(t, "CREATE DATABASE facmon")
	// facmon's writer uses the v2 write API with bucket db/rp: it works without Flux.
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/api/v2/write?org=&bucket=facmon/autogen&precision=ns",
		strings.NewReader(fmt.Sprintf("door,ward=thanh-binh,class=door,device=d1 cycles=18231i,motor_current_a=1.4,state=\"open\" %d\n", testTS)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("/api/v2/write: %s", resp.Status)
	}
	check(t, in, "after /api/v2/write")
	if code, body := fluxQuery(t, in, "facmon/autogen"); code == http.StatusOK {
		t.Errorf("Flux query answered 200 with WithoutFlux: %s", body)
	}

	// A point acknowledged with 204 is in the WAL: it survives SIGKILL.
	in.Write(t, "facmon", fmt.Sprintf("door,ward=thanh-binh,class=door,device=d2 cycles=7i %d\n", testTS))
	in.Kill()
	if in.Running() {
		t.Fatal("influxd running after Kill")
	}
	if _, err := in.QueryErr(context.Background(), "facmon", "SHOW DATABASES"); err == nil {
		t.Fatal("query after Kill succeeded")
	}
	in.Start()
	check(t, in, "after Kill/Start")
	s := in.Query(t, "facmon", `SELECT count(cycles) FROM door`)
	if len(s) != 1 {
		t.Fatalf("count: %+v", s)
	}
	if n, _ := AsInt64(s[0].Value(0, "count")); n != 2 {
		t.Fatalf("count(cycles) after Kill/Start = %v, want 2", s[0].Value(0, "count"))
	}
}

// testTS is not representable as a float64: reading it back proves that epoch=ns
// results are decoded exactly.
const testTS = int64(1700000000123456789)

// check asserts that device d1's point written by the Influx tests is there.
func check(t *testing.T, in *Server, when string) {
	t.Helper()
	s := in.Query(t, "facmon", `SELECT cycles, motor_current_a, state FROM door WHERE device = 'd1' GROUP BY *`)
	if len(s) != 1 || s[0].Name != "door" || len(s[0].Values) != 1 {
		t.Fatalf("%s: got %+v", when, s)
	}
	if s[0].Tags["ward"] != "thanh-binh" || s[0].Tags["device"] != "d1" {
		t.Errorf("%s: tags %v", when, s[0].Tags)
	}
	if got, ok := AsInt64(s[0].Value(0, "time")); !ok || got != testTS {
		t.Errorf("%s: time = %v, want %d", when, s[0].Value(0, "time"), testTS)
	}
	if got, ok := AsInt64(s[0].Value(0, "cycles")); !ok || got != 18231 {
		t.Errorf("%s: cycles = %v", when, s[0].Value(0, "cycles"))
	}
	if got, ok := AsFloat64(s[0].Value(0, "motor_current_a")); !ok || got != 1.4 {
		t.Errorf("%s: motor_current_a = %v", when, s[0].Value(0, "motor_current_a"))
	}
	if got := s[0].Value(0, "state"); got != "open" {
		t.Errorf("%s: state = %v", when, got)
	}
}
