"""Reading a labelled dataset (.pt, .npz, .csv, .parquet, or a mapping of columns) into a :class:`Table`.

Every problem is a :class:`~symspec.errors.UsageError` that names the file,
the column and, for a bad value, its row: a missing or unknown column, a
value outside its domain, an unknown name, ragged columns, an ambiguous model.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import itertools
import math
import os
from collections.abc import Mapping

import numpy as np
import torch

from ..analysis.domains import BoolDomain, ClassOf, Cyclic, Labels, Nodes, Range, RealDomain, Tensor
from ..errors import UsageError
from .table import Table

__all__ = ["load_table", "read_columns", "domain_names", "shown", "FORMATS"]

FORMATS = (".pt", ".npz", ".csv", ".parquet")
TRUE_WORDS = {"true": 1, "false": 0, "True": 1, "False": 0, "TRUE": 1, "FALSE": 0}
INT64_MAX = 2**63 - 1
CSV_CHUNK = 1 << 16  # csv rows parsed per chunk
MAX_TEXT = 256  # characters in one written-out value (csv field, string in a column); more is a usage error


def shown(text, limit: int | None = None) -> str:
    """Text from a data file as a message shows it: each control or invisible character escaped (``\\x1b``,
    ``\\n``), so a column name or value cannot move the cursor, recolour or retitle the terminal; cut at ``limit``."""
    text = str(text)
    cut = limit is not None and len(text) > limit
    text = text[:limit] if cut else text
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text + ("..." if cut else "")


def _spec_of(spec, params=None):
    """A checked Spec from a Spec, a path or .sym text (as ``symspec.validate`` accepts)."""
    from ..analysis import Spec
    from ..pipeline import load, loads

    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, str) and "\n" in spec:
        return loads(spec, params=params)
    return load(os.fspath(spec), params=params)


def read_columns(data) -> tuple[dict, str]:
    """(column -> array/tensor/list, source) from a path or a mapping; a UsageError on an unreadable file."""
    if isinstance(data, Mapping):
        return dict(data), "<memory>"
    if not isinstance(data, str | os.PathLike):
        raise UsageError(f"data must be a file path or a mapping of column -> values, got {type(data).__name__}")
    path = os.fspath(data)
    if not os.path.exists(path):
        raise UsageError(f"--data {shown(path)}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"--data {shown(path)}: is a directory")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".pt":
        return _read_pt(path), path
    if ext == ".npz":
        return _read_npz(path), path
    if ext == ".csv":
        return _read_csv(path), path
    if ext == ".parquet":
        return _read_parquet(path), path
    raise UsageError(f"--data {shown(path)}: unknown format '{ext or '(none)'}'; expected one of {', '.join(FORMATS)}")


def _read_pt(path: str) -> dict:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, unsafe globals, truncated zips, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        why = f"{type(err).__name__}: {shown(first, 160)}" if first and not first.isdigit() else type(err).__name__
        if "Weights only load failed" in first:  # torch's advice (weights_only=False) would run the file's code
            why = "it holds objects other than tensors and plain containers, or is no .pt file (symspec loads tensors only)"
        raise UsageError(f"--data {shown(path)}: not a torch-loadable .pt file of tensors (weights_only): {why}") from None
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) for k in obj):
        raise UsageError(
            f"--data {shown(path)}: a .pt dataset must hold a dict of column name -> tensor, got {type(obj).__name__}"
        )
    return dict(obj)


def _read_npz(path: str) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as err:
        raise UsageError(f"--data {shown(path)}: not a readable .npz file: {err}") from None


def _read_csv(path: str) -> dict:
    """Columns of a csv as fixed-width string arrays, read in chunks of ``CSV_CHUNK`` rows (a few bytes a cell,
    not a Python string each); a field longer than ``MAX_TEXT`` characters is a usage error, so memory stays
    proportional to the file."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise UsageError(f"--data {shown(path)}: empty csv file (expected a header row of column names)")
            header = [h.strip() for h in header]
            dupes = sorted({h for h in header if header.count(h) > 1})
            if dupes:
                raise UsageError(f"--data {shown(path)}: column '{shown(dupes[0])}' appears twice in the header")
            parts: list = [[] for _ in header]
            with _no_cyclic_gc():  # millions of short-lived lists: the cyclic collector only slows them (2x)
                _read_chunks(path, reader, header, parts)
    except UnicodeDecodeError as err:
        raise UsageError(f"--data {shown(path)}: not UTF-8 text: {err.reason} at byte {err.start}") from None
    except csv.Error as err:
        raise UsageError(f"--data {shown(path)}: bad csv: {shown(err)}") from None
    except OSError as err:
        raise UsageError(f"--data {shown(path)}: cannot read: {err.strerror or err}") from None
    return {h: np.concatenate(p) if p else np.zeros(0, dtype="<U1") for h, p in zip(header, parts)}  # text, 0 rows too


