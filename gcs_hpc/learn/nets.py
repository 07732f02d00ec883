"""The CNNs of Kaur et al. (2021), section 2.2, for 10x10 kinematic maps of a GCS.

Both nets regress the normalised total mass (0..10 label scale, :mod:`gcs_hpc.store`):

``conv2``
    conv 32 3x3 (stride 1, "valid", ReLU) -> conv 64 3x3 (ReLU) -> max-pool 2x2 stride 1 ->
    dropout 0.25 -> flatten -> dense 128 (ReLU) -> dropout 0.5 -> dense 1 (linear).
``conv4``
    as ``conv2`` with conv 128 3x3 and conv 256 3x3 (ReLU) after the second convolution.

Input is channels-last, ``(npix, npix, channels)``: one channel (sigma) or two (sigma, V), in the
store's channel order. The convolutions are "valid" (the paper says so for the first; we use it for all,
as the paper's per-layer counts 320 and 18,496 imply nothing else and a 10x10 map leaves 2x2 after four).

Parameter counts (what these layers really give, 10x10 input; see :func:`expected_parameter_count`):
conv2 1ch 223,873, 2ch 224,161; conv4 1ch 420,865, 2ch 421,153. The paper quotes 92,930 (2 conv) and
420,994 (4 conv). Its 4-conv figure is our 1-channel count plus 129 (the output layer's parameters
counted twice); its 2-conv figure matches only if the pooling had stride 2 (5x5 -> 3x3: 92,801, again
plus 129), which contradicts the stated stride of 1. We build what the text describes (stride 1).
"""

from __future__ import annotations

from typing import Any

from gcs_hpc.config import check_choice, check_range

#: Architectures by name: the filters of the successive 3x3 convolutions.
ARCHITECTURES: dict[str, tuple[int, ...]] = {"conv2": (32, 64), "conv4": (32, 64, 128, 256)}
#: Channel counts the nets accept: 1 (sigma) or 2 (sigma, V).
CHANNEL_CHOICES = (1, 2)
#: Parameter counts quoted by the paper (section 2.2.5), for comparison only.
PAPER_PARAMETER_COUNTS: dict[str, int] = {"conv2": 92_930, "conv4": 420_994}

KERNEL = 3
POOL = 2
POOL_STRIDE = 1
DROPOUT_AFTER_POOL = 0.25
DENSE_UNITS = 128
DROPOUT_AFTER_DENSE = 0.5


def check_net_args(arch: str, channels: int, npix: int) -> None:
    """Validate an architecture name, channel count and map size (ConfigError naming the field)."""
    check_choice("learn", "arch", arch, ARCHITECTURES)
    check_choice("learn", "channels", channels, CHANNEL_CHOICES)
    n_conv = len(ARCHITECTURES[arch])
    smallest = n_conv * (KERNEL - 1) + POOL
    check_range("learn", "npix", npix, smallest, 1024)


def expected_parameter_count(arch: str, channels: int, npix: int = 10) -> int:
    """Parameters the layers of section 2.2 give, counted by hand from their shapes (no TensorFlow).

    A 3x3 convolution from c_in to c_out channels has 9 c_in c_out + c_out parameters; each "valid"
    convolution shrinks the map by 2 pixels, the 2x2 stride-1 pooling by 1; a dense layer from p to c
    units has p c + c.
    """
    check_net_args(arch, channels, npix)
    total, c_in, size = 0, channels, npix
    for c_out in ARCHITECTURES[arch]:
        total += KERNEL * KERNEL * c_in * c_out + c_out
        c_in, size = c_out, size - (KERNEL - 1)
    size = (size - POOL) // POOL_STRIDE + 1
    flat = size * size * c_in
    total += flat * DENSE_UNITS + DENSE_UNITS
    total += DENSE_UNITS + 1
    return total


def build_net(arch: str, channels: int, npix: int = 10, seed: int | None = None) -> Any:
    """Build the Keras model of ``arch`` ("conv2" or "conv4") for ``channels`` input maps.

    Parameters
    ----------
    arch
        ``"conv2"`` or ``"conv4"``.
    channels
        1 (sigma) or 2 (sigma, V).
    npix
        Pixels per side of the (square) maps.
    seed
        Seed of the weight initialisers and dropout; ``None`` leaves them random.

    Returns
    -------
    keras.Model
        Input ``(npix, npix, channels)`` float32, output ``(1,)``: the mass label on the 0..10 scale.
    """
    check_net_args(arch, channels, npix)
    from gcs_hpc.learn import require_keras

    keras = require_keras()
    layers = keras.layers

    def init(i: int) -> Any:
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)

    inputs = keras.Input((npix, npix, channels), name="maps")
    x = inputs
    for i, filters in enumerate(ARCHITECTURES[arch]):
        x = layers.Conv2D(filters, KERNEL, strides=1, padding="valid", activation="relu",
                          kernel_initializer=init(i), name=f"conv{i + 1}")(x)
    x = layers.MaxPooling2D(POOL, strides=POOL_STRIDE, name="max_pool")(x)
    x = layers.Dropout(DROPOUT_AFTER_POOL, seed=seed, name="dropout_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(DENSE_UNITS, activation="relu", kernel_initializer=init(10), name="dense")(x)
    x = layers.Dropout(DROPOUT_AFTER_DENSE, seed=None if seed is None else seed + 1,
                       name="dropout_dense")(x)
    outputs = layers.Dense(1, activation="linear", kernel_initializer=init(11), name="mass_label")(x)
    return keras.Model(inputs, outputs, name=f"{arch}_{channels}ch")
