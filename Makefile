# Thin wrapper: everything real lives in CMake and deploy/.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
CONFIG ?= config/local.toml
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test format clean

all: build

deps:
	@deploy/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake --preset $(PRESET) >/dev/null

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@deploy/run-local.sh $(BUILD_DIR) $(CONFIG)

test: build
	@deploy/run-tests.sh $(BUILD_DIR)

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf build
