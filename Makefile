# acstore — see README.md. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
PROGRAMS := aclog loader recover datasync midtable console
DB := scripts/db.sh
export ACSTORE_TEST_DSN ?= $(shell $(DB) dsn)

.PHONY: help build test lint bench demo db-up db-down clean deps fuzz deb

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

deps: ## install what a fresh Debian machine lacks (libpcap, tshark, lz4, xz, MariaDB)
	@scripts/deps.sh

build: ## build the six programs into ./bin
	@mkdir -p bin
	$(GO) build -o bin/ $(addprefix ./,$(PROGRAMS))

# The package's version: VERSION=1.2.3 make deb, else 0.0.0+<commit>.
VERSION ?= 0.0.0+$(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
NFPM := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

deb: build ## build dist/acstore_VERSION_amd64.deb with nfpm (pinned Go tool): binaries, units, configs, setup-mariadb
	@mkdir -p dist
	ACSTORE_VERSION=$(VERSION) $(GO) run $(NFPM) package --config packaging/nfpm.yaml --packager deb --target dist/

db-up: ## start the private MariaDB (./var/mariadb, port 3407); prints its DSN last. SHARDS=N: also N shards and a Spider front (ports 3430...), printing the shard map's path last
	@$(DB) up
	@if [ -n "$(SHARDS)" ]; then scripts/shards.sh up $(SHARDS); fi

db-down: ## stop the private MariaDB (and the shards and front, if started)
	@$(DB) down
	@if [ -d var/shards ]; then scripts/shards.sh down; fi

test: deps db-up ## run every test against the private MariaDB and real pcaps
	$(GO) test -count=1 -timeout 20m ./...

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

bench: deps db-up build ## print throughputs next to their references, measured in the same run, into BENCH.md; ONLY=aclog,loader: just those groups
	$(GO) build -o bin/ ./cmd/pcapgen
	scripts/shards.sh up 3 >/dev/null
	$(GO) run ./cmd/acbench -bin bin -shards var/shards/shards.yaml -out BENCH.md $(if $(ONLY),-only $(ONLY))

# -fuzzminimizetime: the fuzzer minimizes each new interesting input before
# fuzzing on, up to a minute each by default; on the engines' slower targets
# that took whole runs (a dozen execs in 60 s).
fuzz: ## run each fuzz target for FUZZTIME (default 60s)
	@for t in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$t/*_test.go | sed 's/func //'); do \
	    echo "== $$t $$f"; $(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$${FUZZTIME:-60s} -fuzzminimizetime=5s $$t || exit 1; \
	  done; done

demo: deps db-up build ## capture a bundled pcap, load it, print what landed
	@scripts/demo.sh

clean: ## remove binaries and demo data (keeps the database; see db-down)
	@if [ -f var/console.pid ]; then kill $$(cat var/console.pid) 2>/dev/null; rm -f var/console.pid; fi
	rm -rf bin dist var/demo
