"""Frozen, validated specs of the physics: galaxies, mergers, resolution presets, maps, whole models.

Every model of a campaign is fully described by a :class:`ModelSpec` (all parameters and a seed): the same
spec gives bit-identical particles and, on the NumPy backend, identical maps. Specs are hashable and
serialise to plain dicts (:func:`gcs_hpc.config.spec_to_dict`) for provenance in the store.

Masses are in Msun, lengths in kpc, angles in degrees, times in simulation units
(:mod:`gcs_hpc.units`), unless a field's doc says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

from gcs_hpc.config import check_choice, check_range

MODEL_KINDS = ("disk", "merger")
FOV_UNITS = ("R_d", "kpc", "R_half")


@dataclass(frozen=True)
class GalaxySpec:
    """One disk galaxy: NFW halo, Hernquist bulge, exponential disk and a GCS (paper section 2.1).

    Attributes
    ----------
    M_halo
        Halo mass inside the virial radius (the NFW profile is truncated there), Msun.
    c
        NFW concentration; ``None`` takes it from the c-M relation of Neto et al. (2007).
    f_bary
        Stellar disk mass over halo mass, M_s / M_halo (fiducial 6e10 / 1e12 = 0.06).
    f_b
        Bulge-to-disk mass ratio M_b / M_s, 0 (pure disk) to 4 (bulge dominated); Milky Way 0.17.
    f_rot
        Rotational over total kinetic energy of the GCS, T_rot / T_kin, in [0, 1].
    n_gc
        Number of globular clusters (massless tracers).
    """

    M_halo: float = 1.0e12
    c: float | None = None
    f_bary: float = 0.06
    f_b: float = 0.17
    f_rot: float = 0.0
    n_gc: int = 200

    def __post_init__(self) -> None:
        check_range("galaxy", "M_halo", self.M_halo, 1.0e9, 1.0e14)
        if self.c is not None:
            check_range("galaxy", "c", self.c, 1.0, 50.0)
        check_range("galaxy", "f_bary", self.f_bary, 0.0, 0.5, low_open=True)
        check_range("galaxy", "f_b", self.f_b, 0.0, 4.0)
        check_range("galaxy", "f_rot", self.f_rot, 0.0, 1.0)
        check_range("galaxy", "n_gc", self.n_gc, 1, 1_000_000)

    @property
    def M_disk(self) -> float:
        """Stellar disk mass M_s in Msun."""
        return self.f_bary * self.M_halo

    @property
    def M_bulge(self) -> float:
        """Bulge mass M_b in Msun."""
        return self.f_b * self.M_disk

    @property
    def M_total(self) -> float:
        """Total mass (halo inside R_vir + disk + bulge) in Msun; GCs are massless."""
        return self.M_halo + self.M_disk + self.M_bulge


@dataclass(frozen=True)
class MergerSpec:
    """Orbit of a major merger of two disks (paper section 2.1.2).

    The second galaxy is the first scaled in mass by ``m2`` (same f_bary, f_b, f_rot; GC number scaled
    by m2, at least 1). Orbit in the x-y plane, spins at ``theta_1``, ``theta_2`` to the z axis, phi = 0.

    Attributes
    ----------
    m2
        Mass ratio of the second galaxy to the first, in (0, 1].
    f_v
        Relative speed in units of the circular speed at the initial separation (0.05 radial .. 1 circular).
    theta_1, theta_2
        Angles of the disks' spin vectors to the z axis, degrees.
    separation
        Initial distance of the two centres in units of the primary's disk size R_d (paper: 4-8).
    """

    m2: float = 1.0
    f_v: float = 0.45
    theta_1: float = 0.0
    theta_2: float = 0.0
    separation: float = 8.0

    def __post_init__(self) -> None:
        check_range("merger", "m2", self.m2, 0.0, 1.0, low_open=True)
        check_range("merger", "f_v", self.f_v, 0.0, 2.0)
        check_range("merger", "theta_1", self.theta_1, 0.0, 180.0)
        check_range("merger", "theta_2", self.theta_2, 0.0, 180.0)
        check_range("merger", "separation", self.separation, 1.0, 20.0)


@dataclass(frozen=True)
class Preset:
    """Resolution and run-length preset. Particle numbers are per galaxy (a merger has two galaxies;
    the second has its numbers scaled by m2). Bulge particles have the disk particle mass, so
    ``n_bulge = round(f_b * n_disk)``.

    Attributes
    ----------
    name
        Preset name.
    n_halo, n_disk
        Halo and disk particles per (primary) galaxy.
    softening_kpc
        Gravitational softening length (Plummer), kpc.
    t_end_disk, t_end_merger
        Simulation end time for isolated disks and for mergers, simulation units.
    energy_tolerance
        Largest allowed relative energy error max |dE/E| before the run is declared failed.
    """

    name: str
    n_halo: int
    n_disk: int
    softening_kpc: float
    t_end_disk: float
    t_end_merger: float
    energy_tolerance: float = 0.05

    def __post_init__(self) -> None:
        check_range(f"preset[{self.name}]", "n_halo", self.n_halo, 100, 100_000_000)
        check_range(f"preset[{self.name}]", "n_disk", self.n_disk, 100, 100_000_000)
        check_range(f"preset[{self.name}]", "softening_kpc", self.softening_kpc, 0.0, 20.0, low_open=True)
        check_range(f"preset[{self.name}]", "t_end_disk", self.t_end_disk, 0.0, 200.0)
        check_range(f"preset[{self.name}]", "t_end_merger", self.t_end_merger, 0.0, 200.0)
        check_range(f"preset[{self.name}]", "energy_tolerance", self.energy_tolerance, 0.0, 1.0,
                    low_open=True)


#: Built-in presets. ``tiny`` is for tests and CI only (seconds per model); ``quick`` (~1e4 particles
#: per galaxy) is for laptops and CPU clusters; ``paper`` (~1e6 particles, 320 pc softening as the
#: paper) is for GPUs.
PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", n_halo=1500, n_disk=500, softening_kpc=1.5, t_end_disk=1.0, t_end_merger=3.0),
    "quick": Preset("quick", n_halo=6000, n_disk=4000, softening_kpc=0.7, t_end_disk=5.0,
                    t_end_merger=20.0),
    "paper": Preset("paper", n_halo=700_000, n_disk=300_000, softening_kpc=0.32, t_end_disk=5.0,
                    t_end_merger=20.0, energy_tolerance=0.02),
}


def get_preset(name: str) -> Preset:
    """Return the built-in preset ``name``; the error lists the allowed names."""
    check_choice("", "preset", name, PRESETS)
    return PRESETS[name]


@dataclass(frozen=True)
class MapSpec:
    """How kinematic maps are made (paper section 2.1.3; :mod:`gcs_hpc.maps` documents the method).

    Defaults and why
    ----------------
    - Field of view: a square of full width 1.2 R_d centred on the stellar density centre, 10 x 10
      pixels (0.12 R_d = 2.1 kpc each for the fiducial R_d = 17.5 kpc), as the paper's text says
      ("the 1.2 R_d x 1.2 R_d square region"). Its figure 2 says "within R < 1.2 R_d", which would be a
      2.4 R_d wide square; the text is the more explicit statement and its 2.1 kpc pixels match the
      "1-2 kpc spatial resolution" the paper quotes, so we take it (see PAPER.md on the ambiguity).
    - Smoothing: R_sm = 0.12 R_d, one pixel, as the standard deviation of the Gaussian. The paper uses
      R_sm = 2.5 R0 or 5 R0 with R0 = 0.2 R_d, i.e. 0.5 or 1.0 R_d; taken as a Gaussian sigma on this
      grid that would be 4 to 8 pixels and would erase the radial sigma gradient that the paper's
      figure 4 still shows, so its R_sm must act on a finer grid or be defined differently (the paper
      does not say). One pixel fills most isolated empty pixels of a 200-GC map and keeps gradients;
      set ``smoothing: 0.5`` or ``1.0`` to apply the paper's numbers literally.
    - ``fov_unit = "R_half"`` (projected stellar half-mass radius, measured per viewing direction) is
      the unit to use when simulated maps must share a grid with real galaxies, whose R_d cannot be
      measured but whose effective radius can (:mod:`gcs_hpc.observe` does so). The default campaign
      uses it (:data:`gcs_hpc.campaign.config.DEFAULT_MAPS`: 8 R_half wide, smoothing 0.8 R_half); these
      class defaults stay the paper's, which its experiments keep.

    Attributes
    ----------
    n_angles
        Viewing directions per model (Fibonacci lattice on the sphere).
    npix
        Pixels per side of the square map.
    fov
        Full width of the square field of view, in ``fov_unit``.
    fov_unit
        ``"R_d"`` (disk size, as the paper), ``"kpc"``, or ``"R_half"`` (projected stellar half-mass
        radius, measurable for real galaxies as the effective radius).
    smoothing
        Gaussian smoothing length R_sm (standard deviation of the kernel) in the same unit as ``fov``;
        0 disables smoothing.
    empty_fill
        Value in km/s written into both channels of pixels with no GC within the smoothing kernel's
        support (counts keep the mask: ``counts == 0``).
    """

    n_angles: int = 100
    npix: int = 10
    fov: float = 1.2
    fov_unit: Literal["R_d", "kpc", "R_half"] = "R_d"
    smoothing: float = 0.12
    empty_fill: float = 0.0

    def __post_init__(self) -> None:
        check_range("maps", "n_angles", self.n_angles, 1, 100_000)
        check_range("maps", "npix", self.npix, 2, 1024)
        check_range("maps", "fov", self.fov, 0.0, 1.0e4, low_open=True)
        check_choice("maps", "fov_unit", self.fov_unit, FOV_UNITS)
        check_range("maps", "smoothing", self.smoothing, 0.0, 1.0e4)
        check_range("maps", "empty_fill", self.empty_fill, -1.0e4, 1.0e4)

    def differences(self, other: MapSpec) -> list[str]:
        """How ``other`` makes a map differently from this spec: ``"field value != value"`` per differing
        field (empty: the same maps). ``n_angles`` (how many views a campaign made) is not compared.

        The one check of "same map definition" that :mod:`gcs_hpc.learn.evaluate` (net vs store) and
        :mod:`gcs_hpc.observe` (nets vs store) apply.
        """
        return [f"{f.name} {getattr(other, f.name)!r} != {getattr(self, f.name)!r}" for f in fields(self)
                if f.name != "n_angles" and getattr(other, f.name) != getattr(self, f.name)]


#: The survey grid: 10 x 10 pixels over 8 R_half (the stars' projected half-mass radius, which real galaxies
#: have as R_e; +-4 R_e holds most SLUGGS GCs), one-pixel smoothing: the grid of the SLUGGS observation model
#: (configs/observation/sluggs.yaml), of the default campaign and of observe when no net or store gives one.
SURVEY_MAPS = MapSpec(n_angles=100, npix=10, fov=8.0, fov_unit="R_half", smoothing=0.8, empty_fill=0.0)


@dataclass(frozen=True)
class ModelSpec:
    """One N-body model of a campaign: everything a worker needs to build, run and map it.

    Attributes
    ----------
    kind
        ``"disk"`` (isolated) or ``"merger"`` (two disks).
    galaxy
        The (primary) galaxy.
    preset
        Resolution and run length.
    seed
        Random seed of the initial conditions; same spec, same particles.
    merger
        The orbit; required when ``kind == "merger"``, forbidden otherwise.
    suite
        Campaign suite label (``disk``, ``merger``, ``unknown``, ...).
    """

    kind: Literal["disk", "merger"]
    galaxy: GalaxySpec
    preset: Preset
    seed: int = 0
    merger: MergerSpec | None = None
    suite: str = field(default="")

    def __post_init__(self) -> None:
        check_choice("model", "kind", self.kind, MODEL_KINDS)
        check_range("model", "seed", self.seed, 0, 2**63 - 1)
        from gcs_hpc.errors import ConfigError

        if self.kind == "merger" and self.merger is None:
            raise ConfigError("model.merger is required when model.kind = 'merger'")
        if self.kind == "disk" and self.merger is not None:
            raise ConfigError("model.merger must be absent when model.kind = 'disk'")
        if not self.suite:
            object.__setattr__(self, "suite", self.kind)

    @property
    def M_total(self) -> float:
        """Total mass of the system in Msun: the label the CNN learns (both galaxies for a merger)."""
        m = self.galaxy.M_total
        return m * (1.0 + self.merger.m2) if self.merger is not None else m

    @property
    def t_end(self) -> float:
        """End time of the run in simulation units (from the preset, by kind)."""
        return self.preset.t_end_merger if self.kind == "merger" else self.preset.t_end_disk
