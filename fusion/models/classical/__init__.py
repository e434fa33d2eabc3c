"""Classical (not learned) fusion methods, built from TensorFlow ops and exported as model
packages through :func:`fusion.models.package.export_package`, so the pipeline runs them
exactly like a learned model:

* :mod:`~fusion.models.classical.naive` - the naive temporal difference;
* :mod:`~fusion.models.classical.starfm` - STARFM (Gao et al. 2006);
* :mod:`~fusion.models.classical.estarfm` - ESTARFM (Zhu et al. 2010), two reference pairs;
* :mod:`~fusion.models.classical.fsdaf` - FSDAF (Zhu et al. 2016), one pair, abrupt change;
* :mod:`~fusion.models.classical.bandpass` - the HLS bandpass adjustment and the plain area
  average (Sentinel-2 → Landsat-8 harmonization baselines).

The registry (:mod:`fusion.models`) names their exporters; nothing is imported here, so
importing one method does not load the others (STARFM imports TensorFlow at module level).
"""
