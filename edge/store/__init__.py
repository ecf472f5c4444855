"""Local storage: one SQLite file (WAL) with orders, trays, verdicts, alerts, the MQTT outbox and an audit log."""
