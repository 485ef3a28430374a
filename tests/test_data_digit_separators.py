"""csv numbers with '_' are refused (numpy and float() read '1_0' as 10: a typo became a label)."""

from __future__ import annotations

import pytest

from symspec.data.load import load_table
from symspec.errors import UsageError

MODULAR = "examples/modular_addition.sym"


def test_a_real_target_with_an_underscore_is_no_number(tmp_path):
    spec = tmp_path / "s.sym"
    spec.write_text("model f(x: real, y: real) -> real\nlaw swap: f(x, y) == f(y, x)\n", encoding="utf-8")
    path = tmp_path / "g.csv"
    path.write_text("x,y,target\n0.5,1,1\n1,0.5,1_0\n", encoding="utf-8")
    with pytest.raises(UsageError) as info:
        load_table(str(spec), str(path))
    assert str(info.value) == (f"{path}: column 'target': row 1: '1_0' is not a number ('_' is not read as a digit separator)")


@pytest.mark.parametrize("text", ["1_0", "_3", "2_", "1e1_0"])
def test_a_class_value_with_an_underscore_is_unknown(tmp_path, text):
    path = tmp_path / "m.csv"
    path.write_text(f"a,b,target\n1,2,3\n{text},2,3\n", encoding="utf-8")
    with pytest.raises(UsageError) as info:
        load_table(MODULAR, str(path))
    assert f"row 1: unknown value '{text}'" in str(info.value)


def test_plain_numbers_still_read(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("a,b,target\n1,2,3\n10,2.0,12\n", encoding="utf-8")
    table = load_table(MODULAR, str(path))
    assert table.inputs["a"].tolist() == [1, 10] and table.inputs["b"].tolist() == [2, 2]
