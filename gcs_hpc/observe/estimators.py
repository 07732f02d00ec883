"""Classic mass estimators from projected positions and line-of-sight velocities of tracers.

One small class per estimator behind :class:`MassEstimator`, with a registry by name
(:data:`ESTIMATORS`, :func:`get_estimator`). Each gives a point estimate and a bootstrap uncertainty
over the tracers (GCs), seeded. Inputs are projected positions ``x, y`` (kpc), line-of-sight velocities
relative to the galaxy ``v`` (km/s) and their errors ``v_err`` (km/s); measurement errors are removed
in quadrature (``v^2 - v_err^2``) in every velocity moment. G comes from :mod:`gcs_hpc.units`.

- :class:`TracerMassEstimator`: Watkins, Evans & An (2010, MNRAS 406, 264; after Evans et al. 2003,
  ApJ 583, 752), projected form, with the rotation term of Alabi et al. (2016, MNRAS 460, 3838) as an
  option.
- :class:`ProjectedMassEstimator`: Heisler, Tremaine & Bahcall (1985, ApJ 298, 8), after Bahcall &
  Tremaine (1981, ApJ 244, 805), test particles around the enclosed mass.
- :class:`VirialMassEstimator`: the projected virial theorem (Limber & Mathews 1960; the form of
  Heisler, Tremaine & Bahcall 1985), which assumes that the tracers follow the mass.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy.special import gammaln

from gcs_hpc.config import check_choice, check_range
from gcs_hpc.errors import CatalogError, ConfigError
from gcs_hpc.observe.tracer_geometry import fit_projected_slope, fit_rotation, projected_pair_sum
from gcs_hpc.units import G_KPC_KMS2_PER_MSUN

#: Fewest tracers an estimator accepts.
MIN_TRACERS = 5
#: Relative spread of projected radii below which the tracers count as lying at one radius.
SAME_RADIUS_RTOL = 1.0e-9


@dataclass(frozen=True)
class MassEstimate:
    """A mass estimate with its bootstrap uncertainty.

    Attributes
    ----------
    estimator
        Registry name of the estimator.
    mass_msun
        Point estimate from all tracers, Msun.
    mass_err_msun
        Standard deviation of the bootstrap estimates, Msun.
    mass_p16_msun, mass_p84_msun
        16th and 84th percentiles of the bootstrap estimates, Msun.
    n_tracers
        Number of tracers used.
    r_out_kpc
        Radius the mass refers to (outermost projected radius unless given), kpc.
    n_bootstrap
        Bootstrap resamples (0: no uncertainty computed; the error fields are then NaN).
    parameters
        Estimator parameters, including values fitted from the data (e.g. gamma, v_rot).
    """

    estimator: str
    mass_msun: float
    mass_err_msun: float
    mass_p16_msun: float
    mass_p84_msun: float
    n_tracers: int
    r_out_kpc: float
    n_bootstrap: int
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {"estimator": self.estimator, "mass_msun": self.mass_msun, "mass_err_msun": self.mass_err_msun,
                "mass_p16_msun": self.mass_p16_msun, "mass_p84_msun": self.mass_p84_msun,
                "n_tracers": self.n_tracers, "r_out_kpc": self.r_out_kpc, "n_bootstrap": self.n_bootstrap,
                "parameters": dict(self.parameters)}


def _check_tracers(x: np.ndarray, y: np.ndarray, v: np.ndarray, v_err: np.ndarray | None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y, v = (np.asarray(a, dtype=np.float64) for a in (x, y, v))
    v_err = np.zeros_like(v) if v_err is None else np.asarray(v_err, dtype=np.float64)
    if not (x.shape == y.shape == v.shape == v_err.shape) or x.ndim != 1:
        raise CatalogError(f"tracer arrays must be 1-D of one length; got shapes {x.shape}, {y.shape}, "
                           f"{v.shape}, {v_err.shape}")
    if len(x) < MIN_TRACERS:
        raise CatalogError(f"{len(x)} tracers are too few for a mass estimate; allowed: >= {MIN_TRACERS}")
    for name, a in (("x", x), ("y", y), ("v", v), ("v_err", v_err)):
        if not np.all(np.isfinite(a)):
            raise CatalogError(f"tracer column {name} has non-finite values")
    R = np.hypot(x, y)
    if np.ptp(R) <= SAME_RADIUS_RTOL * np.max(R):
        where = (f"share one position (x, y) = ({x[0]:g}, {y[0]:g}) kpc" if np.ptp(x) == np.ptp(y) == 0.0
                 else f"lie at one projected radius R = {R[0]:g} kpc")
        raise CatalogError(f"all {len(x)} tracers {where}; the estimators need tracers spread in radius "
                           "(duplicated or placeholder coordinates in the catalogue?)")
    return x, y, v, v_err


class MassEstimator(abc.ABC):
    """Base of the classic estimators: a point estimate plus a seeded bootstrap over the tracers."""

    #: Registry name.
    name: ClassVar[str] = ""
    #: The tracer population the estimator with its default parameters is exact for (its documented
    #: assumption; tests/observe/contract_estimators.py checks every registered estimator on it):
    #: ``point_mass`` (isotropic tracers around a point mass), ``isothermal`` (tracers in a singular
    #: isothermal sphere; the mass inside r_out) or ``self_consistent`` (isotropic tracers that are the
    #: mass, e.g. a Plummer sphere).
    exact_for: ClassVar[str] = ""

    def __init__(self, r_out_kpc: float | None = None) -> None:
        if r_out_kpc is not None:
            check_range(self.name, "r_out_kpc", r_out_kpc, 0.0, 1.0e5, low_open=True)
        self.r_out_kpc = r_out_kpc

    @abc.abstractmethod
    def _mass(self, x: np.ndarray, y: np.ndarray, v: np.ndarray, v_err: np.ndarray, r_out: float
              ) -> tuple[float, dict[str, Any]]:
        """Mass (Msun) and fitted parameters from one sample; ``r_out`` in kpc."""

    def parameters(self) -> dict[str, Any]:
        """The estimator's fixed parameters (for reports)."""
        return {}

    def _r_out(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self.r_out_kpc) if self.r_out_kpc is not None else float(np.max(np.hypot(x, y)))

    def mass(self, x: Any, y: Any, v: Any, v_err: Any | None = None) -> float:
        """Point estimate of the mass in Msun from all tracers."""
        x, y, v, v_err = _check_tracers(x, y, v, v_err)
        return self._mass(x, y, v, v_err, self._r_out(x, y))[0]

    def estimate(self, x: Any, y: Any, v: Any, v_err: Any | None = None, *, n_bootstrap: int = 200,
                 seed: int = 0) -> MassEstimate:
        """Point estimate and bootstrap uncertainty.

        The bootstrap draws the tracers with replacement ``n_bootstrap`` times
        (``numpy.random.default_rng(seed)``), keeps ``r_out`` fixed to the full sample's and refits any
        parameter fitted from the data (gamma, rotation).
        """
        check_range(self.name, "n_bootstrap", n_bootstrap, 0, 1_000_000)
        if n_bootstrap == 1:
            raise ConfigError(f"{self.name}.n_bootstrap = 1 gives no spread; allowed: 0 (no uncertainty) or "
                              "2..1000000")
        x, y, v, v_err = _check_tracers(x, y, v, v_err)
        r_out = self._r_out(x, y)
        mass, fitted = self._mass(x, y, v, v_err, r_out)
        boot = np.empty(n_bootstrap)
        rng = np.random.default_rng(seed)
        n = len(x)
        for b in range(n_bootstrap):
            idx = rng.integers(0, n, n)
            boot[b] = self._mass(x[idx], y[idx], v[idx], v_err[idx], r_out)[0]
        if n_bootstrap >= 2:
            err = float(np.std(boot, ddof=1))
            p16, p84 = (float(p) for p in np.percentile(boot, [16.0, 84.0]))
        else:
            err, p16, p84 = math.nan, math.nan, math.nan
        return MassEstimate(self.name, float(mass), err, p16, p84, n, r_out, n_bootstrap,
                            {**self.parameters(), **fitted})


