"""Random augmentation of images and volumes inside ``tf.data``, reproducible from one seed.

Keras's preprocessing layers (``RandomFlip``, ``RandomTranslation``) handle 2D images only. The functions here
work on any spatial rank, using TensorFlow's *stateless* random ops with per-example seeds drawn from
``tf.data.Dataset.random(seed)``, so the same seed gives the same augmented batches run after run (also with
op determinism on) while every epoch still sees new draws.
"""

from common.tf_setup import import_tensorflow_quietly

tf = import_tensorflow_quietly()


def random_flip_and_shift(x, seed, flip_axes=(), max_shift=0, intensity_jitter=0.0):
    """Augment one example (no batch axis).

    Args:
        x: float tensor (*spatial, C): an image (H, W, C) or a volume (D, H, W, C).
        seed: int tensor of shape (2,), the stateless seed of this example.
        flip_axes: spatial axes that may be mirrored, each with probability 1/2 (e.g. the left-right axis).
        max_shift: largest translation in voxels along every spatial axis; the border is filled by mirroring.
        intensity_jitter: scale intensities by a factor drawn from [1 - j, 1 + j] (scanner gain varies).

    Returns:
        A tensor of the same shape and dtype.
    """
    rank = len(x.shape) - 1
    seeds = tf.random.experimental.stateless_split(seed, num=len(flip_axes) + 2)
    for index, axis in enumerate(flip_axes):
        flip = tf.random.stateless_uniform([], seeds[index]) < 0.5
        x = tf.where(flip, tf.reverse(x, [axis]), x)
    if max_shift:
        padding = [[max_shift, max_shift]] * rank + [[0, 0]]
        padded = tf.pad(x, padding, mode="SYMMETRIC")
        x = tf.image.stateless_random_crop(padded, tf.shape(x), seed=seeds[-2])
    if intensity_jitter:
        x = x * tf.random.stateless_uniform([], seeds[-1], 1.0 - intensity_jitter, 1.0 + intensity_jitter)
    return x


def augmented_dataset(x, y, batch_size, seed, flip_axes=(), max_shift=0, intensity_jitter=0.0):
    """A shuffled, augmented, batched training dataset from arrays ``x`` (N, *spatial, C) and labels ``y``."""
    examples = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def augment(example, example_seed):
        image, label = example
        return random_flip_and_shift(image, example_seed, flip_axes, max_shift, intensity_jitter), label

    return (tf.data.Dataset.zip((examples, seeds)).map(augment, num_parallel_calls=tf.data.AUTOTUNE,
                                                         deterministic=True)
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))
