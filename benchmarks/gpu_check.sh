#!/usr/bin/env bash
# One GPU check (docs/distributed.md, "The GPU check"): on a machine with a CUDA device, in under 8 minutes,
#   1. the tests marked `cuda` (tests/test_cuda.py: every backend on CUDA tensors equal to the CPU),
#   2. the benchmarks that take --device, with --device cuda,
#   3. a 1-rank nccl smoke run under torchrun (NCCL refuses two ranks on one GPU): DDP, SymmetryLoss,
#      ECD's collectives and validate inside the group equal the same steps without DDP (gloo in the dry run),
#   4. the paper-config transformer (p 113, frac 0.3) with and without commutes,shift, seed after seed
#      while the time budget allows (each seed: one JSON; the summary says how many ran),
# every log, JSON and a summary.md under one folder.
#
#   benchmarks/gpu_check.sh [--out DIR] [--seeds N] [--budget SECONDS]
#   benchmarks/gpu_check.sh --cpu-dry-run     # the same steps on the CPU, tiny sizes: checks the script here
#
# Exit status: 0 when every step passed, 1 otherwise (the summary lists each step's status and time).
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CALLER="$PWD"
cd "$ROOT" || exit 2
PYTHON="${PYTHON:-python}"
DRY=0
SEEDS=3
BUDGET=470  # seconds for the whole check (goal: under 8 minutes)
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-dry-run) DRY=1 ;;
    --out|--seeds|--budget)
      [ $# -ge 2 ] || { echo "gpu_check.sh: $1 needs a value (see --help)" >&2; exit 2; }
      case "$1" in --out) OUT="$2" ;; --seeds) SEEDS="$2" ;; --budget) BUDGET="$2" ;; esac
      shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$SEEDS$BUDGET" in *[!0-9]*) echo "gpu_check.sh: --seeds and --budget take whole numbers" >&2; exit 2 ;; esac