def _second_moment(v: np.ndarray, v_err: np.ndarray) -> np.ndarray:
    """Per-tracer v^2 with the measurement variance removed (unbiased for the intrinsic moment)."""
    return v * v - v_err * v_err


def tme_projection_integral(alpha: float, beta: float) -> float:
    """I_{alpha,beta} of Watkins, Evans & An (2010):
    sqrt(pi) Gamma(alpha/2 + 1) / (4 Gamma(alpha/2 + 5/2)) [alpha + 3 - beta (alpha + 2)]."""
    g = math.exp(gammaln(alpha / 2.0 + 1.0) - gammaln(alpha / 2.0 + 2.5))
    return math.sqrt(math.pi) * g / 4.0 * (alpha + 3.0 - beta * (alpha + 2.0))


class TracerMassEstimator(MassEstimator):
    """Tracer mass estimator, projected form (Watkins, Evans & An 2010, MNRAS 406, 264, eq. 24).

    For a scale-free potential Phi ~ r^-alpha (alpha = 0: flat rotation curve / isothermal, 1: point
    mass), tracer density rho ~ r^-gamma and constant anisotropy beta,

        M(< r_out) = C / G <(v_los^2 - dv^2) R^alpha>,
        C = (alpha + gamma - 2 beta) / I_{alpha,beta} r_out^(1 - alpha),

    with I_{alpha,beta} from :func:`tme_projection_integral`. r_out is the outermost tracer radius
    (the largest projected radius unless ``r_out_kpc`` is given). With ``gamma=None`` the tracer slope is
    fitted: gamma = Gamma + 1 where Gamma is the maximum-likelihood slope of the GC surface density
    (as Alabi et al. 2016 do with their photometric profiles).

    With ``rotation=True`` the rotation term of Alabi et al. (2016, MNRAS 460, 3838, their eq. 3-4) is
    added: a rotation ``v_rot cos(phi - phi_kin)`` is fitted and removed from the velocities before the
    pressure term, and M_rot = v_rot^2 r_out / G is added. The fitted v_rot is biased high for small
    samples with no rotation (it is a positive-definite amplitude).

    Parameters
    ----------
    alpha
        Power-law slope of the potential, [-1, 1].
    beta
        Velocity anisotropy, [-10, 1).
    gamma
        Slope of the tracers' 3D density, (0, 10], or ``None`` to fit it.
    rotation
        Add the rotation term.
    r_out_kpc
        Radius the mass refers to; default the outermost projected radius.
    """

    name = "tme"
    exact_for = "isothermal"

    def __init__(self, alpha: float = 0.0, beta: float = 0.0, gamma: float | None = None,
                 rotation: bool = False, r_out_kpc: float | None = None) -> None:
        super().__init__(r_out_kpc)
        check_range(self.name, "alpha", alpha, -1.0, 1.0)
        check_range(self.name, "beta", beta, -10.0, 1.0, high_open=True)
        if gamma is not None:
            check_range(self.name, "gamma", gamma, 0.0, 10.0, low_open=True)
            if alpha + gamma - 2.0 * beta <= 0.0:
                raise ConfigError(f"tme: alpha + gamma - 2 beta = {alpha + gamma - 2 * beta} must be > 0 "
                                  "(Jeans equation of a scale-free population)")
        self.alpha, self.beta, self.gamma, self.rotation = alpha, beta, gamma, bool(rotation)

    def parameters(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "beta": self.beta, "gamma_fixed": self.gamma, "rotation": self.rotation}

    def _mass(self, x, y, v, v_err, r_out):
        R = np.hypot(x, y)
        fitted: dict[str, Any] = {}
        gamma = self.gamma
        if gamma is None:
            gamma = fit_projected_slope(R, R_out=r_out) + 1.0
            fitted["gamma"] = gamma
        m_rot = 0.0
        if self.rotation:
            v_rot, phi_kin = fit_rotation(x, y, v)
            phi = np.arctan2(y, x)
            v = v - v_rot * np.cos(phi - math.radians(phi_kin))
            m_rot = v_rot**2 * r_out / G_KPC_KMS2_PER_MSUN
            fitted.update(v_rot_kms=v_rot, phi_kin_deg=phi_kin, mass_rot_msun=m_rot)
        c = (self.alpha + gamma - 2.0 * self.beta) / tme_projection_integral(self.alpha, self.beta)
        c *= r_out ** (1.0 - self.alpha)
        m_p = c / G_KPC_KMS2_PER_MSUN * float(np.mean(_second_moment(v, v_err) * R**self.alpha))
        if self.rotation:
            fitted["mass_pressure_msun"] = m_p
        return m_p + m_rot, fitted


