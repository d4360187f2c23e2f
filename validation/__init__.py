"""The fokkerplanck validation suite: one case per model system (Brownian motion, Langevin, SGD, exits, degenerate noise, metastability).

Run it with ``python -m validation`` (``--quick`` for CI, ``--case NAME``, ``--list``);
it writes ``validation-report/report.md`` and a PNG per case. Programmatic use::

    from validation.runner import run
    results = run(["langevin_1d"], quick=True, outdir="report")
"""
