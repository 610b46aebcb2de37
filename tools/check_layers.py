#!/usr/bin/env python3
"""Checks that every project #include follows the layer table (docs/architecture.md).

Layers, from the bottom: base, kernels, then tokenizer and weights (side by side, neither
includes the other), then engine, then tools. A file may include its own folder's layer or a
lower one; never a higher one ("up") nor another folder of its own layer ("sideways").
tests/, bench/ and fuzz/ sit on top and may include anything.

Usage: tools/check_layers.py [ROOT]   exit 0 when clean; 1 with one line per bad include.
       tools/check_layers.py --suite       as a test suite of `make test`: the tree's check and
                                           a self-test on a planted bad tree, closing with a
                                           doctest-style summary line that tools/run_tests.sh counts
"""
import pathlib
import re
import sys
import tempfile

# folder -> (layer, group); an include is fine when its target's layer is lower, or the same
# layer and the same group.
LAYERS = {
    "base": (0, "base"),
    "kernels": (1, "kernels"),
    "tokenizer": (2, "tokenizer"),
    "weights": (2, "weights"),
    "engine": (3, "engine"),
    "tools": (4, "tools"),
    "tests": (5, "top"),
    "bench": (5, "top"),
    "fuzz": (5, "top"),
}
SOURCES = (".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh", ".inc", ".def")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def check(root: pathlib.Path) -> list[str]:
    bad = []
    for folder, (layer, group) in LAYERS.items():
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in SOURCES or not path.is_file():
                continue
            rel = path.relative_to(root)
            for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                top = target.split("/", 1)[0]
                if top not in LAYERS:
                    if "/" in target:  # a project path under a folder the table does not know
                        bad.append(f"{rel}:{lineno}: includes {target}: folder '{top}' is not in the layer table")
                    continue  # a file next to this one (e.g. "doctest.h" style local include)
                tlayer, tgroup = LAYERS[top]
                if tlayer > layer:
                    bad.append(f"{rel}:{lineno}: includes {target}: '{folder}' (layer {layer}) may not include "
                               f"'{top}' (layer {tlayer}, above it)")
                elif tlayer == layer and tgroup != group:
                    bad.append(f"{rel}:{lineno}: includes {target}: '{folder}' and '{top}' are side by side "
                               f"(layer {layer}); neither may include the other")
    return bad


def self_test() -> list[str]:
    """The checker on a made-up tree: every kind of bad include is reported, good ones are not."""
    files = {
        "base/a.h": '#include "base/b.h"\n',                      # same folder: fine
        "kernels/k.cpp": '#include "base/a.h"\n',                 # down: fine
        "tokenizer/t.cpp": '#include "weights/w.h"\n',            # sideways: bad
        "weights/w.cpp": '#include "engine/e.h"\n',               # up: bad
        "engine/e.cpp": '#include "tools/x.h"\n#include "kernels/k.h"\n',  # up: bad; down: fine
        "tests/t.cpp": '#include "tools/x.h"\n',                  # tests see everything
        "kernels/cuda/x.cu": '  #  include "engine/tape.h"\n',    # spacing, .cu
        "engine/n.cpp": '#include "nowhere/x.h"\n',               # unknown folder: bad
    }
    want = {"tokenizer/t.cpp:1", "weights/w.cpp:1", "engine/e.cpp:1", "kernels/cuda/x.cu:1", "engine/n.cpp:1"}
    with tempfile.TemporaryDirectory() as d:
        for name, text in files.items():
            p = pathlib.Path(d) / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        got = {b.split(": ", 1)[0] for b in check(pathlib.Path(d))}
    return [] if got == want else [f"self-test: reported {sorted(got)}, expected {sorted(want)}"]


def suite() -> int:
    cases = [("the tree follows the layer table", check(pathlib.Path("."))),
             ("a planted bad tree is caught", self_test())]
    failed = 0
    for name, bad in cases:
        for b in bad:
            print(b)
        print(f"check_layers: {name}: {'FAILED' if bad else 'ok'}")
        failed += bool(bad)
    print(f"[doctest] test cases: {len(cases)} | {len(cases) - failed} passed | {failed} failed | 0 skipped")
    return 1 if failed else 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--suite":
        return suite()
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    bad = check(root)
    for b in bad:
        print(b)
    if bad:
        print(f"check_layers: {len(bad)} include(s) against the layer table (docs/architecture.md)")
        return 1
    print("check_layers: every #include follows the layer table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
