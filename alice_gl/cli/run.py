"""The ``alice-gl run`` subcommand."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` parser to ``subparsers``."""
    parser = subparsers.add_parser("run", help="run (being built)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run ``alice-gl run`` and return its exit code."""
    raise NotImplementedError("alice-gl run is being built")
