"""``python -m peftcalc`` → the CLI."""

from peftcalc.cli import entry_point

entry_point()
