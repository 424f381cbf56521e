"""Finding events for incident responders: one filter model, rendered for the lake and for OpenSearch.

``filters`` holds the model, ``lake`` renders it as a Polars expression over the Parquet lake,
``opensearch`` as a query DSL body, ``hits`` renders what either found, ``explain`` says why WAF
decided what it did for one request.
"""
