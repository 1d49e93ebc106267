#!/usr/bin/env bash
# Writes build/code-order.txt: the functions of the release binary that a replica runs (startup,
# a zero-latency benchmark run, the paced run), hottest first. build.rs hands the list to the
# linker, which lays those functions out together at the front of the code, so a replica maps
# fewer code pages (docs/benchmarks.md, seventh round). Run it again after a compiler update,
# after adding or updating a dependency of any workspace crate (the symbol names carry a hash of
# their crate's build) and after large changes to the task path (functions the list does not
# name are laid out after it: a stale list costs memory, never correctness). Needs the services
# up (scripts/services.sh) and valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo bench --bench workers --no-run
bin=$(pwd)/target/release/overseer
cp "$bin" "$work/overseer"
cat > "$work/profile.sh" <<WRAP
#!/bin/sh
exec valgrind --tool=callgrind --demangle=no --callgrind-out-file=$work/callgrind.%p $work/overseer "\$@"
WRAP
chmod +x "$work/profile.sh"
OVERSEER_BIN="$work/profile.sh" BENCH_ONLY=zero BENCH_TASKS=2000 cargo bench --bench workers >"$work/bench.log" 2>&1 \
    || { tail -20 "$work/bench.log"; exit 1; }

# The binary's own functions (nm: defined code symbols), then every function callgrind saw run,
# by its own instruction count, kept if the binary defines it.
nm --defined-only "$work/overseer" | awk '$2 ~ /^[tTwW]$/ { print $3 }' | sort -u >"$work/defined"
for out in "$work"/callgrind.*; do
    callgrind_annotate --threshold=100 --inclusive=no "$out"
done | awk -v defined="$work/defined" '
    BEGIN { while ((getline name < defined) > 0) ours[name] = 1 }
    /%\)  / {
        line = $0
        sub(/^.*%\)  /, "", line)     # drop the count
        sub(/ \[[^]]*\]$/, "", line)  # drop the object
        n = split(line, parts, ":")   # file:function
        fn = parts[n]
        sub(/'"'"'[0-9]+$/, "", fn)   # a recursion cycle marker
        if ((fn in ours) && !(fn in seen)) { seen[fn] = 1; print fn }
    }' >build/code-order.txt
echo "build/code-order.txt: $(wc -l <build/code-order.txt) functions"
