"""Procedural top-down renderer of a serving tray at the check station."""
