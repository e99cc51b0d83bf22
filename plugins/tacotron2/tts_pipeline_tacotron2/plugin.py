"""Hook implementations of the tacotron2 plugin."""
