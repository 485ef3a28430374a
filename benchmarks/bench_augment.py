"""Per-sample D4 augmentation of 256 x 3 x 64 x 64 images.

symspec's compiled ``augment`` (a random element of D4 per image: one
gather with a precomputed index table) vs kornia.augmentation
(RandomRotation90 + RandomHorizontalFlip, per sample) and vs ``x.clone()``,
the copy floor. Goals: >= 5x faster than Kornia, <= 3x the copy floor.

    python benchmarks/bench_augment.py [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved_medians  # noqa: E402

import symspec  # noqa: E402

SPEC = """
domain Image = tensor[3, 64, 64]
group D4 = <r, s | r^4, s^2, (s r)^2>
action D4 on Image {
  r -> rot90(dims=(-2, -1))
  s -> flip(dim=-1)
}
model classify(x: Image) -> class(10)
law invariant: forall g: D4. classify(g . x) == classify(x)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeat", type=int, default=21)
    args = ap.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    x = torch.randn(256, 3, 64, 64, device=device)
    batch = {"x": x, "target": torch.randint(0, 10, (256,), device=device)}
    mod = symspec.compile(symspec.loads(SPEC, "bench_augment.sym"))
    gen = torch.Generator(device=device).manual_seed(0)
    fns = {"symspec": lambda: mod.augment(batch, generator=gen), "clone": lambda: x.clone()}
    try:
        import kornia.augmentation as K

        kornia_aug = torch.nn.Sequential(K.RandomRotation90(times=(0, 3), p=1.0), K.RandomHorizontalFlip(p=0.5)).to(device)
        fns["kornia"] = lambda: kornia_aug(x)
    except ImportError:
        print("kornia is not installed: pip install kornia (the Kornia row is skipped)")
    t = interleaved_medians(fns, args.repeat, sync=sync)
    print(f"device {device}, 256 x 3 x 64 x 64 float32, median of {args.repeat}")
    print(f"{'what':44s} {'ms':>8s}")
    print(f"{'symspec augment (D4 per sample)':44s} {t['symspec'] * 1000:8.2f}")
    if "kornia" in t:
        print(
            f"{'kornia RandomRotation90 + RandomHorizontalFlip':44s} {t['kornia'] * 1000:8.2f}   symspec is {t['kornia'] / t['symspec']:.1f}x faster"
        )
    print(f"{'x.clone() (copy floor)':44s} {t['clone'] * 1000:8.2f}   symspec is {t['symspec'] / t['clone']:.2f}x the floor")


if __name__ == "__main__":
    main()
