"""``python -m aioups``."""

import sys

from aioups.cli import main

sys.exit(main())
