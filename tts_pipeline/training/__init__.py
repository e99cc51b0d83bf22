"""Training: a model-agnostic loop (checkpoints, resume, mixed precision, torch.distributed) driven by
the :class:`~tts_pipeline.training.task.TrainTask` a model plugin registers."""
