"""The ``alice-gl inspect`` subcommand."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``inspect`` parser to ``subparsers``."""
    parser = subparsers.add_parser("inspect", help="inspect (being built)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run ``alice-gl inspect`` and return its exit code."""
    raise NotImplementedError("alice-gl inspect is being built")
