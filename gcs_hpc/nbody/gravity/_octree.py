"""Numba kernels of the Barnes-Hut octree: construction, quadrupole moments and the grouped tree walk.

Layout. Nodes are created in depth-first pre-order, so the subtree of node ``k`` is the contiguous block
``k .. next[k]-1`` and the particles of a node are the contiguous range ``start[k]:end[k]`` of the
permuted source arrays. The walk is stack-free: accept or treat a leaf, then jump to ``next[k]``;
otherwise descend to ``k + 1``.

Walk. Targets are grouped spatially (leaves of an octree over the targets, at most ``group_size`` each).
For every group one walk builds an interaction list: a node is accepted when its box does not overlap the
group's bounding box and ``(2 h)^2 < theta^2 d^2``, ``h`` the node half-width and ``d`` the distance from
the node's centre of mass to the group's box (a conservative Barnes-Hut criterion for every target of the
group). Accepted nodes act through the softened quadrupole expansion of :mod:`gcs_hpc.nbody.kernels`;
leaves that are opened act particle by particle with the exact Plummer kernel. The list is applied with its
entries in the outer loop and the group's targets in the inner loop, which LLVM vectorises across targets;
every target's sum is still done in list order (no reassociation), so results do not depend on the number
of threads, and targets that are the sources themselves take their groups from the source tree
(:func:`group_ranges`) with the same numbers as a separate target tree.
"""

from __future__ import annotations

import numba
import numpy as np

from gcs_hpc.units import G

#: LLVM fast-math flags (see gcs_hpc.nbody.gravity.compiled: no reassociation, for determinism).
FASTMATH = {"nsz"}
#: Deepest level of the tree; coincident particles end up together in a leaf at this depth.
MAX_DEPTH = 48
#: Accepted nodes holding at most this many particles are summed directly instead (cheaper, exact).
DIRECT_NODE_SIZE = 4