def _read_chunks(path: str, reader, header: list, parts: list) -> None:
    """The csv's rows, ``CSV_CHUNK`` at a time, appended to ``parts`` (one list of string arrays per column)."""
    width = len(header)
    while chunk := list(itertools.islice(reader, CSV_CHUNK)):
        widths = set(map(len, chunk))
        if 0 in widths:  # blank lines are skipped
            chunk = [r for r in chunk if r]
            widths.discard(0)
        if widths - {width}:
            line, fields = _find_line(path, lambda r: len(r) != width)
            hint = "; a value holding a comma (a grid node '(0, 2)') must be quoted: \"(0, 2)\"" if len(fields) > width else ""
            raise UsageError(f"--data {shown(path)}: line {line} has {len(fields)} fields; the header has {width}{hint}")
        if chunk and max(map(len, itertools.chain.from_iterable(chunk))) > MAX_TEXT:
            line, fields = _find_line(path, lambda r: max(map(len, r)) > MAX_TEXT)
            column = next(h for h, x in zip(header, fields) if len(x) > MAX_TEXT)
            raise UsageError(
                f"--data {shown(path)}: line {line}, column '{shown(column)}': a value of "
                f"{max(map(len, fields))} characters (at most {MAX_TEXT})"
            )
        for j, column in enumerate(zip(*chunk)):
            parts[j].append(np.array(column, dtype=str))


@contextlib.contextmanager
def _no_cyclic_gc():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _find_line(path: str, bad) -> tuple[int, list]:
    """(line number, fields) of the first non-blank data row of a csv for which ``bad(fields)`` holds (an error
    path: the file is read again, row by row, for the line number)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if row and bad(row):
                return reader.line_num, row
    raise AssertionError("no such row")  # pragma: no cover - called only when a chunk held one


def _read_parquet(path: str) -> dict:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(
            f"--data {shown(path)}: reading .parquet needs pyarrow (pip install pyarrow); or use .pt, .npz or .csv"
        ) from None
    try:
        table = pq.read_table(path)
    except Exception as err:
        raise UsageError(f"--data {shown(path)}: not a readable parquet file: {err}") from None
    return {name: _arrow_column(table.column(name), f"{shown(path)}: column '{shown(name)}'") for name in table.column_names}


def _arrow_column(column, where: str):
    """A parquet column as numpy: scalars one per row; (fixed-size) lists of equal length, nested to any depth, as
    one array with a dimension per level (a tensor column); nulls and ragged lists are usage errors naming the row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if column.null_count:
        row = int(pc.index(pc.is_null(column), True).as_py())
        raise UsageError(f"{where}: row {row} is empty (null); every row needs a value")
    shape = [len(column)]
    while pa.types.is_list(column.type) or pa.types.is_large_list(column.type) or pa.types.is_fixed_size_list(column.type):
        lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
        if len(lengths) and (lengths != lengths[0]).any():
            row = int(np.argmax(lengths != lengths[0]))
            outer = row // math.prod(shape[1:]) if len(shape) > 1 else row
            raise UsageError(
                f"{where}: row {outer} holds a list of {int(lengths[row])} values where the rows before hold "
                f"{int(lengths[0])}; a tensor column needs lists of one length"
            )
        shape.append(int(lengths[0]) if len(lengths) else 0)
        column = column.flatten()
        if column.null_count:
            flat = int(pc.index(pc.is_null(column), True).as_py())
            raise UsageError(f"{where}: row {flat // math.prod(shape[1:])} holds an empty (null) entry")
    try:
        values = column.to_numpy(zero_copy_only=False)
    except Exception:
        values = np.array(column.to_pylist(), dtype=object)
    return values.reshape(shape) if len(shape) > 1 else values


def domain_names(spec, domain) -> list | None:
    """The display names of a finite domain's values (set labels, graph node labels), or None."""
    if isinstance(domain, Labels):
        return list(domain.labels)
    if isinstance(domain, Nodes):
        graph = spec.ir.graphs.get(domain.graph) if spec.ir is not None else None
        if graph is None:
            return None
        return [graph.label(i) for i in range(graph.num_nodes)]
    if isinstance(domain, BoolDomain):
        return ["false", "true"]
    return None


