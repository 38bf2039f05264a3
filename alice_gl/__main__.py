"""Allow ``python -m alice_gl``, the same as the ``alice-gl`` command."""

import sys

from alice_gl.cli import main

sys.exit(main())
