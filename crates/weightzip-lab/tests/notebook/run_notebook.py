#!/usr/bin/env python3
"""Runs the study's figure notebook, unchanged, on weightzip lab records.

usage: run_notebook.py NOTEBOOK RESULTS ATLAS_DIR OUT_DIR

The code cells of NOTEBOOK (Jupyter JSON) are executed in order as they are;
only the five path assignments of its first code cell (RESULTS, ATLAS_BF16,
ATLAS_Q4K, ATLAS_LAYER, FIG_DIR) are pointed at our files:
RESULTS -> RESULTS, ATLAS_BF16 -> ATLAS_DIR/bf16.jsonl, ATLAS_Q4K ->
ATLAS_DIR/q4k.jsonl, ATLAS_LAYER -> ATLAS_DIR/layer_pairs.jsonl, FIG_DIR ->
OUT_DIR. matplotlib runs on the Agg backend with its bundled fonts.

Every figure is inspected when the notebook saves it, and the run fails
(exit 1) unless:
- fig1 has bars, both panels of fig2 have points, fig3 and fig4 have
  histogram counts;
- fig5 has a point for every method that ran (a valid ratio and decode
  speed) on the corpora the notebook reads (its `corpus_for_kind`);
- every method the notebook's METHOD_CLASS names is recorded with that class.
"""
import json
import os
import pathlib
import re
import sys

os.environ.setdefault("MPLBACKEND", "Agg")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.figure  # noqa: E402
import zstandard  # noqa: E402

PATHS = ("RESULTS", "ATLAS_BF16", "ATLAS_Q4K", "ATLAS_LAYER", "FIG_DIR")


def notebook_code(nb_path, paths):
    nb = json.loads(pathlib.Path(nb_path).read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    first = cells[0]
    for name in PATHS:
        pattern = re.compile(r"^%s\s*=\s*pathlib\.Path\('[^']*'\)$" % name, re.M)
        first, n = pattern.subn("%s = pathlib.Path(%r)" % (name, str(paths[name])), first)
        if n != 1:
            sys.exit("notebook: expected one assignment of %s in the first code cell, found %d" % (name, n))
    return [first] + cells[1:]


def inspect(fig):
    """What a saved figure shows: per axes, bar heights, scatter points, labels."""
    out = []
    for ax in fig.axes:
        bars = [p.get_height() for p in ax.patches if hasattr(p, "get_height")]
        points = sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets"))
        labels = [t.get_text() for t in ax.texts]
        out.append({"bars": bars, "points": points, "labels": labels})
    return out


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    nb, results, atlas, out = sys.argv[1:]
    atlas = pathlib.Path(atlas)
    paths = {
        "RESULTS": pathlib.Path(results),
        "ATLAS_BF16": atlas / "bf16.jsonl",
        "ATLAS_Q4K": atlas / "q4k.jsonl",
        "ATLAS_LAYER": atlas / "layer_pairs.jsonl",
        "FIG_DIR": pathlib.Path(out),
    }
    seen = {}
    real_savefig = matplotlib.figure.Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        seen.setdefault(pathlib.Path(str(fname)).stem, inspect(self))
        return real_savefig(self, fname, *args, **kwargs)

    matplotlib.figure.Figure.savefig = savefig
    ns = {"__name__": "__notebook__"}
    for i, code in enumerate(notebook_code(nb, paths)):
        exec(compile(code, "notebook code cell %d" % (i + 1), "exec"), ns)

    failures = []
    checks = 0

    def check(ok, what):
        nonlocal checks
        checks += 1
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    for stem in ("fig1", "fig2", "fig3", "fig4", "fig5"):
        check(stem in seen, "%s saved" % stem)
        for ext in ("pdf", "png"):
            check((paths["FIG_DIR"] / ("%s.%s" % (stem, ext))).stat().st_size > 0, "%s.%s written" % (stem, ext))
    if failures:
        return finish(failures, checks)
    check(sum(1 for h in seen["fig1"][0]["bars"] if h > 0) > 0, "fig1 has bars (bf16 atlas rows)")
    for i, panel in enumerate(("bf16", "Q4_K")):
        n = seen["fig2"][i]["points"]
        check(n > 0, "fig2 %s panel has points (%d)" % (panel, n))
    for stem, what in (("fig3", "Q4_K H(nibble)"), ("fig4", "layer-pair r")):
        counts = sum(seen[stem][0]["bars"])
        check(counts > 0, "%s histogram counts %s (%d)" % (stem, what, counts))

    # fig5: one point per (corpus, method); compare with what ran.
    corpus_for_kind = ns["corpus_for_kind"]
    drawn = set(seen["fig5"][0]["labels"])
    ran = set()
    raw = zstandard.ZstdDecompressor().decompress(paths["RESULTS"].read_bytes(), max_output_size=2 << 30)
    rows = [json.loads(l) for l in raw.decode().splitlines() if l.strip()]
    classes = {}
    for r in rows:
        corpus = corpus_for_kind.get(r.get("_kind", ""))
        for name, m in r.get("methods", {}).items():
            classes.setdefault(name, m.get("class"))
            if corpus and m.get("ratio") and m.get("decompress_MBps"):
                ran.add("%s (%s)" % (name, corpus))
    check(len(ran) > 0, "methods ran on the notebook's corpora (%d points expected)" % len(ran))
    missing = sorted(ran - drawn)
    check(not missing, "fig5 has a point for every method that ran (%d drawn)%s"
          % (len(drawn), "; missing: " + ", ".join(missing) if missing else ""))
    wrong = sorted("%s: %s, notebook %s" % (n, classes[n], c)
                   for n, c in ns["METHOD_CLASS"].items() if n in classes and classes[n] != c)
    check(not wrong, "recorded classes match METHOD_CLASS%s" % ("; " + "; ".join(wrong) if wrong else ""))
    return finish(failures, checks)


def finish(failures, checks):
    print("notebook: %d passed, %d failed" % (checks - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
