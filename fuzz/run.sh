#!/usr/bin/env bash
# Bounded run of every fuzz target, one after the other, one libFuzzer job each.
#
#   fuzz/run.sh                          # every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=600 fuzz/run.sh qmp_reply
#   FUZZ_CI=1 FUZZ_PROFILE=dev FUZZ_SECONDS=20 fuzz/run.sh
#                                        # the CI form (make fuzz-ci): a dev build, and a skip with
#                                        # a warning where nightly or cargo-fuzz is missing
#
# New corpus entries go to fuzz/corpus/<target>/ (git-ignored); the committed seeds in
# fuzz/seeds/<target>/ are read as well, and so are the crash inputs already fixed, in
# fuzz/regressions/<target>/. A crash leaves its input in fuzz/artifacts/<target>/ and makes this
# script exit 1 (after the other targets ran).
# Needs the nightly toolchain and cargo-fuzz (scripts/install-deps.sh installs cargo-fuzz).
# Every libFuzzer process runs under `nice -n 19` (FUZZ_NICE) so that it yields to builds.
set -euo pipefail

cd "$(dirname "$0")"
export PATH="$HOME/.cargo/bin:$PATH"

seconds="${FUZZ_SECONDS:-60}"
ci="${FUZZ_CI:-0}"
nice_level="${FUZZ_NICE:-19}"
# release (optimized, the default) or dev: dev builds in about half the CPU time and runs slower,
# which suits the short CI form.
profile="${FUZZ_PROFILE:-release}"
sanitizer="${FUZZ_SANITIZER:-address}"
build_flags=(--sanitizer "$sanitizer")
if [ "$profile" = dev ]; then build_flags+=(--dev); fi
all_targets=(config_and_annotations qmp_reply oci_spec_classify agent_request guest_spec state_file)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

missing=""
if ! command -v rustup >/dev/null || ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    missing="the nightly toolchain (rustup toolchain install nightly)"
elif ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    missing="cargo-fuzz (cargo install --locked cargo-fuzz, or scripts/install-deps.sh)"
fi
if [ -n "$missing" ]; then
    if [ "$ci" = 1 ]; then
        echo "run.sh: WARNING: fuzzing skipped: $missing is not installed" >&2
        echo "run.sh: the committed seeds and regressions still replay on stable (cargo test -p kata-fuzz-harness)" >&2
        exit 0
    fi
    echo "run.sh: needs $missing" >&2
    exit 2
fi

# One build of every target first, so that the time budget below is spent fuzzing.
echo "== building the fuzz targets (cargo +nightly fuzz build ${build_flags[*]})"
start=$(date +%s)
if [ "$#" -gt 0 ]; then build=("${targets[@]}"); else build=(""); fi
for t in "${build[@]}"; do
    # shellcheck disable=SC2086 # an empty $t builds every target
    nice -n "$nice_level" cargo +nightly fuzz build "${build_flags[@]}" $t >fuzz-build.log 2>&1 || {
        tail -n 30 fuzz-build.log >&2
        echo "run.sh: building the fuzz targets failed (log: fuzz/fuzz-build.log)" >&2
        exit 2
    }
done
echo "== built in $(($(date +%s) - start))s"

failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t"
    inputs=("corpus/$t" "seeds/$t")
    if [ -d "regressions/$t" ]; then inputs+=("regressions/$t"); fi
    args=(-max_total_time="$seconds" -jobs=1 -workers=1 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    if [ -f "dicts/$t.dict" ]; then args+=(-dict="dicts/$t.dict"); fi
    echo "== $t: ${seconds}s"
    if ! nice -n "$nice_level" cargo +nightly fuzz run "${build_flags[@]}" "$t" "${inputs[@]}" -- "${args[@]}"; then
        failed+=("$t")
    fi
    # libFuzzer's -jobs mode writes the job's output (shown when it ends) to fuzz-0.log.
    if [ -f fuzz-0.log ]; then mv fuzz-0.log "fuzz-$t.log"; fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "run.sh: crashes in: ${failed[*]} (inputs under fuzz/artifacts/; logs fuzz/fuzz-<target>.log)" >&2
    exit 1
fi
echo "run.sh: no crash in ${targets[*]}"
