"""Fairness statistics (pure: arrays in, dataclasses out; no Evidence, no policy).

- ``groups``: breakdowns (attributes and intersections), cell counts, exclusions;
- ``bootstrap``: vectorised Poisson bootstrap of cell counts; rate definitions;
- ``significance``: two-proportion z-test / Fisher's exact test, Holm adjustment;
- ``compare``: rates, ratios, gaps and largest gaps of one breakdown, with intervals;
- ``calibration``, ``individual``: reliability curves, consistency and the Theil index;
- ``choice``: which fairness metric decides, from the spec's declared direction.

``audit.checks.fairness`` turns these into the evidence items ``fairness.selection_rate``,
``fairness.error_rates``, ``data.bias`` and ``data.proxies``.
"""

from __future__ import annotations

__all__: list[str] = []
