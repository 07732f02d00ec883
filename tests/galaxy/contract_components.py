"""The contract of a galaxy component (:class:`gcs_hpc.galaxy.components.Component`), checked for every
entry of :data:`gcs_hpc.galaxy.components.COMPONENTS` on the instance the fiducial galaxy builds
(``GalaxyModel.from_spec(GalaxySpec())``, the paper's 1e12 Msun disk galaxy with bulge and GCS):

- its density (3D, or the surface density of a disk) is positive and finite inside the component and
  zero beyond its truncation radius;
- its enclosed mass is the numerical integral of that density (massless tracers: zero everywhere) and
  reaches the component's mass;
- sampled positions follow the profile (fraction of particles inside the sample's 10/50/90 % radii);
- where it has a potential of its own (the disk's midplane potential), the gradient it reports (v_c^2)
  is the finite difference of that potential;
- massive components drawn in mirrored pairs have their centre of mass and momentum at the origin;
- a pickled component (specs and models travel to dask workers) gives the same profile and the same
  particles from the same seed.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import integrate

from gcs_hpc.galaxy.components import COMPONENTS, Component
from gcs_hpc.galaxy.models import GalaxyModel
from gcs_hpc.specs import GalaxySpec
from tests.contracts import RegistryContract

#: Particles drawn for the sampling checks.
N_SAMPLE = 40_000
#: Binomial standard deviations allowed between sampled and analytic fractions, and the tables' error.
N_SIGMA, TABLE_ERROR = 4.0, 2.0e-3
#: Relative tolerance of quadrature against the closed forms (and the disk's tabulated sphere masses).
QUAD_RTOL, DISK_TABLE_RTOL = 1.0e-6, 1.0e-3
#: Relative step of the finite differences, and their agreement with the tabulated gradient.
FD_STEP, FD_RTOL = 1.0e-4, 1.0e-2


def scale_of(component: Component) -> float:
    """The component's scale length (``scale_radius`` of spheres, ``scale_length`` of disks)."""
    for key in ("scale_radius", "scale_length"):
        if hasattr(component, key):
            return float(getattr(component, key))
    pytest.fail(f"component {component.name!r} has neither scale_radius nor scale_length")


def density_profile(component: Component) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """("density", rho(r)) of a spherical component or ("surface_density", Sigma(R)) of a disk."""
    for key in ("density", "surface_density"):
        if hasattr(component, key):
            return key, getattr(component, key)
    pytest.fail(f"component {component.name!r} has neither density(r) nor surface_density(R)")


def integrated_mass(component: Component, r: float) -> float:
    """Mass inside the sphere of radius ``r`` integrated here from the component's density."""
    kind, profile = density_profile(component)
    if kind == "density":
        return integrate.quad(lambda s: 4.0 * math.pi * s * s * float(profile(s)), 0.0, r, limit=200,
                              epsabs=0.0, epsrel=1e-10)[0]
    z0 = component.scale_height  # a sech^2(z / z0) layer: the fraction tanh(h / z0) lies within |z| < h

    def ring(R: float) -> float:
        return 2.0 * math.pi * R * float(profile(R)) * math.tanh(math.sqrt(max(r * r - R * R, 0.0)) / z0)

    top = min(r, component.truncation_radius)
    return integrate.quad(ring, 0.0, top, limit=400, epsabs=0.0, epsrel=1e-10)[0]


def cumulative_fraction(component: Component, r: np.ndarray) -> np.ndarray:
    """Fraction of the component's particles inside radius ``r``: M(<r) / M, or for massless tracers
    the normalised integral of their number density."""
    if component.mass > 0.0:
        return component.enclosed_mass(r) / component.mass
    total = integrated_mass(component, component.truncation_radius)
    return np.array([integrated_mass(component, float(x)) for x in np.atleast_1d(r)]) / total


