"""The published numbers the report puts beside ours: Kaur et al. (2021), Tables 2 and 3 (PAPER.md)."""

from __future__ import annotations

#: run -> images, data, net, accuracy / MAE / RMSE for one and two channels (80/20 split by image).
PAPER_TABLE: dict[str, dict[str, object]] = {
    "DL1": {"images": 100_000, "data": "disk", "net": "2 conv", "acc": (0.937, 0.965), "mae": (0.571, 0.404),
            "rmse": (0.833, 0.707)},
    "DL2": {"images": 80_000, "data": "merger", "net": "2 conv", "acc": (0.972, 0.980), "mae": (0.265, 0.188),
            "rmse": (0.357, 0.239)},
    "DL3": {"images": 200_000, "data": "disk+merger", "net": "2 conv", "acc": (0.946, 0.959),
            "mae": (0.501, 0.367), "rmse": (0.733, 0.595)},
    "DL4": {"images": 200_000, "data": "disk+merger", "net": "4 conv", "acc": (0.976, 0.978),
            "mae": (0.288, 0.275), "rmse": (0.539, 0.510)},
    "DL5": {"images": 200_000, "data": "+ 5 km/s noise", "net": "4 conv", "acc": (0.809, 0.812),
            "mae": (2.722, 2.835), "rmse": (3.234, 3.408)},
}
#: What the paper's parameter counts were, for the record.
PAPER_PARAMETERS = {"conv2": 92_930, "conv4": 420_994}
