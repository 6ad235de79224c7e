"""A JSON description of a matplotlib figure, written next to its PNG
(NAME.png -> NAME.png.json) by every figure of `dgpg report`
(tools/report_figures.py) and of the study drivers (experiments/), so that
a test can check what a figure shows against the data that went in,
without reading pixels.

The description, taken from the Figure object just before it is saved:
  pixels          [width, height] the PNG will have: the figure's size, or
                  where bbox_inches="tight" its tight bounding box plus the
                  padding, times dpi (to within a pixel's rounding)
  axes            one entry per axes, in the figure's order:
    title, xlabel, ylabel, xscale, yscale
    legend        the legend's entries, in order ([] without a legend)
    series        one entry per data artist, in drawing order:
      kind        line (Line2D), scatter (PathCollection), band
                  (fill_between), segments (another LineCollection), bars
                  (one bar() call), errorbar (one errorbar() call: its
                  line, caps and bars as one series)
      label       its label ("" for matplotlib's unlabelled "_child" names)
      n           number of points (bars: of bars)
      x, y        [min, max] over its finite values (bars: x of the bars'
                  centres, y of their heights), null when it has none
      bars        errorbar only: [min, max] of the error bars' ends
"""
import json

import numpy as np
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.container import BarContainer, ErrorbarContainer


def _range(values):
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    return [float(v.min()), float(v.max())] if v.size else None


def _label(artist):
    label = artist.get_label() or ""
    return "" if label.startswith("_") else label


def _series(ax):
    out = []
    in_container = set()  # the artists an errorbar is drawn with
    for c in ax.containers:
        if isinstance(c, BarContainer):
            xs = [p.get_x() + p.get_width() / 2 for p in c.patches]
            hs = [p.get_height() for p in c.patches]
            out.append({"kind": "bars", "label": _label(c), "n": len(c.patches),
                        "x": _range(xs), "y": _range(hs)})
        elif isinstance(c, ErrorbarContainer):
            data_line, caplines, barlinecols = c.lines
            in_container.update(id(a) for a in [data_line, *caplines, *barlinecols])
            x, y = (np.asarray(d, dtype=float) for d in data_line.get_data())
            segs = [seg for coll in barlinecols for seg in coll.get_segments()]
            ends = np.concatenate(segs)[:, 1] if segs else []
            out.append({"kind": "errorbar", "label": _label(c), "n": int(x.size),
                        "x": _range(x), "y": _range(y), "bars": _range(ends)})
    for line in ax.get_lines():
        if id(line) in in_container:
            continue
        x, y = (np.asarray(d, dtype=float) for d in line.get_data())
        out.append({"kind": "line", "label": _label(line), "n": int(x.size),
                    "x": _range(x), "y": _range(y)})
    for coll in ax.collections:
        if id(coll) in in_container:
            continue
        if isinstance(coll, PathCollection):
            xy = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
            kind = "scatter"
        elif isinstance(coll, LineCollection):
            segs = coll.get_segments()
            xy = np.concatenate(segs) if segs else np.zeros((0, 2))
            kind = "segments"
        elif isinstance(coll, PolyCollection):
            paths = coll.get_paths()
            xy = np.concatenate([p.vertices for p in paths]) if paths else np.zeros((0, 2))
            kind = "band"
        else:
            continue
        out.append({"kind": kind, "label": _label(coll), "n": int(xy.shape[0]),
                    "x": _range(xy[:, 0]), "y": _range(xy[:, 1])})
    return out


def describe(fig, dpi, tight, pad_inches=0.1):
    """The description of fig as savefig(dpi=dpi, bbox_inches="tight" if
    tight) will write it."""
    if tight:
        # measured as savefig measures it: text extents at the saving dpi
        shown_dpi = fig.dpi
        fig.dpi = dpi
        try:
            box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(pad_inches)
        finally:
            fig.dpi = shown_dpi
        inches = (box.width, box.height)
    else:
        inches = tuple(fig.get_size_inches())
    axes = []
    for ax in fig.axes:
        legend = ax.get_legend()
        axes.append({"title": ax.get_title(), "xlabel": ax.get_xlabel(),
                     "ylabel": ax.get_ylabel(), "xscale": ax.get_xscale(),
                     "yscale": ax.get_yscale(),
                     "legend": [t.get_text() for t in legend.get_texts()] if legend else [],
                     "series": _series(ax)})
    # Agg truncates the canvas size to whole pixels
    return {"pixels": [int(inches[0] * dpi), int(inches[1] * dpi)],
            "axes": axes}


def savefig(fig, path, dpi, tight=False):
    """fig.savefig(path) and its description in path + ".json"."""
    meta = describe(fig, dpi, tight)
    if tight:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    else:
        fig.savefig(path, dpi=dpi)
    with open(path + ".json", "w") as f:
        json.dump(meta, f, indent=1)
