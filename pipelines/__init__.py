"""Apache Beam pipelines of eo-fusion. Beam lives here only; the science is in ``fusion``."""
