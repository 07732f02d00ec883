"""gcs_hpc: galaxy masses from the kinematics of globular cluster systems, on HPC clusters.

Follows Kaur, Bekki, Hassan & Datta (2021, MNRAS 508, 868). The data flow one way:
config -> galaxy -> nbody -> maps -> store -> campaign; store -> learn; observe -> maps/learn.
"""

from __future__ import annotations

__version__ = "0.1.0"
