"""One camera's verification pipeline: gate, tray tracker, ticket reader, verdicts."""
