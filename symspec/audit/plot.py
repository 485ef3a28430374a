"""Plot of the per-head invariant spectra of an ``AuditReport`` (matplotlib, optional)."""

from __future__ import annotations

__all__ = ["plot_spectra"]


def plot_spectra(report, path: str) -> str:
    """Singular values of ``W_Q^T W_K`` (left) and ``W_O W_V`` (right) per head and module, log scale; returns ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the optional extra
        raise ImportError("the spectra plot needs matplotlib: pip install 'symspec[plot]'") from None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, kind in zip(axes, ("W_Q^T W_K", "W_O W_V")):
        for sp in (s for s in report.spectra if s["kind"] == kind):
            for h, values in enumerate(sp["heads"]):
                ax.plot(range(1, len(values) + 1), values, marker=".", label=f"{sp['module']} h{h}")
        ax.set_yscale("log")
        ax.set_xlabel("index")
        ax.set_ylabel("singular value")
        ax.set_title(f"{kind} per head")
        if 0 < sum(len(s["heads"]) for s in report.spectra if s["kind"] == kind) <= 12:
            ax.legend(fontsize=7)
    if not report.spectra:
        fig.suptitle("no attention found: no spectra")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
