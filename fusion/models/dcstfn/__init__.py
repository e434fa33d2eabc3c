"""DCSTFN (seed 001, Tan et al. 2018): the network, its trainer and its package exporter.

* :mod:`~fusion.models.dcstfn.network` - the Keras network (:func:`build_dcstfn`);
* :mod:`~fusion.models.dcstfn.trainer` - training on a training set (``fusion train dcstfn``);
* :mod:`~fusion.models.dcstfn.export` - writing the trained networks as a model package, and
  loading a package's networks back to fine-tune them;
* :mod:`~fusion.models.dcstfn.subset` - a package's networks restricted to a band subset.

Nothing is imported here: each module imports Keras / TensorFlow only where it uses them.
"""
