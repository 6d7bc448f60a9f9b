"""Quality metrics on feature matrices; each with update/compute/reset where it streams."""

from .conditional import ConditionalAccuracy
from .diversity import diversity_by_condition, mean_pairwise_distance
from .fid import FrechetDistance, bootstrap_fid, feature_stats, frechet_distance, frechet_distance_of_samples
from .inception_score import ClassifierScore
from .kid import KernelInceptionDistance
from .nearest import memorisation_ratio, nearest_neighbours
from .prdc import PrecisionRecallDensityCoverage
from .restoration import RestorationScores, restoration_scores, with_baseline

__all__ = ["ClassifierScore", "ConditionalAccuracy", "FrechetDistance", "KernelInceptionDistance",
           "PrecisionRecallDensityCoverage", "RestorationScores", "bootstrap_fid", "diversity_by_condition", "feature_stats",
           "frechet_distance", "frechet_distance_of_samples", "mean_pairwise_distance", "memorisation_ratio",
           "nearest_neighbours", "restoration_scores", "with_baseline"]
