"""The ``alice-gl`` command-line tool.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``handler`` to a function taking the parsed arguments and returning an exit code.
Exit codes: 0 success, 2 bad arguments or input (``InvalidInputError``), 1 any other failure,
130 interrupted by Ctrl-C (SIGINT). Errors are printed to stderr as one sentence. When the reader
of stdout closes the pipe (``alice-gl inspect MODEL --json | head``), the command stops quietly
with status 1, as the Python documentation on SIGPIPE recommends.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from alice_gl.cli import demo, inspect, quantize, run
from alice_gl.errors import AliceGLError, InvalidInputError

logger = logging.getLogger("alice_gl")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="alice-gl",
        description="Quantize FP32 ONNX models to INT8 and run them on OpenGL shaders.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more detail: -v for INFO, -vv for DEBUG (default WARNING)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (quantize, inspect, run, demo):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exit_request.code or 0)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        exit_code = args.handler(args)
        # Flush here, so a closed pipe surfaces inside this try and not at interpreter exit.
        sys.stdout.flush()
        return exit_code
    except KeyboardInterrupt:
        print(f"alice-gl {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILURE
    except InvalidInputError as error:
        print(f"alice-gl {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except AliceGLError as error:
        print(f"alice-gl {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as error:
        print(f"alice-gl {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush to a closed pipe is silent."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        # stdout has no file descriptor (replaced by a test harness); nothing is left to flush.
        pass
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
