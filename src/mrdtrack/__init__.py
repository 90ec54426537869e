"""mrdtrack: serial MRD monitoring and IMWG response-depth analysis in multiple myeloma."""

__version__ = "0.1.0"
