#!/usr/bin/env bash
# Bounded run of every fuzz target, one after the other, one libFuzzer job each.
#
#   fuzz/run.sh                      # every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=600 fuzz/run.sh qmp_reply
#
# New corpus entries go to fuzz/corpus/<target>/ (git-ignored); the committed seeds in
# fuzz/seeds/<target>/ are read as well. A crash leaves its input in
# fuzz/artifacts/<target>/ and makes this script exit non-zero (after the other targets ran).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail

cd "$(dirname "$0")"
export PATH="$HOME/.cargo/bin:$PATH"

seconds="${FUZZ_SECONDS:-60}"
all_targets=(config_and_annotations qmp_reply oci_spec_classify agent_request)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "run.sh: needs 'cargo +nightly fuzz' (rustup toolchain install nightly; cargo install cargo-fuzz)" >&2
    exit 2
fi

failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t"
    args=(-max_total_time="$seconds" -jobs=1 -workers=1 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    if [ -f "dicts/$t.dict" ]; then args+=(-dict="dicts/$t.dict"); fi
    echo "== $t: ${seconds}s"
    if ! cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- "${args[@]}"; then
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "run.sh: crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "run.sh: no crash in ${targets[*]}"
