"""Kinematic maps of globular cluster systems (paper section 2.1.3).

- :func:`viewing_angles`: viewing directions on a Fibonacci lattice.
- :func:`project`: positions and velocities onto the sky of every direction at once (over ``xp``).
- :func:`bin_projected`: projected GCs -> smoothed maps of [sigma, V] and raw counts per pixel.
- :func:`make_model_maps`: an evolved model -> maps for all directions; :func:`model_products` with the
  GC phase space, projected half-mass radii and enclosed masses the store keeps beside them.
- :func:`view_maps`: maps of GC phase spaces along any directions under an observation model
  (:class:`ObservationSpec`: GCs seen, velocity errors, radial coverage, interlopers).

Physics only: this package imports neither dask nor TensorFlow.
"""

from __future__ import annotations

from gcs_hpc.maps.angles import view_basis, viewing_angles
from gcs_hpc.maps.binning import CHANNELS, bin_projected, pixel_centres, smoothing_kernel
from gcs_hpc.maps.model_maps import (ENCLOSED_RADII, PHASE, ModelProducts, enclosed_mass, galaxy_frame,
                                     make_model_maps, model_products)
from gcs_hpc.maps.observation import (ObservationSpec, isotropic_directions, load_observation, observe_views,
                                      sky_maps, view_maps)
from gcs_hpc.maps.project import project, project_each, project_per_angle, projected_half_mass_radius

__all__ = [
    "CHANNELS",
    "ENCLOSED_RADII",
    "PHASE",
    "ModelProducts",
    "ObservationSpec",
    "bin_projected",
    "enclosed_mass",
    "galaxy_frame",
    "isotropic_directions",
    "load_observation",
    "make_model_maps",
    "model_products",
    "observe_views",
    "pixel_centres",
    "project",
    "project_each",
    "project_per_angle",
    "projected_half_mass_radius",
    "sky_maps",
    "smoothing_kernel",
    "view_basis",
    "view_maps",
    "viewing_angles",
]
