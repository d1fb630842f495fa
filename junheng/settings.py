"""Every ``JUNHENG_*`` setting, in one place: read from the environment here and nowhere else.

    settings = Settings.from_env()                  # what the environment says
    settings = Settings.from_env(catalogue="x")     # a command-line option overrides its variable

:data:`VARIABLES` lists each variable once -- name, default, meaning -- and is the README's
table (tests/junheng/test_settings.py checks that the README lists exactly these, and that no other module
reads a ``JUNHENG_*`` variable). Secrets (the SASL password, receivers' tokens and passwords) are
only ever read from the environment, never from a file in the repository, and never printed
(``repr=False``).

This module is the bottom layer: it imports nothing of the project.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "AlertSettings",
    "BuildSettings",
    "KafkaSettings",
    "MetricsSettings",
    "PROJECT_ROOT",
    "Settings",
    "VARIABLES",
    "Variable",
    "catalogue_name",
    "default_warehouse",
    "settings",
]

#: the folder holding the packages: the repository in a checkout, ``site-packages`` when installed
#: (the dbt project, catalogue, contract, suites and templates are found there either way)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATALOGUE = "qingdao-2021"
ENGINES = ("auto", "pure", "compiled")


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    meaning: str


#: Every setting the platform reads, once. The README's settings table is this list.
VARIABLES: tuple[Variable, ...] = (
    Variable(
        "JUNHENG_WAREHOUSE",
        "./warehouse",
        "the warehouse folder: landing, state, marts, export, alerts, report (every command's `--warehouse` default)",
    ),
    Variable(
        "JUNHENG_CATALOGUE",
        DEFAULT_CATALOGUE,
        "the rules catalogue: a name in `rules/catalogue/` or a path to a YAML file (recorded in the warehouse; the build renders the dbt seeds for it)",
    ),
    Variable(
        "JUNHENG_DISTRICTS",
        "the packaged Qingdao list",
        "the jurisdiction's district list: a CSV of `district_code,name_zh,name_en,kind,profile` (recorded in the warehouse; the build renders the dbt seeds for it)",
    ),
    Variable(
        "JUNHENG_ENGINE",
        "auto",
        "the rules engine: `auto` (compiled when a fresh build exists), `pure` or `compiled` (a missing build is an error)",
    ),
    Variable(
        "JUNHENG_KAFKA_BOOTSTRAP",
        "127.0.0.1:9092",
        "Kafka bootstrap servers, comma-separated (`KAFKA_PORT` changes the default port)",
    ),
    Variable("JUNHENG_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`"),
    Variable("JUNHENG_KAFKA_SASL_MECHANISM", "-", "e.g. `SCRAM-SHA-512`, `PLAIN` (SASL protocols)"),
    Variable("JUNHENG_KAFKA_SASL_USERNAME", "-", "SASL user"),
    Variable("JUNHENG_KAFKA_SASL_PASSWORD", "-", "SASL password (environment only; never printed)"),
    Variable("JUNHENG_KAFKA_SSL_CAFILE", "-", "CA bundle to verify the broker's certificate (SSL protocols)"),
    Variable(
        "JUNHENG_TOPIC_PREFIX",
        "junheng",
        "topics are `<prefix>.events`, `<prefix>.dead-letters`, …; the worker's group is `<prefix>-worker`",
    ),
    Variable("JUNHENG_ALERTMANAGER_URL", "-", "Alertmanager to deliver alerts to, e.g. `http://127.0.0.1:9093`"),
    Variable(
        "JUNHENG_ALERT_WEBHOOK_URL",
        "-",
        "a JSON webhook to deliver alert state changes to (`user:pass@` is sent as basic auth)",
    ),
    Variable(
        "JUNHENG_ALERT_WEBHOOK_TOKEN",
        "-",
        "bearer token for the webhook (`Authorization: Bearer`; environment only, never printed)",
    ),
    Variable("JUNHENG_ALERT_WEBHOOK_USERNAME", "-", "basic-auth user for the webhook (instead of a token)"),
    Variable(
        "JUNHENG_ALERT_WEBHOOK_PASSWORD", "-", "basic-auth password for the webhook (environment only; never printed)"
    ),
    Variable(
        "JUNHENG_ALERTMANAGER_USERNAME",
        "-",
        "basic-auth user for Alertmanager (its `--web.config.file` `basic_auth_users`)",
    ),
    Variable(
        "JUNHENG_ALERTMANAGER_PASSWORD", "-", "basic-auth password for Alertmanager (environment only; never printed)"
    ),
    Variable(
        "JUNHENG_ALERT_CAFILE",
        "-",
        "CA bundle to verify HTTPS receivers (webhook, Alertmanager); default: the system's",
    ),
    Variable("JUNHENG_ALERT_GENERATOR_URL", "-", "link put in each alert, `{alert_id}` replaced, e.g. a BI dashboard"),
    Variable("JUNHENG_ALERT_RESEND_TTL", "21600", "seconds a firing alert stays in Alertmanager without a refresh"),
    Variable("JUNHENG_ALERT_RETRIES", "3", "delivery attempts per receiver and evaluation"),
    Variable(
        "JUNHENG_MAX_STALENESS",
        "30",
        "`junheng serve`: seconds after a landing change by which a build starts at the latest, however busy the landing",
    ),
    Variable(
        "JUNHENG_MAX_LOADED_DISTRICTS",
        "128",
        "district states kept in memory between batches, least recently used dropped (`junheng run`: changed ones"
        " written to their staged files until the commit; the worker's `--max-loaded-districts` default)",
    ),
    Variable(
        "JUNHENG_PUBLISHED_KEEP",
        "3",
        "published builds kept under `<warehouse>/published/` (the current one included; at least 1)",
    ),
    Variable(
        "JUNHENG_METRICS_PORT",
        "0",
        "`junheng worker` and `junheng serve`: serve Prometheus metrics, `/healthz` and `/readyz` on this port (0: off; `--metrics-port` overrides)",
    ),
    Variable(
        "JUNHENG_METRICS_BIND",
        "127.0.0.1",
        "the address the metrics port listens on (`0.0.0.0`: every interface, for a Prometheus on another host)",
    ),
)
_NAMES = frozenset(v.name for v in VARIABLES)


def _get(env: Mapping[str, str], name: str) -> str | None:
    """A variable's value; unset or blank is None. Only names of :data:`VARIABLES`."""
    assert name in _NAMES, f"{name} is not a setting of junheng.settings.VARIABLES"
    value = env.get(name)
    return value if value is not None and value.strip() != "" else None


