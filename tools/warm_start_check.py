"""Exit 0 when WEIGHTS can warm-start the model a training config builds, 1 (saying why) when not.

    python tools/warm_start_check.py tacotron2 configs/tacotron2-demo-joe-lj.toml voices/.../tacotron2.safetensors

benchmarks/gpu_session.sh uses it to continue from the shipped weights only where their shapes still
fit the recipe (after, say, a change of the reduction factor the run starts afresh).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tts_pipeline.config import parse_options
from tts_pipeline.errors import TTSError
from tts_pipeline.plugins import get_registry
from tts_pipeline.training.config import read_train_file


def compatible(model: str, config: Path, weights: Path) -> str | None:
    """None when ``weights`` warm-start ``model`` as ``config`` builds it, else the reason."""
    task_cls = get_registry().trainer(model)
    _, model_values = read_train_file(config)
    task = task_cls(parse_options(task_cls.Options, model_values, f"model ({model})"))
    try:
        task.warm_start(task.build_model(), weights)
    except TTSError as exc:
        return str(exc)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="waveglow, tacotron2, ...")
    parser.add_argument("config", type=Path, help="training config (TOML)")
    parser.add_argument("weights", type=Path)
    args = parser.parse_args()
    reason = compatible(args.model, args.config, args.weights)
    print(f"{args.weights}: {'fits' if reason is None else 'does not fit: ' + reason}")
    sys.exit(0 if reason is None else 1)


if __name__ == "__main__":
    main()
