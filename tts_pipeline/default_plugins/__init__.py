"""Hook implementations the core always loads (its own presets)."""
