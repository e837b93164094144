# brokerd — `make test` is the whole test suite (it installs what the tests need).
GO ?= go
BIN := bin/brokerd

.PHONY: build run test deps lint gotest e2e fuzz-short soak clean

build:
	$(GO) build -o $(BIN) ./cmd/brokerd

run: build
	./$(BIN)

test: deps lint gotest e2e

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

clean:
	rm -rf bin
