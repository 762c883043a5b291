# brickyard: build, generate and test. `make test` is the one command that
# runs every check CI runs; it installs what the tests need first.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)

# Fuzz targets as package:Target[:count]. `make test` runs each for its
# count of inputs (FUZZ_COUNT unless the target says; the slow ones say
# less); `make fuzz FUZZTIME=10m` runs each for a duration.
FUZZ_TARGETS := ./usp:FuzzOpenRecord ./usp:FuzzDecodeMsg ./usp:FuzzOpenGet ./usp:FuzzPeek ./usp/path:FuzzParse ./usp/e2e:FuzzReceive ./usp/e2e:FuzzSegment \
                ./boards/image:FuzzParseHeader ./boards/image:FuzzVerify \
                ./boards/espota:FuzzParseOtadata ./boards/uboot:FuzzParseEnv \
                ./boards/mcuboot:FuzzDecodeTrailer \
                ./boards/image/mcuboot:FuzzVerify ./boards/image/espapp:FuzzVerify \
                ./boards/image/fit:FuzzReadTree ./boards/image/fit:FuzzVerify ./boards/image/fit:FuzzControlKeys \
                ./boards/image/formats:FuzzVerify ./boards/image:FuzzParseAnyKeyPEM \
                ./usp/dm:FuzzHandle ./usp/dm:FuzzRestore ./usp/dm:FuzzPermissions \
                ./mtp/websocket:FuzzParseEID ./mtp/certs:FuzzParseURN ./mtp/certs:FuzzLoad ./mtp/stomp:FuzzHeaderEscape ./mtp/stomp:FuzzReadFrame \
                ./sim/device:FuzzReceive:10000x ./mtp/mqtt:FuzzReplyTo ./mtp/mqtt:FuzzDecode311 ./mtp/mqtt:FuzzDecode5 \
                ./scenarios:FuzzParse:10000x ./scenarios:FuzzIDScheme ./scenarios:FuzzExpectation \
                ./scenarios/report:FuzzWriters:3000x ./scenarios/report:FuzzReadJSON ./scenarios/report:FuzzAnalyze:6000x ./scenarios/report:FuzzMerge ./scenarios/workers:FuzzReadFrame ./scenarios/agents:FuzzTrafficRecord ./scenarios/agents:FuzzFaultFile \
                ./boards/profile:FuzzParse ./boards/image:FuzzParseKeyPEM ./mtp:FuzzParseSources \
                ./boards/bench/wire:FuzzDecode ./boards/bench/wire:FuzzSplit ./boards/bench/wire:FuzzPayloads \
                ./scenarios/trace:FuzzRecord ./sim/misbehave:FuzzSend ./sim/fleet:FuzzAppendEvent \
                ./sim/model:FuzzParse ./sim/model:FuzzImportDump ./sim/model:FuzzImportXML \
                ./flash:FuzzLoadState:5000x ./sim/device:FuzzLoadState:10000x ./sim/fleet:FuzzParseState:5000x ./mtp/dnssd:FuzzLookup ./mtp/dnssd:FuzzMDNSPacket
FUZZ_COUNT   ?= 20000x
FUZZTIME     ?= 1m
# Each new interesting input is minimized for at most FUZZMINTIME: with Go's
# default (60 s) a worker fuzzing a large seed (a TR-181 XML excerpt)
# spends its whole budget minimizing its first find.
FUZZMINTIME  ?= 3s

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: all build test deps lint generate golden check-generated unit scale fuzz fuzz-short bench bench-instr bench-fleet bench-headline flaky clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/brickyard ./cmd/brickyard

## test: everything CI checks, in order of cost.
test: deps lint check-generated unit scale fuzz-short

## deps: Debian packages and tools the tests need (idempotent; quick when present).
deps:
	@bash .ci/install-deps

## lint: gofmt and go vet must be clean.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.bin/*')); \
	  if [[ -n "$$out" ]]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## generate: regenerate the protobuf Go code and the golden vectors.
generate: $(BIN)/protoc-gen-go
	@bash .ci/generate .
	@echo "generated usp/uspmsg, usp/usprecord and usp/testdata/golden/*.bin"

## check-generated: fail when committed generated files differ from a fresh generation.
check-generated: $(BIN)/protoc-gen-go
	@bash .ci/check-generated

# protoc-gen-go at exactly the google.golang.org/protobuf version go.mod pins.
$(BIN)/protoc-gen-go: go.mod go.sum
	$(GO) build -o $@ google.golang.org/protobuf/cmd/protoc-gen-go

## unit: all Go tests with the race detector.
unit:
	$(GO) test -race -count=1 ./...

## scale: the fleet-sized tests (build tag scale; docs/scale.md), without the
## race detector: it dies past 8,128 live goroutines. BRICKYARD_SCALE_AGENTS=n
## runs n agents instead of 5,000.
scale:
	$(GO) test -tags scale -count=1 -timeout 20m -run '^TestScale' ./sim/fleet/

## fuzz-short: every fuzz target for a count of inputs (FUZZ_COUNT, or the
## target's own after a second colon), not a duration: a duration races the
## fuzzing coordinator's deadline on a loaded machine and fails with a bare
## "context deadline exceeded" and no input (golang/go#75804). A count only
## takes longer there. fuzz: every target for FUZZTIME each, to hunt.
fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  IFS=: read -r pkg name count <<< "$$t"; count=$${count:-$(FUZZ_COUNT)}; \
	  echo "fuzz $$pkg $$name for $$count inputs"; \
	  $(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$$count -fuzzminimizetime=$(FUZZMINTIME) $$pkg; \
	done

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  IFS=: read -r pkg name count <<< "$$t"; \
	  echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
	  $(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINTIME) $$pkg; \
	done

## flaky: every package's tests FLAKY_COUNT times (default 10) with the race
## detector under a CPU hog on every core; lists the tests that failed.
## FLAKY_PKGS=./mtp/... narrows it, FLAKY_LOAD=0 drops the hog (.ci/flaky).
flaky:
	@bash .ci/flaky

## bench: every benchmark, with allocations.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## bench-fleet: brickyard fleet as a process of its own against mosquitto,
## driven by a lean controller: memory and goroutines per idle agent, agent
## and driver CPU per Get (docs/scale.md). FLEETBENCH_AGENTS=1,1000,10000,
## FLEETBENCH_WINDOW=1,32, FLEETBENCH_PROFILE=DIR (pprof files) tune it.
bench-fleet: deps
	cd cmd/brickyard && $(GO) test -tags scale -run='^$$' -bench='^BenchmarkFleetProcess$$' -benchtime=1x -timeout 60m .

## bench-headline: N MQTT agents in brickyard fleet --workers over several
## mosquittos on this box, with a lean controller: time to connect them all,
## Get fan-out round trips, memory per agent (docs/scale.md, the headline).
## HEADLINE_AGENTS (100000), HEADLINE_BROKERS, HEADLINE_WORKERS, HEADLINE_RATE,
## HEADLINE_ROUNDS tune it. Not under the race detector.
bench-headline: deps
	cd cmd/brickyard && $(GO) test -tags scale -run='^$$' -bench='^BenchmarkHeadline$$' -benchtime=1x -timeout 60m -v .

## bench-instr: CPU instructions per operation of the agent's request paths,
## counted by callgrind (.ci/instr): a count the machine's load does not move.
INSTR_BENCHES := ./sim/device:BenchmarkGetRequest ./usp:BenchmarkGetRecordRoundTrip
bench-instr:
	@set -e; for t in $(INSTR_BENCHES); do bash .ci/instr $${t%%:*} $${t##*:}; done

clean:
	rm -rf $(BIN)
