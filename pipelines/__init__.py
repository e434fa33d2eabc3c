"""Apache Beam pipelines of eo-fusion and the application layer above them (``pipelines.cli``).
Beam lives here only; the science is in ``fusion``."""
