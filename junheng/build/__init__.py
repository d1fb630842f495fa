"""`junheng build`: landing files → dbt marts (working database) → alerts → GX checkpoint →
published marts (immutable DuckDB file + Parquet export, switched atomically) → report.

    build(warehouse, as_of=None, catalogue=None) -> BuildResult      raises BuildError

The package, one job per module:

- :mod:`~junheng.build.pipeline` -- the stages of one build, in order (read its docstring first);
- :mod:`~junheng.build.dbt` -- ``dbt build`` as a subprocess into the working database;
- :mod:`~junheng.build.busy` -- a DuckDB lock error as one line naming the process that holds it;
- :mod:`~junheng.build.working` -- what the working database holds (the plan's ``previous``);
- :mod:`~junheng.build.publish` -- publish, never block: versions, the atomic switch, keep-N;
- :mod:`~junheng.build.export` -- the Parquet export of a published version;
- :mod:`~junheng.build.landing` -- the landing's watermark (what a build has seen);
- :mod:`~junheng.build.result`, :mod:`~junheng.build.errors`, :mod:`~junheng.build.command`.

``junheng serve`` (junheng/serve.py) runs the same :func:`build` whenever the landing advanced.
This package also runs as ``python -m junheng.build --warehouse DIR [--as-of D] [--catalogue C] [--json]``.
"""
from junheng.build.command import add_arguments, cmd_build, main
from junheng.build.dbt import dies_with_parent
from junheng.build.errors import BuildCancelled, BuildError, BuildInputError, DatabaseBusy
from junheng.build.export import ExportedMart
from junheng.build.pipeline import ALERT_MART, build
from junheng.build.result import BuildResult

__all__ = ["ALERT_MART", "BuildCancelled", "BuildError", "BuildInputError", "BuildResult", "DatabaseBusy",
           "ExportedMart", "add_arguments", "build", "cmd_build", "dies_with_parent", "main"]
