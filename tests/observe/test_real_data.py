"""The SLUGGS GC catalogue (Forbes et al. 2017, AJ 153, 114) end to end: finite maps, plausible masses.

Skips with a reason when ../shared/data is absent (it is not part of the repository). NGC 3115, the
paper's galaxy, is withheld from these files on purpose.
"""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc.observe.catalog import read_vizier_tsv
from gcs_hpc.observe.estimators import default_estimators
from gcs_hpc.observe.galaxies import find_galaxy, read_galaxy_table
from gcs_hpc.observe.observed_maps import FILL_POLICIES, make_observed_maps
from gcs_hpc.observe.project import project_catalog
from gcs_hpc.specs import MapSpec

GALAXIES = ("NGC 1407", "NGC 4494", "NGC 3377")


@pytest.fixture(scope="module")
def sluggs(shared_data):
    return (read_vizier_tsv(shared_data / "forbes2017_gc_velocities.tsv"),
            read_galaxy_table(shared_data / "forbes2017_galaxies.tsv"))


@pytest.fixture(scope="module")
def masses(sluggs):
    cat, table = sluggs
    out = {}
    for name in GALAXIES:
        gal = find_galaxy(table, name)
        gcs = project_catalog(cat.for_galaxy(name), gal)
        out[name] = {label: est.estimate(gcs.x_kpc, gcs.y_kpc, gcs.v_los_kms, gcs.v_err_kms, n_bootstrap=50)
                     for label, est in default_estimators().items()}
    return out


@pytest.mark.parametrize("name", GALAXIES)
def test_real_maps_are_finite(sluggs, name):
    cat, table = sluggs
    gal = find_galaxy(table, name)
    obs = make_observed_maps(project_catalog(cat.for_galaxy(name), gal), gal,
                             MapSpec(n_angles=1, fov=5.0, fov_unit="R_half", smoothing=0.5))
    assert obs.n_in_field >= 30
    for policy in FILL_POLICIES[:-1]:
        maps = obs.filled(policy)
        assert np.all(np.isfinite(maps))
        sigma = maps[0][~obs.empty]
        assert 20.0 < np.median(sigma) < 400.0      # GC dispersions of early-type galaxies


def test_real_masses_are_plausible(masses):
    for name, by_label in masses.items():
        for label, est in by_label.items():
            # total masses of early-type galaxies within their GC extent (tens of kpc): 1e10 .. 1e13 Msun
            assert 1.0e10 < est.mass_msun < 1.0e13, (name, label, est.mass_msun)
            assert est.mass_err_msun < 0.5 * est.mass_msun
        tme, pme = by_label["tme_alpha0"].mass_msun, by_label["pme_isotropic"].mass_msun
        assert 0.2 < pme / tme < 2.0
    # the most massive galaxy in stars (log M* 11.60) weighs more than the least (10.50)
    assert masses["NGC 1407"]["tme_alpha0"].mass_msun > 5 * masses["NGC 3377"]["tme_alpha0"].mass_msun
