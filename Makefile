# kata-rs: the user's interface. `make demo` does everything on a fresh Debian 12 machine (as root);
# `make test` runs the whole suite.

PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
SHAREDIR      ?= /usr/share/kata-containers
DEFAULTSDIR   ?= /usr/share/defaults/kata-containers
CARGO         ?= cargo
AGENT_TARGET  := x86_64-unknown-linux-gnu
AGENT_BIN     := target/$(AGENT_TARGET)/release/kata-agent
IMAGE_DIR     ?= build/image
KERNEL_DIR    ?= build/kernel
HOST_BINS     := kata-runtime containerd-shim-kata-v2 kata-monitor

export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all deps build agent kernel image install uninstall demo test lint unit bench fuzz fuzz-ci soak clean

all: build image

## deps: install the Debian packages and cargo tools the project needs (idempotent)
deps:
	scripts/install-deps.sh

## build: the host binaries (kata-runtime, containerd-shim-kata-v2, kata-monitor), release
build:
	$(CARGO) build --release --workspace --exclude kata-agent

## agent: the guest agent as a static binary (it is PID 1 of the initrd)
agent:
	LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=/usr/lib/x86_64-linux-gnu \
	  RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --target $(AGENT_TARGET) -p kata-agent

## kernel: the guest kernel built from Debian's linux-source-6.1 with tools/osbuilder/kernel/guest.conf,
## everything built in (cached under /var/cache/kata-rs/kernel); `make image` uses it (GUEST_KERNEL=debian: a Debian kernel package)
kernel:
	OUT_DIR=$(CURDIR)/$(KERNEL_DIR) tools/osbuilder/kernel/build-kernel.sh

## image: the guest kernel and the initrd with the agent as /init
image: agent
	AGENT_BIN=$(CURDIR)/$(AGENT_BIN) OUT_DIR=$(CURDIR)/$(IMAGE_DIR) tools/osbuilder/build-image.sh

## install: binaries to $(BINDIR), guest image to $(SHAREDIR), configuration to $(DEFAULTSDIR)
install:
	@for b in $(HOST_BINS); do \
	    if [ -f target/release/$$b ]; then install -D -m 0755 target/release/$$b $(BINDIR)/$$b; \
	    else echo "install: target/release/$$b missing (run make build)"; exit 1; fi; \
	done
	install -D -m 0644 $(IMAGE_DIR)/vmlinux.container $(SHAREDIR)/vmlinux.container
	install -D -m 0644 $(IMAGE_DIR)/kata-containers-initrd.img $(SHAREDIR)/kata-containers-initrd.img
	install -D -m 0644 config/configuration.toml $(DEFAULTSDIR)/configuration.toml

uninstall:
	rm -f $(addprefix $(BINDIR)/,$(HOST_BINS))
	rm -f $(SHAREDIR)/vmlinux.container $(SHAREDIR)/kata-containers-initrd.img
	rm -f $(DEFAULTSDIR)/configuration.toml

## demo: the main job: set up, build, install, run a container in a VM through a private containerd
demo: deps build image install
	scripts/demo.sh

## test: the whole suite (lint, unit, VM and containerd end-to-end tests)
test: lint image
	$(CARGO) build --workspace --exclude kata-agent
	KATA_TEST_IMAGE_DIR=$(CURDIR)/$(IMAGE_DIR) $(CARGO) test --workspace -- --test-threads=1
	$(MAKE) fuzz-ci

## soak: the long churn (tests/e2e/tests/churn.rs): 200 sequential starts, 8 pods at a time for
## 300 s, 200 execs into one pod; `make test` runs the short form (20 / 60 s / 50)
soak: image
	$(CARGO) build -p containerd-shim-kata-v2
	KATA_TEST_IMAGE_DIR=$(CURDIR)/$(IMAGE_DIR) KATA_SOAK_SEQUENTIAL=$${KATA_SOAK_SEQUENTIAL:-200} \
	  KATA_SOAK_SECONDS=$${KATA_SOAK_SECONDS:-300} KATA_SOAK_EXECS=$${KATA_SOAK_EXECS:-200} \
	  $(CARGO) test -p kata-e2e-tests --test churn -- --test-threads=1 --nocapture

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## bench: ours and runc side by side through the same containerd
bench: build image install
	bench/run.sh

## fuzz: a bounded run of every fuzz target, FUZZ_SECONDS (default 60) each (needs nightly)
fuzz:
	fuzz/run.sh

## fuzz-ci: the short form `make test` ends with (skipped with a warning where nightly is missing)
FUZZ_CI_SECONDS ?= 20
fuzz-ci:
	FUZZ_CI=1 FUZZ_PROFILE=dev FUZZ_SECONDS=$(FUZZ_CI_SECONDS) fuzz/run.sh

clean:
	$(CARGO) clean
	rm -rf build
