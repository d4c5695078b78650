"""Where the project keeps its models and data."""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_MODEL_DIR = MODELS_DIR / "default"
"""The shipped fine-tuned model."""
DEFAULT_BASE_DIR = MODELS_DIR / "base"
"""The pretrained encoder built by ``nlp base build`` (not shipped; rebuilt from PyPI wheels)."""
SEEDS_DIR = PROJECT_ROOT / "seeds"
ANNOTATIONS_DIR = PROJECT_ROOT / "annotations"
CONFIGS_DIR = PROJECT_ROOT / "configs"
