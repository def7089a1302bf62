"""``python -m bench`` runs every benchmark with its defaults (``make bench``);
``python -m bench NAME [options]`` runs one, passing the options on (``--help`` lists them)."""

from __future__ import annotations

import importlib
import inspect
import sys

BENCHMARKS = {
    "runtime": "bench.runtime_pipeline",
    "chat": "bench.chat",
    "routing": "bench.routing",
    "gateway": "bench.gateway",
}


def run(name: str, argv: list[str]) -> None:
    main = importlib.import_module(BENCHMARKS[name]).main
    print(f"== {name}", flush=True)
    if inspect.signature(main).parameters:
        main(argv)
    else:
        main()


def cli(argv: list[str]) -> None:
    if not argv:
        for name in BENCHMARKS:
            run(name, [])
        return
    name, options = argv[0], argv[1:]
    if name not in BENCHMARKS:
        raise SystemExit(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    run(name, options)


if __name__ == "__main__":
    cli(sys.argv[1:])
