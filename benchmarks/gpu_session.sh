#!/usr/bin/env bash
# One lease on a lent GPU machine, in one call: install, GPU tests, benchmark, then demo-voice training.
#
# Once, on the development machine (.gpu is ignored by git: echo /.gpu/ >> .git/info/exclude):
#   python tools/pack_corpus.py ../shared/data/joe-lj .gpu/joe-lj --start S --fit-mib 64
#   (S: where the last window of training clips ended; the model card's runs table says which window each
#    lease trained on, and the tool prints where the next starts. A call carries at most 64 MiB: the
#    repository's files, 39 MB with the voice (43 with a file in checkpoints/), plus .gpu; --fit-mib takes
#    the clips that fit.
#    Build .gpu/whl below first, so that it is counted.)
#   for p in soundfile==0.14.0 cffi pycparser unidecode inflect more-itertools typeguard jaraco.functools; do
#     python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any -d .gpu/whl "$p"; done
# then on the GPU machine, carrying .gpu:
#   BUDGET=520 bash benchmarks/gpu_session.sh 2>&1 | tee $OUT/session.log
# and back here: cat the exported waveglow.safetensors.part* (in order) into tts_pipeline/voices/joe-lj-demo/,
# likewise tacotron2, then python tools/update_voice.py tts_pipeline/voices/joe-lj-demo and update the card.
#
# The machine has python3 with torch but not this project's small dependencies: .gpu/whl holds their
# wheels. Every stage has its own time limit, so one that hangs cannot eat the training time, and
# everything worth keeping lands in $OUT (each file under 16 MB). BUDGET is the seconds this script may
# use in all (default 520). BENCH=1 also runs the GPU benchmark (about 200 s; measured on 2026-11-26).
# WAVEGLOW_SHARE is WaveGlow's fraction of the training time (default 1: WaveGlow cannot train on a CPU
# and is what keeps the voice unintelligible; Tacotron2 continues on the development CPU, see the card).
# WAVEGLOW_LR, when set, overrides the WaveGlow config's learning rate (an experiment; see the card).
# WAVEGLOW_PRECISION (fp32, fp16 or bf16; default fp16) and WAVEGLOW_COMPILE (1: torch.compile the training
# step, the default; 0: eager): measured on an H200 on 2026-11-27 (BENCHMARKS.md, fourteenth session), batch
# 64 runs 5.78 steps/s in fp32, 6.79 in fp16 and 10-13 in fp16 compiled, after about 70 s of compiling.
# WAVEGLOW_WARMUP (steps of linear learning-rate warm-up after Adam's restart) is still untried on a GPU.
set -u
OUT=${OUT:-/tmp/gpu-session}
BUDGET=${BUDGET:-520}
BENCH=${BENCH:-0}
WAVEGLOW_SHARE=${WAVEGLOW_SHARE:-1}
WAVEGLOW_LR=${WAVEGLOW_LR:-}
WAVEGLOW_PRECISION=${WAVEGLOW_PRECISION:-fp16}
WAVEGLOW_COMPILE=${WAVEGLOW_COMPILE:-1}
WAVEGLOW_WARMUP=${WAVEGLOW_WARMUP:-}
START=$(date +%s)
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
mkdir -p "$OUT"
left() { echo $((BUDGET - ($(date +%s) - START))); }
stage() { echo; echo "=== $1 ($(left) s left)"; }

stage install
if [ -z "${SKIP_INSTALL:-}" ]; then  # SKIP_INSTALL=1: a dry run in an environment that has everything
python3 -m pip install -q --upgrade --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl || exit 1
python3 -m pip install -q --upgrade --no-index --no-deps --no-build-isolation --target /tmp/site \
    . ./plugins/waveglow ./plugins/tacotron2 || exit 1
export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,temperature.gpu --format=csv
python3 -c "import torch, tts_pipeline_waveglow, tts_pipeline_tacotron2; print(torch.__version__, torch.version.cuda)"

stage "GPU tests"
timeout 180 python3 -m pytest -p no:cacheprovider -m gpu --continue-on-collection-errors tests plugins 2>&1 | tail -15

if [ "$BENCH" = 1 ]; then
    stage benchmark
    timeout 200 python3 benchmarks/bench.py --devices cuda --long-minutes 0 --repeats 3 \
        --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log"
fi

train() {  # train MODEL CONFIG PACKED_LIST PACKED_VAL MINUTES [EXTRA ARGS...]
    # a fresh run folder per call: a warm machine keeps runs/ from the call before, and the export takes
    # the highest step in the folder, which would be that call's (a lease's steps count from 0 again)
    local model=$1 config=$2 minutes=$5 init=() run="runs/$1-demo-$START-$(date +%s)"
    local extra=("${@:6}")
    local weights="tts_pipeline/voices/joe-lj-demo/$model.safetensors"
    [ -f "$weights" ] && python3 tools/warm_start_check.py "$model" "$config" "$weights" && init=(--init-from "$weights")
    stage "train $model for $minutes min"
    timeout $(( ${minutes%.*} * 60 + 150 )) python3 -m tts_pipeline train "$model" --config "$config" \
        --filelist "$3" --val-filelist "$4" --output-dir "$run" --max-minutes "$minutes" \
        --checkpoint-every 100000 --val-every 400 --num-workers 12 "${init[@]}" "${extra[@]}" 2>&1 \
        | tr '\r' '\n' | grep -v "^ *$" | awk 'NR % 20 == 1 || /validation|Error|error|trained/' | tail -40
    cp "$run/log.jsonl" "$OUT/$model-log.jsonl" 2>/dev/null
    python3 tools/export_voice.py "$run" "$OUT/$model" --split-mb 15 || echo "export $model failed"
}

# what is left, minus start-up and export margins (a call spends about 20 s beyond its --max-minutes),
# split between the two models by WAVEGLOW_SHARE
REST=$(( $(left) - 50 ))
if [ "$REST" -gt 120 ]; then
    train waveglow configs/waveglow-demo-joe-lj.toml .gpu/joe-lj/train.txt .gpu/joe-lj/val.txt \
        "$(python3 -c "print(round($REST * $WAVEGLOW_SHARE / 60 - 0.4, 1))")" \
        ${WAVEGLOW_LR:+--learning-rate "$WAVEGLOW_LR"} ${WAVEGLOW_PRECISION:+--precision "$WAVEGLOW_PRECISION"} \
        ${WAVEGLOW_WARMUP:+--warmup-steps "$WAVEGLOW_WARMUP"} $([ "$WAVEGLOW_COMPILE" = 1 ] && echo --compile)
    REST=$(( $(left) - 45 ))
    [ "$REST" -gt 60 ] && train tacotron2 configs/tacotron2-demo-joe-lj.toml .gpu/joe-lj/train.txt \
        .gpu/joe-lj/val.txt "$(python3 -c "print(round($REST / 60 - 0.5, 1))")"
fi
stage done
ls -la "$OUT"
