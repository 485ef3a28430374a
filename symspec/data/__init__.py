"""Labelled datasets meet specs: load a table, check it against the laws (docs/data.md)."""

from __future__ import annotations

from .load import load_table
from .table import Table

__all__ = ["Table", "load_table", "check_data"]


def __getattr__(name: str):
    if name == "check_data":  # imported on demand: it pulls in the compiler
        from .check import check_data

        return check_data
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
