# drover — top-level Makefile. `make` builds build/drover, the test backend and
# the open-loop load generator of the macro benchmark (build/drover-openloop) and
# the kernel-floor relay it measures against (build/drover-relay);
# `make check` runs unit and integration tests and ends with "N passed, N failed".
# Runs ./configure itself when build/config.mk is missing.
# Out-of-tree builds: `./configure --builddir=DIR ...` then `make B=DIR ...`
# (e.g. the sanitizer build of .ci/run in build-asan).

B := build
-include $(B)/config.mk

ifeq ($(wildcard $(B)/config.mk),)
$(B)/config.mk:
	./configure --builddir=$(B)
endif

VERSION := 0.1.0
SRCS := $(shell find src -name '*.cc' ! -name main.cc | sort)
OBJS := $(SRCS:%.cc=$(B)/obj/%.o)
UNIT_SRCS := $(shell find t/unit -name '*.cc' 2>/dev/null | sort)
UNIT_OBJS := $(UNIT_SRCS:%.cc=$(B)/obj/%.o)
# bench/openloop.cc and bench/relay.cc are programs of their own (drover-openloop,
# drover-relay), not micro-benchmarks.
BENCH_SRCS := $(shell find bench -name '*.cc' ! -name openloop.cc ! -name relay.cc 2>/dev/null | sort)
BENCH_OBJS := $(BENCH_SRCS:%.cc=$(B)/obj/%.o)
BACKEND_SRCS := t/backend/backend.cc
BACKEND_OBJS := $(BACKEND_SRCS:%.cc=$(B)/obj/%.o)
OPENLOOP_OBJS := $(B)/obj/bench/openloop.o
RELAY_OBJS := $(B)/obj/bench/relay.o

WARN := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
CXXFLAGS_ALL := -std=c++20 $(OPTFLAGS) $(SANFLAGS) $(WARN) -Isrc $(DEP_CFLAGS) \
  -DDROVER_VERSION='"$(VERSION)"' -DDROVER_PREFIX='"$(PREFIX)"' \
  -DDROVER_CONF_PATH='"$(SYSCONFDIR)/drover.conf"' \
  -DDROVER_BUILD_OPTIONS='"$(CONFIGURE_ARGS)"' $(CXXFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)
LIBS_ALL := $(DEP_LIBS) -lpthread

.PHONY: all check unit integration bench compare instructions demo install clean format check-deps deps fuzz

all: $(B)/drover $(B)/drover-backend $(B)/drover-openloop $(B)/drover-relay

$(B)/obj/%.o: %.cc $(B)/config.mk
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -MMD -MP -c $< -o $@

$(B)/obj/t/unit/%.o: t/unit/%.cc $(B)/config.mk
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) $(GTEST_CFLAGS) -Wno-sign-compare -MMD -MP -c $< -o $@

$(B)/libdrover.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/drover: $(B)/obj/src/main.o $(B)/libdrover.a
	$(CXX) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)

$(B)/drover-backend: $(BACKEND_OBJS)
	$(CXX) $(LDFLAGS_ALL) -o $@ $^ $(DEP_LIBS)

# Standalone (libc only): the open-loop load generator of bench/compare.py and the
# relay it runs as the kernel's floor.
$(B)/drover-openloop: $(OPENLOOP_OBJS)
	$(CXX) $(LDFLAGS_ALL) -o $@ $^

$(B)/drover-relay: $(RELAY_OBJS)
	$(CXX) $(LDFLAGS_ALL) -o $@ $^

$(B)/drover-unit: $(UNIT_OBJS) $(B)/libdrover.a
	$(CXX) $(LDFLAGS_ALL) -o $@ $^ $(GTEST_LIBS) $(LIBS_ALL)

$(B)/drover-bench: $(BENCH_OBJS) $(B)/libdrover.a
	$(CXX) $(LDFLAGS_ALL) -o $@ $^ $(BENCH_LIBS) $(LIBS_ALL)

deps:
	@tools/install-deps.sh

# Unit tests (GoogleTest) and integration tests (pytest against the real binary).
check: deps
	@$(MAKE) --no-print-directory all $(B)/drover-unit
	@DROVER_BUILD=$(abspath $(B)) /usr/bin/python3 t/run_tests.py

unit: $(B)/drover-unit
	$(B)/drover-unit

integration: all
	cd t/integration && DROVER_BUILD=$(abspath $(B)) /usr/bin/python3 -m pytest -q

# Micro-benchmarks; bench/main.cc defaults to --benchmark_min_time=0.1.
# Extra arguments: make bench BENCH_ARGS='--benchmark_filter=Parse --benchmark_min_time=1'
# The build runs with one job per cpu so that a fresh clone gets through in < 2 minutes.
bench: deps
	@$(MAKE) --no-print-directory -j$$(nproc) $(B)/drover-bench
	$(B)/drover-bench $(BENCH_ARGS)

