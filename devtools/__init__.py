"""Development and demo tooling: the synthetic log generator, the benchmarks, the fake OpenSearch."""
