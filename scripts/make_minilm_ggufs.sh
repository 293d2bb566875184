#!/usr/bin/env bash
# Quantize all-MiniLM-L6-v2 into real GGUF files with llama.cpp's own tools.
#
# usage: scripts/make_minilm_ggufs.sh OUTDIR [HF_DIR]
#
#   OUTDIR  where the GGUF files go (e.g. target/corpus_full/minilm-gguf, where
#           examples/shared-corpus.toml looks for them)
#   HF_DIR  the original fp32 Hugging Face folder of all-MiniLM-L6-v2 (config.json,
#           model.safetensors, tokenizer files); default target/corpus_full/minilm, as
#           `bash ../shared/corpus/fetch.sh target/corpus_full` writes it
#
# Steps (offline except for PyPI):
#  1. llama.cpp's source: the PyPI sdist of llama-cpp-python $LLP_VERSION, which vendors
#     llama.cpp under vendor/llama.cpp (`pip download --no-binary llama-cpp-python`, or
#     the tarball $LLP_SDIST); its sha256 must be the pinned $LLP_SHA256.
#  2. builds only the `llama-quantize` tool with cmake (CPU only, GGML_NATIVE=OFF, static,
#     no tests/examples/server/OpenSSL); `pip install cmake` first if cmake is missing.
#  3. converts HF_DIR to an F32 GGUF with the vendored convert_hf_to_gguf.py and gguf-py
#     (needs python3 with numpy, torch, transformers; the vendored gguf-py is used, not an
#     installed gguf package).
#  4. `llama-quantize` of that F32 GGUF into each type of $TYPES: OUTDIR/<TYPE>.gguf.
#  5. cross-check against the shared corpus ($SHARED, default ../shared/corpus/minilm next
#     to the repository), for each type both hold: whole file byte-identical, or else
#     whether the tensors (name, type, shape, bytes) and metadata values are the same.
#     Q4_K_M comes out byte-identical. The shared Q8_0.gguf is the converter's own Q8_0
#     (`convert_hf_to_gguf.py --outtype q8_0` gives it byte for byte): llama-quantize's
#     Q8_0 has the same tensors and metadata in another order (it sorts tensors by name).
#
# The build tree and the F32 GGUF stay in $WORK (default target/llama.cpp next to this
# script's repository); steps whose output is already there are skipped. llama-quantize
# runs ggml's scalar reference quantizers (ggml-base, built without CPU-specific flags;
# GGML_NATIVE=OFF gives only the CPU backend, unused here, its AVX2 baseline), and it
# reproduces the shared corpus' Q4_K_M.gguf byte for byte (step 5).
# Environment: NICE (default 10) and JOBS (default 2) for the build; TYPES overrides the
# list (examples/shared-corpus.toml takes all but Q4_K_M and Q8_0, which are here for the
# cross-check). MiniLM's matrices have rows of 384, not a multiple of 256, except ffn_down
# (1536), so K-quant types fall back to 32-block types for most tensors
# (llama-quantize's own choice; its log is OUTDIR/<TYPE>.log).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: make_minilm_ggufs.sh OUTDIR [HF_DIR]}
HF=${2:-$root/target/corpus_full/minilm}
WORK=${WORK:-$root/target/llama.cpp}
LLP_VERSION=${LLP_VERSION:-0.3.36}
LLP_SHA256=${LLP_SHA256:-832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e}
TYPES=${TYPES:-"Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_M Q5_K_M Q4_K_M Q8_0"}
SHARED=${SHARED:-$root/../shared/corpus/minilm}
NICE=${NICE:-10}
JOBS=${JOBS:-2}

[ -f "$HF/config.json" ] && [ -f "$HF/model.safetensors" ] ||
  { echo "no HF folder with config.json and model.safetensors at $HF" >&2; exit 1; }
mkdir -p "$OUT" "$WORK"
OUT=$(cd "$OUT" && pwd); HF=$(cd "$HF" && pwd)
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*"; }