def _finite_shape(domain) -> tuple[int, int] | None:
    """(size, low) of a finite domain, None for real/tensor."""
    if isinstance(domain, Range):
        return domain.hi - domain.lo, domain.lo
    if isinstance(domain, Cyclic | Labels | Nodes | BoolDomain):
        return domain.size, 0
    return None


def _length(values, where: str) -> int:
    """The number of rows of a column; a scalar, a string or a 0-d tensor/array is a usage error."""
    if isinstance(values, torch.Tensor) and (values.is_nested or values.is_meta):
        kind = "a nested tensor" if values.is_nested else "a meta tensor (no values)"
    elif isinstance(values, torch.Tensor | np.ndarray) and values.ndim == 0:
        kind = "a 0-d tensor" if isinstance(values, torch.Tensor) else "a 0-d array"
    elif isinstance(values, str | bytes | Mapping) or not hasattr(values, "__len__"):
        kind = type(values).__name__
    else:
        return len(values)
    raise UsageError(f"{where} holds {kind}, not one value per row")


def _as_array(values, where: str):
    """A column as a numpy array (tensors and lists too; float dtypes numpy lacks, such as bfloat16, as float32)."""
    if isinstance(values, torch.Tensor):
        try:
            t = values.detach().cpu()
            if t.layout != torch.strided:
                t = t.to_dense()
            if t.is_floating_point() and t.dtype not in (torch.float16, torch.float32, torch.float64):
                t = t.to(torch.float32)  # bfloat16, float8: every value exact in float32
            return t.numpy()
        except (TypeError, RuntimeError, NotImplementedError) as err:
            raise UsageError(f"{where}: values of type {values.dtype} cannot be read: {shown(err, 80)}") from None
    if isinstance(values, np.ndarray):
        return values
    try:
        return np.asarray(values, dtype=object if any(isinstance(v, str) for v in values) else None)
    except Exception as err:
        raise UsageError(f"{where}: cannot read the column as an array: {err}") from None


def _outside(where: str, row: int, text: str, low: int, size: int, domain) -> UsageError:
    return UsageError(f"{where}: row {row}: {text} is outside {domain} (values {low}..{low + size - 1})")


def _texts(arr: np.ndarray, where: str) -> np.ndarray:
    """A column of strings (or mixed objects) as a fixed-width string array, each value at most ``MAX_TEXT``
    characters: the array is rows x the longest value, so one huge value must not multiply into every row."""
    if arr.dtype.kind == "U" and arr.dtype.itemsize // 4 <= MAX_TEXT:
        return arr
    texts = arr.astype(object) if arr.dtype.kind != "O" else arr
    texts = [v if isinstance(v, str) else str(v) for v in texts.tolist()] if arr.dtype.kind != "U" else texts.tolist()
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    if lengths.size and int(lengths.max()) > MAX_TEXT:
        i = int(np.flatnonzero(lengths > MAX_TEXT)[0])
        raise UsageError(f"{where}: row {i}: a value of {int(lengths[i])} characters (at most {MAX_TEXT})")
    return np.array(texts, dtype=str) if texts else np.zeros(0, dtype=str)


def _finite_column(values, where: str, size: int, low: int, names: list | None, domain) -> torch.Tensor:
    """Domain values (int64) of a finite-domain column: numbers, or names where the domain has names.

    Every value is checked against the domain before it becomes an int64 (a uint64 above 2^63 or a float of
    1e30 never wraps into the domain)."""
    arr = _as_array(values, where)
    if arr.ndim != 1:
        raise UsageError(f"{where}: expected one value per row, got an array of shape {list(arr.shape)}")
    if arr.dtype == object or arr.dtype.kind in "US":
        arr = _parse_names(_texts(arr, where), where, low, size, names, domain)
    elif arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise UsageError(f"{where}: row {i}: {float(arr[i])!r} is not an integer value of {domain}")
        far = (arr < low) | (arr > low + size - 1)
        if far.any():
            i = int(np.flatnonzero(far)[0])
            raise _outside(where, i, repr(float(arr[i])), low, size, domain)
        arr = arr.astype(np.int64)
    elif arr.dtype.kind in "iu":
        if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and (arr > INT64_MAX).any():
            i = int(np.flatnonzero(arr > INT64_MAX)[0])
            raise _outside(where, i, str(int(arr[i])), low, size, domain)
        arr = arr.astype(np.int64)
    else:
        raise UsageError(f"{where}: values of type {arr.dtype} cannot be values of {domain}")
    out = torch.from_numpy(np.ascontiguousarray(arr))
    bad = (out < low) | (out >= low + size)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise _outside(where, i, str(int(out[i])), low, size, domain)
    return out


