# facmon: `make run` starts the zero-setup demo, `make test` runs every test.
# Both install what they need (Debian packages, influxd 1.8.3) on first use;
# the demo needs mosquitto-clients and curl for the commands its banner prints.

GO          ?= go
GOBIN       := $(shell $(GO) env GOPATH)/bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN         := bin/facmon

.PHONY: all build run test unit lint fuzz bench deps clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/facmon

deps:
	scripts/deps.sh mosquitto influxd alertmanager node-exporter chromium deploy-tools

# The demo: embedded broker, simulator of the 13 wards, InfluxDB 1.8.3 at
# 127.0.0.1:8086 (started here, data under ./var, when nothing answers there),
# and on first start 30 days of simulated history. RUN_FLAGS go to
# `facmon run --demo`, e.g. RUN_FLAGS=--no-backfill.
RUN_FLAGS ?=
run: build
	scripts/deps.sh influxd mosquitto
	scripts/run-demo.sh $(BIN) $(RUN_FLAGS)

# Every test, against the real Mosquitto and InfluxDB, then a short run of
# every fuzz target and the linters.
test: deps lint
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	@test -x $(GOBIN)/staticcheck || $(GO) install $(STATICCHECK)
	$(GOBIN)/staticcheck ./...

# A short run of each fuzz target, sized in executions (a few seconds each
# here). Budgets are counts, not durations, because Go before 1.27 can fail a
# duration-bounded run that found nothing with a bare "context deadline
# exceeded" (golang/go#75804); CI hit it. FUZZTIME=10m make fuzz gives every
# target a long session instead.
FUZZ_DECODE   ?= 20000x
FUZZ_TOPIC    ?= 100000x
FUZZ_CONFIG   ?= 20000x
FUZZ_RECOVERY ?= 5000x
FUZZ_SCRAPE   ?= 2000x
ifdef FUZZTIME
FUZZ_DECODE   := $(FUZZTIME)
FUZZ_TOPIC    := $(FUZZTIME)
FUZZ_CONFIG   := $(FUZZTIME)
FUZZ_RECOVERY := $(FUZZTIME)
FUZZ_SCRAPE   := $(FUZZTIME)
endif
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZ_DECODE) ./collectors/mqtt/
	$(GO) test -run '^$$' -fuzz '^FuzzTopic$$' -fuzztime $(FUZZ_TOPIC) ./collectors/mqtt/topic/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZ_CONFIG) ./internal/config/
	$(GO) test -run '^$$' -fuzz '^FuzzRecovery$$' -fuzztime $(FUZZ_RECOVERY) ./internal/spool/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZ_SCRAPE) ./collectors/scrape/

# Micro-benchmarks with allocations, then the end-to-end ingest benchmark
# (publisher -> Mosquitto -> facmon -> InfluxDB against the bare-subscriber ceiling).
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./collectors/... ./alerts/engine/ ./internal/service/ ./internal/storage/ ./internal/spool/ ./reports/...
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/

clean:
	rm -rf bin
