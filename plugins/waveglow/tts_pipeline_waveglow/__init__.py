"""tts-pipeline plugin: waveglow."""
