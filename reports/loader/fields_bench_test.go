package loader

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// BenchmarkLoaderFields: what asking for every field of the profile costs
// against asking for seq alone, on a day of 20 doors reporting every 10 s
// with all five door fields and seq, read by scanning the readings in
// hourly chunks (data without liveness transitions) and with transitions.
func BenchmarkLoaderFields(b *testing.B) {
	db := influxdb.Start(b, influxdb.WithoutFlux())
	db.Exec(b, "CREATE DATABASE facmon_bench")
	db.Exec(b, "CREATE DATABASE facmon_bench_tr")
	t0 := at("2026-03-02 00:00")
	for d := range 20 {
		var sb strings.Builder
		for i, tm := 0, t0; tm.Before(t0.Add(24 * time.Hour)); i, tm = i+1, tm.Add(10*time.Second) {
			if d == 0 && tm.Hour() == 9 {
				continue // one silence
			}
			fmt.Fprintf(&sb, "door,class=door,device=door-%d,ward=a state=\"closed\",cycles=%di,motor_current_a=1.2,obstruction=false,fault=0i,seq=%di %d\n", d, i, i, tm.UnixNano())
		}
		db.Write(b, "facmon_bench", sb.String())
		fmt.Fprintf(&sb, "device_liveness,class=door,device=door-%d,ward=a up=1i,reason=\"seen\" %d\n", d, t0.Add(-time.Hour).UnixNano())
		db.Write(b, "facmon_bench_tr", sb.String())
	}
	scan := storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: "facmon_bench", Timeout: time.Minute})
	trans := storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: "facmon_bench_tr", Timeout: time.Minute})
	profile := map[string][]string{"door": {"cycles", "fault", "motor_current_a", "obstruction", "state"}}
	req := Request{From: t0, To: t0.Add(24 * time.Hour), Now: t0.Add(48 * time.Hour)}
	for _, bc := range []struct {
		name   string
		q      Querier
		fields map[string][]string
		gaps   int
	}{
		{"scan/seq", scan, nil, 1},
		{"scan/profile", scan, profile, 1},
		{"transitions/seq", trans, nil, 0},
		{"transitions/profile", trans, profile, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := New(bc.q, Options{Classes: []string{"door"}, Chunk: time.Hour, Fields: bc.fields})
			for b.Loop() {
				ds, err := l.Load(context.Background(), req, nil)
				if err != nil || len(ds.Devices) != 20 || len(ds.Devices[0].Telemetry.Gaps) != bc.gaps {
					b.Fatalf("load: %v", err)
				}
			}
		})
	}
}
