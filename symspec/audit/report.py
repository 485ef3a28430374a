"""``AuditReport``: counts per kind and module, verification, functional rank, invariants; text and JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

__all__ = ["AuditReport"]


@dataclass
class AuditReport:
    """The audit of one model on one batch (``docs/model-symmetries.md``)."""

    parameters: int
    symmetries: list  # Symmetry claims, verified (or not) in place
    functional_rank: int | None = None
    rank_info: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    spectra: list = field(default_factory=list)  # {"module", "kind", "heads": [[sigma...], ...]}
    effective_dimension: dict = field(default_factory=dict)
    tol: float = 0.0
    dtype: str = "float64"

    @property
    def counted(self) -> list:
        """Claims counted as redundant: not broken and not refuted by the numerical check."""
        return [s for s in self.symmetries if not s.broken and s.verified is not False]

    @property
    def redundant(self) -> int:
        return sum(s.dim for s in self.counted)

    @property
    def broken(self) -> int:
        return sum(s.dim for s in self.symmetries if s.broken)

    @property
    def rejected(self) -> list:
        return [s for s in self.symmetries if not s.broken and s.verified is False]

    def by_kind(self) -> dict:
        out: dict = {}
        for s in self.counted:
            out[s.kind] = out.get(s.kind, 0) + s.dim
        return out

    def by_module(self) -> dict:
        out: dict = {}
        for s in self.counted:
            out[s.module] = out.get(s.module, 0) + s.dim
        return out

    def to_dict(self) -> dict:
        null = None if self.functional_rank is None else self.parameters - self.functional_rank
        return {
            "parameters": self.parameters,
            "redundant": self.redundant,
            "symmetries": [
                {
                    "kind": s.kind,
                    "module": s.module,
                    "dim": s.dim,
                    "verified": s.verified,
                    "error": s.error,
                    "broken": s.broken,
                    "source": s.source,
                    "note": s.note,
                }
                for s in self.symmetries
            ],
            "functional_rank": self.functional_rank,
            "null_dimension": null,
            "broken": self.broken,
            "by_kind": self.by_kind(),
            "by_module": self.by_module(),
            "rank": self.rank_info,
            "tolerance": self.tol,
            "dtype": self.dtype,
            "spectra": self.spectra,
            "effective_dimension": self.effective_dimension,
            "notes": self.notes,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def render(self) -> str:
        """Plain-text tables: per kind, per module, rank, notes."""
        lines = [f"parameters: {self.parameters:,}", f"redundant (counted symmetry dimensions): {self.redundant:,}"]
        if self.broken:
            lines.append(f"broken (by fixed biases, not counted): {self.broken:,}")
        if self.functional_rank is None:
            lines.append(f"functional rank: not computed ({self.rank_info.get('reason', 'disabled')})")
        else:
            null = self.parameters - self.functional_rank
            ok = "holds" if null >= self.redundant else "FAILS"
            lines.append(
                f"functional rank: {self.functional_rank:,} on {self.rank_info.get('outputs', 0):,} outputs; "
                f"parameters - rank = {null:,} >= redundant {self.redundant:,}: {ok}"
            )
        lines += ["", "by kind:"]
        for kind, dim in sorted(self.by_kind().items()):
            lines.append(f"  {kind:<16} {dim:>12,}")
        rows = [("kind", "module", "dim", "verified", "error")]
        for s in self.symmetries:
            state = "broken" if s.broken else {True: "yes", False: "NO", None: "-"}[s.verified]
            rows.append((s.kind, s.module, f"{s.dim:,}", state, "-" if s.error is None else f"{s.error:.1e}"))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines += ["", f"symmetries (verified: error = |J t| / |J r| < {self.tol:g}, {self.dtype}):"]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if self.spectra:
            lines += ["", "invariant spectra (largest singular values per head):"]
            for sp in self.spectra:
                tops = ", ".join(f"{h[0]:.3g}" for h in sp["heads"] if h)
                lines.append(f"  {sp['module']} {sp['kind']}: {tops}")
        if self.effective_dimension:
            lines += ["", "effective dimension (principal components > 1% of the variance):"]
            lines += [f"  {n}: {d}" for n, d in self.effective_dimension.items()]
        notes = self.notes + [f"{s.kind} {s.module}: {s.note}" for s in self.symmetries if s.note]
        if notes:
            lines += ["", "notes:"] + [f"  - {n}" for n in notes]
        return "\n".join(lines)

    def plot(self, path: str) -> str:
        """Per-head invariant spectra to an image (matplotlib); returns ``path``."""
        from .plot import plot_spectra

        return plot_spectra(self, path)

    def __str__(self) -> str:
        return self.render()