def _parse_names(arr: np.ndarray, where: str, low: int, size: int, names: list | None, domain) -> np.ndarray:
    """Strings as domain values: a name of the domain, else an integer written out (``3``, or ``3.0`` as a csv
    written from floats has it); a value outside the domain is refused here, before it could overflow an int64."""
    uniques, inverse = np.unique(np.char.strip(arr), return_inverse=True)
    lookup = {n: i + low for i, n in enumerate(names or [])}
    spaced = {"".join(n.split()): v for n, v in lookup.items()}  # '(0,2)' finds '(0, 2)' when that is unambiguous
    spaced = spaced if len(spaced) == len(lookup) else {}
    lookup.update({k: v for k, v in TRUE_WORDS.items() if names == ["false", "true"]})
    mapped = np.empty(len(uniques), dtype=np.int64)
    for j, text in enumerate(uniques.tolist()):  # once per distinct value, not per row
        if text in lookup or "".join(text.split()) in spaced:
            mapped[j] = lookup[text] if text in lookup else spaced["".join(text.split())]
            continue
        value = _integer(text)
        if isinstance(value, int) and low <= value < low + size:
            mapped[j] = value
            continue
        i = int(np.flatnonzero(inverse == j)[0])
        if isinstance(value, int):
            raise _outside(where, i, shown(text, 40), low, size, domain)
        if value is not None:
            raise UsageError(f"{where}: row {i}: {shown(text, 40)} is not an integer value of {domain}")
        known = f"; its names: {', '.join(names[:8])}{', ...' if len(names) > 8 else ''}" if names else ""
        raise UsageError(f"{where}: row {i}: unknown value '{shown(text, 40)}'{known}")
    return mapped[inverse.reshape(-1)]


def _integer(text: str) -> int | float | None:
    """An integer written out (``12``, ``-3``, ``3.0``, ``1e2``): the int; a number that is no integer (``2.5``,
    ``nan``): the float; anything else: None. Digits are ASCII only; ``1_0`` (Python's digit separator) is no
    number: a csv cell reading ``1_0`` is far likelier a typo than ten."""
    if not text.isascii() or not text or "_" in text:
        return None
    try:
        return int(text, 10)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value == int(value) else value


