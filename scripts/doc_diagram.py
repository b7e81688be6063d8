"""The lifecycle diagram as SVG, drawn when the docs are built: no JavaScript, no network.

The states and transitions are `lifecycle._diagram`'s (the ones the Mermaid and
DOT diagrams draw, from the compiled machine); grandalf, a pure-Python
Sugiyama layout, places them, and this module writes the SVG. Each state is a
`<g class="state" data-state="...">` and each arrow a `<g class="transition"
data-from="..." data-to="..." data-events="...">`, so tests can read the
drawing back.
"""

from __future__ import annotations

from html import escape

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout
from grandalf.routing import EdgeViewer, route_with_lines

from lifecycle import OrderStatus
from lifecycle._diagram import _edges

FONT = 14
#: Rough advance of one character at `FONT` px: capitals (state names), then lower case.
CAPITAL, LOWER = 9.6, 7.7
BOX_HEIGHT = 34
MARGIN = 40
START = 6  # radius of the initial-state dot


class _Box:
    """What grandalf lays out: a box's size in, its centre (`xy`) out."""

    def __init__(self, width: float, height: float) -> None:
        self.w, self.h = width, height
        self.xy = (0.0, 0.0)


def svg() -> str:
    """The order states and the transitions between them, laid out top to bottom."""
    vertices = {status: Vertex(status) for status in OrderStatus}
    for status, vertex in vertices.items():
        vertex.view = _Box(len(status) * CAPITAL + 28, BOX_HEIGHT)
    edges = []
    for (source, target), events in sorted(_edges().items()):
        edge = Edge(vertices[source], vertices[target])
        edge.view = EdgeViewer()
        edge.events = events
        edges.append(edge)
    layout = SugiyamaLayout(Graph(list(vertices.values()), edges).C[0])
    layout.xspace, layout.yspace = 24, 56
    layout.route_edge = route_with_lines
    layout.init_all(roots=[vertices[OrderStatus.UNPAID]])
    layout.draw()

    xs, ys = [], []
    for vertex in vertices.values():
        (x, y), box = vertex.view.xy, vertex.view
        xs += [x - box.w / 2, x + box.w / 2]
        ys += [y - box.h / 2, y + box.h / 2]
    for edge in edges:
        for x, y in edge.view._pts:
            xs.append(x)
            ys.append(y)
        label_x = _label_at(edge.view._pts)[0]
        xs.append(label_x + len(", ".join(edge.events)) * LOWER)
    left, top = min(xs) - MARGIN, min(ys) - MARGIN - 3 * START
    width, height = max(xs) - left + MARGIN, max(ys) - top + MARGIN

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lifecycle-diagram" role="img"'
        f' viewBox="{left:.0f} {top:.0f} {width:.0f} {height:.0f}" width="{width:.0f}"'
        f' style="max-width: 100%; height: auto" font-family="sans-serif" font-size="{FONT}">',
        "<title>The order lifecycle: states and the transitions between them</title>",
        '<defs><marker id="lifecycle-arrow" viewBox="0 0 10 10" refX="10" refY="5"'
        ' markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z"'
        ' fill="#555"/></marker></defs>',
    ]
    first = vertices[OrderStatus.UNPAID].view
    (fx, fy), gap = first.xy, 2 * START
    out.append(
        f'<g class="start"><circle cx="{fx:.1f}" cy="{fy - first.h / 2 - gap - START:.1f}"'
        f' r="{START}" fill="#333"/><line x1="{fx:.1f}" y1="{fy - first.h / 2 - gap:.1f}"'
        f' x2="{fx:.1f}" y2="{fy - first.h / 2:.1f}" stroke="#555"'
        ' marker-end="url(#lifecycle-arrow)"/></g>'
    )
    for edge in edges:
        source, target = edge.v[0].data, edge.v[1].data
        events = ", ".join(edge.events)
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in edge.view._pts)
        label_x, label_y = _label_at(edge.view._pts)
        out.append(
            f'<g class="transition" data-from="{source}" data-to="{target}"'
            f' data-events="{escape(events)}"><polyline points="{points}" fill="none"'
            ' stroke="#555" marker-end="url(#lifecycle-arrow)"/>'
            f'<text x="{label_x:.1f}" y="{label_y:.1f}" fill="#222" stroke="#fff"'
            f' stroke-width="4" paint-order="stroke">{escape(events)}</text></g>'
        )
    for status, vertex in vertices.items():
        (x, y), box = vertex.view.xy, vertex.view
        rim = (
            f'<rect x="{x - box.w / 2 + 3:.1f}" y="{y - box.h / 2 + 3:.1f}"'
            f' width="{box.w - 6:.1f}" height="{box.h - 6:.1f}" rx="6" fill="none"'
            ' stroke="#3f51b5"/>'
            if status.is_final
            else ""
        )
        out.append(
            f'<g class="state" data-state="{status}"><rect x="{x - box.w / 2:.1f}"'
            f' y="{y - box.h / 2:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" rx="8"'
            f' fill="#e8eaf6" stroke="#3f51b5"/>{rim}<text x="{x:.1f}" y="{y + FONT / 3:.1f}"'
            f' text-anchor="middle" fill="#111">{status}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _label_at(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Beside the middle of an arrow's first segment, where it leaves its state."""
    (ax, ay), (bx, by) = points[0], points[1]
    return (ax + bx) / 2 + 5, (ay + by) / 2 + FONT / 3
