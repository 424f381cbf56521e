"""From bytes to rows: inflate, frame, scan and decode WAF records (import from the modules)."""
