"""Placeholder: being written (issue 3)."""

PixelScaler = None
