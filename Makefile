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

gotest:
	$(GO) test -race -count=1 -timeout 20m ./...

e2e: build
	@if [ -f e2e/run.sh ]; then BROKERD_BIN=$(CURDIR)/$(BIN) bash e2e/run.sh; else echo 'e2e suite not present yet'; fi

clean:
	rm -rf bin
