"""A validation report: per law cases, violations, a 95% Wilson interval, the worst counterexamples."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

__all__ = ["LawReport", "Report", "wilson_interval"]

Z95 = 1.959963984540054


def wilson_interval(violations: int, cases: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% by default); (0, 1) with no cases."""
    if cases <= 0:
        return (0.0, 1.0)
    p = violations / cases
    denom = 1 + z * z / cases
    center = (p + z * z / (2 * cases)) / denom
    half = z * math.sqrt(p * (1 - p) / cases + z * z / (4 * cases * cases)) / denom
    lo = 0.0 if violations == 0 else max(0.0, center - half)  # exact ends: no rounding below 0 or above 1
    hi = 1.0 if violations == cases else min(1.0, center + half)
    return (lo, hi)


@dataclass
class LawReport:
    """One law's result (docs/validation.md)."""

    name: str
    span: str
    law_class: str
    mode: str  # "exhaustive", "every input", "monte carlo", or "not checked"
    cases: int = 0
    skipped: int = 0
    violations: int = 0
    nonfinite: int = 0
    rate: float = 0.0
    interval: tuple = (0.0, 0.0)
    tol: float | None = None
    rtol: float | None = None
    max_rate: float = 0.0
    passed: bool | None = None  # None: not checked (no case could be checked); set by the checking paths
    worst: float | None = None
    divergence: float | None = None
    examples: list = field(default_factory=list)
    magnitudes: list = field(default_factory=list)
    seconds: float = 0.0
    note: str | None = None
    residual: dict | None = None  # real/tensor laws: {"abs": {p50, p90, p99, max}, "rel": {...}, "cases", "sample"}
    dims: dict = field(default_factory=dict)  # the sizes the symbolic dims of drawn tensors were given
    cycle: dict | None = None  # check-data, transitivity: a shortest cycle of the order graph (length, nodes, rows)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["class"] = d.pop("law_class")
        d["interval"] = list(self.interval)
        d.pop("magnitudes")
        if self.passed is None or not self.cases:  # not checked, or no case: no rate nor interval to give
            d["interval"] = None
        if not self.cases:
            d["rate"] = None
        if d["cycle"] is None:  # only transitivity on data has one
            d.pop("cycle")
        return d


