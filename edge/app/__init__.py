"""The appliance: the one wiring (service), recorder, MQTT, metrics, config, doctor."""
