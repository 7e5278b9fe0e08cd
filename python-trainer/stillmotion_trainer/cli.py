"""Command-line entry: `python -m stillmotion_trainer <command> ...`.

Commands are discovered from the `stillmotion_trainer.commands` package (one module each), so
adding a command never touches this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from stillmotion_trainer import PROTOCOL, __version__, allocator, commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stillmotion_trainer")
    parser.add_argument(
        "--version",
        action="version",
        version=f"stillmotion_trainer {__version__} ({PROTOCOL}), allocator {allocator.active()}",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        p = sub.add_parser(info.name.replace("_", "-"), help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
