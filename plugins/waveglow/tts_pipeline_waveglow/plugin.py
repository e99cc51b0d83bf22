"""Hook implementations of the waveglow plugin."""
