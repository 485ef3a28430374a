"""p4 and p4m group convolutions: compiled ``[kernel 3]`` layers vs ``nn.Conv2d`` and escnn ``R2Conv``.

Batch 64, 8 regular fields (32 channels for p4, 64 for p4m), 32 x 32, 3x3,
zero padding 1. Timed in one run, interleaved (``_timing.interleaved_medians``):

- forward + backward (gradients of the weights and of the input) and eval
  forward (``torch.no_grad``, eval mode: symspec and escnn cache the expanded
  kernel there) of the symspec layer (``rt.GroupConv``: the tied kernel is
  expanded by one gather, then ``F.conv2d``);
- ``nn.Conv2d`` with the same expanded kernel shape (C -> C channels): the
  floor, goal <= 1.3x;
- escnn ``R2Conv`` on 8 regular fields of ``rot2dOnR2(4)`` / ``flipRot2dOnR2(4)``
  (goal: symspec faster). escnn's kernel basis is its own (band-limited
  steerable filters), so its parameter count differs; the table shows both.

Both equivariant layers run one ``F.conv2d`` of the expanded kernel, as
``nn.Conv2d`` does; what differs is the expansion (symspec: one gather;
escnn: a basis contraction), timed alone too (forward + backward).

Build time: constructing a D4 ``[kernel 3]`` layer on 64 x 64 (image to image,
and 8-dim fiber to 8-dim fiber), goal < 50 ms, against constructing today's
global orbit layer ``layer x: Image -> Image under D4`` (no kernel) on 64 x 64
(``--global-size`` 32 to spare the seconds and the memory), measured once.

    python benchmarks/bench_conv.py [--device cpu|cuda] [--repeat 15] [--threads N] [--global-size 64] [--json OUT]

escnn (optional; its row is skipped with a message when it is missing) needs
``py3nj``, which needs a Fortran compiler; 2D groups work without it::

    pip install --no-deps escnn lie-learn-escience
    pip install scipy joblib autograd pymanopt

(``pip install lie-learn`` instead of ``lie-learn-escience`` pins numpy < 2.)
If ``import escnn`` then fails with "numpy.core.multiarray failed to import",
lie_learn's Cython extensions were built against numpy 1; rebuild them in
place against the installed numpy (Python 2 syntax), then check that
``torch.__version__`` did not change::

    pip install cython
    cd "$(python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")"
    CFLAGS="-I$(python -c 'import numpy; print(numpy.get_include())')" cythonize -2 -f -i $(find lie_learn -name '*.pyx')
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved_medians  # noqa: E402

import symspec  # noqa: E402

SPEC = """
param size = 32
domain Image = tensor[size, size]
domain P4 = tensor[4, size, size]
domain P4M = tensor[8, size, size]
group C4 = <r | r^4>
group D4 = <r, s | r^4, s^2, (s r)^2>
action C4 on P4 {
  r -> compose(roll(dim=0), rot90(dims=(1, 2)))
}
action D4 on Image {
  r -> rot90(dims=(0, 1))
  s -> flip(dim=1)
}
action D4 on P4M {
  r -> compose(permute(perm=(3, 0, 1, 2, 7, 4, 5, 6), dim=0), rot90(dims=(1, 2)))
  s -> compose(permute(perm=(4, 7, 6, 5, 0, 3, 2, 1), dim=0), flip(dim=2))
}
layer p4: P4 -> P4 under C4 [kernel 3]
layer p4m: P4M -> P4M under D4 [kernel 3]
layer image: Image -> Image under D4 [kernel 3]
"""
GLOBAL_SPEC = """
param size = 32
domain Image = tensor[size, size]
group D4 = <r, s | r^4, s^2, (s r)^2>
action D4 on Image {
  r -> rot90(dims=(0, 1))
  s -> flip(dim=1)
}
layer x: Image -> Image under D4
"""
BATCH, FIELDS, SIZE = 64, 8, 32


@functools.cache
def escnn_modules():
    """(escnn.gspaces, escnn.nn), or None after one message when escnn (or a dependency) cannot be imported."""
    try:
        from escnn import gspaces
        from escnn import nn as enn
    except ImportError as err:
        print(f"escnn is not installed ({err}); its rows are skipped (see this script's docstring to install it)")
        return None
    return gspaces, enn


def escnn_conv(group: str):
    """(escnn ``R2Conv`` on 8 regular fields, 3x3, padding 1, its field type, build seconds), or None without escnn."""
    if escnn_modules() is None:
        return None
    gspaces, enn = escnn_modules()
    space = gspaces.rot2dOnR2(4) if group == "p4" else gspaces.flipRot2dOnR2(4)
    field = enn.FieldType(space, FIELDS * [space.regular_repr])
    t = time.perf_counter()
    conv = enn.R2Conv(field, field, 3, padding=1)
    return conv, field, time.perf_counter() - t


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def fwd_bwd(call, module, x, gy):
    """forward + backward of ``call(x)`` against the fixed output gradient ``gy``, gradients reset first."""

    def step():
        module.zero_grad(set_to_none=True)
        x.grad = None
        call(x).backward(gy)

    return step


def expand_step(expand, module):
    """forward + backward of the kernel expansion alone (``expand() -> (weight, bias)``), against fixed gradients."""
    w, b = expand()
    gw, gb = torch.randn_like(w), torch.randn_like(b)

    def step():
        module.zero_grad(set_to_none=True)
        w, b = expand()
        torch.autograd.backward((w, b), (gw, gb))

    return step


def time_group(name: str, fiber: int, device: torch.device, repeat: int, sync) -> dict:
    """Time the symspec layer, nn.Conv2d and escnn on one group; return the figures."""
    mod = symspec.compile(symspec.loads(SPEC, "bench_conv.sym", params={"size": SIZE}))
    torch.manual_seed(0)
    layer = mod.LAYERS[name](FIELDS, FIELDS).to(device)
    channels = FIELDS * fiber
    dense = torch.nn.Conv2d(channels, channels, 3, padding=1).to(device)
    with torch.no_grad():  # the same computation: nn.Conv2d with symspec's expanded kernel
        w, b = layer.expanded()
        dense.weight.copy_(w)
        dense.bias.copy_(b)
    x5 = torch.randn(BATCH, FIELDS, fiber, SIZE, SIZE, device=device)
    x4 = x5.reshape(BATCH, channels, SIZE, SIZE)
    with torch.no_grad():
        gap = float((layer(x5).reshape_as(x4) - dense(x4)).abs().max())
    assert gap < 1e-4, f"symspec {name} and nn.Conv2d with its kernel differ by {gap}"
    x5.requires_grad_(True)
    x4 = x4.detach().clone().requires_grad_(True)
    gy5 = torch.randn(BATCH, FIELDS, fiber, SIZE, SIZE, device=device)
    gy4 = gy5.reshape(BATCH, channels, SIZE, SIZE)
    train = {"symspec": fwd_bwd(layer, layer, x5, gy5), "nn.Conv2d": fwd_bwd(dense, dense, x4, gy4)}
    escnn = escnn_conv(name)
    if escnn is not None:
        enn = escnn_modules()[1]
        conv, field, build = escnn
        conv = conv.to(device)
        train["escnn"] = fwd_bwd(lambda x: conv(enn.GeometricTensor(x, field)).tensor, conv, x4, gy4)
    t_train = interleaved_medians(train, repeat, sync=sync)
    expand = {"symspec": expand_step(lambda: layer.expanded(), layer)}
    if escnn is not None:
        expand["escnn"] = expand_step(conv.expand_parameters, conv)
    t_expand = interleaved_medians(expand, repeat, sync=sync)
    xe5, xe4 = x5.detach(), x4.detach()
    layer.eval(), dense.eval()
    evals = {"symspec": lambda: layer(xe5), "nn.Conv2d": lambda: dense(xe4)}
    if escnn is not None:
        conv.eval()
        evals["escnn"] = lambda: conv(enn.GeometricTensor(xe4, field))
    with torch.no_grad():
        t_eval = interleaved_medians(evals, repeat, sync=sync)
    out = {
        "channels": channels,
        "parameters": {"symspec": count(layer), "nn.Conv2d": count(dense)},
        "train_ms": {k: v * 1000 for k, v in t_train.items()},
        "eval_ms": {k: v * 1000 for k, v in t_eval.items()},
        "expand_ms": {k: v * 1000 for k, v in t_expand.items()},
    }
    if escnn is not None:
        out["parameters"]["escnn"] = count(conv)
        out["escnn_build_ms"] = build * 1000
    return out


def build_times(repeat: int, global_size: int) -> dict:
    """Constructing D4 [kernel 3] layers on 64 x 64 (first and median of ``repeat``) and the global orbit layer once."""
    mod = symspec.compile(symspec.loads(SPEC, "bench_conv.sym", params={"size": 64}))
    out = {}
    for name in ("image", "p4m"):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            mod.LAYERS[name](FIELDS, FIELDS)
            times.append(time.perf_counter() - t)
        out[name] = {"first_ms": times[0] * 1000, "median_ms": sorted(times)[len(times) // 2] * 1000}
    glob = symspec.compile(symspec.loads(GLOBAL_SPEC, "bench_conv_global.sym", params={"size": global_size}))
    t = time.perf_counter()
    layer = glob.LAYERS["x"](1, 1)
    out["global"] = {"size": global_size, "ms": (time.perf_counter() - t) * 1000, "orbits": int(layer.num_orbits)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--global-size", type=int, default=64, choices=(16, 32, 64), help="image side of the global orbit layer")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--json", type=Path, default=None, help="write the figures as JSON")
    args = ap.parse_args()
    if args.threads is not None:
        if args.threads < 1:
            ap.error(f"--threads must be positive, got {args.threads}")
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    result = {"device": str(device), "threads": torch.get_num_threads(), "repeat": args.repeat}
    print(f"device {device}, {torch.get_num_threads()} threads; batch {BATCH}, {FIELDS} regular fields, {SIZE} x {SIZE}, 3x3")
    print(f"median of {args.repeat}, interleaved; ratio = time / nn.Conv2d's")
    print(f"{'what':42s} {'params':>7s} {'train ms':>9s} {'ratio':>6s} {'eval ms':>8s} {'ratio':>6s}")
    for name, fiber in (("p4", 4), ("p4m", 8)):
        r = time_group(name, fiber, device, args.repeat, sync)
        result[name] = r
        base_t, base_e = r["train_ms"]["nn.Conv2d"], r["eval_ms"]["nn.Conv2d"]
        for who in r["train_ms"]:
            label = f"{name} ({r['channels']} channels): {who}"
            t, e = r["train_ms"][who], r["eval_ms"][who]
            print(f"{label:42s} {r['parameters'][who]:7d} {t:9.2f} {t / base_t:5.2f}x {e:8.2f} {e / base_e:5.2f}x")
        if "escnn" in r["train_ms"]:
            r["symspec_vs_escnn"] = {k: r[k]["symspec"] / r[k]["escnn"] for k in ("train_ms", "eval_ms")}
            print(
                f"  symspec / escnn: train {r['symspec_vs_escnn']['train_ms']:.2f}x, eval {r['symspec_vs_escnn']['eval_ms']:.2f}x;"
                f" escnn R2Conv build {r['escnn_build_ms']:.1f} ms"
            )
        expand = ", ".join(f"{who} {ms:.3f} ms" for who, ms in r["expand_ms"].items())
        print(f"  kernel expansion alone, forward + backward: {expand}")
    b = build_times(args.repeat, args.global_size)
    result["build"] = b
    print("build (constructing the layer, 8 -> 8 channels; goal < 50 ms):")
    for name, what in (
        ("image", "D4 [kernel 3] Image -> Image, 64 x 64"),
        ("p4m", "D4 [kernel 3] P4M -> P4M (8-dim fiber), 64 x 64"),
    ):
        print(f"  {what:52s} first {b[name]['first_ms']:7.2f} ms, median {b[name]['median_ms']:7.2f} ms")
    g = b["global"]
    what = f"global orbit layer Image -> Image under D4, {g['size']} x {g['size']} ({g['orbits']} orbits)"
    print(f"  {what:52s} {g['ms']:9.1f} ms (measured once, 1 -> 1 channels)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
