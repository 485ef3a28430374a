"""The example trainers under ``torchrun``: 2 gloo processes on the CPU (docs/distributed.md, "Trainers under torchrun").

One ``torchrun --standalone --nproc_per_node 2`` run of train_modular_addition.py
(tiny p, few steps) against the same run in one process: rank 0 alone prints
and writes the JSON; without laws (no draws) the DDP run's losses and
accuracies are the single process's on the same global batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINER = os.path.join(ROOT, "examples", "train_modular_addition.py")
# p 13, frac 0.3: 51 training pairs, an odd count, so the two ranks' shards differ in size (25 and 26)
ARGS = ["--p", "13", "--frac", "0.3", "--max-steps", "30", "--eval-every", "10", "--no-progress"]
ARGS += ["--laws", "none", "--laws", "commutes,shift"]
# a launcher or gloo that cannot start on this machine (no loopback, ports refused) is a skip, not a failure
CANNOT_START = ("RendezvousConnectionError", "RendezvousTimeoutError", "Address already in use", "Connection refused")

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()), reason="no gloo backend"
)


def _run(cmd: list, timeout: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["CI"] = "1"
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_modular_addition_under_torchrun_matches_one_process(tmp_path):
    two = tmp_path / "two.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", TRAINER, *ARGS]
    done = _run([*cmd, "--json", str(two), "--save", str(tmp_path / "two.pt")], timeout=50)
    if done.returncode != 0 and any(s in done.stderr for s in CANNOT_START):
        pytest.skip(f"torchrun/gloo cannot start here: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("modular_addition: {") == 1  # the header, printed by rank 0 only
    assert done.stdout.count("none (baseline)") == 1 and done.stdout.count("commutes,shift") == 1
    assert sorted(os.listdir(tmp_path)) == ["two.json", "two.pt"]  # one JSON, one checkpoint, written once
    state = torch.load(tmp_path / "two.pt")
    assert not any(k.startswith("module.") for k in state)  # the inner model's state dict, not DDP's

    one = tmp_path / "one.json"
    done = _run([sys.executable, TRAINER, *ARGS, "--json", str(one)], timeout=50)
    assert done.returncode == 0, done.stderr[-3000:]
    runs2, runs1 = json.loads(two.read_text())["runs"], json.loads(one.read_text())["runs"]

    for r2 in runs2:
        c = r2["config"]
        assert c["world_size"] == 2 and c["local_train_sizes"] == [25, 26] and c["train_size"] == 51
        assert c["test_size"] == 169 - 51 and [h["step"] for h in r2["history"]] == [10, 20, 30]
        for h in r2["history"]:
            assert h["train_loss"] > 0 and 0 <= h["test_acc"] <= 1
    assert "world_size" not in runs1[0]["config"]  # one process: the JSON as before

    # no laws, no draws: DDP on the sharded global batch is the single process's training (float32 rounding aside)
    base2, base1 = runs2[0], runs1[0]
    assert base2["config"]["laws"] == base1["config"]["laws"] == []
    for h2, h1 in zip(base2["history"], base1["history"], strict=True):
        assert h2["train_loss"] == pytest.approx(h1["train_loss"], rel=1e-4)
        assert h2["test_acc"] == pytest.approx(h1["test_acc"], abs=1.5 / 118)
    assert base2["history"][-1]["train_loss"] < base2["history"][0]["train_loss"]  # it trains

    # with laws, each rank draws its own stream: the terms are the global batch's, not the single process's draws
    laws2 = runs2[1]["history"]
    assert all(set(h["laws"]) == {"commutes", "shift"} for h in laws2)
    assert all(v >= 0 and v == v for h in laws2 for v in h["laws"].values())
