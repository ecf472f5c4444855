"""Detection backends, the synthetic tray renderer and model training for TrayCheck."""
