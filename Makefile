# brokerd — `make test` is the whole test suite (it installs what the tests need).
GO ?= go
BIN := bin/brokerd

.PHONY: build run test deps lint gotest e2e fuzz-short soak clean

build:
	$(GO) build -o $(BIN) ./cmd/brokerd

run: build
	./$(BIN)

test: deps lint gotest fuzz-short e2e

deps:
	bash scripts/test-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v docker-compose >/dev/null; then docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml valid"; \
	else echo "docker-compose not installed: compose file not validated"; fi

gotest:
	$(GO) test -race -count=1 -timeout 20m ./...

# End-to-end: real clients (socket.io-client 2 and 4, ioBroker's conn.js) in Node,
# then our web/conn.js and the dashboard in headless Chromium.
e2e: build
	BROKERD_BIN=$(CURDIR)/$(BIN) bash e2e/run.sh
	BROKERD_BIN=$(CURDIR)/$(BIN) bash web/test/run.sh
	BROKERD_BIN=$(CURDIR)/$(BIN) SIO_JS_FROM=brokerd bash web/socketio/test/run.sh

# Every fuzz target for FUZZTIME each (CI: 10 s). go test -fuzz takes one
# target per run, hence the list.
FUZZTIME ?= 10s
FUZZ_TARGETS := \
	states:FuzzParseWrite states:FuzzParseID \
	objects:FuzzValidateID objects:FuzzValidateObject objects:FuzzSetJSON objects:FuzzCompareUTF16 \
	files:FuzzNormalize pattern:FuzzMatch config:FuzzLoad auth:FuzzCheckPassword \
	faulttest:FuzzFrames

fuzz-short:
	@GO="$(GO)" FUZZTIME=$(FUZZTIME) bash scripts/fuzz-short.sh $(FUZZ_TARGETS)

# Long fault runs: 100 SIGKILL cycles under mixed load (no acknowledged
# write may be lost), then the full-size connection churn and 10,000 idle
# connections (build tag stress).
soak:
	BROKERD_CRASH_CYCLES=100 $(GO) test -count=1 -timeout 20m -run '^TestCrash$$' -v ./broker
	$(GO) test -count=1 -tags stress -timeout 30m -run 'TestConnectChurn|TestIdleConnections' -v ./faulttest

clean:
	rm -rf bin
