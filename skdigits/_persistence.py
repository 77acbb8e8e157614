"""Placeholder: being written (issue 5)."""


def save_model(model, path):
    raise NotImplementedError


def load_model(path):
    raise NotImplementedError
