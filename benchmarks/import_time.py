"""Import-time cost of `@grad`: a module with 10 decorated functions, imported in a
fresh interpreter, cold (nothing generated yet) and warm (every module cached),
against the same module without the decorators.

    python benchmarks/import_time.py [--runs 9]

Each figure is the median over fresh subprocesses of the time to import the
module, NumPy already imported (both versions import it; its own 50-100 ms
would drown the difference). The decorated rows include importing adcompiler
itself. Bytecode caching is left on (PYTHONDONTWRITEBYTECODE is removed from
the environment), as in a normal installation. The interpreters run without
`site` (`python -S`, with NumPy's site-packages and this checkout on
PYTHONPATH): an editable install's `site` hooks import modules (pathlib,
urllib) that a user's plain script would not have loaded, and would hide
what importing adcompiler costs. `--site` keeps `site`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

BODIES = [
    "return np.sum(w ** 2)",
    "return np.sum(np.tanh(w) * w)",
    "h = np.exp(w)\n    return np.sum(h / (1.0 + h))",
    "z = w * 3.0 + 1.0\n    return np.mean(z * z)",
    "return np.sum(np.sin(w) * np.cos(w))",
    "a = np.sqrt(w * w + 1.0)\n    return np.sum(a)",
    "return np.sum(np.log1p(w * w))",
    "h = np.tanh(w)\n    g = h * h\n    return np.sum(g - h)",
    "return np.sum(np.maximum(w, 0.0) * w)",
    "s = np.sum(w)\n    return s * s",
]


def module_text(decorated: bool) -> str:
    lines = ["import numpy as np"]
    if decorated:
        lines.append("from adcompiler import grad")
    lines.append("")
    for i, body in enumerate(BODIES):
        lines.append("")
        if decorated:
            lines.append("@grad")
        lines.append(f"def loss{i}(w):\n    {body}\n")
    return "\n".join(lines) + "\n"


PROBE = textwrap.dedent("""
    import sys, time
    import numpy
    t = time.perf_counter()
    import {name}
    print(time.perf_counter() - t)
    """)


FLAGS: list[str] = ["-S"]


def time_import(folder: Path, name: str, env: dict) -> float:
    result = subprocess.run(
        [sys.executable, *FLAGS, "-c", PROBE.format(name=name)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--site", action="store_true", help="run with `site`")
    args = parser.parse_args()
    if args.site:
        FLAGS.clear()
    import numpy

    site_packages = str(Path(numpy.__file__).resolve().parent.parent)
    work = Path(tempfile.mkdtemp(prefix="adc-bench-"))
    try:
        (work / "decorated.py").write_text(module_text(True))
        (work / "plain.py").write_text(module_text(False))
        (work / "only_adc.py").write_text(
            "import numpy as np\nfrom adcompiler import grad\n"
        )
        generated = work / "generated"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), site_packages, env.get("PYTHONPATH", "")]
        )
        env["ADC_GENERATED"] = str(generated)
        for name in ("plain", "only_adc", "decorated"):  # warm up the .pyc files
            time_import(work, name, env)

        def cold() -> float:
            shutil.rmtree(generated, ignore_errors=True)
            return time_import(work, "decorated", env)

        rows = {
            "undecorated (same module, no adcompiler)": [
                time_import(work, "plain", env) for _ in range(args.runs)
            ],
            "`import adcompiler` alone": [
                time_import(work, "only_adc", env) for _ in range(args.runs)
            ],
            "cold: 10 @grad, nothing generated": [cold() for _ in range(args.runs)],
        }
        time_import(work, "decorated", env)  # everything generated and cached
        rows["warm: 10 @grad, all cached"] = [
            time_import(work, "decorated", env) for _ in range(args.runs)
        ]
        modules = sorted(p.name for p in generated.glob("*.py"))
        assert len(modules) == len(BODIES), modules
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(rows["undecorated (same module, no adcompiler)"])
    print(
        f"Python {sys.version.split()[0]}, median and minimum over {args.runs} fresh "
        f"interpreters{' (python -S)' if FLAGS else ''}\n"
    )
    low = min(rows["undecorated (same module, no adcompiler)"])
    print(
        "| import of the module | median ms | added (median) | min ms | added (min) |"
    )
    print("|---|---:|---:|---:|---:|")
    for label, times in rows.items():
        med, fast = statistics.median(times), min(times)
        print(
            f"| {label} | {med * 1e3:.2f} | {(med - base) * 1e3:+.2f} "
            f"| {fast * 1e3:.2f} | {(fast - low) * 1e3:+.2f} |"
        )


if __name__ == "__main__":
    main()
