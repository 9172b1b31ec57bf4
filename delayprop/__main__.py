"""``python -m delayprop ...``: the same as the ``delayprop`` command."""
import sys

from delayprop.cli import main

sys.exit(main())
