"""Run every benchmark script, then list every target as met, missed or not measured.

Each script runs in its own process (so one model's memory or GL state cannot skew the next)
with ``--json bench/results/<script>.json``; ``--quick`` is passed through. The scripts'
tables go to stdout as they finish, their progress bars to stderr. ``--markdown PATH`` also
writes all tables and the targets to one Markdown file, the source of docs/benchmarks.md.
The exit status is 1 when a script failed, else 0; a missed target is a result, not a failure.

Usage: python bench/run_all.py [--quick] [--markdown PATH] [--only SCRIPT ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS_DIR, format_targets

logger = logging.getLogger(__name__)

BENCH_DIR = Path(__file__).resolve().parent
# executor_latency compares the NumPy executor with onnx.reference; the others are this suite's.
SCRIPTS = ("latency", "memory", "quantize_time", "peak", "executor_latency")


def run_script(name: str, quick: bool, results_dir: Path) -> tuple[int, str, float]:
    """Run ``bench/<name>.py``; return its exit status, its stdout and its wall time in s."""
    command = [sys.executable, str(BENCH_DIR / f"{name}.py"), "--json",
               str(results_dir / f"{name}.json")]
    if quick:
        command.append("--quick")
    logger.info("Running %s", shlex.join(command))
    started = time.perf_counter()
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    elapsed_s = time.perf_counter() - started
    print(completed.stdout, flush=True)
    if completed.returncode != 0:
        logger.error("%s failed with exit status %d", name, completed.returncode)
    return completed.returncode, completed.stdout, elapsed_s


def collect_targets(names: list[str], results_dir: Path) -> list[dict]:
    """Return the targets of every script's JSON output, in script order."""
    targets = []
    for name in names:
        path = results_dir / f"{name}.json"
        if path.is_file():
            targets.extend(json.loads(path.read_text(encoding="utf-8")).get("targets", []))
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, help="run only these scripts")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                        help="folder of the JSON outputs (default bench/results)")
    parser.add_argument("--markdown", type=Path,
                        help="also write every table and the targets to this Markdown file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    names = list(args.only or SCRIPTS)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    sections, failed = [], []
    for name in names:
        status, output, elapsed_s = run_script(name, args.quick, args.results_dir)
        if status != 0:
            failed.append(name)
        sections.append(f"### bench/{name}.py ({elapsed_s:.0f} s)\n\n{output.strip()}\n")

    summary = format_targets(collect_targets(names, args.results_dir))
    print("## All targets\n\n" + summary)
    if args.markdown:
        command = shlex.join(["python", "bench/run_all.py", *sys.argv[1:]])
        args.markdown.write_text(f"Command: `{command}`\n\n" + "\n".join(sections)
                                 + "\n## All targets\n\n" + summary + "\n", encoding="utf-8")
    if failed:
        logger.error("Failed: %s", ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
