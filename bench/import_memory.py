"""Peak memory of parsing an uploaded text matrix (core.export.import_table), each case in a fresh process.

Cases: a 19 MB word2vec file of one line (2.4 million numbers: refused, at what cost?), the same behind a "1 D"
header, and one that fits (25,000 x 100). Each child builds the bytes, resets the peak (/proc/self/clear_refs),
parses, and reports VmHWM minus the baseline and what `charge` was asked for (`--repo PATH`: another tree's too).

Run: python bench/import_memory.py [--repo /tmp/import_before]  (Linux only: it reads /proc/self/status)"""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1024**2
SIZE = 19 * MB


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _file(case: str) -> bytes:
    import numpy as np

    rng = np.random.default_rng(0)
    if case == "fits":
        rows, dim = 25_000, 100
        numbers = rng.standard_normal((rows, dim)).astype(np.float32)
        lines = [f"{rows} {dim}"] + [f"w{i} " + " ".join(f"{v:.5f}" for v in row) for i, row in enumerate(numbers)]
        return ("\n".join(lines) + "\n").encode()
    n = SIZE * 2 // 15  # "-0.1234 " is 8 bytes, "0.1234 " 7
    body = " ".join(f"{v:.4f}" for v in rng.uniform(-1, 1, n))
    header = f"1 {n}\n" if case == "one line, header" else ""
    return f"{header}word {body}\n".encode()


def child(case: str, repo: str) -> dict:
    sys.path.insert(0, repo)
    import ctypes
    import gc

    import numpy as np  # noqa: F401  (loaded before the baseline, as in the server)

    from core import export

    data = _file(case)
    asked = []
    kwargs = {"charge": asked.append} if "charge" in inspect.signature(export.import_table).parameters else {}
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # building the file freed memory the parse could reuse unseen
    Path("/proc/self/clear_refs").write_text("5")
    baseline = _status_kib("VmRSS") * 1024
    try:
        table = export.import_table("vectors.txt", data, **kwargs)
        outcome = f"imported {table.weight.shape[0]:,} x {table.weight.shape[1]:,}"
    except export.ImportFileError as error:
        outcome = f"refused: {str(error)[:70]}"
    except Exception as error:  # the old tree may let other errors out: report them
        outcome = f"{type(error).__name__}: {str(error)[:60]}"
    peak = _status_kib("VmHWM") * 1024 - baseline
    return {"file": len(data), "peak": peak, "charged": max(asked, default=None), "outcome": outcome}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--repo", action="append", default=[], help="another tree to measure (its core/)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    repos = [*args.repo, str(ROOT)]
    print("peak = VmHWM - baseline while import_table parses the file; charged = what it asked the budget for (MB)")
    print(f"{'case':<20} {'tree':<24} {'file':>6} {'peak':>8} {'x file':>7} {'charged':>8}  outcome")
    for case in ("one line", "one line, header", "fits"):
        for repo in repos:
            out = subprocess.run(
                [sys.executable, __file__, "--child", case, repo],
                capture_output=True, text=True, check=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
            )  # fmt: skip
            r = json.loads(out.stdout.strip().splitlines()[-1])
            charged = "-" if r["charged"] is None else f"{r['charged'] / MB:.1f}"
            print(
                f"{case:<20} {repo[-24:]:<24} {r['file'] / MB:>6.1f} {r['peak'] / MB:>8.1f} "
                f"{r['peak'] / r['file']:>6.1f}x {charged:>8}  {r['outcome']}"
            )


if __name__ == "__main__":
    main()
