"""Built-in synthetic data sets (``python -m pano360.data.demo OUT_DIR [--preset hard]``):
panoramas drawn procedurally (``shapes``) and laid out with a LabelBox export (``generate``)."""
from pano360.data.demo.generate import CLASSES, PRESETS, QUESTION, generate, main

__all__ = ["CLASSES", "PRESETS", "QUESTION", "generate", "main"]
