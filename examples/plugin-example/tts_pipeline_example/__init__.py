"""An example tts-pipeline plugin: the ``sine`` vocoder and the ``mel-info`` command."""
