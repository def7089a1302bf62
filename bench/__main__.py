"""``python -m bench [name ...]``: run the named benchmarks (all by default)."""

from __future__ import annotations

import sys

from bench import chat, runtime_pipeline
from bench import routing as routing_bench

BENCHMARKS = {
    "runtime": runtime_pipeline.main,
    "chat": chat.main,
    "routing": routing_bench.main,
}


def main(argv: list[str]) -> None:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    for name in names:
        print(f"== {name}")
        BENCHMARKS[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
