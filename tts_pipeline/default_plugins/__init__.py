"""Hook implementations the core always loads (its own presets, and the weight-free Griffin-Lim vocoder)."""
