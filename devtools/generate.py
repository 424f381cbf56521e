"""Realistic synthetic AWS WAF (WAFv2) logs for demos, tests and benchmarks.

``iter_records`` yields compact JSON records; ``write_logs`` writes them as NDJSON, gzip for ``.gz``.
One ``random.Random(seed)`` first builds the pools (clients, header lists, route tables), then draws
the records one after another, so record i never depends on how many records were asked for. A record
is mostly references to shared, never-mutated pool objects serialized by orjson: that is what makes
millions of records cheap. What exists (accounts, web ACLs, rule groups, attacks) is in
``devtools.generate_catalog``.

Secrets planted for redaction tests start with ``PLANTED_SECRET_PREFIX`` and appear only where the
redaction policy (enrich/redact.py) replaces them:

* values of sensitive headers (authorization, proxy-authorization, cookie, x-api-key, x-auth-token,
  x-csrf-token, x-xsrf-token, x-amz-security-token) in ``httpRequest.headers``, about 30% of records,
  in several spellings; rarely (about 0.1% each) the name padded with spaces, tabs or NUL, or written
  with JSON escapes (``"\\u0041uthorization"``, the serialized bytes rewritten: orjson never escapes);
* values of ``requestHeadersInserted`` entries named ``x-amzn-waf-<sensitive>``, prefix sometimes doubled;
* values of sensitive query arguments (access_token, api_key, X-Amz-Signature, password, ...) in
  ``httpRequest.args`` (a few percent of records), a ``;jsessionid=`` matrix parameter in ``uri``, and
  in URLs: a Referer's query string, a user-info password in a Referer or an absolute-form ``uri``;
* ``matchedData`` tokens of SQLi/XSS matches on a cookie, a header (named sensitive or unnamed) or a
  sensitive query argument, in every match-details list (a few percent of records);
* rate-based ``customValues`` keyed on a cookie (``COOKIE``, sometimes ``cookie``/``Cookie``), the
  x-api-key header, the api_key argument or a query string holding ``api_key=``.

``cut_inside_secret`` and ``write_cut_off`` make records cut off inside a secret value, for tests only.
"""

from __future__ import annotations

import base64
import gzip
import random
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson

from devtools import generate_catalog as cat
from devtools import generate_plans as plans
from devtools.generate_catalog import Json

PLANTED_SECRET_PREFIX: Final = cat.PLANTED_SECRET_PREFIX
_SLOT: Final = cat.SECRET.encode()  # where the catalog's shared strings take this record's secret
_SLOT_END: Final = _SLOT[-1:]  # one byte: memchr, about six times faster than searching for _SLOT

_BLOCK: Final = 64  # records per time block, like one S3 object's few minutes
_BACKWARDS: Final = 0.36  # a record steps back with p, so adjacent pairs go back with ~p - p²/2 ≈ 30%
_MARGIN_MS: Final = 600_000  # keeps every block and its jitter inside the three days
_CLASSIC: Final = 0.005
_SECRETS: Final = 0.30
_COOKIE_KEYS: Final = ("COOKIE",) * 6 + ("cookie", "Cookie")  # WAF writes COOKIE; log transforms rewrite it
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_MASK40: Final = (1 << 40) - 1
RequestId = Callable[[random.Random, int, int], str]


def iter_records(count: int, *, seed: int = 0) -> Iterator[bytes]:
    """Yield ``count`` WAF records, each one compact JSON object as UTF-8 bytes (no newline)."""
    generator = _Generator(seed)
    for i in range(count):
        yield generator.record(i)


def cut_inside_secret(record: bytes, *, occurrence: int = -1, keep: int = 12) -> bytes:
    """``record`` cut ``keep`` characters into the random part of one planted secret (the last by default).

    What a truncated object leaves when it ends inside a secret value, before the closing quote.
    """
    ends = [m.end() for m in re.finditer(re.escape(PLANTED_SECRET_PREFIX.encode()), record)]
    if not ends:
        raise ValueError("the record carries no planted secret")
    return record[: ends[occurrence] + keep]


