"""tts-pipeline plugin: tacotron2."""
