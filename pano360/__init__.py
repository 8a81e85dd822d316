"""pano360: multi-label classification of 360° panorama halves, as a DVC pipeline."""

__version__ = "0.1.0"