def write_cut_off(path: Path, count: int, *, seed: int = 0) -> int:
    """``count - 1`` records, then one cut inside its last planted secret, with no newline after it.

    The cut record is the first from index ``count - 1`` on that carries a secret. For a ``.gz`` path the
    gzip stream itself stops there: flushed, but with no final block and no trailer, as when an upload or
    a copy is interrupted. Returns the number of complete records.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    generator = _Generator(seed)
    complete = [generator.record(i) for i in range(count - 1)]
    last, i = generator.record(count - 1), count
    while PLANTED_SECRET_PREFIX.encode() not in last:
        last, i = generator.record(i), i + 1
    body = b"".join(r + b"\n" for r in complete) + cut_inside_secret(last)
    if path.name.endswith(".gz"):
        deflate = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: a gzip header
        body = deflate.compress(body) + deflate.flush(zlib.Z_SYNC_FLUSH)
    path.write_bytes(body)
    return len(complete)


def write_logs(path: Path, count: int, *, seed: int = 0) -> int:
    """Write NDJSON (one record per line, ``\\n`` terminated); gzip when path ends with .gz.

    Returns the number of records written.
    """
    written = 0
    gz = path.name.endswith(".gz")
    with gzip.open(path, "wb", compresslevel=1) if gz else path.open("wb") as out:
        batch: list[bytes] = []
        for record in iter_records(count, seed=seed):
            batch.append(record)
            if len(batch) == 4096:  # one write per batch: a write call per record costs more than the join
                out.write(b"\n".join(batch) + b"\n")
                written, batch = written + len(batch), []
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    return written + len(batch)


# --- pools, built once per call -------------------------------------------------------------------


def _table(weights: list[float], size: int) -> list[int]:
    """Indexes laid out in proportion to weights (largest remainder), so rare cases always get a slot."""
    exact = [w * size / sum(weights) for w in weights]
    counts = [int(e) for e in exact]
    for i in sorted(range(len(weights)), key=lambda i: counts[i] - exact[i])[: size - sum(counts)]:
        counts[i] += 1
    return [i for i, n in enumerate(counts) for _ in range(n)]


@dataclass(frozen=True, slots=True)
class _Client:
    ip: str
    country: str
    geo: list[Json]  # the awswaf:clientip:geo labels


def _client(rng: random.Random, kind: str, countries: list[int]) -> _Client:
    cc, regions, _ = cat.COUNTRIES[countries[rng.getrandbits(8)]]
    octets = f"{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if kind == "private":  # a private API or VPC endpoint: no geolocation
        return _Client(f"10.{octets}", "-", [])
    if kind == "masked":  # published samples anonymise the address into a non-IP
        ip = rng.choice(cat.MASKED_IPS)
    elif kind == "ipv6":
        ip = rng.choice(cat.IPV6_PREFIXES) + "".join(f":{rng.getrandbits(16):x}" for _ in range(6))
    else:
        ip = f"{rng.choice(cat.IPV4_FIRST_OCTETS)}.{octets}"
    region = f"{cc}-{rng.choice(regions)}"
    geo: list[Json] = [
        {"name": f"awswaf:clientip:geo:country:{cc}"},
        {"name": f"awswaf:clientip:geo:region:{region}"},
    ]
    return _Client(ip, cc, geo)


def _client_pools(rng: random.Random) -> dict[str, list[_Client]]:
    """4096 ordinary slots (10% IPv6, 1% private, 0.5% masked, heavy hitters), 64 attackers, 8 floods."""
    countries = _table([float(w) for _, _, w in cat.COUNTRIES], 256)
    ipv4 = [_client(rng, "ipv4", countries) for _ in range(1500)]
    normal = rng.choices(ipv4, weights=[1 / (r + 1) ** 0.9 for r in range(len(ipv4))], k=4096 - 475)
    normal += [_client(rng, kind, countries) for kind in ["ipv6"] * 410 + ["private"] * 41 + ["masked"] * 24]
    rng.shuffle(normal)
    attackers = [_client(rng, "ipv6" if i % 8 == 0 else "ipv4", countries) for i in range(64)]
    return {
        "normal": normal,
        "attacker": attackers,
        "flood": [_client(rng, "ipv4", countries) for _ in range(8)],
    }


@dataclass(frozen=True, slots=True)
class _Template:
    """A site's header list for one client profile; per-record headers replace the slots (-1: none)."""

    headers: list[Json]
    xff: int
    trace: int
    cf_id: int
    lower: bool


