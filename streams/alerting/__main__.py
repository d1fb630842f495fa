"""python -m streams.alerting — the same as `junheng alerts` (streams/alerting/cli.py)."""
import sys

from streams.alerting.cli import main

sys.exit(main())
