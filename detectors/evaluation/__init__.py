"""Scoring detectors on labelled photos: AP, counts, confusion (numpy only), reports.

Runs on the appliance, where only ONNX Runtime is installed: nothing here
imports torch or ultralytics.
"""