def _template(res: cat.Resource, prof: cat.Profile, edge: str) -> _Template:
    lower = prof.version == "HTTP/2.0" or res.source == "APPSYNC"

    def h(name: str, value: str) -> Json:
        return {"name": name.lower() if lower else name, "value": value}

    client = [h("User-Agent", prof.user_agent)] if prof.user_agent else []
    client += [h(n, v) for n, v in prof.headers]
    host, xff, trace, cf_id = (
        h("Host", res.host),
        h("X-Forwarded-For", ""),
        h("X-Amzn-Trace-Id", ""),
        h("X-Amz-Cf-Id", ""),
    )
    port, proto = h("X-Forwarded-Port", "443"), h("X-Forwarded-Proto", "https")
    headers: list[Json]
    if res.source == "APIGW":  # API Gateway's own headers come first (waf-log-format.md §3)
        headers = [xff, proto, port, {"name": "Host", "value": res.host}, trace, *client]
    elif res.source == "APPSYNC":  # AppSync is reached through CloudFront
        cloudfront = [h("CloudFront-Forwarded-Proto", "https"), h("CloudFront-Is-Desktop-Viewer", "true")]
        headers = [*client, *cloudfront, host, h("Via", edge), cf_id, trace, xff, port, proto]
    elif res.source == "COGNITOIDP":
        target = h("X-Amz-Target", "AWSCognitoIdentityProviderService.InitiateAuth")
        headers = [host, target, h("Content-Type", "application/x-amz-json-1.1"), *client]
    elif res.source == "APPRUNNER":
        headers = [host, *client, xff, proto]
    else:
        headers = [host, *client]
    slot = {id(x): i for i, x in enumerate(headers)}
    return _Template(headers, slot.get(id(xff), -1), slot.get(id(trace), -1), slot.get(id(cf_id), -1), lower)


def _cf_id(rng: random.Random, uniq: int, ts: int) -> str:  # 56 characters ending "=="
    return base64.urlsafe_b64encode((rng.getrandbits(280) << 40 | uniq).to_bytes(40, "big")).decode()


def _alb_id(rng: random.Random, uniq: int, ts: int) -> str:  # the X-Ray trace id
    return f"1-{ts // 1000:08x}-{rng.getrandbits(56) << 40 | uniq:024x}"


def _apigw_id(rng: random.Random, uniq: int, ts: int) -> str:  # 16 characters ending "="
    return base64.urlsafe_b64encode((rng.getrandbits(48) << 40 | uniq).to_bytes(11, "big")).decode()


def _uuid_id(rng: random.Random, uniq: int, ts: int) -> str:
    h = f"{rng.getrandbits(88) << 40 | uniq:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_REQUEST_IDS: Final[dict[str, RequestId]] = {"CF": _cf_id, "ALB": _alb_id, "APIGW": _apigw_id}
# API Gateway, AppSync, Cognito and App Runner log one HTTP version whatever the client speaks.
_VERSIONS: Final = {
    "APIGW": "HTTP/1.1",
    "APPSYNC": "HTTP/1.0",
    "COGNITOIDP": "HTTP/1.1",
    "APPRUNNER": "HTTP/1.1",
}


@dataclass(frozen=True, slots=True)
class _Site:
    """A protected resource with its seeded pools."""

    res: cat.Resource
    routes: list[tuple[str, str, str]]  # 1024 slots of (method, uri, args)
    mix: list[int]  # 256 slots of profile indexes
    templates: list[_Template]  # by profile index
    request_id: RequestId
    tls: bool  # CloudFront and ALB log JA3/JA4
    version: str | None
    body_limit: int  # default body inspection limit


