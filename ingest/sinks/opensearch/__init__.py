"""The OpenSearch sink, split as Vector splits one: client, encoder, retry logic, service; setup applies
cluster content."""
