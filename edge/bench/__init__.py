"""Benchmarks (``traycheck bench``): detector, pipeline and camera rows."""