def _site(rng: random.Random, res: cat.Resource, profiles: list[str]) -> _Site:
    combos: list[tuple[str, str, str]] = []
    weights: list[float] = []
    for route in cat.SITES[res.site]:
        ids = [f"{rng.getrandbits(48):012x}" for _ in range(12)] if "{id}" in route.uri else [""]
        combos += [
            (route.method, res.prefix + route.uri.replace("{id}", x), a) for x in ids for a in route.args
        ]
        weights += [route.weight / (len(ids) * len(route.args))] * (len(ids) * len(route.args))
    mix = cat.MIXES[res.mix]
    edge = f"2.0 {rng.getrandbits(128):032x}.cloudfront.net (CloudFront)"
    return _Site(
        res,
        [combos[i] for i in _table(weights, 1024)],
        [profiles.index(mix[i][0]) for i in _table([float(w) for _, w in mix], 256)],
        [_template(res, cat.PROFILES[p], edge) for p in profiles],
        _REQUEST_IDS.get(res.source, _uuid_id),
        res.source in ("CF", "ALB"),
        _VERSIONS.get(res.source),
        16_384 if res.source == "CF" else 8_192,
    )


@dataclass(frozen=True, slots=True)
class _Acl:
    arn: str
    sites: list[_Site]  # 64 slots
    outcomes: list[plans.Outcome]  # 4096 slots
    geo: bool
    bot: bool
    rate_ids: dict[str, tuple[str, str]]  # rule name -> rateBasedRuleId for IPv4 and IPv6 clients


def _acl(
    rng: random.Random,
    acl: cat.WebAcl,
    outcomes: tuple[tuple[float, plans.Outcome], ...],
    profiles: list[str],
) -> _Acl:
    sites = [_site(rng, res, profiles) for res in acl.resources]
    rate_ids = {}
    for name in acl.rate_rules:  # the AWS-managed IP set behind the rule, in account <acct>_MANAGED
        rule = cat.stable_uuid(f"{acl.arn}/{name}")
        ipset = f"arn:aws:wafv2:{acl.region}:{acl.account}_MANAGED:{acl.scope}/ipset/{acl.acl_id}_{rule}"
        rate_ids[name] = (f"{ipset}_IPV4/{rule}", f"{ipset}_IPV6/{rule}")
    site_slots = [sites[i] for i in _table([float(r.weight) for r in acl.resources], 64)]
    outcome_slots = [outcomes[i][1] for i in _table([w for w, _ in outcomes], 4096)]
    return _Acl(acl.arn, site_slots, outcome_slots, acl.geo_labels, "botcontrol" in acl.groups, rate_ids)


def _fingerprints(rng: random.Random, profile: cat.Profile) -> tuple[str, str]:
    """JA3 and JA4 of one client software, the same for all its requests."""
    alpn = "h2" if profile.version == "HTTP/2.0" else "h1"
    hashes = f"{rng.getrandbits(48):012x}_{rng.getrandbits(48):012x}"
    return (
        f"{rng.getrandbits(128):032x}",
        f"t13d{rng.randrange(10, 20)}{rng.randrange(10, 18)}{alpn}_{hashes}",
    )


def _failure(code: int, token: str, reason: str) -> tuple[Json, list[Json]]:
    """A failed CAPTCHA or Challenge: the response object and the token labels that go with it."""
    absent = reason == "TOKEN_MISSING"
    labels: list[Json] = [{"name": "awswaf:managed:token:" + ("absent" if absent else "rejected")}]
    if token == "captcha":
        labels.append({"name": "awswaf:managed:captcha:absent"})
    return {"responseCode": code, "solveTimestamp": 0, "failureReason": reason}, labels


def _scramble(i: int) -> int:
    """A bijection on 40 bits: distinct record indexes give distinct, random-looking id bits."""
    x = ((i + 0x5DEECE66D) * 0x9E3779B97F) & _MASK40  # adding, odd multipliers and xor-shifts all invert
    x ^= x >> 19
    x = (x * 0xC2B2AE3D27) & _MASK40
    return x ^ (x >> 23)


def _radical_inverse(n: int) -> float:
    """Van der Corput: 0, 1/2, 1/4, 3/4, ... so any prefix of blocks spreads over the whole span."""
    inverse, denominator = 0, 1
    while n:
        inverse, n, denominator = inverse * 2 + (n & 1), n >> 1, denominator * 2
    return inverse / denominator


