"""A shipped model as one JavaScript file, for the demos that run in the reader's browser.

Holds `WebExportConfig` (every number of the export), `web_model` (the shipped model with
the weights the page uses: float16 as shipped, the largest fully connected weights in
8 bits), and `export_web_model` (writes `NAME.js`: the weights, a few test digits, the
test set's posterior means and which dimensions are active). It does not hold the
JavaScript that runs the model (`vae_tutorial/web/static/vae-demo.js`) or the Sphinx extension that
calls this during the site build (`site/vae_book_site.py`).

Why a `.js` file with base64 and not a binary file or ONNX: the book must work opened from
disk (`file://`), where the browser refuses `fetch` and module imports but runs a plain
`<script src>`. Base64 costs a third more bytes; storing the two largest weight matrices in
8 bits (one float scale per row) keeps each model under 3 MB.
"""

from __future__ import annotations

import ast
import base64
import inspect
import json
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..data import load_mnist, to_unit_interval
from ..elbo import calc_elbo
from ..evaluate import active_units, posterior_statistics
from ..model import VAE
from ..pretrained import pretrained


@dataclass(frozen=True)
class WebExportConfig:
    """Every number of the export.

    Attributes:
        int8_min_elements: weight matrices with at least this many entries are stored in
            8 bits with one float32 scale per output row (symmetric, round to nearest).
        examples: test digits shipped with the page (the "test digit" buttons).
        codes: test digits whose posterior means are shipped (the latent map).
        active_threshold: Cov_x(mu_u) above which dimension u counts as active (ch. 8).
        map_max_latent_dim: the codes are shipped only for models this small (the map).
    """

    int8_min_elements: int = 100_000
    examples: int = 32
    codes: int = 10_000
    active_threshold: float = 0.01
    map_max_latent_dim: int = 2


def _quantize_rows(weight: Tensor) -> tuple[Tensor, Tensor]:
    """Symmetric 8-bit codes per output row: W (O, I) -> codes (O, I) int8, scales (O,)."""
    scales = weight.abs().amax(dim=1).clamp_min(1e-12) / 127.0  # (O,)
    codes = torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8)
    return codes, scales.float()


def _web_state(model: VAE, config: WebExportConfig) -> dict[str, dict[str, Any]]:
    """Each tensor of the state dict as stored for the page (float16 or int8 + scales)."""
    state = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().float().contiguous()
        if tensor.dim() == 2 and tensor.numel() >= config.int8_min_elements:
            codes, scales = _quantize_rows(tensor)
            state[name] = {"shape": list(tensor.shape), "dtype": "int8", "data": codes,
                           "scale": scales}  # fmt: skip
        else:
            state[name] = {"shape": list(tensor.shape), "dtype": "float16",
                           "data": tensor.half()}  # fmt: skip
    return state


def _load_web_state(model: VAE, state: dict[str, dict[str, Any]]) -> VAE:
    """Put the stored weights into `model` as float32 (8-bit ones times their row scale)."""
    weights = {}
    for key, entry in state.items():
        data = entry["data"].float()
        if entry["dtype"] == "int8":
            data = data * entry["scale"][:, None]  # dequantize: W = codes * scale (per row)
        weights[key] = data
    model.load_state_dict(weights)
    return model.eval()


def web_model(name: str = "mnist-z16", config: WebExportConfig | None = None) -> VAE:
    """The shipped model `name` with exactly the weights its web export holds (float32)."""
    model = pretrained(name)
    return _load_web_state(model, _web_state(model, config or WebExportConfig()))


def function_source(function: Any = calc_elbo) -> dict[str, Any]:
    """The source of `function` as the page shows it, with what each line computes.

    Read from the package when the export runs (`inspect.getsourcelines`), never copied.
    Returns `name`, `module`, `first_line` (its line number in the module), `lines` (the
    source, dedented) and `bindings`: one entry per line that names a value, `{"line": i,
    "names": [...]}` with i counted from 0 in `lines`: the parameters on their lines, the
    targets of each assignment on its statement's last line, and "return" on the return;
    `docstring`, its first and last line (from 0, or None), which the page can fold away.
    """
    lines, first_line = inspect.getsourcelines(function)
    source = textwrap.dedent("".join(lines))
    definition = ast.parse(source).body[0]
    assert isinstance(definition, ast.FunctionDef)
    bindings: dict[int, list[str]] = {}

    def bind(line: int, name: str) -> None:
        bindings.setdefault(line - 1, []).append(name)

    for arg in definition.args.args:
        bind(arg.lineno, arg.arg)
    for statement in definition.body:
        end = statement.end_lineno or statement.lineno
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        bind(end, node.id)
        elif isinstance(statement, ast.Return):
            bind(end, "return")
    docstring = None
    first = definition.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
        docstring = [first.lineno - 1, (first.end_lineno or first.lineno) - 1]
    return {
        "name": function.__name__,
        "module": function.__module__,
        "first_line": first_line,
        "lines": source.rstrip("\n").split("\n"),
        "bindings": [{"line": i, "names": names} for i, names in sorted(bindings.items())],
        "docstring": docstring,
    }


def _b64(tensor: Tensor) -> str:
    return base64.b64encode(tensor.contiguous().numpy().tobytes()).decode("ascii")


def export_web_model(
    name: str,
    out_dir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None = None,
    config: WebExportConfig | None = None,
) -> Path:
    """Write `out_dir/NAME.js`, which registers the model in `window.vaeModels[NAME]`.

    The file holds the architecture, every weight (little-endian float16, or int8 with
    float32 row scales), `examples` test digits (uint8, 28x28), the active-dimension mask
    measured on the posterior means of the first `codes` test digits, the source of
    `calc_elbo` (`function_source`: read from the package now), and, for a model of at
    most `map_max_latent_dim` dimensions, those means (float16, (N, D)) with their labels.
    """
    config = config or WebExportConfig()
    model = pretrained(name)
    state = _web_state(model, config)
    model = _load_web_state(model, state)  # the page's model, for the codes below
    test = load_mnist("test", data_dir)
    images = test.images[: config.codes]  # (N, 28, 28) uint8
    mu, _ = posterior_statistics(model, to_unit_interval(images))  # (N, D)
    entries = {}
    for key, entry in state.items():
        stored = {"shape": entry["shape"], "dtype": entry["dtype"], "data": _b64(entry["data"])}
        if entry["dtype"] == "int8":
            stored["scale"] = _b64(entry["scale"])
        entries[key] = stored
    payload = {
        "name": name,
        "config": model.config.to_dict(),
        "tensors": entries,
        "examples": {
            "images": _b64(test.images[: config.examples]),
            "labels": test.labels[: config.examples].tolist(),
        },
        "codes": None,
        "active": active_units(mu, config.active_threshold).tolist(),
        "source": {"calc_elbo": function_source(calc_elbo)},
    }
    if model.latent_dim <= config.map_max_latent_dim:
        payload["codes"] = {
            "mu": _b64(mu.half()),
            "labels": _b64(test.labels[: config.codes].to(torch.uint8)),
            "count": int(mu.shape[0]),
        }
    if not np.little_endian:
        raise RuntimeError("the web export writes little-endian bytes; run it on such a machine")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.js"
    path.write_text(
        "// Generated by vae_tutorial.web.export_web_model; do not edit.\n"
        f"(window.vaeModels = window.vaeModels || {{}})[{json.dumps(name)}] = "
        f"{json.dumps(payload, separators=(',', ':'))};\n"
    )
    return path
