"""AWS Lambda entry points: each parses its event, runs the pipeline once and renders its contract."""
