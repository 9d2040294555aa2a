"""``python -m peftcalc`` → the CLI."""

import sys

from peftcalc.cli import main

sys.exit(main())
