"""Placeholder: being written (issue 2)."""

NumpyMLPClassifier = None
