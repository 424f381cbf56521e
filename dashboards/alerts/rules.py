"""Alert rules, defined once: parsed from the config's ``[alerts]`` table, rendered as OpenSearch monitors
(``dashboards.alerts.monitors``) and evaluated over the lake (``dashboards.alerts.evaluate``).

Each windowed rule's numbers are its ``params()``: the monitor's trigger script declares them as
constants and the lake evaluation reads the same mapping, so the two can only disagree if one of them
changes its formula, which the tests pin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar, Final

from enrich.config import ConfigError, only_keys, string, table

_DURATION: Final = re.compile(r"(\d+)([mhd])")
_UNITS: Final = {"m": 60, "h": 3600, "d": 86400}
_TEAM: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# OpenSearch Notifications channel ids: auto ids are 20 URL-safe characters; user-chosen ids the same alphabet
_CHANNEL: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
DEFAULT_CHANNEL: Final = "default"


def parse_duration(value: object, where: str) -> timedelta:
    """``"5m"``, ``"24h"``, ``"7d"`` as a timedelta; ConfigError names ``where``."""
    text = string(value, where).strip()
    match = _DURATION.fullmatch(text)
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(f"{where} {text!r} is not a duration like 5m, 24h or 7d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def minutes(duration: timedelta) -> int:
    """Whole minutes in ``duration`` (every alert duration is a whole number of minutes)."""
    return int(duration.total_seconds()) // 60


@dataclass(frozen=True)
class BlockedSpike:
    """Blocked requests of one web ACL in a window above ``factor`` x its own recent mean, and at least
    ``floor`` (a web ACL with little traffic never pages for a handful of blocks)."""

    window: timedelta = timedelta(minutes=5)
    baseline_windows: int = 12  # the previous hour at 5-minute windows
    factor: float = 3.0
    floor: int = 50

    name: ClassVar[str] = "blocked-spike"
    title: ClassVar[str] = "Blocked requests spike"
    severity: ClassVar[str] = "2"

    def params(self) -> dict[str, float]:
        """The numbers the condition uses, by the names the monitor's script and the lake share."""
        return {"baseline_windows": self.baseline_windows, "factor": self.factor, "floor": self.floor}


@dataclass(frozen=True)
class BlockRatioJump:
    """The share of blocked requests in a window up by at least ``jump`` (absolute) over the baseline
    windows' share, with at least ``min_requests`` in the window and some traffic in the baseline."""

    window: timedelta = timedelta(minutes=5)
    baseline_windows: int = 12
    jump: float = 0.2
    min_requests: int = 100

    name: ClassVar[str] = "block-ratio-jump"
    title: ClassVar[str] = "Block ratio jump"
    severity: ClassVar[str] = "3"

    def params(self) -> dict[str, float]:
        """The numbers the condition uses, by the names the monitor's script and the lake share."""
        return {
            "baseline_windows": self.baseline_windows,
            "jump": self.jump,
            "min_requests": self.min_requests,
        }


@dataclass(frozen=True)
class NoLogs:
    """A web ACL seen in the last ``lookback`` with no event in the last ``silence``."""

    lookback: timedelta = timedelta(hours=24)
    silence: timedelta = timedelta(minutes=30)
    every: timedelta = timedelta(minutes=5)  # how often the monitor looks

    name: ClassVar[str] = "no-logs"
    title: ClassVar[str] = "No logs received"
    severity: ClassVar[str] = "2"


WindowedRule = BlockedSpike | BlockRatioJump
Rule = BlockedSpike | BlockRatioJump | NoLogs


@dataclass(frozen=True)
class AnomalyDetection:
    """The block-rate anomaly detector's timing (OpenSearch Anomaly Detection)."""

    interval: timedelta = timedelta(minutes=10)
    window_delay: timedelta = timedelta(minutes=5)
    shingle_size: int = 8


@dataclass(frozen=True)
class AlertRules:
    """Every alert rule plus routing: a web ACL's alerts go to its account team's channel, else the
    ``default`` channel."""

    rules: tuple[Rule, ...] = (BlockedSpike(), BlockRatioJump(), NoLogs())
    channels: tuple[tuple[str, str], ...] = ()  # (team, channel id), sorted by team
    default_channel: str | None = None
    # WAF publishes S3 log files every 5 minutes and Firehose buffers up to 15: a monitor's windows end
    # this long before it runs, so they are complete when counted.
    delay: timedelta = timedelta(minutes=5)
    throttle: timedelta = timedelta(hours=1)  # at most one repeated notification per alert per throttle
    anomaly_detection: AnomalyDetection | None = field(default_factory=AnomalyDetection)

    def channel_for(self, team: str | None) -> str | None:
        """The channel that hears about ``team``'s web ACLs."""
        return dict(self.channels).get(team or "", self.default_channel)

    @property
    def teams(self) -> tuple[str, ...]:
        """Teams with a channel of their own, sorted."""
        return tuple(team for team, _ in self.channels)

    @classmethod
    def from_mapping(cls, doc: Mapping[str, object]) -> AlertRules:
        """The ``[alerts]`` table of a config document; ConfigError names the offending key."""
        alerts = table(doc.get("alerts", {}), "alerts")
        tables = {"blocked_spike", "block_ratio", "no_logs", "channels", "anomaly_detection"}
        only_keys(alerts, {"delay", "throttle", *tables}, "alerts")
        rules = tuple(
            rule
            for rule in (
                _blocked_spike(table(alerts.get("blocked_spike", {}), "alerts.blocked_spike")),
                _block_ratio(table(alerts.get("block_ratio", {}), "alerts.block_ratio")),
                _no_logs(table(alerts.get("no_logs", {}), "alerts.no_logs")),
            )
            if rule is not None
        )
        channels = table(alerts.get("channels", {}), "alerts.channels")
        for team, channel in channels.items():
            _channel(channel, f"alerts.channels.{team}")
            if team != DEFAULT_CHANNEL and not _TEAM.fullmatch(team):
                raise ConfigError(
                    f"alerts.channels.{team}: a team name is 1-64 letters, digits, _ . - starting with "
                    "a letter or digit"
                )
        default = channels.get(DEFAULT_CHANNEL)
        if channels and default is None:
            raise ConfigError("alerts.channels.default is required: it hears about teams without a channel")
        return cls(
            rules=rules,
            channels=tuple(sorted((t, str(c)) for t, c in channels.items() if t != DEFAULT_CHANNEL)),
            default_channel=None if default is None else str(default),
            delay=_whole(alerts, "delay", timedelta(minutes=5), "alerts", allow_zero=True),
            throttle=_whole(alerts, "throttle", timedelta(hours=1), "alerts"),
            anomaly_detection=_detector(
                table(alerts.get("anomaly_detection", {}), "alerts.anomaly_detection")
            ),
        )


