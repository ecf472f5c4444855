"""Labelled photos: read labelling-tool exports, validate, deduplicate, group and split them."""