@numba.njit(cache=True)
def _grow(a, new_rows):  # pragma: no cover - compiled
    b = np.empty((new_rows, a.shape[1]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@numba.njit(cache=True)
def build_octree(pos, leaf_size):  # pragma: no cover - compiled
    """Octree over ``pos`` (n, 3). Returns (perm, node_int (k, 4): start, end, next, is_leaf;
    node_geo (k, 4): centre x, y, z, half-width)."""
    n = pos.shape[0]
    perm = np.arange(n)
    tmp = np.empty(n, dtype=np.int64)
    octant = np.empty(n, dtype=np.int64)
    lo = np.empty(3)
    hi = np.empty(3)
    for d in range(3):
        lo[d] = pos[0, d] if n > 0 else 0.0
        hi[d] = lo[d]
    for i in range(n):
        for d in range(3):
            lo[d] = min(lo[d], pos[i, d])
            hi[d] = max(hi[d], pos[i, d])
    half = 0.0
    for d in range(3):
        half = max(half, 0.5 * (hi[d] - lo[d]))
    half = half * (1.0 + 1e-6) + 1e-300
    cap = max(64, 4 * (n // max(leaf_size, 1) + 1))
    node_int = np.empty((cap, 4), dtype=np.int64)
    node_geo = np.empty((cap, 4))
    parent = np.empty(cap, dtype=np.int64)
    stack_int = np.empty((8 * (MAX_DEPTH + 2), 4), dtype=np.int64)
    stack_geo = np.empty((8 * (MAX_DEPTH + 2), 4))
    stack_int[0, 0] = 0
    stack_int[0, 1] = n
    stack_int[0, 2] = -1
    stack_int[0, 3] = 0
    for d in range(3):
        stack_geo[0, d] = 0.5 * (lo[d] + hi[d])
    stack_geo[0, 3] = half
    sp = 1
    k = 0
    counts = np.empty(8, dtype=np.int64)
    offsets = np.empty(8, dtype=np.int64)
    while sp > 0:
        sp -= 1
        s, e, par, depth = stack_int[sp, 0], stack_int[sp, 1], stack_int[sp, 2], stack_int[sp, 3]
        cx, cy, cz, h = stack_geo[sp, 0], stack_geo[sp, 1], stack_geo[sp, 2], stack_geo[sp, 3]
        if k == node_int.shape[0]:
            node_int = _grow(node_int, 2 * k)
            node_geo = _grow(node_geo, 2 * k)
            p2 = np.empty(2 * k, dtype=np.int64)
            p2[:k] = parent
            parent = p2
        node = k
        k += 1
        node_int[node, 0] = s
        node_int[node, 1] = e
        node_int[node, 2] = 0
        node_int[node, 3] = 0
        parent[node] = par
        node_geo[node, 0] = cx
        node_geo[node, 1] = cy
        node_geo[node, 2] = cz
        node_geo[node, 3] = h
        if e - s <= leaf_size or depth >= MAX_DEPTH:
            node_int[node, 3] = 1
            continue
        counts[:] = 0
        for p in range(s, e):
            q = perm[p]
            o = (1 if pos[q, 0] > cx else 0) + (2 if pos[q, 1] > cy else 0) + (4 if pos[q, 2] > cz else 0)
            octant[p] = o
            counts[o] += 1
        acc = 0
        for o in range(8):
            offsets[o] = acc
            acc += counts[o]
        for p in range(s, e):
            o = octant[p]
            tmp[s + offsets[o]] = perm[p]
            offsets[o] += 1
        for p in range(s, e):
            perm[p] = tmp[p]
        hh = 0.5 * h
        for o in range(7, -1, -1):
            if counts[o] == 0:
                continue
            stack_int[sp, 0] = s + offsets[o] - counts[o]
            stack_int[sp, 1] = s + offsets[o]
            stack_int[sp, 2] = node
            stack_int[sp, 3] = depth + 1
            stack_geo[sp, 0] = cx + (hh if o & 1 else -hh)
            stack_geo[sp, 1] = cy + (hh if o & 2 else -hh)
            stack_geo[sp, 2] = cz + (hh if o & 4 else -hh)
            stack_geo[sp, 3] = hh
            sp += 1
    size = np.ones(k, dtype=np.int64)
    for node in range(k - 1, 0, -1):
        size[parent[node]] += size[node]
    for node in range(k):
        node_int[node, 2] = node + size[node]
    return perm, node_int[:k].copy(), node_geo[:k].copy()


@numba.njit(cache=True)
def group_ranges(node_int, group_size):  # pragma: no cover - compiled
    """Particle ranges (start, end) of the highest nodes holding at most ``group_size`` particles, in
    pre-order: the leaves the octree over the same points would have with ``leaf_size = group_size``."""
    n_nodes = node_int.shape[0]
    out = np.empty((n_nodes, 2), dtype=np.int64)
    k = 0
    node = 0
    while node < n_nodes:
        if node_int[node, 1] - node_int[node, 0] <= group_size or node_int[node, 3] == 1:
            out[k, 0] = node_int[node, 0]
            out[k, 1] = node_int[node, 1]
            k += 1
            node = node_int[node, 2]
        else:
            node += 1
    return out[:k].copy()


@numba.njit(cache=True)
def node_moments(node_int, node_geo, sx, sy, sz, sm):  # pragma: no cover - compiled
    """Mass, centre of mass and second moments I_ij about it for every node, from its particle range.
    Returns moments (k, 10): M, com x, y, z, Ixx, Iyy, Izz, Ixy, Ixz, Iyz."""
    k = node_int.shape[0]
    mom = np.zeros((k, 10))
    for node in range(k):
        s, e = node_int[node, 0], node_int[node, 1]
        m = 0.0
        x = 0.0
        y = 0.0
        z = 0.0
        for p in range(s, e):
            m += sm[p]
            x += sm[p] * sx[p]
            y += sm[p] * sy[p]
            z += sm[p] * sz[p]
        if m > 0.0:
            x /= m
            y /= m
            z /= m
        else:
            x, y, z = node_geo[node, 0], node_geo[node, 1], node_geo[node, 2]
        ixx = 0.0
        iyy = 0.0
        izz = 0.0
        ixy = 0.0
        ixz = 0.0
        iyz = 0.0
        for p in range(s, e):
            dx = sx[p] - x
            dy = sy[p] - y
            dz = sz[p] - z
            ixx += sm[p] * dx * dx
            iyy += sm[p] * dy * dy
            izz += sm[p] * dz * dz
            ixy += sm[p] * dx * dy
            ixz += sm[p] * dx * dz
            iyz += sm[p] * dy * dz
        mom[node, 0] = m
        mom[node, 1] = x
        mom[node, 2] = y
        mom[node, 3] = z
        mom[node, 4] = ixx
        mom[node, 5] = iyy
        mom[node, 6] = izz
        mom[node, 7] = ixy
        mom[node, 8] = ixz
        mom[node, 9] = iyz
    return mom


@numba.njit(cache=True, fastmath=FASTMATH, nogil=True, error_model="numpy")
def walk_groups(g0, g1, groups, tx, ty, tz, node_int, node_geo, mom, sx, sy, sz, sm, theta2, eps2,
                acc, phi):  # pragma: no cover - compiled
    """Field at the (sorted) targets of groups g0..g1-1; writes acc (n, 3) and phi (n,).

    The interaction list of a group is applied with the sources in the outer loop and the group's
    targets in the inner loop: every target still sums its terms in list order (deterministic, no
    reassociation), while LLVM vectorises the inner loop across targets (SIMD lanes = targets).
    ``error_model="numpy"`` removes the zero-division checks that would block vectorisation (the
    softened denominators are never zero).
    """
    n_nodes = node_int.shape[0]
    n_src = sx.shape[0]
    px = np.empty(n_src)
    py = np.empty(n_src)
    pz = np.empty(n_src)
    pm = np.empty(n_src)
    nb = np.empty((10, n_nodes))
    largest = 1
    for g in range(g0, g1):
        largest = max(largest, groups[g, 1] - groups[g, 0])
    ax = np.empty(largest)
    ay = np.empty(largest)
    az = np.empty(largest)
    ph = np.empty(largest)
    for g in range(g0, g1):
        s, e = groups[g, 0], groups[g, 1]
        x0 = tx[s]
        x1 = tx[s]
        y0 = ty[s]
        y1 = ty[s]
        z0 = tz[s]
        z1 = tz[s]
        for t in range(s + 1, e):
            x0 = min(x0, tx[t])
            x1 = max(x1, tx[t])
            y0 = min(y0, ty[t])
            y1 = max(y1, ty[t])
            z0 = min(z0, tz[t])
            z1 = max(z1, tz[t])
        n_part = 0
        n_acc = 0
        node = 0
        while node < n_nodes:
            cx, cy, cz, h = node_geo[node, 0], node_geo[node, 1], node_geo[node, 2], node_geo[node, 3]
            overlap = (cx - h <= x1) and (cx + h >= x0) and (cy - h <= y1) and (cy + h >= y0) \
                and (cz - h <= z1) and (cz + h >= z0)
            if not overlap:
                mx, my, mz = mom[node, 1], mom[node, 2], mom[node, 3]
                dx = max(x0 - mx, 0.0, mx - x1)
                dy = max(y0 - my, 0.0, my - y1)
                dz = max(z0 - mz, 0.0, mz - z1)
                if 4.0 * h * h < theta2 * (dx * dx + dy * dy + dz * dz):
                    if node_int[node, 1] - node_int[node, 0] > DIRECT_NODE_SIZE:
                        for c in range(10):
                            nb[c, n_acc] = mom[node, c]
                        n_acc += 1
                    else:
                        for p in range(node_int[node, 0], node_int[node, 1]):
                            px[n_part] = sx[p]
                            py[n_part] = sy[p]
                            pz[n_part] = sz[p]
                            pm[n_part] = sm[p]
                            n_part += 1
                    node = node_int[node, 2]
                    continue
            if node_int[node, 3] == 1:
                for p in range(node_int[node, 0], node_int[node, 1]):
                    px[n_part] = sx[p]
                    py[n_part] = sy[p]
                    pz[n_part] = sz[p]
                    pm[n_part] = sm[p]
                    n_part += 1
                node = node_int[node, 2]
            else:
                node += 1
        n = e - s
        gx = tx[s:e]
        gy = ty[s:e]
        gz = tz[s:e]
        for i in range(n):
            ax[i] = 0.0
            ay[i] = 0.0
            az[i] = 0.0
            ph[i] = 0.0
        for j in range(n_part):
            qx, qy, qz, qm = px[j], py[j], pz[j], pm[j]
            for i in range(n):
                dx = qx - gx[i]
                dy = qy - gy[i]
                dz = qz - gz[i]
                r2 = dx * dx + dy * dy + dz * dz + eps2
                inv_r = 1.0 / np.sqrt(r2)
                m_inv_r = qm * inv_r
                m_inv_r3 = m_inv_r * inv_r * inv_r
                ax[i] += dx * m_inv_r3
                ay[i] += dy * m_inv_r3
                az[i] += dz * m_inv_r3
                ph[i] -= m_inv_r
        for j in range(n_acc):
            m0, mx, my, mz = nb[0, j], nb[1, j], nb[2, j], nb[3, j]
            ixx, iyy, izz, ixy, ixz, iyz = nb[4, j], nb[5, j], nb[6, j], nb[7, j], nb[8, j], nb[9, j]
            tr = ixx + iyy + izz
            for i in range(n):
                rx = gx[i] - mx
                ry = gy[i] - my
                rz = gz[i] - mz
                s2 = rx * rx + ry * ry + rz * rz + eps2
                inv_s = 1.0 / s2
                inv1 = np.sqrt(inv_s)
                inv3 = inv1 * inv_s
                inv5 = inv3 * inv_s
                inv7 = inv5 * inv_s
                irx = ixx * rx + ixy * ry + ixz * rz
                iry = ixy * rx + iyy * ry + iyz * rz
                irz = ixz * rx + iyz * ry + izz * rz
                rir = rx * irx + ry * iry + rz * irz
                radial = -m0 * inv3 + 1.5 * tr * inv5 - 7.5 * rir * inv7
                ax[i] += radial * rx + 3.0 * irx * inv5
                ay[i] += radial * ry + 3.0 * iry * inv5
                az[i] += radial * rz + 3.0 * irz * inv5
                ph[i] -= m0 * inv1 + 1.5 * rir * inv5 - 0.5 * tr * inv3
        for i in range(n):
            acc[s + i, 0] = G * ax[i]
            acc[s + i, 1] = G * ay[i]
            acc[s + i, 2] = G * az[i]
            phi[s + i] = G * ph[i]


@numba.njit(cache=True, parallel=True)
def walk_groups_parallel(n_blocks, groups, tx, ty, tz, node_int, node_geo, mom, sx, sy, sz, sm, theta2, eps2,
                         acc, phi):  # pragma: no cover - compiled
    """:func:`walk_groups` over ``n_blocks`` contiguous blocks of groups in parallel."""
    n_groups = groups.shape[0]
    block = (n_groups + n_blocks - 1) // n_blocks
    for b in numba.prange(n_blocks):
        walk_groups(b * block, min(n_groups, (b + 1) * block), groups, tx, ty, tz, node_int, node_geo, mom,
                    sx, sy, sz, sm, theta2, eps2, acc, phi)