def _channel(value: object, where: str) -> str:
    channel = string(value, where)
    if not _CHANNEL.fullmatch(channel):
        raise ConfigError(f"{where} {channel!r} is not a Notifications channel id (letters, digits, _ -)")
    return channel


def _enabled(entry: Mapping[str, object], where: str) -> bool:
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}.enabled must be true or false")
    return enabled


def _whole(
    entry: Mapping[str, object], key: str, default: timedelta, where: str, *, allow_zero: bool = False
) -> timedelta:
    if key not in entry:
        return default
    if allow_zero and entry[key] in ("0", "0m"):
        return timedelta(0)
    return parse_duration(entry[key], f"{where}.{key}")


def _window(entry: Mapping[str, object], where: str) -> timedelta:
    window = _whole(entry, "window", timedelta(minutes=5), where)
    seconds = int(window.total_seconds())
    # the monitor runs on a cron aligned to the window, so its windows are the lake's tumbling windows
    if not (seconds < 3600 and 3600 % seconds == 0) and not (seconds % 3600 == 0 and 86400 % seconds == 0):
        raise ConfigError(
            f"{where}.window must divide an hour or a day evenly (1m, 5m, 10m, 15m, 30m, 1h, 2h, 6h, 1d, ...)"
        )
    return window


def _count(entry: Mapping[str, object], key: str, default: int, where: str, minimum: int) -> int:
    value = entry.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{where}.{key} must be a whole number >= {minimum}")
    return value


def _number(
    entry: Mapping[str, object], key: str, default: float, where: str, *, low: float, high: float
) -> float:
    value = entry.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not low < value <= high:
        raise ConfigError(f"{where}.{key} must be a number above {low:g} and at most {high:g}")
    return float(value)


def _blocked_spike(entry: Mapping[str, object]) -> BlockedSpike | None:
    where = "alerts.blocked_spike"
    only_keys(entry, {"enabled", "window", "baseline_windows", "factor", "floor"}, where)
    if not _enabled(entry, where):
        return None
    return BlockedSpike(
        window=_window(entry, where),
        baseline_windows=_count(entry, "baseline_windows", 12, where, 1),
        factor=_number(entry, "factor", 3.0, where, low=1.0, high=1000.0),
        floor=_count(entry, "floor", 50, where, 1),
    )


def _block_ratio(entry: Mapping[str, object]) -> BlockRatioJump | None:
    where = "alerts.block_ratio"
    only_keys(entry, {"enabled", "window", "baseline_windows", "jump", "min_requests"}, where)
    if not _enabled(entry, where):
        return None
    return BlockRatioJump(
        window=_window(entry, where),
        baseline_windows=_count(entry, "baseline_windows", 12, where, 1),
        jump=_number(entry, "jump", 0.2, where, low=0.0, high=1.0),
        min_requests=_count(entry, "min_requests", 100, where, 1),
    )


def _no_logs(entry: Mapping[str, object]) -> NoLogs | None:
    where = "alerts.no_logs"
    only_keys(entry, {"enabled", "lookback", "silence"}, where)
    if not _enabled(entry, where):
        return None
    rule = NoLogs(
        lookback=_whole(entry, "lookback", timedelta(hours=24), where),
        silence=_whole(entry, "silence", timedelta(minutes=30), where),
    )
    if rule.silence >= rule.lookback:
        raise ConfigError(f"{where}.silence must be shorter than {where}.lookback")
    return rule


def _detector(entry: Mapping[str, object]) -> AnomalyDetection | None:
    where = "alerts.anomaly_detection"
    only_keys(entry, {"enabled", "interval", "window_delay", "shingle_size"}, where)
    if not _enabled(entry, where):
        return None
    shingle = _count(entry, "shingle_size", 8, where, 1)
    if shingle > 60:  # the plugin's maximum (AnomalyDetectorSettings.MAX_SHINGLE_SIZE)
        raise ConfigError(f"{where}.shingle_size must be at most 60")
    return AnomalyDetection(
        interval=_whole(entry, "interval", timedelta(minutes=10), where),
        window_delay=_whole(entry, "window_delay", timedelta(minutes=5), where, allow_zero=True),
        shingle_size=shingle,
    )
