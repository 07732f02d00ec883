"""The paper's nets: the layers of section 2.2 and the parameters they really have."""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc.errors import ConfigError
from gcs_hpc.learn import nets

# Counted by hand from section 2.2 (3x3 valid convs, 2x2 pool stride 1, dense 128, dense 1), 10x10 maps:
# conv2: 9*c*32+32 + 9*32*64+64 + (5*5*64)*128+128 + 129;  conv4: ... + 9*64*128+128 + 9*128*256+256
# + (1*1*256)*128+128 + 129. The paper says 92,930 and 420,994: its 4-conv number is our 1-channel count
# + 129, its 2-conv number needs a stride-2 pooling (92,801) + 129. See gcs_hpc/learn/nets.py.
HAND_COUNTS = {("conv2", 1): 223_873, ("conv2", 2): 224_161, ("conv4", 1): 420_865, ("conv4", 2): 421_153}


@pytest.mark.parametrize(("arch", "channels"), sorted(HAND_COUNTS))
def test_parameter_counts_are_what_the_layers_give(arch: str, channels: int) -> None:
    net = nets.build_net(arch, channels, seed=0)
    assert net.count_params() == HAND_COUNTS[arch, channels]
    assert nets.expected_parameter_count(arch, channels) == HAND_COUNTS[arch, channels]
    out = net(np.zeros((3, 10, 10, channels), np.float32), training=False)
    assert tuple(out.shape) == (3, 1)


def test_paper_counts_differ_by_the_output_layer() -> None:
    """The paper's 4-conv count is the built net's plus one more output layer (dense 128 -> 1); its
    2-conv count is not the built net's under any such reading."""
    conv4 = nets.build_net("conv4", 1, seed=0)
    output = conv4.layers[-1]
    assert output.count_params() == 128 + 1
    assert nets.PAPER_PARAMETER_COUNTS["conv4"] - conv4.count_params() == output.count_params()
    conv2 = nets.build_net("conv2", 1, seed=0)
    assert nets.PAPER_PARAMETER_COUNTS["conv2"] - conv2.count_params() not in (0, output.count_params())


def test_layer_order_follows_the_paper() -> None:
    names = [layer.name for layer in nets.build_net("conv4", 2).layers[1:]]
    assert names == ["conv1", "conv2", "conv3", "conv4", "max_pool", "dropout_pool", "flatten", "dense",
                     "dropout_dense", "mass_label"]


def test_bad_arguments_name_the_field() -> None:
    with pytest.raises(ConfigError, match="arch"):
        nets.build_net("conv3", 1)
    with pytest.raises(ConfigError, match="channels"):
        nets.build_net("conv2", 3)
    with pytest.raises(ConfigError, match="npix"):
        nets.build_net("conv4", 1, npix=8)
