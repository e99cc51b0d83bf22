"""Audio and mel spectrograms: formats, computation, conversion between formats, file I/O."""
