"""The bridge's YAML configuration, validated into typed settings.

    broker:
      url: mqtt://127.0.0.1:1883          # mqtt:// or mqtts://; user:password@ allowed
      username: bridge                    # optional, overrides the URL's
      password: ${MQTT_PASSWORD}          # ${VAR} is read from the environment
      client_id: pwsk-bridge              # fixed: the broker keeps this session's messages
    api:
      host: http://127.0.0.1:3233
      key: ${PWSK_AUTH}                   # uuid:key, sent with basic auth
    routes:
      - topic: brewery/+/+                # MQTT filter; + one level, # the rest
        trigger: measurement
        params: {tank: "{1}", sensor: "{2}"}
    state_dir: bridge-state               # journal.jsonl and dead-letter.jsonl go here
    metrics: {host: 127.0.0.1, port: 9464}

In ``params``, ``{N}`` is topic level N counting from 0 (``brewery/mash/level``: ``{0}`` is
``brewery``, ``{1}`` is ``mash``) and ``{topic}`` the whole topic; ``{{`` and ``}}`` are
literal braces; a value that is not a string is passed as it is. Relative paths are resolved
against the configuration file's folder.

Every mistake is reported at start-up as a ``ConfigError`` naming the file and the field.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pwsk.errors import PwskError
from pwsk.names import parse_fqn

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class ConfigError(Exception):
    """The configuration is missing, unreadable or invalid; the message says where and why."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Seconds = Annotated[float, Field(gt=0)]


