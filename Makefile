# faaspot — self-hosted multi-tenant functions-as-a-service.
SHELL := /bin/bash
GO    ?= go

# testcontainers-go on this kind of machine: no reaper image, and never dial the default gateway.
export TESTCONTAINERS_RYUK_DISABLED   := true
export TESTCONTAINERS_HOST_OVERRIDE   := 127.0.0.1

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-8s %s\n", $$1, $$2}'

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

build: ## build bin/faaspotd and bin/fas
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/faaspotd ./cmd/faaspotd
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/fas ./cmd/fas

run: build ## start the daemon on the embedded store with a dev tenant (builds the base image if none can be pulled)
	@base=$$(scripts/images.sh base) && \
	FAASPOT_BASE_IMAGE=$$base \
	FAASPOT_DEV_TENANT=$${FAASPOT_DEV_TENANT:-dev} \
	FAASPOT_WRITE_CLIENT_CONFIG=$${FAASPOT_WRITE_CLIENT_CONFIG:-$$HOME/.faaspot/config.json} \
	exec ./bin/faaspotd

test: ## run every test: unit (the store's also on a 3-master Redis Cluster, needs redis-server), then integration against real Docker and Redis
	scripts/images.sh all
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /integration)
	FAASPOT_TEST_REDIS_CLUSTER=required $(GO) test -count=1 ./store/
	FAASPOT_TEST_SPLIT_STEPS=1 $(GO) test -count=1 ./store/
	python3 -m unittest discover -s clients/python/tests -t clients/python
	FAASPOT_INTEGRATION=required FAASPOT_TEST_BASE_IMAGE=$$(scripts/images.sh base) \
		$(GO) test -count=1 -timeout 40m ./integration/

bench: ## measure against bare docker: cold, warm, wrk loads (1-64 conns, CPU per run, profile), async, costs (needs redis-server, wrk); FAASPOT_BENCH_PHASES=sync,list picks phases
	scripts/images.sh base >/dev/null
	@command -v redis-server >/dev/null || [ -n "$$FAASPOT_REDIS_URL" ] || \
		{ echo "make bench needs redis-server on PATH (apt-get install redis-server) or FAASPOT_REDIS_URL"; exit 1; }
	@command -v wrk >/dev/null || \
		{ echo "make bench needs wrk, the load generator of its throughput phases: apt-get install wrk"; exit 1; }
	FAASPOT_BASE_IMAGE=$$(scripts/images.sh base) $(GO) run ./cmd/faaspot-bench

lint: ## gofmt, go vet, and sizes: no non-test Go file over 450 lines, no function over 80
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run ./scripts/codesize -max-file 450 -max-func 80 $$(git ls-files -co --exclude-standard '*.go' | xargs ls 2>/dev/null)

.PHONY: help build run test bench lint
