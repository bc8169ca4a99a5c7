"""Diagrams as data: nodes, edges and plates, and one function that draws them.

Holds `Node`, `Edge`, `Plate`, `Diagram` (a small graph with positions) and `draw`, which
renders a diagram into a matplotlib Axes: latent variables as circles, observed ones as
shaded circles, parameters as dots, operations as boxes; solid arrows for the generative
model or the forward pass, dashed ones for inference, dotted red ones for gradients.
Every artist gets a gid (`node:KEY`, `edge:SOURCE->TARGET`, `plate:LABEL`), so a test can
find what a figure shows and the SVG keeps the names. It does not decide what any diagram
of the book contains: that is the job of the modules beside it, which build a `Diagram`
from the package's own objects.

Reference: Bishop (2006), Pattern Recognition and Machine Learning, section 8.1 (plate
notation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

NodeKind = Literal["latent", "observed", "parameter", "box", "noise"]
EdgeKind = Literal["forward", "inference", "gradient", "blocked"]

STYLE = {
    "radius": 0.35,  # circles, in data units
    "dot": 0.08,  # parameters
    "font": 11,
    "observed": "#c8c8c8",
    "box": "#eef3fb",
    "noise": "#fdf1dc",
    "gradient": "#b2182b",
    "edge": "#222222",
}


@dataclass(frozen=True)
class Node:
    """One node: a key, its label (mathtext allowed), its centre and how it is drawn.

    `size` is (width, height) of a box; circles use STYLE["radius"].
    """

    key: str
    label: str
    xy: tuple[float, float]
    kind: NodeKind = "box"
    size: tuple[float, float] = (1.6, 0.6)


@dataclass(frozen=True)
class Edge:
    """An arrow from `source` to `target`.

    kind: "forward" (solid; the model or the forward pass), "inference" (dashed; q),
    "gradient" (dotted red; where a gradient flows back), "blocked" (dotted red with a
    cross: where it cannot).
    """

    source: str
    target: str
    kind: EdgeKind = "forward"
    label: str = ""


@dataclass(frozen=True)
class Plate:
    """A rectangle around `keys`, repeated `label` times (e.g. "N")."""

    keys: tuple[str, ...]
    label: str
    margin: float = 0.3


@dataclass(frozen=True)
class Diagram:
    """Nodes, edges between them and plates around some of them."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    plates: tuple[Plate, ...] = field(default=())

    def node(self, key: str) -> Node:
        """The node called `key`."""
        for node in self.nodes:
            if node.key == key:
                return node
        raise KeyError(f"no node {key!r}; the diagram has {[n.key for n in self.nodes]}")

    def edge_set(self, kind: EdgeKind | None = None) -> set[tuple[str, str]]:
        """{(source, target)} of the edges of one kind (all edges for None)."""
        return {(e.source, e.target) for e in self.edges if kind is None or e.kind == kind}


def _half_extent(node: Node) -> tuple[float, float]:
    if node.kind in ("latent", "observed"):
        return STYLE["radius"], STYLE["radius"]
    if node.kind == "parameter":
        return STYLE["dot"], STYLE["dot"]
    return node.size[0] / 2, node.size[1] / 2


def _boundary(node: Node, towards: tuple[float, float]) -> tuple[float, float]:
    """The point where the segment from the node's centre to `towards` leaves the node."""
    (x, y), (tx, ty) = node.xy, towards
    dx, dy = tx - x, ty - y
    length = math.hypot(dx, dy) or 1.0
    half_w, half_h = _half_extent(node)
    if node.kind in ("latent", "observed", "parameter"):
        t = half_w / length
    else:
        t = min(half_w / abs(dx) if dx else math.inf, half_h / abs(dy) if dy else math.inf)
    return x + t * dx, y + t * dy


