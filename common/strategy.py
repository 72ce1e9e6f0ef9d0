"""The ``tf.distribute`` strategy of a run (``--strategy``): one device, every local GPU, or several workers."""

from common.tf_setup import import_tensorflow_quietly

tf = import_tensorflow_quietly()


def get_strategy(name="default"):
    """The ``tf.distribute`` strategy for ``--strategy``: default, mirrored or multi-worker.

    "mirrored" copies the model to every local GPU and splits each batch between them; "multi-worker" does the
    same across the processes (machines) listed in the ``TF_CONFIG`` environment variable, one per process.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        _patch_keras_for_multi_worker()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}; use default, mirrored or multi-worker.")


def _patch_keras_for_multi_worker():
    """Mend two places where Keras 3.15's TensorFlow trainer breaks under ``MultiWorkerMirroredStrategy``
    (tensorflow/tensorflow#72388; ``model.fit`` fails in both):

    - before the first step, it builds the model on the first batch averaged over the replicas with a collective
      reduce that cannot take the dataset's per-replica values ("Attempt to convert a value (PerReplica...)");
      only the shapes matter there, so this process's own part of the batch serves;
    - it averages each step's scalar logs with a reduce along axis 0, which a scalar does not have ("Invalid
      reduction dimension 0"); the metrics are already synchronised across the workers, so the mean of this
      process's replicas is the value.
    """
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_suite_multi_worker_patch", False):
        return
    original_reduce = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("mean", "auto") and trainer._collective_all_reduce_multi_worker(strategy):
            def mean(value):
                local = (strategy.experimental_local_results(value) if trainer._is_per_replica_instance(value)
                         else (value,))
                return tf.reduce_mean(tf.stack(list(local)), axis=0)

            return tf.nest.map_structure(mean, values)
        return original_reduce(values, strategy, reduction)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda value: (self.distribute_strategy.experimental_local_results(value)[0]
                                   if isinstance(value, tf.distribute.DistributedValues) else value), next(batches))
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    trainer.reduce_per_replica = reduce_per_replica
    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    trainer._suite_multi_worker_patch = True
