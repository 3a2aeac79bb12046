# Thin wrapper: everything real lives in CMake and deploy/.
# `make run` uses the optimised build; `make test` builds once more with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc, warnings as errors) and runs every test on that build.
PRESET ?= release
TEST_PRESET ?= asan
BUILD_DIR := build/$(PRESET)
TEST_BUILD_DIR := build/$(TEST_PRESET)
CONFIG ?= config/local.toml
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test format clean

all: build

deps:
	@deploy/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake --preset $(PRESET) >/dev/null

ifneq ($(TEST_BUILD_DIR),$(BUILD_DIR))
$(TEST_BUILD_DIR)/build.ninja: | deps
	cmake --preset $(TEST_PRESET) >/dev/null
endif

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@deploy/run-local.sh $(BUILD_DIR) $(CONFIG)

test: deps $(TEST_BUILD_DIR)/build.ninja
	cmake --build $(TEST_BUILD_DIR) -j $(JOBS)
	@deploy/run-tests.sh $(TEST_BUILD_DIR)

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf build