def _draw_node(ax: Axes, node: Node, font: float) -> None:
    x, y = node.xy
    if node.kind in ("latent", "observed"):
        face = STYLE["observed"] if node.kind == "observed" else "white"
        ax.add_patch(
            Circle(
                node.xy, STYLE["radius"], facecolor=face, edgecolor="black", gid=f"node:{node.key}"
            )
        )
        ax.text(x, y, node.label, ha="center", va="center", fontsize=font + 2)
    elif node.kind == "parameter":
        ax.add_patch(Circle(node.xy, STYLE["dot"], color="black", gid=f"node:{node.key}"))
        ax.text(x, y + 0.16, node.label, ha="center", va="bottom", fontsize=font + 1)
    else:
        w, h = node.size
        face = STYLE["noise"] if node.kind == "noise" else STYLE["box"]
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - h / 2),
                w,
                h,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                facecolor=face,
                edgecolor="#4a6fa5" if node.kind == "box" else "#b07a1a",
                gid=f"node:{node.key}",
            )
        )
        ax.text(x, y, node.label, ha="center", va="center", fontsize=font)


def _draw_edge(ax: Axes, diagram: Diagram, edge: Edge, font: float) -> None:
    source, target = diagram.node(edge.source), diagram.node(edge.target)
    start, end = _boundary(source, target.xy), _boundary(target, source.xy)
    backwards = edge.kind in ("gradient", "blocked")
    if backwards or (edge.target, edge.source) in diagram.edge_set():
        # beside the arrow it runs against: a gradient, or x -> z next to z -> x
        dx, dy = end[0] - start[0], end[1] - start[1]
        length = math.hypot(dx, dy) or 1.0
        ox, oy = -dy / length * 0.12, dx / length * 0.12
        start, end = (start[0] + ox, start[1] + oy), (end[0] + ox, end[1] + oy)
    colour = STYLE["gradient"] if backwards else STYLE["edge"]
    style = {"forward": "-", "inference": "--", "gradient": ":", "blocked": ":"}[edge.kind]
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=14,
            linestyle=style,
            linewidth=1.6 if backwards else 1.3,
            color=colour,
            gid=f"edge:{edge.source}->{edge.target}",
        )
    )
    mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    if edge.kind == "blocked":
        ax.text(*mid, "✕", color=colour, ha="center", va="center", fontsize=16, weight="bold")
    if edge.label:
        ax.text(
            mid[0], mid[1] + 0.12, edge.label, ha="center", va="bottom", color=colour,
            fontsize=font - 1,
        )  # fmt: skip


def draw(diagram: Diagram, ax: Axes, title: str | None = None, font: float = STYLE["font"]) -> Axes:
    """Draw `diagram` into `ax` (equal aspect, no axes; labels at `font` points); return `ax`."""
    for plate in diagram.plates:
        members = [diagram.node(k) for k in plate.keys]
        left = min(n.xy[0] - _half_extent(n)[0] for n in members) - plate.margin
        right = max(n.xy[0] + _half_extent(n)[0] for n in members) + plate.margin
        bottom = min(n.xy[1] - _half_extent(n)[1] for n in members) - plate.margin
        top = max(n.xy[1] + _half_extent(n)[1] for n in members) + plate.margin
        ax.add_patch(
            Rectangle(
                (left, bottom), right - left, top - bottom, fill=False, edgecolor="black",
                gid=f"plate:{plate.label}",
            )
        )  # fmt: skip
        ax.text(right - 0.08, bottom + 0.08, plate.label, ha="right", va="bottom")
    for edge in diagram.edges:
        _draw_edge(ax, diagram, edge, font)
    for node in diagram.nodes:
        _draw_node(ax, node, font)
    xs = [n.xy[0] + s * _half_extent(n)[0] for n in diagram.nodes for s in (-1, 1)]
    ys = [n.xy[1] + s * _half_extent(n)[1] for n in diagram.nodes for s in (-1, 1)]
    pad = 0.6
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.set_ylim(min(ys) - pad, max(ys) + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
