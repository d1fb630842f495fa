"""Imported by Python at start-up in a subprocess that has tests/plugins on its PYTHONPATH: installs
the test-only faults its environment names (tests/plugins/faults.py), before any test code runs.
Nothing happens when no JUNHENG_FAULT_* variable is set."""

import os

if any(k.startswith("JUNHENG_FAULT_") for k in os.environ):
    import faults

    faults.install_from_env()