def _env() -> Mapping[str, str]:
    return os.environ


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = field(
        default_factory=lambda: (
            _get(_env(), "JUNHENG_KAFKA_BOOTSTRAP") or f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
        )
    )
    security_protocol: str = field(
        default_factory=lambda: _get(_env(), "JUNHENG_KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT"
    )
    sasl_mechanism: str | None = field(default_factory=lambda: _get(_env(), "JUNHENG_KAFKA_SASL_MECHANISM"))
    sasl_username: str | None = field(default_factory=lambda: _get(_env(), "JUNHENG_KAFKA_SASL_USERNAME"))
    sasl_password: str | None = field(default_factory=lambda: _get(_env(), "JUNHENG_KAFKA_SASL_PASSWORD"), repr=False)
    ssl_cafile: str | None = field(default_factory=lambda: _get(_env(), "JUNHENG_KAFKA_SSL_CAFILE"))
    topic_prefix: str = field(default_factory=lambda: _get(_env(), "JUNHENG_TOPIC_PREFIX") or "junheng")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"


@dataclass(frozen=True)
class AlertSettings:
    alertmanager_url: str | None = None
    webhook_url: str | None = None
    generator_url: str | None = None
    resend_ttl_s: float = 6 * 3600.0
    retries: int = 3
    # receivers' credentials and the CA that verifies them: secrets never in a repr
    webhook_token: str | None = field(default=None, repr=False)
    webhook_username: str | None = None
    webhook_password: str | None = field(default=None, repr=False)
    alertmanager_username: str | None = None
    alertmanager_password: str | None = field(default=None, repr=False)
    cafile: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertSettings:
        env = os.environ if env is None else env
        ttl, retries = _get(env, "JUNHENG_ALERT_RESEND_TTL"), _get(env, "JUNHENG_ALERT_RETRIES")
        try:
            out = cls(
                alertmanager_url=_get(env, "JUNHENG_ALERTMANAGER_URL"),
                webhook_url=_get(env, "JUNHENG_ALERT_WEBHOOK_URL"),
                generator_url=_get(env, "JUNHENG_ALERT_GENERATOR_URL"),
                resend_ttl_s=float(ttl) if ttl else cls.resend_ttl_s,
                retries=int(retries) if retries else cls.retries,
                webhook_token=_get(env, "JUNHENG_ALERT_WEBHOOK_TOKEN"),
                webhook_username=_get(env, "JUNHENG_ALERT_WEBHOOK_USERNAME"),
                webhook_password=_get(env, "JUNHENG_ALERT_WEBHOOK_PASSWORD"),
                alertmanager_username=_get(env, "JUNHENG_ALERTMANAGER_USERNAME"),
                alertmanager_password=_get(env, "JUNHENG_ALERTMANAGER_PASSWORD"),
                cafile=_get(env, "JUNHENG_ALERT_CAFILE"),
            )
        except ValueError as exc:
            raise ValueError(
                f"JUNHENG_ALERT_RESEND_TTL must be seconds and JUNHENG_ALERT_RETRIES a whole number: {exc}"
            ) from None
        if out.webhook_token and (out.webhook_username or out.webhook_password):
            raise ValueError(
                "set JUNHENG_ALERT_WEBHOOK_TOKEN or JUNHENG_ALERT_WEBHOOK_USERNAME and "
                "JUNHENG_ALERT_WEBHOOK_PASSWORD, not both"
            )
        for names, user, password in (
            (
                "JUNHENG_ALERT_WEBHOOK_USERNAME and JUNHENG_ALERT_WEBHOOK_PASSWORD",
                out.webhook_username,
                out.webhook_password,
            ),
            (
                "JUNHENG_ALERTMANAGER_USERNAME and JUNHENG_ALERTMANAGER_PASSWORD",
                out.alertmanager_username,
                out.alertmanager_password,
            ),
        ):
            if (user is None) != (password is None):
                raise ValueError(f"{names} go together: set both or neither")
        return out


@dataclass(frozen=True)
class BuildSettings:
    """How builds are published and how fresh `junheng serve` keeps the marts."""

    max_staleness_s: float = 30.0
    keep_published: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BuildSettings:
        env = os.environ if env is None else env
        staleness, keep = _get(env, "JUNHENG_MAX_STALENESS"), _get(env, "JUNHENG_PUBLISHED_KEEP")
        try:
            out = cls(
                max_staleness_s=float(staleness) if staleness else cls.max_staleness_s,
                keep_published=int(keep) if keep else cls.keep_published,
            )
        except ValueError as exc:
            raise ValueError(
                f"JUNHENG_MAX_STALENESS must be seconds and JUNHENG_PUBLISHED_KEEP a whole number: {exc}"
            ) from None
        if out.max_staleness_s <= 0 or out.keep_published < 1:
            raise ValueError(
                f"JUNHENG_MAX_STALENESS must be above 0 (got {out.max_staleness_s:g}) and "
                f"JUNHENG_PUBLISHED_KEEP at least 1 (got {out.keep_published})"
            )
        return out


@dataclass(frozen=True)
class MetricsSettings:
    """Where a long-running process (worker, builder) serves its metrics and health; port 0 is off,
    so nothing listens unless asked to."""

    port: int = 0
    bind: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MetricsSettings:
        env = os.environ if env is None else env
        port, bind = _get(env, "JUNHENG_METRICS_PORT"), _get(env, "JUNHENG_METRICS_BIND")
        try:
            out = cls(port=int(port) if port else cls.port, bind=bind.strip() if bind else cls.bind)
        except ValueError:
            raise ValueError(f"JUNHENG_METRICS_PORT must be a port number (0: off), got {port!r}") from None
        if not 0 <= out.port <= 65535:
            raise ValueError(f"JUNHENG_METRICS_PORT must be between 0 (off) and 65535, got {out.port}")
        return out


@dataclass(frozen=True)
class Settings:
    """The platform's configuration: the environment's ``JUNHENG_*`` variables, command-line
    options over them."""

    warehouse: Path
    catalogue: str
    districts: Path | None  # None: the packaged list (ingestion/reference/districts.csv)
    engine: str
    kafka: KafkaSettings
    alerts: AlertSettings
    build: BuildSettings
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    max_loaded_districts: int = 128  # district states kept in memory between batches (at least 1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read the environment (`env`, default ``os.environ``); a keyword that is not None
        replaces its variable's value (``Settings.from_env(catalogue=args.catalogue)``)."""
        env = os.environ if env is None else env
        engine = (_get(env, "JUNHENG_ENGINE") or "auto").strip().lower()
        if engine not in ENGINES:
            raise ValueError(f"JUNHENG_ENGINE={engine!r}: expected auto, pure or compiled")
        districts = _get(env, "JUNHENG_DISTRICTS")
        loaded = _get(env, "JUNHENG_MAX_LOADED_DISTRICTS") or "128"
        if not loaded.strip().isdigit() or int(loaded) < 1:
            raise ValueError(
                f"JUNHENG_MAX_LOADED_DISTRICTS={loaded!r}: expected a whole number of districts, at least 1"
            )
        values: dict[str, object] = {
            "warehouse": Path(_get(env, "JUNHENG_WAREHOUSE") or _default_warehouse_folder()),
            "catalogue": _get(env, "JUNHENG_CATALOGUE") or DEFAULT_CATALOGUE,
            "districts": Path(districts) if districts else None,
            "engine": engine,
            "kafka": KafkaSettings(),
            "alerts": AlertSettings.from_env(env),
            "build": BuildSettings.from_env(env),
            "metrics": MetricsSettings.from_env(env),
            "max_loaded_districts": int(loaded),
        }
        unknown = set(overrides) - set(values)
        if unknown:
            raise TypeError(f"no such setting: {sorted(unknown)}")
        values.update(
            {
                k: (Path(str(v)) if k in ("warehouse", "districts") and v is not None else v)
                for k, v in overrides.items()
                if v is not None
            }
        )
        return cls(**values)  # type: ignore[arg-type]


def _default_warehouse_folder() -> Path:
    """``warehouse/`` of the checkout (what ``make demo`` uses, whatever the current folder); for an
    installed package ``./warehouse`` of the current folder: never a folder inside site-packages."""
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT / "warehouse"
    return Path.cwd() / "warehouse"


def settings() -> Settings:
    """The settings of this process's environment, read now."""
    return Settings.from_env()


def default_warehouse() -> Path:
    return settings().warehouse


def catalogue_name() -> str:
    return settings().catalogue


def markdown_table() -> str:
    """The README's settings table (``python -m junheng.settings`` prints it)."""
    rows = ["| variable | default | what it sets |", "|---|---|---|"]
    rows += [
        f"| `{v.name}` | {'`' + v.default + '`' if v.default not in ('-',) and not v.default.startswith('the ') else v.default} "
        f"| {v.meaning} |"
        for v in VARIABLES
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
