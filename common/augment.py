"""Random augmentation of images and volumes inside ``tf.data``, reproducible from one seed.

Keras's preprocessing layers (``RandomFlip``, ``RandomTranslation``, ``RandomRotation``) handle 2D images only.
The functions here work on any spatial rank, using TensorFlow's *stateless* random ops with per-example seeds drawn from
``tf.data.Dataset.random(seed)``, so the same seed gives the same augmented batches run after run (also with
op determinism on) while every epoch still sees new draws.
"""

import math

from common.tf_setup import import_tensorflow_quietly

tf = import_tensorflow_quietly()

# Folded into an example's seed to draw the rotation and zoom, so that adding them leaves the flips, shifts and
# intensity jitter of a given seed exactly as they were.
_ROTATION_STREAM = 7919


def random_rotate_and_zoom(x, seed, max_rotation=0.0, max_zoom=0.0):
    """Rotate and scale one example in the plane of its last two spatial axes (H, W) about the centre.

    A volume (D, H, W, C) is turned as a whole about its first axis (every slice by the same angle): the small
    in-plane rotations that positioning differences cause. Bilinear interpolation; the corners that come into
    view are filled with zeros.

    Args:
        x: float tensor (H, W, C) or (D, H, W, C).
        seed: int tensor of shape (2,).
        max_rotation: largest angle in degrees; the angle is drawn from [-max_rotation, max_rotation].
        max_zoom: the scale is drawn from [1 - max_zoom, 1 + max_zoom] (above 1 enlarges the content).

    Returns:
        A tensor of the same shape and dtype.
    """
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    angle = tf.random.stateless_uniform([], seeds[0], -max_rotation, max_rotation) * (math.pi / 180.0)
    scale = tf.random.stateless_uniform([], seeds[1], 1.0 - max_zoom, 1.0 + max_zoom)
    shape = tf.shape(x)
    height, width = tf.cast(shape[-3], tf.float32), tf.cast(shape[-2], tf.float32)
    centre_x, centre_y = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    # The transform maps each output pixel (x, y) back to the input point it reads: the inverse rotation
    # and scaling about the centre.
    cosine, sine = tf.cos(angle) / scale, tf.sin(angle) / scale
    transform = tf.stack([cosine, -sine, centre_x - cosine * centre_x + sine * centre_y,
                          sine, cosine, centre_y - sine * centre_x - cosine * centre_y, 0.0, 0.0])
    images = tf.reshape(x, tf.concat([[-1], shape[-3:]], axis=0))  # (1, H, W, C) or (D, H, W, C)
    turned = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32), transforms=tf.reshape(transform, [1, 8]), output_shape=shape[-3:-1],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
    return tf.cast(tf.reshape(turned, shape), x.dtype)


def random_flip_and_shift(x, seed, flip_axes=(), max_shift=0, intensity_jitter=0.0, max_rotation=0.0,
                          max_zoom=0.0):
    """Augment one example (no batch axis).

    Args:
        x: float tensor (*spatial, C): an image (H, W, C) or a volume (D, H, W, C).
        seed: int tensor of shape (2,), the stateless seed of this example.
        flip_axes: spatial axes that may be mirrored, each with probability 1/2 (e.g. the left-right axis).
        max_shift: largest translation in voxels along every spatial axis; the border is filled by mirroring.
        intensity_jitter: scale intensities by a factor drawn from [1 - j, 1 + j] (scanner gain varies).
        max_rotation, max_zoom: a random in-plane rotation (degrees) and scaling after the flips; see
            ``random_rotate_and_zoom``. Off by default.

    Returns:
        A tensor of the same shape and dtype.
    """
    rank = len(x.shape) - 1
    seeds = tf.random.experimental.stateless_split(seed, num=len(flip_axes) + 2)
    for index, axis in enumerate(flip_axes):
        flip = tf.random.stateless_uniform([], seeds[index]) < 0.5
        x = tf.where(flip, tf.reverse(x, [axis]), x)
    if max_rotation or max_zoom:
        x = random_rotate_and_zoom(x, tf.random.experimental.stateless_fold_in(seed, _ROTATION_STREAM),
                                   max_rotation, max_zoom)
    if max_shift:
        padding = [[max_shift, max_shift]] * rank + [[0, 0]]
        padded = tf.pad(x, padding, mode="SYMMETRIC")
        x = tf.image.stateless_random_crop(padded, tf.shape(x), seed=seeds[-2])
    if intensity_jitter:
        x = x * tf.random.stateless_uniform([], seeds[-1], 1.0 - intensity_jitter, 1.0 + intensity_jitter)
    return x


def augmented_dataset(x, y, batch_size, seed, flip_axes=(), max_shift=0, intensity_jitter=0.0, max_rotation=0.0,
                      max_zoom=0.0):
    """A shuffled, augmented, batched training dataset from arrays ``x`` (N, *spatial, C) and labels ``y``
    (see ``random_flip_and_shift`` for the augmentation arguments)."""
    examples = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def augment(example, example_seed):
        image, label = example
        return random_flip_and_shift(image, example_seed, flip_axes, max_shift, intensity_jitter, max_rotation,
                                     max_zoom), label

    return (tf.data.Dataset.zip((examples, seeds)).map(augment, num_parallel_calls=tf.data.AUTOTUNE,
                                                         deterministic=True)
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))


def mixup_batches(dataset, alpha, seed):
    """Mixup (Zhang et al., ICLR 2018) on a batched dataset of (x, y): every example is blended with another
    example of its batch, x = l * x_i + (1 - l) * x_j and y likewise, with l drawn from Beta(alpha, alpha) per
    example and folded to l >= 0.5 so that the first example dominates. ``y`` must be one-hot or 0/1 rows
    (N, C) of floats. Stateless draws from ``seed``: the same seed gives the same batches."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def mix(batch, batch_seed):
        x, y = batch
        count = tf.shape(x)[0]
        draws = tf.random.experimental.stateless_split(batch_seed, num=3)
        first = tf.random.stateless_gamma([count], draws[0], alpha=alpha)
        second = tf.random.stateless_gamma([count], draws[1], alpha=alpha)
        share = first / (first + second)
        share = tf.maximum(share, 1.0 - share)
        partner = tf.argsort(tf.random.stateless_uniform([count], draws[2]))
        share_x = tf.reshape(tf.cast(share, x.dtype), tf.concat([[-1], tf.ones([tf.rank(x) - 1], tf.int32)], 0))
        share_y = tf.reshape(tf.cast(share, y.dtype), [-1, 1])
        return (share_x * x + (1.0 - share_x) * tf.gather(x, partner),
                share_y * y + (1.0 - share_y) * tf.gather(y, partner))

    return tf.data.Dataset.zip((dataset, seeds)).map(mix, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
