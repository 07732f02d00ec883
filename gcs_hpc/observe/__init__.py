"""Observed globular cluster systems: catalogues -> projected kinematics -> maps and mass estimates.

Real catalogues (e.g. the SLUGGS survey, Forbes et al. 2017, AJ 153, 114) are read by
:mod:`~gcs_hpc.observe.catalog`, placed in the galaxy frame by :mod:`~gcs_hpc.observe.project`, binned
into the training maps by :mod:`~gcs_hpc.observe.observed_maps`, and weighed by the classic estimators of
:mod:`~gcs_hpc.observe.estimators`. ``python -m gcs_hpc.observe`` does it all for one galaxy.
"""

from __future__ import annotations
