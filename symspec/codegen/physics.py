"""Non-compact groups in the lowering: their factors of ``rt.GroupSampler`` (runtime/physics.py) and how they read."""

from __future__ import annotations

from ..analysis.structures import NONCOMPACT_FAMILIES

__all__ = [
    "PHYSICS_FACTORS",
    "physics_entry",
    "physics_factor",
    "with_scale",
    "describe_physics",
    "canonicalizes",
    "canonical_like",
    "only_translations",
    "has_lorentz",
]

PHYSICS_FACTORS = NONCOMPACT_FAMILIES  # the factor kinds are the families' kinds: SO1, O1, translations, E, SE


def physics_entry(kind: str, act, domain, dims) -> dict:
    """How a non-compact family's action moves one tensor domain: its shape, the dim, and (E, SE) whether it translates."""
    entry = {"shape": dims(domain.dims), "dim": act.matrix_dim}
    if kind in ("E", "SE"):
        entry["translate"] = getattr(act.kind, "value", act.kind) == "affine"
    return entry


def physics_factor(gir, on: dict) -> dict:
    """The ``rt.GroupSampler`` factor of a non-compact family (scale 1 until :func:`with_scale`)."""
    return {"kind": gir.definition.kind, "name": gir.name, "n": gir.definition.arg, "scale": 1.0, "on": on}


def with_scale(factors: list, scale) -> list:
    """The factors with a law's ``[scale s]`` on each non-compact one."""
    return [dict(f, scale=float(scale)) if f["kind"] in PHYSICS_FACTORS else f for f in factors]


def canonicalizes(factors: list) -> bool:
    """Whether some factor translates (translations, E, SE acting with a translation): symmetrize centers it exactly."""
    return any(
        f["kind"] in ("translations", "E", "SE") and any(a is not None and a.get("translate", True) for a in f["on"].values())
        for f in factors
    )


def describe_physics(f: dict, title: str) -> str:
    """One line for a reader: how a non-compact factor is drawn and what it moves."""
    dims = "; ".join(
        f"dim {a['dim']} of {k}" + (" (rotated only)" if a.get("translate") is False else "")
        for k, a in f["on"].items()
        if a is not None
    )
    s, n = f"{float(f.get('scale', 1.0)):g}", f["n"]
    if f["kind"] in ("SO1", "O1"):
        group = f"{f['kind'][:-1]}(1, {n})"
        what = f"Lorentz matrices (rapidity |N(0, {s}^2)|, uniform direction) on {dims}"
    elif f["kind"] == "translations":
        group = f"translations({n})"
        what = f"N(0, {s}^2) translations of {dims}"
    else:
        group = f"{f['kind']}({n})"
        what = f"Haar rotations and N(0, {s}^2) translations of {dims}"
    return f"{title} = {group}: {what}" if title else f": {what}"


def canonical_like(env: dict, factors: list, keys: dict) -> dict:
    """Per domain a translating factor moves, a tensor of it in ``env`` (the symmetrized model's inputs)."""
    like = {}
    for f in factors:
        if f["kind"] not in ("translations", "E", "SE"):
            continue
        for key, a in f["on"].items():
            if a is None or key in like or not a.get("translate", True):
                continue
            ref = next((v.e for v in env.values() if v.kind == "tensor" and v.domain == keys[key]), None)
            if ref is not None:
                like[key] = ref
    return like


def only_translations(gir) -> bool:
    """Whether every factor of the group is translations(n): centering is then the whole average (one copy)."""
    return all(f.definition.kind == "translations" for f in (gir.factors or (gir,)))


def has_lorentz(gir) -> bool:
    """Whether a factor is SO(1, n) or O(1, n): no symmetrizer (no invariant average over a non-compact group)."""
    return any(f.definition.kind in ("SO1", "O1") for f in (gir.factors or (gir,)))
