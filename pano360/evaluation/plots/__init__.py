"""Static PNG plots (matplotlib, headless) that sit beside the data DVC plots render."""
import matplotlib

matplotlib.use("Agg")