def _fmt(x, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if x == 0:
            return "0"
        if math.isinf(x):
            return "inf"
        return f"{x:.{digits}g}"
    return str(x)


def _value(v) -> str:
    if isinstance(v, float):
        return _fmt(v, 4)
    if isinstance(v, dict):
        return f"tensor{v.get('shape')} norm {_fmt(v.get('norm'))}"
    return str(v)


@dataclass
class Report:
    """What ``symspec.validate`` returns: ``passed``, ``laws`` (a list of :class:`LawReport`), ``seed``."""

    spec: str
    file: str
    seed: int
    device: str
    samples: int
    cap: int
    laws: list = field(default_factory=list)
    tabulated: dict = field(default_factory=dict)  # model -> {"inputs", "seconds"}: evaluated once on every input

    @property
    def dims(self) -> dict:
        """The sizes given to symbolic dims when tensors were drawn, over all laws (``{"N": 8}``)."""
        out: dict = {}
        for law in self.laws:
            out.update(law.dims)
        return dict(sorted(out.items()))

    @property
    def passed(self) -> bool:
        checked = [law for law in self.laws if law.passed is not None]
        return bool(checked) and all(law.passed for law in checked)  # 0 checked: no pass; unchecked laws are listed apart

    def summary(self, verb: str) -> str:
        """``"2 of 3 laws hold ... (1 not checked)"``: the laws that passed, of all, and those no case could check."""
        ok = sum(law.passed is True for law in self.laws)
        unchecked = sum(law.passed is None for law in self.laws)
        return f"{ok} of {len(self.laws)} laws {verb}" + (f" ({unchecked} not checked)" if unchecked else "")

    def __getitem__(self, name: str) -> LawReport:
        for law in self.laws:
            if law.name == name:
                return law
        raise KeyError(f"no law {name!r} in this report; laws: {', '.join(law.name for law in self.laws)}")

    def to_dict(self) -> dict:
        return {
            "spec": self.spec,
            "file": self.file,
            "seed": self.seed,
            "device": self.device,
            "samples": self.samples,
            "cap": self.cap,
            "passed": self.passed,
            "dims": self.dims,
            "tabulated": self.tabulated,
            "laws": [law.to_dict() for law in self.laws],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(_finite(self.to_dict()), indent=indent, allow_nan=False)

    def render(self, examples: int = 3) -> str:
        """The report as a text table, then the worst counterexamples of each failing law."""
        header = ["law", "class", "mode", "cases", "skipped", "violations", "rate", "95% interval", "worst", "divergence", ""]
        rows = []
        for law in self.laws:
            lo, hi = law.interval
            rows.append(
                [
                    law.name,
                    law.law_class,
                    law.mode,
                    str(law.cases),
                    str(law.skipped),
                    str(law.violations) + (f" ({law.nonfinite} non-finite)" if law.nonfinite else ""),
                    f"{law.rate:.4f}" if law.cases else "-",  # no case: no rate (JSON null)
                    f"[{lo:.4f}, {hi:.4f}]" if law.passed is not None and law.cases else "-",
                    _fmt(law.worst),
                    _fmt(law.divergence),
                    {True: "pass", False: "FAIL", None: "not checked"}[law.passed],
                ]
            )
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [f"symspec validate {self.file}  (spec {self.spec}, seed {self.seed}, {self.device})"]
        for model, t in self.tabulated.items():
            lines.append(f"{model}: evaluated once on each of its {t['inputs']} inputs ({t['seconds']:.2f} s), then indexed")
        if self.dims:
            lines.append("tensors drawn with symbolic dims " + ", ".join(f"{k}={v}" for k, v in self.dims.items()))
        lines.append("")
        for r in [header, *rows]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        lines += self._residual_lines()
        for law in self.laws:
            if law.note:
                lines.append(f"note: {law.name}: {law.note}")
        for law in self.laws:
            if law.passed or not law.examples:
                continue
            lines.append("")
            lines.append(f"{law.name} ({law.span}): worst counterexamples (seed {self.seed} replays them)")
            for ex in law.examples[:examples]:
                given = " ".join(f"{k}={_value(v)}" for k, v in ex["values"].items())
                sides = " vs ".join(f"{k} = {_value(v)}" for k, v in ex["sides"].items())
                why = "non-finite model output" if ex.get("nonfinite") else f"loss {_fmt(ex['loss'])}"
                lines.append(f"  {given}:  {sides}" + (f"  ({why})" if ex.get("loss") is not None or ex.get("nonfinite") else ""))
        lines.append("")
        lines.append(f"{'passed' if self.passed else 'FAILED'}: {self.summary('hold within tolerance')}")
        return "\n".join(lines)

    __str__ = render

    def _residual_lines(self) -> list:
        """The residual quantiles of the laws relating reals or tensors, as a second table."""
        laws = [law for law in self.laws if law.residual is not None]
        if not laws:
            return []
        header = ["law", "cases", "|lhs-rhs| p50", "p90", "p99", "max", "relative p50", "p90", "p99", "max"]
        rows = []
        for law in laws:
            r = law.residual
            cases = str(r["cases"]) + (f" (sample {r['sample']})" if r["sample"] < r["cases"] else "")
            rows.append([law.name, cases] + [_fmt(float(r[k][q])) for k in ("abs", "rel") for q in ("p50", "p90", "p99", "max")])
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = ["", "residuals per case (the largest over a tensor's entries; relative: divided by max(|lhs|, |rhs|))"]
        for r in [header, *rows]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        return lines

    @staticmethod
    def _plot_residuals(ax, laws: list) -> None:
        """|lhs - rhs| percentiles p50/p90/p99 and max per law with residuals, on a log axis."""
        keys = ("p50", "p90", "p99", "max")
        width = 0.8 / len(keys)
        shown = [float(law.residual["abs"][k]) for law in laws for k in keys]
        positive = [v for v in shown if 0 < v < math.inf]
        floor = min(positive, default=1.0) / 10  # bars rise from one decade below the smallest positive residual
        top = 10 * max(positive, default=1.0)  # an infinite residual: a bar above every finite one
        for j, key in enumerate(keys):
            values = [float(law.residual["abs"][key]) for law in laws]
            heights = [(top if v == math.inf else v) - floor if v > 0 else 0.0 for v in values]
            ax.bar([i + (j - 1.5) * width for i in range(len(laws))], heights, width, bottom=floor, label=key)
        ax.set_xticks(range(len(laws)), [law.name for law in laws], rotation=30)
        ax.set_yscale("log")  # a residual of 0 has no bar
        ax.set_ylabel("|lhs - rhs| per case (largest entry; 0: no bar)")
        ax.set_title("residuals of real/tensor laws")
        ax.legend()

    def plot(self, path: str) -> str:
        """Violation rate per law with its interval, the distribution of violation magnitudes, and residual percentiles.

        The third panel (matplotlib) is drawn only when some law relates reals or tensors.
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:  # pragma: no cover - the optional extra
            raise ImportError("Report.plot needs matplotlib: pip install 'symspec[plot]'") from None
        residual = [law for law in self.laws if law.residual is not None]
        fig, axes = plt.subplots(1, 3 if residual else 2, figsize=(16 if residual else 11, 4))
        left, right = axes[0], axes[1]
        names = [law.name for law in self.laws]
        rates = [law.rate for law in self.laws]
        lows = [law.rate - law.interval[0] for law in self.laws]
        highs = [law.interval[1] - law.rate for law in self.laws]
        colors = [{True: "tab:green", False: "tab:red", None: "tab:gray"}[law.passed] for law in self.laws]
        left.bar(names, rates, yerr=[lows, highs], color=colors, capsize=4)
        left.set_ylabel("violation rate (95% Wilson interval)")
        left.set_title(f"{self.spec}: violations per law")
        left.tick_params(axis="x", rotation=30)
        shown = False
        for law in self.laws:
            mags = [m for m in law.magnitudes if math.isfinite(m) and m > 0]
            if mags:
                right.hist(mags, bins=40, histtype="step", linewidth=1.5, label=law.name, log=True)
                shown = True
        right.set_xlabel("law loss on violating cases")
        right.set_ylabel("cases")
        right.set_title("violation magnitudes")
        if shown:
            right.legend()
        else:
            right.text(0.5, 0.5, "no violations", ha="center", va="center", transform=right.transAxes)
        if residual:
            self._plot_residuals(axes[2], residual)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


def _finite(x):
    """JSON has no inf or nan: they become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x
