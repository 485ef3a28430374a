"""``symspec explain`` lists what each layer compiles to (text and JSON), without importing torch."""

from __future__ import annotations

import json
import subprocess
import sys

from symspec.cli.main import main


def test_explain_text_lists_every_layer_and_its_runtime_class(capsys):
    assert main(["explain", "examples/image_d4.sym"]) == 0
    text = capsys.readouterr().out
    section = text.split("\nlayers\n", 1)[1]
    assert "  conv: tensor[28, 28] -> tensor[28, 28] under D4  line 28\n    rt.OrbitLinear\n" in section
    assert "  lift4: tensor[28, 28] -> tensor[4, 28, 28] under C4  line 55\n" in section
    assert "rt.GroupConv (convolution: kernel 3, 2 grid dims, padding zeros, stride 1)" in section
    assert [
        line.split(":")[0].strip() for line in section.splitlines() if line.startswith("  ") and not line.startswith("    ")
    ] == [
        "conv",
        "readout",
        "lift4",
        "conv4",
        "lift8",
        "conv8",
    ]


def test_explain_json_layers(capsys):
    assert main(["explain", "examples/graph_layers.sym", "--json"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    assert [(d["name"], d["class"]) for d in layers] == [
        ("embed", "PairToNodes"),
        ("message", "NodesToPair"),
        ("aggregate", "PairToNodes"),
        ("update", "DeepSetsLinear"),
        ("readout", "DeepSetsLinear"),
    ]
    assert layers[1]["source"] == "tensor[N, 16]" and layers[1]["target"] == "tensor[N, N, 16]" and layers[1]["group"] == "P"


def test_explain_without_layers_has_no_section(capsys):
    assert main(["explain", "examples/modular_addition.sym"]) == 0
    assert "\nlayers\n" not in capsys.readouterr().out
    assert main(["explain", "examples/modular_addition.sym", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["layers"] == []


def test_explain_of_layers_does_not_import_torch():
    code = (
        "import sys, io, contextlib\n"
        "from symspec.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['explain', 'examples/point_cloud_net.sym']) == 0\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
