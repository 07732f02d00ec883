"""The one softening kernel of gcs_hpc: Plummer softening, identical on every gravity backend.

A source of mass ``m`` at ``y`` acts on a target at ``x`` with the potential and acceleration

.. math::

    \\Phi(x) = -\\frac{G m}{\\sqrt{|x - y|^2 + \\epsilon^2}}, \\qquad
    a(x) = \\frac{G m (y - x)}{(|x - y|^2 + \\epsilon^2)^{3/2}},

with the softening length ``epsilon`` in simulation units (``units.kpc_to_sim(preset.softening_kpc)``) and
G = 1 (:mod:`gcs_hpc.units`). This is the kernel of REBOUND's ``basic`` gravity and of the paper's GRAPE-style
codes. The self term of a source on itself is zero in the acceleration and ``-m / epsilon`` in the
potential; :func:`self_potential` gives that term so callers can remove it from energies.

The tree backend expands this same softened kernel (not the Newtonian one) to quadrupole order about a
node's centre of mass: with ``R = x - com``, ``s = |R|^2 + epsilon^2``, node mass ``M`` and second moments
``I_ij = sum m d_i d_j`` (``d`` measured from the centre of mass),

.. math::

    \\Phi = -\\left[M s^{-1/2} + \\tfrac32 (R^T I R) s^{-5/2} - \\tfrac12 \\mathrm{tr}(I) s^{-3/2}\\right],

    a = -M R s^{-3/2} + 3 (I R) s^{-5/2} + \\tfrac32 \\mathrm{tr}(I) R s^{-5/2}
        - \\tfrac{15}{2} (R^T I R) R s^{-7/2},

which is the Taylor series of the Plummer potential itself, so tree and direct sums converge to the same
field as the opening angle shrinks.
"""

from __future__ import annotations

from typing import Any

from gcs_hpc.units import G

#: Name of the kernel, recorded in run statistics.
KERNEL_NAME = "plummer"


def pair_field(dx: Any, dy: Any, dz: Any, mass: Any, softening: float, xp: Any) -> tuple[Any, ...]:
    """Acceleration components and potential of sources on targets, summed over the last axis.

    Parameters
    ----------
    dx, dy, dz
        Source minus target separations, shape (n_targets, n_sources), any array module.
    mass
        Source masses, shape (n_sources,).
    softening
        Plummer softening length epsilon (simulation units).
    xp
        The array module of the inputs.

    Returns
    -------
    ax, ay, az, phi
        Each of shape (n_targets,): acceleration and potential (self terms included, see
        :func:`self_potential`).
    """
    r2 = dx * dx + dy * dy + dz * dz + softening * softening
    inv_r = 1.0 / xp.sqrt(r2)
    m_inv_r = (G * mass) * inv_r
    m_inv_r3 = m_inv_r * inv_r * inv_r
    ax = xp.sum(dx * m_inv_r3, axis=-1)
    ay = xp.sum(dy * m_inv_r3, axis=-1)
    az = xp.sum(dz * m_inv_r3, axis=-1)
    phi = -xp.sum(m_inv_r, axis=-1)
    return ax, ay, az, phi


def self_potential(mass: Any, softening: float) -> Any:
    """Potential a softened source exerts on itself, ``-G m / epsilon`` (zero for massless tracers)."""
    return -G * mass / softening
