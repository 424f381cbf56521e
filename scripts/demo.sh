#!/usr/bin/env bash
# Quick start: install waflens into .venv, generate realistic WAF logs, and ingest them (plus the shared
# sample corpus when ../shared is present) into the local Parquet lake demo/lake, then write the HTML report.
# Prints the run summary, the report's summary, and last the report's path.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e .
generated=$(.venv/bin/waflens-dev generate --records "${WAFLENS_DEMO_RECORDS:-20000}" --out demo/generated.log.gz)
echo "$generated"
# the report covers the generated days; the shared samples are years apart and would flatten its charts
read -r since until < <(printf '%s' "$generated" | .venv/bin/python -c 'import json, sys; d = json.load(sys.stdin); print(d["since"], d["until"])')
inputs=(demo/generated.log.gz)
if [ -d ../shared/waf-samples ]; then
  inputs+=(../shared/waf-samples/*.ndjson ../shared/waf-samples/raw ../shared/waf-samples/malformed)
fi
.venv/bin/waflens ingest "${inputs[@]}" --lake demo/lake --config examples/waflens.toml 2>demo/ingest.log
.venv/bin/waflens report --lake demo/lake --out demo/report.html --config examples/waflens.toml \
  --since "$since" --until "$until"
echo "lake: demo/lake   dead letters: demo/lake/_dead_letter   logs: demo/ingest.log" >&2
echo "report: $PWD/demo/report.html"