class ComponentContract(RegistryContract):
    """Checks every registered galaxy component must pass (one test per component)."""

    registry = COMPONENTS

    @pytest.fixture(scope="class")
    def fiducial(self) -> GalaxyModel:
        return GalaxyModel.from_spec(GalaxySpec())

    @pytest.fixture
    def component(self, name: str, fiducial: GalaxyModel) -> Component:
        built = {c.name: c for c in fiducial.components}
        if name not in built:
            pytest.fail(f"component {name!r} is registered but the fiducial galaxy "
                        "(GalaxyModel.from_spec(GalaxySpec())) builds none: no instance to check")
        assert isinstance(built[name], self.registry[name])
        return built[name]

    def test_registered_under_its_name_and_code(self, name):
        cls = self.registry[name]
        assert cls.name == name
        assert [c.code for c in self.registry.values()].count(cls.code) == 1

    def test_density_is_positive_inside_and_zero_outside(self, component):
        _, profile = density_profile(component)
        inside = np.geomspace(1.0e-3 * scale_of(component), component.truncation_radius, 50)
        values = profile(inside)
        assert np.all(np.isfinite(values)) and np.all(values > 0.0)
        outside = component.truncation_radius * np.array([1.001, 2.0, 100.0])
        assert np.all(profile(outside) == 0.0)

    def test_enclosed_mass_is_the_integral_of_the_density(self, component):
        radii = np.array([0.3, 1.0, 3.0]) * scale_of(component)
        radii = np.append(radii[radii < component.truncation_radius], component.truncation_radius)
        far = 1.0e3 * component.truncation_radius
        if component.mass == 0.0:  # massless tracers: no mass anywhere
            assert np.all(component.enclosed_mass(np.append(radii, far)) == 0.0)
            return
        kind, _ = density_profile(component)
        rtol = QUAD_RTOL if kind == "density" else DISK_TABLE_RTOL
        expected = [integrated_mass(component, float(r)) for r in radii]
        np.testing.assert_allclose(component.enclosed_mass(radii), expected, rtol=rtol)
        assert component.enclosed_mass(np.array([far]))[0] == pytest.approx(component.mass, rel=1e-12)
        assert np.all(np.diff(component.enclosed_mass(np.geomspace(1e-4, far, 200))) >= 0.0)

    def test_sampled_positions_follow_the_profile(self, component):
        pos = component.sample_positions(N_SAMPLE, np.random.default_rng(17))
        assert pos.shape == (N_SAMPLE, 3) and np.all(np.isfinite(pos))
        r = np.linalg.norm(pos, axis=1)
        radii = np.percentile(r, [10.0, 50.0, 90.0])
        for radius, expected in zip(radii, cumulative_fraction(component, radii)):
            measured = float(np.mean(r < radius))
            bound = N_SIGMA * math.sqrt(expected * (1.0 - expected) / N_SAMPLE) + TABLE_ERROR
            assert abs(measured - expected) < bound, (radius, measured, expected)

    def test_potential_gradient_matches_finite_differences(self, component):
        if not hasattr(component, "midplane_potential"):
            pytest.skip(f"{component.name}: no potential of its own (its field is G M(<r) / r^2 of the "
                        "enclosed mass checked above)")
        table_R, vc2 = component.midplane_circular_speed_squared()
        R = np.array([0.5, 1.0, 2.0, 3.0]) * scale_of(component)
        h = FD_STEP * R
        gradient = (component.midplane_potential(R + h) - component.midplane_potential(R - h)) / (2.0 * h)
        np.testing.assert_allclose(np.interp(R, table_R, vc2), R * gradient, rtol=FD_RTOL)
        assert np.all(gradient > 0.0)  # attractive

    def test_mirrored_pairs_put_the_centre_of_mass_at_rest_at_the_origin(self, component, fiducial):
        pos, vel = component.sample(2000, fiducial.potential, np.random.default_rng(5))
        assert pos.shape == vel.shape == (2000, 3) and np.all(np.isfinite(vel))
        if not type(component).mirrored:
            pytest.skip(f"{component.name}: drawn independently, not in mirrored pairs")
        scale_x, scale_v = np.abs(pos).sum(), np.abs(vel).sum()
        assert np.all(np.abs(pos.sum(axis=0)) <= 1e-12 * scale_x)
        assert np.all(np.abs(vel.sum(axis=0)) <= 1e-12 * scale_v)

    def test_a_pickled_component_is_the_same_component(self, component, fiducial):
        copy = pickle.loads(pickle.dumps(component))
        assert type(copy) is type(component) and copy.summary() == component.summary()
        r = np.geomspace(1e-3, 3.0, 20) * component.truncation_radius
        assert np.array_equal(copy.enclosed_mass(r), component.enclosed_mass(r))
        draws: list[Any] = [c.sample(500, fiducial.potential, np.random.default_rng(9))
                            for c in (component, copy)]
        assert all(np.array_equal(a, b) for a, b in zip(*draws))