# Macro benchmark against nginx and HAProxy (bench/README.md): 10 s per run, or
# 3 s with `make compare QUICK=1`; after the wrk runs of each scenario, one open-loop
# run per proxy at the same offered rate (build/drover-openloop; --no-latency skips
# them); more options: make compare COMPARE_ARGS='--help'
compare: all
	@tools/install-deps.sh --bench
	/usr/bin/python3 bench/compare.py $(if $(QUICK),--quick) $(COMPARE_ARGS)

# Instructions per request under callgrind, drover vs nginx vs HAProxy (stable on a
# noisy machine): make instructions INSTR_ARGS='--scenarios small-ka --top 10'
instructions: all
	@tools/install-deps.sh --bench
	/usr/bin/python3 bench/instructions.py $(INSTR_ARGS)

demo: deps
	@$(MAKE) --no-print-directory all
	@sh etc/demo.sh

# ---- soak (issue 4, part 6): wrk through drover while members and workers are
# SIGKILLed and the master reloaded; see t/soak.py. Builds nothing: run `make all`
# first. Shorter run: make soak SOAK_ARGS="--duration 60"
.PHONY: soak
soak:
	/usr/bin/python3 t/soak.py $(SOAK_ARGS)
# ---- end soak

# ---- hup-load (issue 6): wrk -t2 -c32 -d20s through drover (2 workers, 2 members)
# while the master gets SIGHUP 10 times, 1.5 s apart; wrk must report no socket
# error and no non-2xx response. See t/hup_load.py. Not part of `make check`
# (timing-sensitive, 25 s). Builds nothing: run `make all` first.
.PHONY: hup-load
hup-load:
	/usr/bin/python3 t/hup_load.py $(HUP_LOAD_ARGS)

check-deps:
	@sh tools/check-deps.sh

SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

# DESTDIR is honoured; an existing drover.conf is never overwritten.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(PREFIX)/logs $(DESTDIR)$(PREFIX)/lib/systemd/system \
	  $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	install -m 755 $(B)/drover $(DESTDIR)$(SBINDIR)/drover
	test -e $(DESTDIR)$(SYSCONFDIR)/drover.conf || install -m 644 etc/drover.conf $(DESTDIR)$(SYSCONFDIR)/drover.conf
	install -m 644 man/drover.8 $(DESTDIR)$(MANDIR)/man8/drover.8
	install -m 644 man/drover.conf.5 $(DESTDIR)$(MANDIR)/man5/drover.conf.5
	$(SUBST) etc/drover.service.in > $(DESTDIR)$(PREFIX)/lib/systemd/system/drover.service
	$(SUBST) etc/drover.logrotate.in > $(DESTDIR)$(SYSCONFDIR)/logrotate.d/drover

format:
	clang-format -i $$(find src t/unit t/backend bench -name '*.cc' -o -name '*.h')

clean:
	rm -rf $(B)

-include $(OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(BENCH_OBJS:.o=.d) $(BACKEND_OBJS:.o=.d) \
  $(OPENLOOP_OBJS:.o=.d) $(B)/obj/src/main.d

# ---- fuzzing (issue 4) -------------------------------------------------------
# `make fuzz` builds the libFuzzer targets t/fuzz/fuzz_*.cc with clang under
# ASan+UBSan into $(B)/fuzz and runs each for FUZZ_SECONDS from its seed corpus
# t/fuzz/corpus/TARGET (t/fuzz/run.sh); any crash or property violation fails.
# `make -j2 fuzz` runs two at a time. Only the pure modules are compiled in (no
# libevent, no OpenSSL). clang: `tools/install-deps.sh --fuzz`.
FUZZ_CXX := clang++
FUZZ_SECONDS := 60
FUZZ_TARGETS := request_head response_head chunked sticky config rewrite ajp_response \
  ajp_request
FUZZ_FLAGS := -std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
  -fno-sanitize-recover=undefined -Isrc -It/fuzz
FUZZ_LIB_SRCS := src/core/strings.cc src/core/log.cc src/http/parser.cc src/http/rewrite.cc \
  src/config/reader.cc src/config/builder.cc src/config/regex.cc src/balancer/sticky.cc \
  src/ajp/decoder.cc src/ajp/response.cc src/ajp/encoder.cc
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.cc=$(B)/fuzz/obj/%.o)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
FUZZ_LIBS = $(shell pkg-config --libs inih libpcre2-8)

.PHONY: fuzz-build $(FUZZ_TARGETS:%=fuzz-run-%)

$(FUZZ_LIB_OBJS) $(FUZZ_TARGETS:%=$(B)/fuzz/obj/t/fuzz/fuzz_%.o): $(B)/fuzz/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(B)/fuzz/libdrover-fuzz.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BINS): $(B)/fuzz/fuzz_%: $(B)/fuzz/obj/t/fuzz/fuzz_%.o $(B)/fuzz/libdrover-fuzz.a
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_TARGETS:%=fuzz-run-%): fuzz-run-%: $(B)/fuzz/fuzz_%
	@t/fuzz/run.sh $(B) $* $(FUZZ_SECONDS)

fuzz: $(FUZZ_TARGETS:%=fuzz-run-%)

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_TARGETS:%=$(B)/fuzz/obj/t/fuzz/fuzz_%.d)