case "$OUT" in ""|/*) ;; *) OUT="$CALLER/$OUT" ;; esac  # relative to where the script was called from
STAMP="$(date -u +%Y%m%d-%H%M%S)"
if [ -z "$OUT" ]; then
  if [ "$DRY" = 1 ]; then OUT="${TMPDIR:-/tmp}/symspec-gpu-check-dry-$STAMP"; else OUT="benchmarks/results/gpu-check-$STAMP"; fi
fi
if [ "$DRY" = 0 ] && ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check.sh: no CUDA device here (torch.cuda.is_available() is False); use --cpu-dry-run to check the script" >&2
  exit 2
fi
mkdir -p "$OUT" || exit 2
START=$(date +%s)
FAILED=0
LAST=""

if [ "$DRY" = 1 ]; then
  DEVICE=cpu
  export SYMSPEC_CUDA_TEST_DEVICE=cpu  # tests/test_cuda.py compares with a second CPU copy: checks the tests only
  BENCH_REPEAT=(--repeat 3)
  VALIDATE_ARGS=(--p 11 --loop-cases 20)
  TRAIN_ARGS=(--p 23 --frac 0.3 --max-steps 60 --eval-every 30)
  SEEDS=1
  BACKEND=gloo
else
  DEVICE=cuda
  BACKEND=nccl
  BENCH_REPEAT=()
  VALIDATE_ARGS=()
  TRAIN_ARGS=(--p 113 --frac 0.3)
fi

{
  echo "# GPU check, $STAMP"
  echo
  echo "mode: $([ "$DRY" = 1 ] && echo 'CPU dry run (not GPU figures)' || echo GPU)"
  "$PYTHON" -c "import torch; print('torch', torch.__version__, '| device:', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
  git rev-parse --short HEAD 2>/dev/null | sed 's/^/commit /'
  echo
  echo "| step | status | seconds |"
  echo "|---|---|---|"
} > "$OUT/summary.md"

left() { echo $((BUDGET - ($(date +%s) - START))); }

# step NAME TIMEOUT CMD...: run CMD with a time limit (at most what is left of the budget), its output in
# $OUT/NAME.log, a row in the summary. With the budget spent the step is skipped and counts as failed.
step() {
  local name="$1" limit="$2"; shift 2
  local t0 status rc remaining
  remaining=$(left)
  if [ "$remaining" -lt 5 ]; then
    echo "== $name: skipped, the ${BUDGET}s budget is spent"
    echo "| $name | skipped (the ${BUDGET}s budget is spent) | 0 |" >> "$OUT/summary.md"
    FAILED=1
    LAST=skipped
    return
  fi
  [ "$limit" -gt "$remaining" ] && limit=$remaining
  t0=$(date +%s)
  echo "== $name (limit ${limit}s): $*"
  LAST=ran
  timeout -k 10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  if [ $rc = 0 ]; then status=ok; elif [ $rc = 124 ] || [ $rc = 137 ]; then status="timeout (${limit}s)"; else status="FAILED (exit $rc)"; fi
  [ $rc = 0 ] || FAILED=1
  echo "| $name | $status | $(( $(date +%s) - t0 )) |" >> "$OUT/summary.md"
  tail -n 3 "$OUT/$name.log"
}

step tests-cuda 150 "$PYTHON" -m pytest -q -m cuda tests/test_cuda.py
step bench-loss 60 "$PYTHON" benchmarks/bench_loss.py --device "$DEVICE" "${BENCH_REPEAT[@]}"
step bench-augment 60 "$PYTHON" benchmarks/bench_augment.py --device "$DEVICE" "${BENCH_REPEAT[@]}"
step bench-conv 60 "$PYTHON" benchmarks/bench_conv.py --device "$DEVICE" "${BENCH_REPEAT[@]}" --json "$OUT/bench_conv.json"
# The nccl path with the one GPU: torchrun, 1 rank. The script compares DDP + the fused loss + ECD (whose
# noise check and all_reduce are collectives) + validate inside the group with the same steps alone.
cat > "$OUT/nccl_smoke.py" <<'EOF'
import os, sys, time

import torch
import torch.distributed as dist

sys.path.insert(0, "examples")
import symspec
from symspec.distributed import generator, rank_and_world
from symspec.optim import ECD
from trainlib import PairMLP

backend, kind = sys.argv[1], sys.argv[2]
t0 = time.time()
local_rank = int(os.environ["LOCAL_RANK"])
device = torch.device(kind, local_rank) if kind == "cuda" else torch.device(kind)
if kind == "cuda":
    torch.cuda.set_device(device)
p = 23
mod = symspec.compile(symspec.load("examples/modular_addition.sym", params={"p": p}))
a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
batch = {"a": a.reshape(-1).to(device), "b": b.reshape(-1).to(device)}
batch["target"] = (batch["a"] + batch["b"]) % p


def run(ddp: bool):
    torch.manual_seed(0)
    inner = PairMLP(p, p, d_embed=16, hidden=32).to(device)
    model = torch.nn.parallel.DistributedDataParallel(inner, device_ids=[local_rank] if kind == "cuda" else None) if ddp else inner
    loss_fn = mod.SymmetryLoss(add=model, generator=generator(1, device), fused=True)
    opt = ECD(inner.parameters(), lr=0.5, eta=10.0, F0=0.0, nu=0.1, generator=generator(2, device, shared=True), distributed=ddp)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(batch["a"], batch["b"]), batch["target"]) + loss_fn(batch)
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(5)]
    return inner, losses


def laws(model):
    report = symspec.validate(mod, add=model, device=device, batch_size=200)
    return [(law.name, law.cases, law.violations) for law in report.laws]


alone, _ = run(False)
dist.init_process_group(backend)
assert rank_and_world() == (0, 1) and dist.get_backend() == backend
grouped, losses = run(True)
in_group = laws(grouped)
gathered = [None]
dist.all_gather_object(gathered, in_group)  # sharded validation's merge: pickled through tensors on this GPU
dist.destroy_process_group()
worst = max(float((x - y).detach().abs().max()) for x, y in zip(alone.parameters(), grouped.parameters()))
assert worst < 1e-4, f"DDP + ECD moved differently from one process: max |diff| {worst}"
assert in_group == laws(grouped) == gathered[0], (in_group, gathered[0])
print(f"{backend} smoke on {device}: losses {losses[0]:.4f} -> {losses[-1]:.4f}, max |param diff| {worst:.2e},",
      f"laws {in_group}, {time.time() - t0:.1f} s")
EOF
step nccl-smoke 90 "$PYTHON" -m torch.distributed.run --standalone --nproc_per_node 1 "$OUT/nccl_smoke.py" "$BACKEND" "$DEVICE"
step bench-validate 90 "$PYTHON" benchmarks/bench_validate.py --device "$DEVICE" "${VALIDATE_ARGS[@]}" --json "$OUT/bench_validate.json"

ran=0
for seed in $(seq 0 $((SEEDS - 1))); do
  remaining=$(left)
  if [ "$seed" -gt 0 ] && [ "$remaining" -lt 120 ]; then
    echo "== train: ${remaining}s left of the ${BUDGET}s budget: no seed $seed" | tee -a "$OUT/summary.md"
    break
  fi
  step "train-seed$seed" "$remaining" "$PYTHON" examples/train_modular_addition.py --arch transformer "${TRAIN_ARGS[@]}" \
    --device "$DEVICE" --seed "$seed" --laws none --laws commutes,shift --no-progress --json "$OUT/train-seed$seed.json"
  [ "$LAST" = skipped ] || ran=$((ran + 1))
done

{
  echo
  echo "transformer seeds run: $ran of $SEEDS; total $(( $(date +%s) - START )) s"
  echo
  "$PYTHON" - "$OUT" <<'EOF'
import glob, json, os, sys

rows = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "train-seed*.json"))):
    data = json.load(open(path))
    for run in data.get("runs", [data]):
        cfg, steps = run["config"], run["steps_to_acc"]
        laws = ",".join(cfg.get("laws") or []) or "none"
        rows.append(f"| {os.path.basename(path)[6:-5]} | {laws} | {steps.get('0.99')} | {steps.get('1.0')} | {run['final_test_acc']:.4f} |")
if rows:
    print("| seed | laws | steps to 0.99 | steps to 1.0 | final test acc |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
EOF
} >> "$OUT/summary.md"

echo
cat "$OUT/summary.md"
exit $FAILED
