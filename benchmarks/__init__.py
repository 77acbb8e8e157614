"""Measurements of skdigits against scikit-learn and PyTorch (not part of skdigits).

Every benchmark is a module of this package, run from the repository root::

    python -m benchmarks.bench_training --quick
    python -m benchmarks.bench_matrix --help

``benchmarks/README.md`` lists them and what each measures. The modules they
share are private: ``_common`` (data, machine description, memory, tables,
``log``/``run_main``) and ``_frameworks`` (the frameworks' adapters and the
grid-search timer). Nothing here is meant to be imported by other code.
"""
