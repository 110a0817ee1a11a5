"""``python -m launcher ...``: the ``phr`` command line without installing its script."""
import sys

from launcher.cli import main

sys.exit(main())