class BrokerSettings(_Model):
    url: str
    username: str | None = None
    password: str | None = None
    client_id: str = Field(default="pwsk-bridge", min_length=1, max_length=23)
    keepalive: int = Field(default=30, ge=5, le=3600)
    # Reconnect back-off after a lost or refused connection: initial, doubling up to max.
    reconnect_initial: Seconds = 0.1
    reconnect_max: Seconds = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError("must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("has no host")
        try:
            parts.port  # noqa: B018 - urlsplit checks the port only when asked
        except ValueError:
            raise ValueError("has a port that is not a number from 0 to 65535") from None
        if parts.path not in ("", "/") or parts.query:
            raise ValueError("must be mqtt://[user[:password]@]host[:port] with nothing after")
        return url

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or DEFAULT_PORTS[parts.scheme]

    @property
    def user(self) -> str | None:
        if self.username is not None:
            return self.username
        name = urlsplit(self.url).username
        return unquote(name) if name else None

    @property
    def secret(self) -> str | None:
        if self.password is not None:
            return self.password
        word = urlsplit(self.url).password
        return unquote(word) if word else None


class ApiSettings(_Model):
    host: str
    key: str
    namespace: str = "_"
    timeout: Seconds = 10.0  # one fire request; a slow answer is retried like a 5xx
    insecure: bool = False  # accept a self-signed TLS certificate

    @field_validator("host")
    @classmethod
    def _host(cls, host: str) -> str:
        if urlsplit(host).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return host.rstrip("/")

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        uuid, sep, secret = key.partition(":")
        if not (uuid and sep and secret):
            raise ValueError("must be 'uuid:key' (the value of AUTH in ~/.wskprops)")
        return key


class Route(_Model):
    topic: str
    trigger: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("topic")
    @classmethod
    def _topic(cls, topic: str) -> str:
        check_filter(topic)
        return topic

    @field_validator("trigger")
    @classmethod
    def _trigger(cls, trigger: str) -> str:
        try:
            fqn = parse_fqn(trigger)
        except PwskError as exc:
            raise ValueError(exc.message) from None
        if fqn.package:
            raise ValueError("triggers do not live in packages: use 'name' or '/namespace/name'")
        return trigger

    @model_validator(mode="after")
    def _templates(self) -> Route:
        levels = self.topic.split("/")
        open_ended = levels[-1] == "#"
        for key, value in self.params.items():
            if not isinstance(value, str):
                continue
            for field_name in template_fields(value, f"params.{key}"):
                if field_name == "topic":
                    continue
                index = int(field_name)
                # Past a '#' the topic may or may not have the level; that is checked per message.
                if not open_ended and index >= len(levels):
                    raise ValueError(
                        f"params.{key}: '{{{index}}}' is topic level {index}, but "
                        f"'{self.topic}' has levels 0 to {len(levels) - 1}"
                    )
        return self


class RetrySettings(_Model):
    """Fires that fail with 5xx, 429, 408 or no answer are retried with exponential back-off."""

    initial: Seconds = 0.2
    max: Seconds = 30.0
    # After this long since the first try the fire goes to the dead-letter file.
    give_up_after: Seconds = 600.0

    @model_validator(mode="after")
    def _order(self) -> RetrySettings:
        if self.max < self.initial:
            raise ValueError("max must not be smaller than initial")
        return self


class MetricsSettings(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)  # 0: any free port


class BridgeConfig(_Model):
    broker: BrokerSettings
    api: ApiSettings
    routes: list[Route] = Field(min_length=1)
    max_in_flight: int = Field(default=32, ge=1, le=10_000)
    retry: RetrySettings = RetrySettings()
    state_dir: Path = Path("bridge-state")
    dead_letter: Path | None = None  # default: <state_dir>/dead-letter.jsonl
    # fsync the journal before acknowledging a message (group commit); without it a
    # message survives a bridge crash but not a power cut.
    fsync: bool = True
    # On shutdown, how long running fires may take before they are left to the journal.
    drain_timeout: Seconds = 5.0
    metrics: MetricsSettings | None = MetricsSettings()
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.jsonl"

    @property
    def dead_letter_path(self) -> Path:
        return self.dead_letter or self.state_dir / "dead-letter.jsonl"

    def resolved(self, base: Path) -> BridgeConfig:
        """The same settings with relative paths taken from ``base``."""
        changes: dict[str, Any] = {"state_dir": base / self.state_dir}
        if self.dead_letter is not None:
            changes["dead_letter"] = base / self.dead_letter
        return self.model_copy(update=changes)


def check_filter(topic: str) -> None:
    """Raise ``ValueError`` unless ``topic`` is a valid MQTT subscription filter."""
    if not topic:
        raise ValueError("is empty")
    if "\0" in topic:
        raise ValueError("contains a NUL character")
    if len(topic.encode()) > 65535:
        raise ValueError("is longer than 65535 bytes")
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError("'#' must be a whole level and the last one")
        if "+" in level and level != "+":
            raise ValueError("'+' must be a whole level")


def template_fields(template: str, where: str) -> list[str]:
    """The placeholders of a params template; ``ValueError`` for a malformed one."""
    names: list[str] = []
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name is None:  # {{ or }}
            continue
        if name != "topic" and not name.isdigit():
            raise ValueError(f"{where}: '{{{name}}}' must be {{N}} (a topic level) or {{topic}}")
        names.append(name)
    stray = _PLACEHOLDER.sub("", template)
    if "{" in stray or "}" in stray:
        raise ValueError(f"{where}: unbalanced brace in {template!r} (write {{{{ or }}}})")
    return names


def expand_env(value: Any, environ: os._Environ[str] | dict[str, str], where: str = "") -> Any:
    """Replace ``${VAR}`` in every string of a parsed YAML tree; unset variables are errors."""
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConfigError(f"{where or 'value'}: environment variable {name} is not set")
            return environ[name]
        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand_env(v, environ, f"{where}.{k}" if where else str(k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, environ, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def parse_config(data: Any, source: str = "configuration",
                 environ: os._Environ[str] | dict[str, str] | None = None) -> BridgeConfig:
    """Validate an already-parsed mapping (for tests and embedding)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top, got {type(data).__name__}")
    expanded = expand_env(data, os.environ if environ is None else environ)
    try:
        return BridgeConfig.model_validate(expanded)
    except ValidationError as exc:
        lines = [f"{source} is not valid:"]
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "(top)"
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"  {where}: {message}")
        raise ConfigError("\n".join(lines)) from None


def load_config(path: str | Path,
                environ: os._Environ[str] | dict[str, str] | None = None) -> BridgeConfig:
    """Read and validate a YAML file; relative paths in it are taken from its folder."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from None
    config = parse_config(data, str(file), environ)
    return config.resolved(file.resolve().parent)
