# Vizor: `make run` and `make test` set up everything they need on a fresh
# Debian bookworm machine (system packages, FAISS C API, models).
SHELL := /bin/bash
GO ?= go
PRESET ?= cpu
BUILD_DIR := build/$(PRESET)
NATIVE_LIB := build/native/libvizor.so
export CGO_ENABLED := 1
# Go packages that need the native engine or FAISS run from this tree.
GOFLAGS_TEST ?= -count=1

.PHONY: all deps models native build test test-native test-native-asan test-go run run-all bench fuzz clean fmt vet cluster cluster-stop

all: build

deps:
	@bash scripts/deps.sh

models: deps
	@bash scripts/fetch_models.sh

# The native library goes to build/native/ whatever the preset, so the cgo
# rpath in bindings/ always points at it.
native: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j$$(nproc)

build: native
	@mkdir -p bin
	$(GO) build -o bin/vizor ./cmd/vizor

test: build models
	$(MAKE) --no-print-directory test-native test-native-asan test-go

test-native: native models
	@ctest --test-dir $(BUILD_DIR) --output-on-failure

# The C ABI tests again, under AddressSanitizer and UBSan, in their own tree.
test-native-asan: deps models
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j$$(nproc)
	@ctest --test-dir build/asan --output-on-failure

# VIZOR_REQUIRE_DATA=1: a test that needs ../shared or the models fails
# here instead of skipping (internal/faceset.Missing).
test-go: build models
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	VIZOR_REQUIRE_DATA=1 $(GO) test $(GOFLAGS_TEST) -timeout 25m ./...

# run: the XML API on 127.0.0.1:8080; run-all: all four APIs (XML,
# CompreFace :8000, Facenet512 :5056, MassHealth :9002).
run: build models
	./bin/vizor serve

run-all: build models
	./bin/vizor serve -all-apis

# Runs every suite (engine, gallery, http, comparisons, accuracy) and
# regenerates BENCHMARKS.md; BENCH_FLAGS passes options to vizor-bench, e.g.
# BENCH_FLAGS='-suites accuracy,comparisons'. See bench/README.md.
BENCH_FLAGS ?=
bench: build models
	$(GO) run ./bench/cmd/vizor-bench $(BENCH_FLAGS)

# A 3-node Weaviate cluster on 127.0.0.1 with its data under data/cluster
# (VIZOR_CLUSTER_DIR, VIZOR_CLUSTER_PORT move them); then
# `bin/vizor serve -gallery "$$(scripts/cluster.sh url)"`. README, "More
# than one machine".
cluster:
	@bash scripts/cluster.sh start

cluster-stop:
	@bash scripts/cluster.sh stop

fuzz: build models
	$(GO) test ./bindings -run '^$$' -fuzz FuzzAnalyze -fuzztime $${FUZZTIME:-60s}

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf build bin
