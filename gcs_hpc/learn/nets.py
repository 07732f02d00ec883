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

Heads (issue 15). ``head="point"`` is the paper's single linear output. ``head="gaussian"`` outputs two
numbers, the mean and the log-variance of the label (a heteroscedastic Gaussian, trained by its negative
log-likelihood, :func:`per_image_loss`; as halo_cnn's ``model_point_variance``): 129 parameters more.
It trains without dropout (the dropout layers stay, at rate 0): the noise dropout adds to the training
outputs is learned as variance and is absent at prediction time, so intervals come out too wide
(measured on the linear-Gaussian toy of tests/learn/test_posterior_nets.py: 68% coverage 0.84 and a
predicted sd of 0.95 against the exact 0.63). Ensembles (:mod:`gcs_hpc.learn.ensemble`) regularise.
``scale_input=True`` adds a second input, the log10 of the map's physical scale in kpc (e.g. the
projected half-mass radius R_half of a store with ``fov_unit: R_half``), concatenated to the flattened
conv body before the dense layer (128 parameters more): maps in units of R_half lose the size, and mass
goes as sigma^2 R.
"""

from __future__ import annotations

from typing import Any

from gcs_hpc.config import check_choice, check_range

#: Architectures by name: the filters of the successive 3x3 convolutions.
ARCHITECTURES: dict[str, tuple[int, ...]] = {"conv2": (32, 64), "conv4": (32, 64, 128, 256)}
#: Channel counts the nets accept: 1 (sigma) or 2 (sigma, V).
CHANNEL_CHOICES = (1, 2)
#: Output heads: the paper's point estimate, or mean and log-variance of a Gaussian.
HEADS: dict[str, int] = {"point": 1, "gaussian": 2}
#: The Gaussian head's log-variance (label scale) is clipped to this range in the loss and predictions.
LOG_VARIANCE_RANGE = (-12.0, 6.0)
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


def expected_parameter_count(arch: str, channels: int, npix: int = 10, head: str = "point",
                             scale_input: bool = False) -> int:
    """Parameters the layers of section 2.2 give, counted by hand from their shapes (no TensorFlow).

    A 3x3 convolution from c_in to c_out channels has 9 c_in c_out + c_out parameters; each "valid"
    convolution shrinks the map by 2 pixels, the 2x2 stride-1 pooling by 1; a dense layer from p to c
    units has p c + c.
    """
    check_net_args(arch, channels, npix)
    check_choice("learn", "head", head, HEADS)
    total, c_in, size = 0, channels, npix
    for c_out in ARCHITECTURES[arch]:
        total += KERNEL * KERNEL * c_in * c_out + c_out
        c_in, size = c_out, size - (KERNEL - 1)
    size = (size - POOL) // POOL_STRIDE + 1
    flat = size * size * c_in + int(scale_input)
    total += flat * DENSE_UNITS + DENSE_UNITS
    total += (DENSE_UNITS + 1) * HEADS[head]
    return total


def build_net(arch: str, channels: int, npix: int = 10, seed: int | None = None, head: str = "point",
              scale_input: bool = False) -> Any:
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
    head
        ``"point"`` (output ``(1,)``: the label) or ``"gaussian"`` (output ``(2,)``: mean and
        log-variance of the label).
    scale_input
        Add the second input ``scale`` (shape ``(1,)``: log10 of the map scale in kpc).

    Returns
    -------
    keras.Model
        Input ``(npix, npix, channels)`` float32 (and ``(1,)`` with ``scale_input``), output the mass label
        on the 0..10 scale (point) or its mean and log-variance (gaussian).
    """
    check_net_args(arch, channels, npix)
    check_choice("learn", "head", head, HEADS)
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
    # The gaussian head trains without dropout (rate 0, layers kept): see the module notes.
    keep = 1.0 if head == "point" else 0.0
    x = layers.Dropout(keep * DROPOUT_AFTER_POOL, seed=seed, name="dropout_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    if scale_input:
        scale = keras.Input((1,), name="scale")
        x = layers.Concatenate(name="with_scale")([x, scale])
    x = layers.Dense(DENSE_UNITS, activation="relu", kernel_initializer=init(10), name="dense")(x)
    x = layers.Dropout(keep * DROPOUT_AFTER_DENSE, seed=None if seed is None else seed + 1,
                       name="dropout_dense")(x)
    outputs = layers.Dense(HEADS[head], activation="linear", kernel_initializer=init(11),
                           name="mass_label")(x)
    name = f"{arch}_{channels}ch" + ("" if head == "point" else f"_{head}") \
        + ("_scale" if scale_input else "")
    return keras.Model([inputs, scale] if scale_input else inputs, outputs, name=name)


def per_image_loss(tf: Any, head: str, pred: Any, y: Any) -> Any:
    """Loss of every image of a batch (TensorFlow ops): squared error of the point head, Gaussian negative
    log-likelihood (without the constant) of the gaussian head, ``0.5 (s + (y - mu)^2 exp(-s))`` with
    ``s`` the log-variance clipped to :data:`LOG_VARIANCE_RANGE`."""
    check_choice("learn", "head", head, HEADS)
    if head == "point":
        return tf.reduce_mean(tf.square(pred - y), axis=1)
    mean, log_var = pred[:, 0], tf.clip_by_value(pred[:, 1], *LOG_VARIANCE_RANGE)
    return 0.5 * (log_var + tf.square(y[:, 0] - mean) * tf.exp(-log_var))


def split_outputs(head: str, out: Any) -> tuple[Any, Any]:
    """(mean, sd) on the label scale from a net's NumPy outputs (n, 1) or (n, 2); sd 0 for a point head."""
    import numpy as np

    out = np.asarray(out, dtype=np.float64).reshape(len(out), HEADS[head])
    if head == "point":
        return out[:, 0], np.zeros(len(out))
    return out[:, 0], np.exp(0.5 * np.clip(out[:, 1], *LOG_VARIANCE_RANGE))
