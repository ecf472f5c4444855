"""The box's HTTP side: POS API, health, and (later) the staff dashboard."""
