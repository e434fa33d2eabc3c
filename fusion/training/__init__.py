"""Training tools shared by the learned models' trainers (:mod:`fusion.models.dcstfn`,
:mod:`fusion.models.mgan`), without Beam:

* :mod:`~fusion.training.budget` - the wall-clock budget that ends training;
* :mod:`~fusion.training.normalization` - per-band mean and scale of training data;
* :mod:`~fusion.training.splits` - training / validation split by date and area;
* :mod:`~fusion.training.patches` - aligned patch triplets and their TFRecord codec;
* :mod:`~fusion.training.jobs` - gathering training jobs (target + reference pairs) and reading them;
* :mod:`~fusion.training.dataset` - a training-set folder (manifest + TFRecords) as ``tf.data``.

The Beam pipeline that writes training sets is :mod:`pipelines.trainset`.
"""