def _real_column(values, where: str, shape: tuple | None) -> torch.Tensor:
    """float64 values of a real (shape None) or tensor column, finite."""
    arr = _as_array(values, where)
    if arr.dtype == object or arr.dtype.kind in "US":
        if arr.ndim != 1:
            raise UsageError(f"{where}: strings are read as one number per row, got an array of shape {list(arr.shape)}")
        if shape is not None:  # a csv cell is one number: "expected rows of shape [4, 2], got []" said nothing useful
            raise UsageError(
                f"{where}: tensor{list(shape)} values cannot be read from text (one number per cell, as in a csv); "
                "save tensor columns in a .pt or .npz file"
            )
        texts = np.char.strip(_texts(arr, where))
        separated = np.char.find(texts, "_") >= 0  # numpy, like float(), reads '1_0' as 10
        if separated.any():
            i = int(np.flatnonzero(separated)[0])
            raise UsageError(
                f"{where}: row {i}: '{shown(str(texts[i]), 40)}' is not a number ('_' is not read as a digit separator)"
            )
        try:
            arr = texts.astype(np.float64)
        except ValueError:
            i, text = next((i, t) for i, t in enumerate(texts.tolist()) if not _is_float(t))
            raise UsageError(f"{where}: row {i}: '{shown(text, 40)}' is not a number") from None
    if arr.dtype.kind not in "biuf":
        raise UsageError(f"{where}: values of type {arr.dtype} are not real numbers")
    arr = arr.astype(np.float64)
    if shape is None and arr.ndim != 1:
        raise UsageError(f"{where}: expected one real number per row, got an array of shape {list(arr.shape)}")
    if shape is not None:
        want = [d if isinstance(d, int) else None for d in shape]
        got = list(arr.shape[1:])
        if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
            raise UsageError(f"{where}: expected rows of shape {list(shape)}, got {got}")
    bad = ~np.isfinite(arr.reshape(arr.shape[0], -1)).all(1) if arr.size else np.zeros(0, dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise UsageError(f"{where}: row {i} is not finite (nan or inf)")
    return torch.from_numpy(np.ascontiguousarray(arr))


def _is_float(text: str) -> bool:
    if "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _choose_model(spec, columns: dict, model: str | None) -> str:
    models = list(spec.models)
    if model is not None:
        if model not in spec.models:
            raise UsageError(f"--model {model}: the spec has no model '{model}'; its models: {', '.join(models)}")
        return model
    if len(models) == 1:
        return models[0]
    if not models:
        raise UsageError(f"spec {spec.name} declares no model: there is nothing for the data to label")
    fits = [m for m in models if {p for p, _ in spec.models[m].params} | {"target"} == set(columns)]
    if len(fits) == 1:
        return fits[0]
    raise UsageError(f"the spec has the models {', '.join(models)}: say which one the data labels with --model NAME")


def load_table(spec, data, model: str | None = None) -> Table:
    """`spec`: a checked symspec Spec (or a path); `data`: a path (.pt dict of tensors, .npz, .csv, .parquet with
    pyarrow) or a Mapping of column -> tensor/ndarray/list. Columns: the model's parameter names plus `target`.
    Raises symspec.errors.UsageError with a clear message on any problem (missing column, value outside the
    domain, unknown node name, ragged lengths, model ambiguous, ...)."""
    spec = _spec_of(spec)
    columns, source = read_columns(data)
    label = shown(source)  # the file as messages show it
    name = _choose_model(spec, columns, model)
    sig = spec.models[name]
    params = tuple(p for p, _ in sig.params)
    if "target" in params:
        raise UsageError(
            f"model {name} has a parameter named 'target', the name of the label column: rename the parameter "
            "(its column and the labels' would be one column)"
        )
    expected = [*params, "target"]
    missing = [c for c in expected if c not in columns]
    if missing:
        raise UsageError(
            f"{label}: no column '{missing[0]}' (model {name} needs the columns {', '.join(expected)}; "
            f"the data has {', '.join(shown(c) for c in columns) or 'none'})"
        )
    unknown = [c for c in columns if c not in expected]
    if unknown:
        raise UsageError(f"{label}: unknown column '{shown(unknown[0])}' (model {name} takes the columns {', '.join(expected)})")
    lengths = {c: _length(columns[c], f"{label}: column '{c}'") for c in expected}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{c}: {n}" for c, n in lengths.items())
        raise UsageError(f"{label}: the columns have different lengths ({listed})")
    n = lengths["target"]
    inputs, sizes, lows, names = {}, {}, {}, {}
    for p, domain in sig.params:
        where = f"{label}: column '{p}'"
        finite = _finite_shape(domain)
        if finite is None:
            shape = tuple(domain.dims) if isinstance(domain, Tensor) else None
            inputs[p] = _real_column(columns[p], where, shape)
            sizes[p], lows[p] = None, 0
            continue
        sizes[p], lows[p] = finite
        labels = domain_names(spec, domain)
        if labels is not None:
            names[p] = labels
        inputs[p] = _finite_column(columns[p], where, finite[0], finite[1], labels, domain)
    out = sig.output
    where = f"{label}: column 'target'"
    classes, class_low = None, 0
    if isinstance(out, ClassOf):
        classes, class_low = _finite_shape(out.domain)
        labels = domain_names(spec, out.domain)
        if labels is not None:
            names["target"] = labels
        target = _finite_column(columns["target"], where, classes, class_low, labels, f"class({out.domain})")
        kind = "class"
    elif isinstance(out, BoolDomain):
        target = _finite_column(columns["target"], where, 2, 0, ["false", "true"], "bool")
        names["target"] = ["false", "true"]
        kind = "bool"
    elif isinstance(out, RealDomain):
        target, kind = _real_column(columns["target"], where, None), "real"
    else:
        target, kind = _real_column(columns["target"], where, tuple(out.dims)), "tensor"
    space = math.prod(s for s in sizes.values() if s is not None) if sizes else 1
    if space >= 2**62:
        raise UsageError(f"model {name}'s inputs are {space} combinations: too many to key by one 64-bit integer")
    return Table(
        model=name,
        params=params,
        inputs=inputs,
        target=target,
        rows=torch.arange(n, dtype=torch.int64),
        sizes=sizes,
        lows=lows,
        output=kind,
        classes=classes,
        class_low=class_low,
        names=names,
        source=source,
    )
