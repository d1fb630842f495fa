"""python -m junheng.alerting — the same as `junheng alerts` (junheng/alerting/cli.py)."""

import sys

from junheng.alerting.cli import main

sys.exit(main())