#: Projected-mass constants for test particles on complete Kepler orbits: f = 32 / (pi (3 - 2 <e^2>)).
PME_CONSTANTS: dict[str, float] = {"isotropic": 16.0 / math.pi, "radial": 32.0 / math.pi}


class ProjectedMassEstimator(MassEstimator):
    """Projected mass estimator for test particles (Heisler, Tremaine & Bahcall 1985, ApJ 298, 8;
    Bahcall & Tremaine 1981, ApJ 244, 805):

        M = f / (G N) sum_i (v_los,i^2 - dv_i^2) R_i.

    For tracers on complete orbits around the enclosed (point) mass, the time average of v^2 r over a
    Kepler orbit is GM (1 - e^2 / 2) and its projection gives f = 32 / (pi (3 - 2 <e^2>)): f = 16/pi for
    isotropic orbits (<e^2> = 1/2) and 32/pi for radial orbits (e = 1). These values are checked
    numerically in the tests; some papers quote twice these numbers, so give ``constant`` to use
    another normalisation. The estimator assumes the mass is concentrated inside the tracers; for
    extended haloes it measures roughly the mass within the tracers' extent.

    Parameters
    ----------
    orbits
        ``"isotropic"`` or ``"radial"``.
    constant
        Explicit f (overrides ``orbits``).
    r_out_kpc
        Radius reported with the mass; default the outermost projected radius.
    """

    name = "pme"
    exact_for = "point_mass"

    def __init__(self, orbits: str = "isotropic", constant: float | None = None,
                 r_out_kpc: float | None = None) -> None:
        super().__init__(r_out_kpc)
        check_choice(self.name, "orbits", orbits, PME_CONSTANTS)
        if constant is not None:
            check_range(self.name, "constant", constant, 0.0, 100.0, low_open=True)
        self.orbits = orbits
        self.constant = PME_CONSTANTS[orbits] if constant is None else float(constant)

    def parameters(self) -> dict[str, Any]:
        return {"orbits": self.orbits, "constant": self.constant}

    def _mass(self, x, y, v, v_err, r_out):
        R = np.hypot(x, y)
        return self.constant / G_KPC_KMS2_PER_MSUN * float(np.mean(_second_moment(v, v_err) * R)), {}


