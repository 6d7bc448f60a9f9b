"""Image restoration trained by prodgen on the catalog: super-resolution x2/x4, denoising, deblurring,
JPEG-artefact removal and inpainting of a masked region, one small network per task in one run folder,
measured against strong classical methods tuned on validation photos.

- ``network``: the per-task networks (each corrects a cheap classical start), config, run-folder format;
- ``inference``: ``restore`` / ``enhance_file`` for photos of any size, tile by tile (bounded memory);
- ``training``: ``train_restorer`` / ``resume_restorer`` on the one training loop, weights chosen on validation photos;
- ``baselines``: the classical methods (OpenCV, scikit-image, BM3D, PIL) and their tuning on validation photos;
- ``evaluation``: the held-out test table (seen and unseen degradations), ``reevaluate``.
"""

from .baselines import METHODS, tune
from .evaluation import EvalRow, before_after, catalog_splits, evaluate_restorer, reevaluate, split_photos
from .inference import DEFAULT_TILE, MARGIN, MIN_TILE, PhotoSource, check_tile, enhance_file, restore, restore_image, tiled
from .network import (ALIGN, CONFIG_NAME, KIND, WEIGHTS_NAME, RestoreConfig, RestoreNet, TaskNet, check_new_run_folder,
                      input_planes, load_restorer, read_config, run_network, save_restorer, task_index)
from .training import BestPerTask, RestoreTrainer, learning_rate, random_crops, resume_restorer, train_restorer

__all__ = ["ALIGN", "CONFIG_NAME", "DEFAULT_TILE", "KIND", "MARGIN", "METHODS", "MIN_TILE", "WEIGHTS_NAME", "BestPerTask",
           "EvalRow", "PhotoSource", "RestoreConfig", "RestoreNet", "RestoreTrainer", "TaskNet", "before_after",
           "catalog_splits", "check_new_run_folder", "check_tile", "enhance_file", "evaluate_restorer", "input_planes",
           "learning_rate", "load_restorer", "random_crops", "read_config", "reevaluate", "restore", "restore_image",
           "resume_restorer", "run_network", "save_restorer", "split_photos", "task_index", "tiled", "train_restorer",
           "tune"]
