"""The ``alice-gl demo`` subcommand."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` parser to ``subparsers``."""
    parser = subparsers.add_parser("demo", help="demo (being built)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run ``alice-gl demo`` and return its exit code."""
    raise NotImplementedError("alice-gl demo is being built")