class VirialMassEstimator(MassEstimator):
    """Projected virial mass estimator (Limber & Mathews 1960; Heisler, Tremaine & Bahcall 1985, eq. 4):

        M = (3 pi N / (2 G)) sum_i (v_los,i^2 - dv_i^2) / sum_{i<j} 1 / R_ij.

    From the virial theorem 2T + W = 0 of an isolated system whose mass is traced by the tracers
    (projection: <v^2> = 3 <v_los^2>, <1/R_ij> = (pi/2) <1/r_ij> for random orientations). GCs do not
    follow the dark matter, so for galaxies this is biased (low when the halo extends beyond the GCs);
    it is here as the historical baseline. Cost O(N^2) time per estimate (and per bootstrap
    resample), O(N) memory (:func:`projected_pair_sum` works in blocks).
    """

    name = "virial"
    exact_for = "self_consistent"

    def _mass(self, x, y, v, v_err, r_out):
        n = len(x)
        pair_sum = projected_pair_sum(x, y)
        v2_sum = float(np.sum(_second_moment(v, v_err)))
        return 1.5 * math.pi * n / G_KPC_KMS2_PER_MSUN * v2_sum / pair_sum, {}


#: Estimators by registry name.
ESTIMATORS: dict[str, type[MassEstimator]] = {
    cls.name: cls for cls in (TracerMassEstimator, ProjectedMassEstimator, VirialMassEstimator)
}


def get_estimator(name: str, **parameters: Any) -> MassEstimator:
    """Build the estimator registered as ``name`` with ``parameters``; the error lists allowed names."""
    check_choice("estimator", "name", name, ESTIMATORS)
    try:
        return ESTIMATORS[name](**parameters)
    except TypeError as exc:
        raise ConfigError(f"estimator {name!r}: {exc}") from None


def default_estimators() -> dict[str, MassEstimator]:
    """The set reported for a galaxy by the CLI and the comparison: label -> estimator.

    TME with alpha = 0 (flat rotation curve, as Alabi et al. 2016), beta = 0, gamma fitted, without and
    with rotation; PME isotropic and radial; virial.
    """
    return {
        "tme_alpha0": TracerMassEstimator(alpha=0.0, beta=0.0),
        "tme_alpha0_rot": TracerMassEstimator(alpha=0.0, beta=0.0, rotation=True),
        "pme_isotropic": ProjectedMassEstimator("isotropic"),
        "pme_radial": ProjectedMassEstimator("radial"),
        "virial": VirialMassEstimator(),
    }