def _escape_name(data: bytes, header: Json, whole: bool) -> bytes:
    """``data`` with ``header``'s name written in JSON escapes: ``\\u0061\\u0075…`` or ``\\u0041uth…``."""
    name = str(header["name"])
    rest = orjson.dumps(name[1:]).decode()[1:-1]  # a padding tab or NUL after the first letter stays escaped
    escaped = "".join(f"\\u{ord(c):04x}" for c in name) if whole else f"\\u{ord(name[0]):04X}{rest}"
    plain = orjson.dumps(header)
    return data.replace(plain, plain.replace(orjson.dumps(name), f'"{escaped}"'.encode(), 1), 1)


def _replace_user_agent(headers: list[Json], user_agent: str) -> None:
    for k, header in enumerate(headers):
        if str(header["name"]).lower() == "user-agent":
            headers[k] = {"name": header["name"], "value": user_agent}
            return
    headers.append({"name": "User-Agent", "value": user_agent})


_ORDINARY: Final = cat.Attack(clients="normal")
_TOKEN_ACCEPTED: Final[list[Json]] = [{"name": "awswaf:managed:token:accepted"}]


class _Generator:
    """Draws records in order from one Random: pools first, so record i depends only on (seed, i)."""

    def __init__(self, seed: int) -> None:
        rng = self._rng = random.Random(seed)
        names = list(cat.PROFILES)
        self._profile_index = {name: i for i, name in enumerate(names)}
        self._profiles = [cat.PROFILES[name] for name in names]
        self._bot_labels: list[list[Json]] = [[{"name": n} for n in p.bot_labels] for p in self._profiles]
        self._tls = [_fingerprints(rng, p) for p in self._profiles]
        self._clients = _client_pools(rng)
        acl_plans = plans.web_acl_plans()
        acls = [_acl(rng, acl, outcomes, names) for acl, outcomes in acl_plans]
        self._acls = [acls[i] for i in _table([float(acl.weight) for acl, _ in acl_plans], 1024)]
        self._classic = _site(rng, cat.CLASSIC_RESOURCE, names)
        self._steps = [0 if i < 13 else min(3_000, 1 + int(rng.expovariate(1 / 700))) for i in range(256)]
        self._body_sizes = [cat.BODY_SIZES[i][0] for i in _table([float(w) for _, w in cat.BODY_SIZES], 256)]
        self._secret_kinds = [
            cat.SECRET_KINDS[i][0] for i in _table([float(w) for _, w in cat.SECRET_KINDS], 64)
        ]
        self._failures = {
            token: [_failure(code, token, reason) for reason in cat.TOKEN_FAILURES]
            for token, code in (("captcha", 405), ("challenge", 202))
        }
        self._cursor = cat.START_MS

    def record(self, i: int) -> bytes:
        """Record i as compact JSON."""
        rng = self._rng
        ts, uniq = self._tick(i), _scramble(i)
        if rng.random() < _CLASSIC:
            return self._fill(orjson.dumps(self._classic_record(ts, uniq)))
        acl = self._acls[rng.getrandbits(10)]
        site = acl.sites[rng.getrandbits(6)]
        out = acl.outcomes[rng.getrandbits(12)]
        client = self._client(out.attack.clients)
        profile, headers, request, size = self._request(site, out.attack, client, ts, uniq)
        rates = [] if out.rate is None else [self._rate(acl, out.rate, client, request, headers)]
        non_terminating = self._solved(ts) if out.token == "nt_captcha" else out.non_terminating
        inserted, escape = (
            self._plant(headers, out.inserted) if rng.random() < _SECRETS else (out.inserted, None)
        )
        rec: Json = {
            "timestamp": ts,
            "formatVersion": 1,
            "webaclId": acl.arn,
            "terminatingRuleId": out.rule_id,
            "terminatingRuleType": out.rule_type,
            "action": out.action,
            "terminatingRuleMatchDetails": out.details,
            "httpSourceName": site.res.source,
            "httpSourceId": site.res.source_id,
            "ruleGroupList": out.groups,
            "rateBasedRuleList": rates,
            "nonTerminatingMatchingRules": non_terminating,
            "requestHeadersInserted": inserted,
            "responseCodeSent": out.response_code,
            "httpRequest": request,
        }
        self._labels_and_token(rec, acl, out, client, profile)
        if site.tls:
            rec["ja3Fingerprint"], rec["ja4Fingerprint"] = self._tls[profile]
        if size and rng.random() < 0.7:
            rec["requestBodySize"] = size
            rec["requestBodySizeInspectedByWAF"] = min(size, site.body_limit)
        data = self._fill(orjson.dumps(rec))
        return data if escape is None else _escape_name(data, *escape)

    def _fill(self, data: bytes) -> bytes:
        """The record with this record's secret wherever a shared catalog string reserved one."""
        return data.replace(_SLOT, self._secret().encode()) if _SLOT_END in data else data

    def _labels_and_token(
        self, rec: Json, acl: _Acl, out: plans.Outcome, client: _Client, profile: int
    ) -> None:
        """``labels`` (absent when none), then the response of a CAPTCHA or Challenge that ended it."""
        labels = client.geo if acl.geo else []  # lists are shared: concatenate, never append
        if acl.bot:
            labels = labels + self._bot_labels[profile]
        if out.labels:
            labels = labels + out.labels
        response: Json | None = None
        if out.token in self._failures:
            response, token_labels = self._failures[out.token][self._rng.getrandbits(3)]
            labels = labels + token_labels
        elif out.token:
            labels = labels + _TOKEN_ACCEPTED
        if labels:
            rec["labels"] = labels
        if response is not None:
            rec[f"{out.token}Response"] = response

    def _request(
        self, site: _Site, attack: cat.Attack, client: _Client, ts: int, uniq: int
    ) -> tuple[int, list[Json], Json, int]:
        """The profile index, the header list, ``httpRequest`` and the body size (0: no body)."""
        rng = self._rng
        method, uri, args = site.routes[rng.getrandbits(10)]
        profile = (
            site.mix[rng.getrandbits(8)] if attack.profile is None else self._profile_index[attack.profile]
        )
        template = site.templates[profile]
        headers = self._headers(template, client, ts)
        if attack.header is not None:
            headers.append({"name": attack.header[0], "value": attack.header[1]})
        method = attack.method or method
        size = 0
        if method in _BODY_METHODS:
            size = attack.body or self._body_sizes[rng.getrandbits(8)]
            headers.append(
                {"name": "content-length" if template.lower else "Content-Length", "value": str(size)}
            )
        odd = rng.getrandbits(10)
        request: Json = {
            "clientIp": client.ip,
            "country": client.country,
            "headers": headers,
            "uri": uri if attack.uri is None else site.res.prefix + attack.uri,
            "args": args if attack.args is None else attack.args,
            "httpVersion": site.version or self._profiles[profile].version,
            "httpMethod": method,
            "requestId": site.request_id(rng, uniq, ts),
            "fragment": "",
            "scheme": "http" if site.tls and odd > 1000 else "https",  # ~2% plain HTTP at the edge
            "host": site.res.host,
        }
        if odd < 36:
            self._oddity(odd, request, headers, ts, uniq)
        return profile, headers, request, size

    def _headers(self, template: _Template, client: _Client, ts: int) -> list[Json]:
        rng = self._rng
        headers = template.headers.copy()
        if template.xff >= 0:
            chain = ", 130.176.4.138" if template.cf_id >= 0 else ""  # CloudFront appends its edge address
            headers[template.xff] = {"name": headers[template.xff]["name"], "value": client.ip + chain}
        if template.trace >= 0:
            trace = f"Root=1-{ts // 1000:08x}-{rng.getrandbits(96):024x}"
            headers[template.trace] = {"name": headers[template.trace]["name"], "value": trace}
        if template.cf_id >= 0:
            cf_id = base64.urlsafe_b64encode(rng.getrandbits(320).to_bytes(40, "big")).decode()
            headers[template.cf_id] = {"name": headers[template.cf_id]["name"], "value": cf_id}
        return headers

    def _plant(
        self, headers: list[Json], inserted: list[Json] | None
    ) -> tuple[list[Json] | None, tuple[Json, bool] | None]:
        """Plant a secret in a sensitive header (or an inserted one).

        Returns ``requestHeadersInserted`` and, rarely, the planted header whose name the serialized
        record must spell with JSON escapes (whole name or first letter).
        """
        rng = self._rng
        kind = self._secret_kinds[rng.getrandbits(6)]
        if kind == "inserted":
            header: Json = {"name": cat.INSERTED_SECRET_NAMES[rng.getrandbits(2)], "value": self._secret()}
            return [*(inserted or []), header], self._escape(header)
        escape = None
        for part in ("bearer", "cookie") if kind == "pair" else (kind,):
            names, value = cat.SECRET_HEADERS[part]
            name, at = names[rng.getrandbits(2) % len(names)], min(len(headers), 1 + rng.getrandbits(3))
            header = {"name": name, "value": value.format(self._secret())}
            if part not in cat.URL_SECRET_KINDS:
                header = self._odd_name(header)
                escape = self._escape(header) or escape
            headers.insert(at, header)
            if part == "cookie" and rng.getrandbits(2) == 0:  # a second cookie header: duplicates are legal
                headers.insert(
                    at + 1, {"name": name, "value": f"_ga=GA1.1.{rng.getrandbits(30)}.{rng.getrandbits(31)}"}
                )
        return inserted, escape

    def _odd_name(self, header: Json) -> Json:
        """Rarely (1 in 256) the header with its name padded with spaces, tabs or NUL."""
        if self._rng.getrandbits(8):
            return header
        before, after = cat.NAME_PADDINGS[self._rng.getrandbits(3)]
        return {"name": f"{before}{header['name']}{after}", "value": header["value"]}

    def _escape(self, header: Json) -> tuple[Json, bool] | None:
        """Rarely (1 in 256) the header to write with an escaped name, and whether the whole name is."""
        bits = self._rng.getrandbits(9)
        return (header, bool(bits & 1)) if bits >> 1 == 0 and str(header["name"]).isascii() else None

    def _secret(self) -> str:
        # base64url, like real tokens: 8-character pieces of it are unlikely to occur in ids or hashes
        random_part = base64.urlsafe_b64encode(self._rng.getrandbits(144).to_bytes(18, "big")).decode()
        return PLANTED_SECRET_PREFIX + random_part

    def _rate(
        self, acl: _Acl, rate: cat.RateRule, client: _Client, request: Json, headers: list[Json]
    ) -> Json:
        """The rateBasedRuleList entry; what a custom key aggregates on is added to the request."""
        entry: Json = {
            "rateBasedRuleId": acl.rate_ids[rate.name][":" in client.ip],
            "rateBasedRuleName": rate.name,
            "limitKey": rate.limit_key,
            "maxRateAllowed": rate.max_rate,
            "evaluationWindowSec": rate.window,
        }
        if rate.keys:
            entry["customValues"] = [self._custom_value(key, request, headers) for key in rate.keys]
            return entry
        if rate.limit_key == "FORWARDED_IP" and all(
            str(h["name"]).lower() != "x-forwarded-for" for h in headers
        ):
            headers.append({"name": "X-Forwarded-For", "value": client.ip})
        entry["limitValue"] = client.ip
        return entry

    def _custom_value(self, key: cat.CustomKey, request: Json, headers: list[Json]) -> Json:
        """One ``customValues`` entry; the header, cookie or query string it came from joins the request."""
        value = self._secret() if key.secret else cat.TENANTS[self._rng.getrandbits(2)]
        if key.kind == "HEADER":
            headers.append({"name": key.name, "value": value})
            return {"key": key.kind, "name": key.name, "value": value}
        if key.kind == "COOKIE":
            headers.append({"name": "cookie", "value": f"{key.name}={value}; theme=dark"})
            return {"key": _COOKIE_KEYS[self._rng.getrandbits(3)], "name": key.name, "value": value}
        if key.kind == "QUERY_ARGUMENT":
            request["args"] = f"{key.name}={value}&limit=50"
            return {"key": key.kind, "name": key.name, "value": value}
        request["args"] = f"api_key={value}&format=json"  # QUERY_STRING: the whole query string
        return {"key": key.kind, "value": request["args"]}

    def _solved(self, ts: int) -> list[Json]:
        """A CAPTCHA rule that matched a request with a valid token: logged, not terminating."""
        response = {"responseCode": 0, "solveTimestamp": ts // 1000 - 1 - self._rng.getrandbits(8)}
        return [
            {
                "ruleId": "captcha-login",
                "action": "CAPTCHA",
                "ruleMatchDetails": [],
                "captchaResponse": response,
            }
        ]

    def _oddity(self, odd: int, request: Json, headers: list[Json], ts: int, uniq: int) -> None:
        """Adversarial values (~2%: attackers choose names, paths and agents) and WAF's own quirks."""
        rng = self._rng
        if odd < 8:  # a null or "null" requestId; the trace header keeps the record distinct
            trace = f"Root=1-{ts // 1000:08x}-{rng.getrandbits(56) << 40 | uniq:024x}"
            headers.append({"name": "X-Amzn-Trace-Id", "value": trace})
            request["requestId"] = None if odd < 4 else "null"
        elif odd < 12:
            headers.insert(
                rng.randrange(len(headers) + 1), {"name": rng.choice(cat.ODD_HEADER_NAMES), "value": "1"}
            )
        elif odd < 16:
            request["uri"] = rng.choice(cat.ODD_URIS)
        elif odd < 18:
            request["args"] = rng.choice(cat.ODD_ARGS)
        elif odd < 22:
            _replace_user_agent(headers, rng.choice(cat.ODD_USER_AGENTS))
        elif odd < 32:  # WAF field redaction, or a header sent empty
            headers.append(
                {"name": rng.choice(("x-redacted-header", "Referer")), "value": rng.choice(("REDACTED", ""))}
            )
        else:
            request["args"] = "REDACTED"

    def _classic_record(self, ts: int, uniq: int) -> Json:
        """A WAF Classic record: GUID web ACL, no match details, null requestId, none of the newer fields."""
        rng = self._rng
        _, headers, request, _ = self._request(self._classic, _ORDINARY, self._client("normal"), ts, uniq)
        headers.append(
            {
                "name": "X-Amzn-Trace-Id",
                "value": f"Root=1-{ts // 1000:08x}-{rng.getrandbits(56) << 40 | uniq:024x}",
            }
        )
        for key in ("fragment", "scheme", "host"):
            del request[key]
        request["requestId"] = None
        kind = rng.getrandbits(4)  # 1 in 16 rate-limited, 2 in 16 blocked by a rule, the rest allowed
        rule = cat.CLASSIC_RULES[min(kind, 1)]
        return {
            "timestamp": ts,
            "formatVersion": 1,
            "webaclId": cat.CLASSIC_ACLS[rng.getrandbits(1)],
            "terminatingRuleId": "Default_Action" if kind > 2 else rule,
            "terminatingRuleType": "RATE_BASED" if kind == 0 else "REGULAR",
            "action": "ALLOW" if kind > 2 else "BLOCK",
            "httpSourceName": self._classic.res.source,
            "httpSourceId": self._classic.res.source_id,
            "ruleGroupList": [],
            "rateBasedRuleList": [{"rateBasedRuleId": rule, "limitKey": "IP", "maxRateAllowed": 2000}]
            if kind == 0
            else [],
            "nonTerminatingMatchingRules": [],
            "httpRequest": request,
        }

    def _tick(self, i: int) -> int:
        """Epoch ms: blocks of records placed over the three days, stepping forward and sometimes back."""
        rng = self._rng
        if i % _BLOCK == 0:
            start = (
                cat.START_MS
                + _MARGIN_MS
                + int(_radical_inverse(i // _BLOCK) * (cat.SPAN_MS - 2 * _MARGIN_MS))
            )
            self._cursor = start + rng.getrandbits(16)
        if rng.random() < _BACKWARDS:  # records in a WAF log object are not sorted (up to ~10 s back)
            return self._cursor - 1 - int(rng.random() * 9_999)
        self._cursor += self._steps[rng.getrandbits(8)]  # zero steps: several records in one millisecond
        return self._cursor

    def _client(self, kind: str) -> _Client:
        pool = self._clients[kind]  # pool sizes are powers of two
        return pool[self._rng.getrandbits(12) & (len(pool) - 1)]
