"""Recorded shifts through the pipeline: replay, evaluation, annotated videos."""