# 1. llama.cpp source from the llama-cpp-python sdist
src="$WORK/llama_cpp_python-$LLP_VERSION/vendor/llama.cpp"
if [ ! -f "$src/CMakeLists.txt" ]; then
  sdist=${LLP_SDIST:-$WORK/llama_cpp_python-$LLP_VERSION.tar.gz}
  if [ ! -f "$sdist" ]; then
    python3 -m pip download -q --no-deps --no-binary llama-cpp-python -d "$WORK" \
      "llama-cpp-python==$LLP_VERSION"
    sdist=$WORK/llama_cpp_python-$LLP_VERSION.tar.gz
  fi
  echo "$LLP_SHA256  $sdist" | sha256sum -c --quiet -
  tar -xzf "$sdist" -C "$WORK"
  stamp "unpacked $(basename "$sdist")"
fi

# 2. build llama-quantize only
quant="$WORK/build/bin/llama-quantize"
if [ ! -x "$quant" ]; then
  command -v cmake >/dev/null || python3 -m pip install -q cmake
  nice -n "$NICE" cmake -S "$src" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF -DGGML_OPENMP=OFF -DGGML_BACKEND_DL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_COMMON=ON \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_IS_DEV=OFF >"$WORK/cmake-configure.log"
  nice -n "$NICE" cmake --build "$WORK/build" --target llama-quantize -j "$JOBS" \
    >"$WORK/cmake-build.log"
  stamp "built $quant"
fi

# 3. HF fp32 -> F32 GGUF
f32="$WORK/all-MiniLM-L6-v2.F32.gguf"
if [ ! -f "$f32" ]; then
  PYTHONPATH="$src/gguf-py" nice -n "$NICE" python3 "$src/convert_hf_to_gguf.py" "$HF" \
    --outtype f32 --outfile "$f32.tmp" >"$WORK/convert.log" 2>&1 ||
    { tail -20 "$WORK/convert.log" >&2; exit 1; }
  mv "$f32.tmp" "$f32"
  stamp "converted $HF -> $f32"
fi

# 4. quantize
for t in $TYPES; do
  nice -n "$NICE" "$quant" "$f32" "$OUT/$t.gguf.tmp" "$t" "$JOBS" >"$OUT/$t.log" 2>&1 ||
    { tail -20 "$OUT/$t.log" >&2; exit 1; }
  mv "$OUT/$t.gguf.tmp" "$OUT/$t.gguf"
  stamp "$OUT/$t.gguf ($(stat -c %s "$OUT/$t.gguf") bytes)"
done

# 5. cross-check with the shared corpus' files of the same types
for t in $TYPES; do
  [ -f "$SHARED/$t.gguf" ] || continue
  if cmp -s "$OUT/$t.gguf" "$SHARED/$t.gguf"; then
    echo "$t: byte-identical to $SHARED/$t.gguf"
    continue
  fi
  PYTHONPATH="$src/gguf-py" python3 - "$OUT/$t.gguf" "$SHARED/$t.gguf" <<'EOF'
import sys
import gguf
def load(p):
    r = gguf.GGUFReader(p)
    kv = {k: repr(f.contents()) for k, f in r.fields.items()}
    ts = {t.name: (t.tensor_type.name, tuple(t.shape), t.data.tobytes()) for t in r.tensors}
    return kv, ts
(ka, ta), (kb, tb) = load(sys.argv[1]), load(sys.argv[2])
order = lambda a, b: "same" if list(a) == list(b) else "differs"
print(f"{sys.argv[1].split('/')[-1]}: not byte-identical to {sys.argv[2]}; tensors "
      f"{'the same' if ta == tb else 'DIFFER'} (order {order(ta, tb)}), metadata "
      f"{'the same' if ka == kb else 'differs'} (order {order(ka, kb)})")
EOF
done
stamp "done"
