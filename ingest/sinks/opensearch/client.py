"""An opensearch-py client for a URL: no auth, basic auth, or SigV4 (OpenSearch Service, Serverless)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlparse

from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

from enrich.config import ConfigError

AuthMode = Literal["auto", "none", "basic", "sigv4"]
Service = Literal["es", "aoss"]
# <domain>.<region>.es.amazonaws.com, <collection>.<region>.aoss.amazonaws.com (and vpc- endpoints)
_AWS_HOST: Final = re.compile(
    r"\.(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d)\.(?P<service>es|aoss)\.amazonaws\.com$"
)


@dataclass(frozen=True)
class Endpoint:
    """Where the cluster is and how to authenticate; resolved once at the edge."""

    url: str
    auth: AuthMode = "auto"
    service: Service | None = None
    region: str | None = None
    username: str | None = None
    password: str | None = None
    verify_certs: bool = True
    timeout: float = 30.0
    compress: bool = True

    def resolved(self) -> tuple[Literal["none", "basic", "sigv4"], Service, str | None]:
        """The effective auth mode, SigV4 service and region (ConfigError when they cannot be known)."""
        parsed = urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"--opensearch {self.url!r} is not an http(s) URL")
        aws = _AWS_HOST.search(parsed.hostname)
        service: Service = self.service or ("aoss" if aws and aws["service"] == "aoss" else "es")
        region = self.region or (aws["region"] if aws else None)
        mode = self.auth
        if mode == "auto":
            mode = "sigv4" if aws else ("basic" if self.username else "none")
        if mode == "sigv4" and not region:
            raise ConfigError("SigV4 needs a region: pass --aws-region or set AWS_REGION")
        if mode == "basic" and not (self.username and self.password):
            raise ConfigError(
                "basic auth needs a user and password (OPENSEARCH_USERNAME, OPENSEARCH_PASSWORD)"
            )
        return mode, service, region


def make_client(endpoint: Endpoint, *, credentials: Any = None) -> OpenSearch:
    """A client whose transport never retries by itself (the sink retries with backoff and jitter)."""
    mode, service, region = endpoint.resolved()
    options: dict[str, Any] = {
        "hosts": [endpoint.url],
        "http_compress": endpoint.compress,
        "max_retries": 0,
        "retry_on_timeout": False,
        "timeout": endpoint.timeout,
        "verify_certs": endpoint.verify_certs,
    }
    if mode == "sigv4":
        if credentials is None:
            import boto3  # noqa: PLC0415  # only SigV4 endpoints need botocore's credential chain

            credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise ConfigError(
                "SigV4 needs AWS credentials and none were found (environment, profile or role)"
            )
        options["http_auth"] = AWSV4SignerAuth(credentials, region, service)
        options["connection_class"] = RequestsHttpConnection
    elif mode == "basic":
        options["http_auth"] = (endpoint.username, endpoint.password)
    return OpenSearch(**options)
