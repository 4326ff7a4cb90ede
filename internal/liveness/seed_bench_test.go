package liveness

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// BenchmarkLoadSeeds: the start-up query over a day of 20 doors reporting
// every 10 s with all five door fields (864,000 field values), so the
// cost of a larger fleet can be judged against influx.timeout. last()
// reads the newest block of each series: four days of the same fleet took
// no longer (37 ms against 52 ms) on InfluxDB 1.8.3.
func BenchmarkLoadSeeds(b *testing.B) {
	db := influxdb.Start(b, influxdb.WithoutFlux())
	db.Exec(b, "CREATE DATABASE facmon_bench")
	now := time.Now().Truncate(time.Second)
	t0 := now.Add(-24 * time.Hour)
	for d := range 20 {
		var sb strings.Builder
		for i, tm := 0, t0; tm.Before(now); i, tm = i+1, tm.Add(10*time.Second) {
			fmt.Fprintf(&sb, "door,class=door,device=door-%d,ward=a state=\"closed\",cycles=%di,motor_current_a=1.2,obstruction=false,fault=0i %d\n", d, i, tm.UnixNano())
		}
		db.Write(b, "facmon_bench", sb.String())
	}
	q := storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: "facmon_bench", Timeout: time.Minute})
	fields := map[string][]string{"door": {"cycles", "fault", "motor_current_a", "obstruction", "state"}}
	for b.Loop() {
		seeds, err := LoadSeeds(context.Background(), q, fields, 14*24*time.Hour, now)
		if err != nil || len(seeds) != 20 {
			b.Fatalf("seeds: %d, %v", len(seeds), err)
		}
	}
}
