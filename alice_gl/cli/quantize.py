"""The ``alice-gl quantize`` subcommand."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``quantize`` parser to ``subparsers``."""
    parser = subparsers.add_parser("quantize", help="quantize (being built)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run ``alice-gl quantize`` and return its exit code."""
    raise NotImplementedError("alice-gl quantize is being built")
