"""The TrayCheck edge service: capture, pipeline, storage, MQTT, web, CLI."""
