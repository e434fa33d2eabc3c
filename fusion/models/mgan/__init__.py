"""MGAN (seed 002, Sedona et al. 2021): Sentinel-2 → Landsat-8 harmonization by a
multispectral pix2pix.

* :mod:`~fusion.models.mgan.network` - generator, discriminator, losses, DiffAugment, whole-block
  inference and the package's normalization;
* :mod:`~fusion.models.mgan.data` - training pairs (from a pair training set) and patches,
  split, normalization statistics;
* :mod:`~fusion.models.mgan.trainer` - training (``fusion train mgan``) and validation scores;
* :mod:`~fusion.models.mgan.export` - writing the trained generator as a model package.

Nothing is imported here: each module imports Keras / TensorFlow only where it uses them.
"""
